"""Reading the audit log (the kit writes it: service/kit/audit.py)."""
