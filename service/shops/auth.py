"""Who may do what with shops, declared once: REST routes and GraphQL fields derive from these."""

from service.kit.access import Roles
from service.kit.identity import Role

read = Roles(Role.admin, Role.ops, Role.finance, Role.client)  # a client: its own shops
write = Roles(Role.admin, Role.ops)
