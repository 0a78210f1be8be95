"""Run Alembic programmatically (the migrate command, the demo, the tests)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def script_heads(versions: Path = ROOT / "alembic" / "versions") -> set[str]:
    """The heads of the migration scripts (revisions no other one revises), read from their `revision` and
    `down_revision` assignments without executing them: alembic's script directory imports every script
    (and alembic itself), a third of a second of each server start."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in versions.glob("*.py"):
        found = {}
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            target = node.target if isinstance(node, ast.AnnAssign) else \
                node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value:
                found[target.id] = ast.literal_eval(node.value)
        if "revision" not in found:
            continue
        revisions.add(found["revision"])
        down = found.get("down_revision")
        revised.update([down] if isinstance(down, str) else down or ())
    return revisions - revised


def upgrade_to_head(url: str) -> bool:
    """Upgrade to head unless the database is there already (one query against the scripts' heads, instead
    of the migration environment's start-up on every start); True when it migrated."""
    heads = script_heads()
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
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Raise if the models and the migrated schema differ (alembic check)."""
    from alembic import command

    command.check(alembic_config(url))
