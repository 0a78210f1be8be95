"""Who may send conversations, declared once: clients their own shops', staff writers anyone's."""

from service.kit.access import Roles
from service.kit.identity import Role

write = Roles(Role.admin, Role.ops, Role.client)
read = Roles(*Role)  # reading records back ("did you get record X?"): a client its own shops'

