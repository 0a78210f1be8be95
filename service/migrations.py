"""Run Alembic programmatically (the migrate command, the demo, the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def upgrade_to_head(url: str) -> bool:
    """Upgrade to head unless the database is there already (one query against the scripts' heads, instead
    of the migration environment's start-up on every start); True when it migrated."""
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    if heads and _stamped(url) == heads:
        return False
    upgrade(url)
    return True


def _stamped(url: str) -> set[str]:
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                if not (await conn.execute(text("SELECT to_regclass('alembic_version')"))).scalar():
                    return set()
                return set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
        finally:
            await engine.dispose()

    return asyncio.run(read())


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Raise if the models and the migrated schema differ (alembic check)."""
    command.check(alembic_config(url))
