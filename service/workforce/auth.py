"""Who may do what with sites and agents (the outsourcer's own people: staff only), declared once."""

from service.kit.access import Roles
from service.kit.identity import Role

read = Roles(Role.admin, Role.ops, Role.finance)
write = Roles(Role.admin, Role.ops)
