"""The `seatwise` command: serve, migrate, demo, token."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from service.settings import ConfigurationError, Settings, get_settings, resolve_jwt_secret

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

app = typer.Typer(help="Seatwise: operations backend for an e-commerce customer-service outsourcer.",
                  no_args_is_help=True, add_completion=False)
token_app = typer.Typer(help="Issue and revoke bearer tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
err = Console(stderr=True)


def _settings() -> Settings:
    settings = get_settings()
    try:
        resolve_jwt_secret(settings)
    except ConfigurationError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    return settings


def _prepare(settings: Settings) -> tuple[str, str]:
    """Start the embedded server if needed and migrate; return (owner URL, app URL)."""
    from service import migrations
    from service.kit import db

    owner = db.owner_url(settings)
    migrations.upgrade(owner)
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


async def _with_db(url: str, work):
    from service.kit.db import Database, make_engine

    db = Database(make_engine(url, 2))
    try:
        return await work(db)
    finally:
        await db.dispose()


def _load_demo(url: str):
    from service.demo import load_demo

    return asyncio.run(_with_db(url, load_demo))


def _load_demo_in_child(url: str):
    """Load the demo in a short-lived process: generating 200,000 conversations leaves a heap the
    serving process would otherwise keep for its whole life."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_load_demo, url).result()


@app.command()
def migrate() -> None:
    """Create or upgrade the schema (and the application role) to the latest version."""
    settings = _settings()
    started = time.perf_counter()
    _prepare(settings)
    err.print(f"[green]schema is at head[/green] ({time.perf_counter() - started:.1f} s)")


@app.command()
def demo() -> None:
    """Load the demo data (only into an empty database)."""
    from service.demo import load_demo

    settings = _settings()
    _, url = _prepare(settings)
    summary = asyncio.run(_with_db(url, load_demo))
    if summary is None:
        err.print("the database already has tenants: demo not loaded")
    else:
        err.print(f"[green]demo loaded[/green]: {summary.tenants} brands, {summary.shops} shops, "
                  f"{summary.sites} sites, {summary.agents} agents")


@app.command()
def serve(
    demo: Annotated[bool, typer.Option("--demo",
                                       help="Load the demo data when the database is empty.")] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (one per core: ingest parses in "
                                                     "Python).")] = 1,
) -> None:
    """Run the API (REST under /v1, GraphQL at /graphql)."""
    import uvicorn

    from service.app import configure_logging, create_app
    from service.kit.identity import Role, issue_token, parse_ttl

    started = time.perf_counter()
    settings = _settings()
    _, url = _prepare(settings)
    if demo:
        summary = _load_demo_in_child(url)
        if summary:
            err.print(f"demo loaded: {summary.tenants} brands, {summary.shops} shops, {summary.sites} sites, "
                      f"{summary.agents} agents, {summary.conversations:,} conversations")
    token = issue_token(resolve_jwt_secret(settings), subject="demo-admin", role=Role.admin, tenant_id=None,
                        ttl=parse_ttl("8h"), issuer=settings.jwt_issuer)
    base = f"http://{host}:{port}"
    where = f"embedded PostgreSQL in {settings.data_dir}" if settings.embedded else "external PostgreSQL"
    err.print(f"[bold green]Seatwise[/bold green] ready in {time.perf_counter() - started:.1f} s ({where})")
    err.print(f"  REST docs   {base}/docs")
    err.print(f"  GraphiQL    {base}/graphql")
    err.print("  staff token (admin, 8h):")
    print(f"export TOKEN={token}", flush=True)
    configure_logging()
    if workers == 1:
        # The app logs one line per request (with its request id); uvicorn's own lines go through the same
        # handler (JSON in production), as configure_logging set it up.
        uvicorn.run(create_app(settings, database_url=url), host=host, port=port, log_level="info",
                    access_log=False, log_config=None)
    else:
        # Each worker process builds its own app (and pool) from the environment.
        os.environ["SEATWISE_APP_DATABASE_URL"] = url
        uvicorn.run("service.app:create_app_for_worker", factory=True, workers=workers, host=host, port=port,
                    log_level="info", access_log=False, log_config=None)


