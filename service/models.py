"""Every domain's tables on one metadata (what Alembic compares against)."""

from sqlmodel import SQLModel

import service.kit.models  # noqa: F401  (sets the constraint naming convention first)

# isort: split

import service.capacity.models  # noqa: F401
import service.conversations.models  # noqa: F401
import service.finance.models  # noqa: F401
import service.kit.audit  # noqa: F401
import service.kit.demoload  # noqa: F401
import service.scorecard.models  # noqa: F401
import service.seating.models  # noqa: F401
import service.shops.models  # noqa: F401
import service.sla.models  # noqa: F401
import service.workforce.models  # noqa: F401
import tenants.models  # noqa: F401

metadata = SQLModel.metadata
