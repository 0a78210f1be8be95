"""The test harness: a real PostgreSQL server (embedded unless TEST_DATABASE_URL is set), migrated
once into a template database; each test module gets its own copy, and the app talks to it as the
non-superuser application role, so row-level security is really exercised."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import signal
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service import migrations
from service.kit.db import Database, make_engine
from service.kit.identity import Role, issue_token, parse_ttl
from service.settings import APP_ROLE, Settings

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

JWT_SECRET = "test-secret-" + "x" * 32


def suite_server_dir() -> Path:
    """A fixed, traversable place (not a 0700 temp dir: the server runs as another user when we are root),
    specific to this checkout: other checkouts on the machine run their own suites, and stopping this
    one's server must never stop theirs."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    return Path(tempfile.gettempdir()) / f"seatwise-tests-{os.getuid()}-{digest}"


def _server_url() -> str:
    """Owner (superuser) URL of the server the tests use."""
    if os.environ.get("TEST_DATABASE_URL"):
        url = make_url(os.environ["TEST_DATABASE_URL"])
        return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    from service import embedded

    return embedded.start(suite_server_dir())


def with_database(url: str, name: str, user: str | None = None) -> str:
    u = make_url(url).set(database=name)
    if user:
        u = u.set(username=user, password=None)
    return u.render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    engine = make_engine(url, 1)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            await conn.execute(text(statement))
    await engine.dispose()


async def scratch_database(url: str, name: str) -> AsyncIterator[str]:
    """An empty database NAME on URL's server (a module fixture's body: migrations run on it by hand),
    dropped afterwards."""
    await _admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    yield with_database(url, name)
    await _admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    yield _server_url()
    if not os.environ.get("TEST_DATABASE_URL"):
        from service import embedded

        embedded.release(suite_server_dir())  # stopped now, unless another run of this checkout uses it


def pytest_configure(config) -> None:
    # `kill` (SIGTERM) ends the run like Ctrl-C: the session's teardown still stops the embedded server.
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _migrate_alone(url: str) -> None:
    """Migrate URL's database while no other run of this checkout migrates one: the first migration makes
    the server-wide roles, which two parallel workers (pytest -n) would otherwise both try to create."""
    lock = suite_server_dir() / "migrate.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        migrations.upgrade(url)


@pytest.fixture(scope="session")
async def template_db(server_url: str) -> AsyncIterator[str]:
    name = f"sw_tpl_{os.getpid()}"
    await _admin(server_url, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    await asyncio.to_thread(_migrate_alone, with_database(server_url, name))
    yield name
    await _admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class TestDatabase:
    name: str
    owner_url: str
    app_url: str


async def fresh_database(server_url: str, template: str) -> TestDatabase:
    name = f"sw_{uuid.uuid4().hex[:12]}"
    await _admin(server_url, f"CREATE DATABASE {name} TEMPLATE {template}")
    return TestDatabase(name, with_database(server_url, name), with_database(server_url, name, APP_ROLE))


@pytest.fixture(scope="module")
async def database(server_url: str, template_db: str) -> AsyncIterator[TestDatabase]:
    created = await fresh_database(server_url, template_db)
    yield created
    await _admin(server_url, f"DROP DATABASE IF EXISTS {created.name} WITH (FORCE)")


@pytest.fixture(scope="module")
async def db(database: TestDatabase) -> AsyncIterator[Database]:
    handle = Database(make_engine(database.app_url, 5))
    yield handle
    await handle.dispose()


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    # No rate limit: the suite sends many calls on one token (tests/api/test_limits.py checks the limits).
    return Settings(jwt_secret=JWT_SECRET, data_dir=tmp_path_factory.mktemp("data"), rate_limit="")


@pytest.fixture(scope="module")
async def client(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from service.app import create_app

    app = create_app(settings, db=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


def make_token(role: Role | str, tenant_id: uuid.UUID | None = None, ttl: str = "1h") -> str:
    return issue_token(JWT_SECRET, subject=f"test-{role}", role=Role(role), tenant_id=tenant_id,
                       ttl=parse_ttl(ttl))


def auth(role: Role | str, tenant_id: uuid.UUID | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(role, tenant_id)}"}


@dataclass
class World:
    """Two brands with shops, a site and an agent: what isolation and API tests stand on."""

    tenant_a: object
    tenant_b: object
    shops_a: list
    shops_b: list
    site: object
    agent: object

    def client_of(self, which: str = "a") -> dict[str, str]:
        tenant = self.tenant_a if which == "a" else self.tenant_b
        return auth(Role.client, tenant.id)


async def build_world(db: Database, suffix: str = "") -> World:
    from datetime import date
    from decimal import Decimal

    from service.shops.schemas import ShopCreate
    from service.shops.service import create_shop
    from service.workforce.schemas import AgentCreate, SiteCreate
    from service.workforce.service import create_agent, create_site
    from tenants.schemas import TenantCreate
    from tenants.service import create_tenant

    tag = suffix or uuid.uuid4().hex[:6]
    async with db.system_transaction() as session:
        a = await create_tenant(session, TenantCreate(slug=f"brand-a-{tag}", name="Brand A", tier="KA",
                                                      priority_weight=2))
        b = await create_tenant(session, TenantCreate(slug=f"brand-b-{tag}", name="Brand B", tier="standard"))
        shops_a = [await create_shop(session, ShopCreate(tenant_id=a.id, platform=p, name=f"A {p} {tag}"))
                   for p in ("tmall", "jd")]
        shops_b = [await create_shop(session, ShopCreate(tenant_id=b.id, platform=p, name=f"B {p} {tag}"))
                   for p in ("tmall", "douyin")]
        site = await create_site(session, SiteCreate(name=f"Site {tag}", city="Hangzhou", seat_capacity=100))
        agent = await create_agent(session, AgentCreate(site_id=site.id, code=f"T{tag}", name="测试",
                                                        level="agent", loaded_hourly_cost=Decimal("42.50"),
                                                        hired_on=date(2025, 1, 6)))
    return World(a, b, shops_a, shops_b, site, agent)


@pytest.fixture(scope="module")
async def world(db: Database) -> World:
    return await build_world(db)
