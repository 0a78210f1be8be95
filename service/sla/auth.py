"""Who may do what with SLAs, declared once: REST routes and GraphQL fields derive from these."""

from service.kit.access import Roles
from service.kit.identity import Role

# Everyone reads (a client: its own shops and brand; another's is 404), including a brand's own summary
# under /v1/tenants, which is otherwise staff-only.
read = Roles(Role.admin, Role.ops, Role.finance, Role.client)
write = Roles(Role.admin, Role.ops)
