"""The tenancy domain: client brands, principals and roles, tokens, RLS helpers."""