@app.command()
def plan(
    promotion: Annotated[str, typer.Option(help="Promotion name (or id); the latest one with that name")],
    seats: Annotated[int, typer.Option(min=0, help="Seats available in every interval")],
    name: Annotated[str | None,
                    typer.Option(help="Plan name (default: '<promotion> <year>, <seats> seats')")] = None,
    year: Annotated[int | None, typer.Option(help="Which year's promotion")] = None,
    model: Annotated[str, typer.Option(help="erlang_c or erlang_a")] = "erlang_c",
    patience_s: Annotated[float | None, typer.Option("--patience-s", help="Mean patience (erlang_a)")] = None,
    shrinkage: Annotated[float, typer.Option(help="Share of paid time off the floor")] = 0.3,
    top: Annotated[int, typer.Option(help="Short intervals and shops to list")] = 10,
) -> None:
    """Plan seats for a promotion: forecast, staff, allocate (KA first), store; print the shortfall."""
    from pydantic import ValidationError
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from service.capacity.cli import plan_and_report
    from service.capacity.schemas import PlanCreate
    from service.kit.errors import Problem

    settings = _settings()
    try:
        body = PlanCreate(name=name or f"{promotion}{' ' + str(year) if year else ''}, {seats} seats",
                          promotion=promotion, year=year, seats=seats, model=model, patience_s=patience_s,
                          shrinkage=shrinkage)
    except ValidationError as exc:
        for e in exc.errors():
            err.print(f"[red]{'.'.join(str(p) for p in e['loc']) or 'plan'}: {e['msg']}[/red]")
        raise typer.Exit(2) from None
    _, url = _prepare(settings)
    out = Console()
    with Progress(TextColumn("{task.description:<26}"), BarColumn(), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("reading shops", total=4)

        def step(done: str) -> None:
            nxt = {"shops": "reading history", "history": "staffing and allocating",
                   "staffing and allocation": "storing lines", "stored": "done"}[done]
            bar.update(task, advance=1, description=nxt)

        try:
            asyncio.run(_with_db(url, lambda db: plan_and_report(db, body, step, out, top)))
        except Problem as exc:
            err.print(f"[red]{exc.detail}[/red]")
            raise typer.Exit(2) from None


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="NDJSON (.ndjson/.jsonl) or CSV (.csv) files",
                                                exists=True, dir_okay=False, readable=True)],
) -> None:
    """Ingest conversation files through the same service path as POST /v1/conversations, in batches
    of up to 100,000 records, with a progress bar and a final summary."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from service.conversations.ingest import MAX_RECORDS, empty_answer

    settings = _settings()
    _, url = _prepare(settings)
    total = empty_answer()
    places: list[tuple[str, int]] = []  # (file, line) of each rejection, in order

    async def run(db) -> None:
        from service.conversations.service import ingest_batch
        from service.kit.identity import OPERATOR

        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                      console=err) as progress:
            for path in files:
                kind = "text/csv" if path.suffix.lower() == ".csv" else "application/x-ndjson"
                task = progress.add_task(path.name, total=path.stat().st_size)
                with path.open("rb") as handle:
                    header = handle.readline() if kind == "text/csv" else b""
                    line_offset = 0
                    while True:
                        lines = [line for _, line in zip(range(MAX_RECORDS), handle, strict=False)]
                        if not lines:
                            break

                        async def body(lines=lines, header=header):
                            yield header + b"".join(lines)

                        async with db.system_transaction() as session:
                            result = await ingest_batch(session, OPERATOR, body(), kind,
                                                        settings.ingest_max_age_days)
                        for rejection in result.rejected:  # line numbers within the file
                            places.append((path.name, rejection.line + line_offset))
                        for name in ("received", "inserted", "updated", "unchanged"):
                            setattr(total, name, getattr(total, name) + getattr(result, name))
                        total.rejected += result.rejected
                        line_offset += len(lines)
                        progress.update(task, advance=sum(len(x) for x in lines))

    started = time.perf_counter()
    asyncio.run(_with_db(url, run))
    elapsed = time.perf_counter() - started
    for (file, line), rejection in list(zip(places, total.rejected, strict=True))[:20]:
        err.print(f"  {file}:{line} {rejection.field or ''} {rejection.reason}")
    if len(total.rejected) > 20:
        err.print(f"  ... and {len(total.rejected) - 20} more rejected rows")
    err.print(f"received {total.received:,}  inserted {total.inserted:,}  updated {total.updated:,}  "
              f"unchanged {total.unchanged:,}  rejected {len(total.rejected):,}  "
              f"({total.received / max(elapsed, 1e-9):,.0f} records/s)")
    if total.rejected:
        raise typer.Exit(1)


@app.command()
def backup(file: Annotated[Path, typer.Argument(help="Where to write the backup (pg_dump custom format)",
                                                dir_okay=False)]) -> None:
    """Back up the whole database (schema, data, policies, grants) with the PostgreSQL tools the embedded
    server ships."""
    from service import backup as backups

    settings = _settings()
    owner, _ = _prepare(settings)
    started = time.perf_counter()
    _guarded(lambda: backups.backup(owner, file), "back up")
    err.print(f"[green]backed up[/green] to {file} ({file.stat().st_size / 1e6:,.1f} MB, "
              f"{time.perf_counter() - started:.1f} s)")


@app.command()
def restore(file: Annotated[Path, typer.Argument(help="A file `seatwise backup` wrote", exists=True,
                                                 dir_okay=False)]) -> None:
    """Replace the database's contents with a backup (in one transaction: all or nothing)."""
    from service import backup as backups
    from service.kit import db

    settings = _settings()
    owner = db.owner_url(settings)
    started = time.perf_counter()
    _guarded(lambda: backups.restore(owner, file), "restore")
    err.print(f"[green]restored[/green] {file} ({time.perf_counter() - started:.1f} s)")


