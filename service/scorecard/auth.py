"""Who may do what with the balanced scorecard, declared once: both doors derive from these.

Staff read every scorecard (agent scopes included), pulses, QA, calibration and coaching; ops and admins
write them. A client brand reads the client side of its own shops and brand (`client`) and rates its own
months (`rate`); never employee data, pulses or QA of named agents, and another brand's anything is a 404.
"""

from service.kit.access import Roles
from service.kit.identity import Role

read = Roles(Role.admin, Role.ops, Role.finance)
write = Roles(Role.admin, Role.ops)
client = Roles(Role.admin, Role.ops, Role.finance, Role.client)
rate = Roles(Role.admin, Role.ops, Role.client)
