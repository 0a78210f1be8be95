"""Who may do what with costs, contracts, statements and the books, declared once: both doors derive from
these.

Finance and admins do everything here; admins alone reopen a closed month. Ops read costs, margins, the
balance view and the books, and write nothing. A client brand reads its own finalized statements (charges,
credits and the quantities behind them) through `statements`, in a shape without rates, and nothing else of
finance: no cost, no rate, no margin, and never another brand's anything (404).
"""

from service.kit.access import Roles
from service.kit.identity import Role

read = Roles(Role.admin, Role.finance, Role.ops)
write = Roles(Role.admin, Role.finance)
reopen = Roles(Role.admin)
statements = Roles(Role.admin, Role.finance, Role.ops, Role.client)
