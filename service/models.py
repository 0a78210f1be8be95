"""Every domain's tables on one metadata (what Alembic compares against)."""

from sqlmodel import SQLModel

import service.shops.models  # noqa: F401
import service.workforce.models  # noqa: F401
import tenants.models  # noqa: F401

metadata = SQLModel.metadata
