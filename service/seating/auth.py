"""Who may do what with seating, declared once: both doors derive from these.

Staff read rule sets, calendars, availability, rosters and shifts (agents' personal data is the outsourcer's
own); ops and admins write them, build, publish and change rosters, and rebalance live. A client reads a
shop's requirements and the per-interval counts of agents serving its own shops (coverage), nothing that
names an agent.

Actual attendance: ops and admins send work sessions (`write`); staff read them back and read adherence,
occupancy and overtime (`staff`); clients none of it (it names agents).
"""

from service.kit.access import Roles
from service.kit.identity import Role

staff = Roles(Role.admin, Role.ops, Role.finance)
write = Roles(Role.admin, Role.ops)
read = staff  # what object_routes and object_mutations call the reading roles
counts = Roles(Role.admin, Role.ops, Role.finance, Role.client)
