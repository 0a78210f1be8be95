"""Who may do what with staffing, promotions and capacity plans, declared once: both doors derive from these.

Staff run what-ifs (pure maths, no data: finance too), ops and admins create promotions and plans, staff
read them. Everyone reads the promotions calendar. A client lists the plans that include its shops, with its
share of each, and reads the lines of its own shops (its forecast and staffing); the plan's own totals,
per-interval seat totals and other brands' lines are not theirs.
"""

from service.kit.access import Roles
from service.kit.identity import Role

staff = Roles(Role.admin, Role.ops, Role.finance)
write = Roles(Role.admin, Role.ops)
lines = Roles(Role.admin, Role.ops, Role.finance, Role.client)
calendar = Roles(*Role)  # the promotions calendar
plans = Roles(*Role)  # the list of plans (a client: those with its shops, its share of them)
