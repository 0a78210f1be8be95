"""Who may do what with client brands, declared once: REST routes and GraphQL fields derive from these."""

from service.kit.access import Roles
from service.kit.identity import Role

read = Roles(Role.admin, Role.ops, Role.finance)  # /v1/tenants lists every brand: staff only
one = Roles(*Role)  # one brand's record: staff any, a client its own (another brand's is not found)
write = Roles(Role.admin, Role.ops)
me = Roles(*Role)
tokens = Roles(Role.admin)  # list and revoke issued tokens
keys = Roles(Role.admin, Role.client)  # API keys: admins for anyone, a brand for its own shops
