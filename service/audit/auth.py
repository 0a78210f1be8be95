"""Who may read the audit log, declared once: admins (everything), a brand's users (their brand's)."""

from service.kit.access import Roles
from service.kit.identity import Role

read = Roles(Role.admin, Role.client)