@app.command()
def retention(
    keep_months: Annotated[int, typer.Option("--keep-months", min=1,
                                             help="Months of raw conversations kept before this one")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be archived")] = False,
) -> None:
    """Detach the monthly partitions of older conversations into the `archive` schema (reports read the
    rollups and do not change)."""
    from service import backup as backups
    from service.conversations.records import earliest_timestamp
    from service.settings import ConfigurationError as Refused

    settings = _settings()
    owner, _ = _prepare(settings)
    earliest = earliest_timestamp(settings.ingest_max_age_days)
    try:
        archived = _guarded(lambda: asyncio.run(backups.retain(owner, keep_months, earliest,
                                                               dry_run=dry_run)), "archive")
    except Refused as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    verb = "would archive" if dry_run else "archived"
    for part in archived:
        err.print(f"  {verb} {part.partition} ({part.month:%Y-%m})")
    err.print(f"{verb} {len(archived)} monthly partition(s) of conversations")


@app.command("graphql-schema")
def graphql_schema() -> None:
    """Print the GraphQL SDL (what graphql/schema.graphql holds)."""
    from service.schema import sdl

    sys.stdout.write(sdl())


@token_app.command("issue")
def token_issue(
    role: Annotated[str, typer.Option(help="admin, ops, finance or client")],
    tenant: Annotated[str | None, typer.Option(help="Tenant slug or id (client tokens only)")] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 30m, 8h, 7d")] = "8h",
    subject: Annotated[str | None, typer.Option(help="Who the token is for (sub claim)")] = None,
    as_json: Annotated[bool, typer.Option("--json",
                                          help="Print {token, jti, expires_at, ...} as JSON")] = False,
) -> None:
    """Print a signed bearer token on stdout, and nothing else (with --json: its id and expiry too). The
    token is recorded (never the token itself: its id, subject and expiry) so admins can list and revoke
    it."""
    import json

    from service.kit.identity import Role, parse_ttl
    from tenants.service import find_tenant, issue_token

    settings = _settings()
    try:
        role_ = Role(role)
        lifetime = parse_ttl(ttl)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if (role_ == Role.client) != (tenant is not None):
        err.print("[red]a client token needs --tenant; staff tokens take none[/red]")
        raise typer.Exit(2)
    _, url = _prepare(settings)

    async def work(db):
        async with db.system_transaction() as session:
            tenant_id = None
            if tenant is not None:
                found = await find_tenant(session, tenant)
                if found is None:
                    return None
                tenant_id = found.id
            return await issue_token(session, resolve_jwt_secret(settings),
                                     subject=subject or f"{role_.value}-cli", role=role_, tenant_id=tenant_id,
                                     ttl=lifetime, issued_by="seatwise-cli", issuer=settings.jwt_issuer)

    issued = _guarded(lambda: asyncio.run(_with_db(url, work)), "issue the token")
    if issued is None:
        err.print(f"[red]no tenant {tenant!r}[/red]")
        raise typer.Exit(2)
    token, record = issued
    if as_json:
        sys.stdout.write(json.dumps({"token": token, "jti": record.jti,
                                     "expires_at": record.expires_at.isoformat(), "role": record.role,
                                     "subject": record.subject,
                                     "tenant_id": str(record.brand_id) if record.brand_id else None}) + "\n")
    else:
        sys.stdout.write(token + "\n")


@token_app.command("revoke")
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
            err.print("[red]that is not a token this server signed (wrong secret or data dir?)[/red]")
            raise typer.Exit(2) from None
        jti, known = principal.jti, True
    else:
        jti = token_or_jti.strip()
        if not jti or len(jti) > 64:
            err.print("[red]give a token id (jti, 36 characters) or the token itself[/red]")
            raise typer.Exit(2)
    _, url = _prepare(settings)

    async def work(db):
        async with db.system_transaction() as session:
            return await revoke_token(session, jti, reason, expires_at=expires_at, known=known)

    try:
        done = _guarded(lambda: asyncio.run(_with_db(url, work)), "revoke the token")
    except Problem as exc:
        err.print(f"[red]{exc.detail}: {jti}[/red]")
        raise typer.Exit(2) from None
    err.print(f"revoked {jti}" if done else f"{jti} was already revoked")


def _guarded(work, what: str):
    """Run WORK; a failure is one line naming its kind (never the arguments, which may hold a token, nor
    the SQL), exit code 1. Problems pass through for the caller to word."""
    from service.kit.errors import Problem
    from service.settings import ConfigurationError as Refused

    try:
        return work()
    except (Problem, typer.Exit, Refused):
        raise
    except Exception as exc:  # noqa: BLE001 - one line instead of a traceback holding secrets
        err.print(f"[red]could not {what}: {type(exc).__name__} (is the database up, and this the right "
                  "SEATWISE_DATA_DIR / DATABASE_URL?)[/red]")
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()
