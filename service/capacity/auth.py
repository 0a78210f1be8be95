"""Who may do what with staffing, promotions and capacity plans, declared once: both doors derive from these.

Staff run what-ifs (pure maths, no data: finance too), ops and admins create promotions and plans, staff
read them. A client reads the lines of its own shops in a plan (its forecast and staffing) and nothing else
of the plan: headers, per-interval seat totals and other brands' lines are not theirs.
"""

from service.kit.access import Roles
from service.kit.identity import Role

staff = Roles(Role.admin, Role.ops, Role.finance)
write = Roles(Role.admin, Role.ops)
lines = Roles(Role.admin, Role.ops, Role.finance, Role.client)
