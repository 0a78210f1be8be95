"""create_app(): every domain's router, the GraphQL schema, health probes and problem+json errors."""

from __future__ import annotations

import gc
import secrets
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware.body_limit import RequestBodyLimitMiddleware

from service import __version__
from service.audit.api import router as audit_router
from service.capacity.api import router as capacity_router
from service.conversations.api import router as conversations_router
from service.finance.api import router as finance_router
from service.kit import docs, errors, observe, openapi, tracing
from service.kit.access import ApiKeys, principal_of, verify
from service.kit.db import Database, app_url, make_engine
from service.kit.gql import Router, context_getter
from service.kit.identity import Role, VerifiedTokens
from service.kit.limits import RateLimiter
from service.kit.oidc import Oidc
from service.kit.routing import memoize_sequence_checks
from service.schema import build_schema
from service.scorecard.api import router as scorecard_router
from service.seating.api import router as seating_router
from service.settings import Settings, get_settings, resolve_jwt_secret
from service.shops.api import router as shops_router
from service.sla.api import router as sla_router
from service.workforce.api import router as workforce_router
from tenants.api import keys_router, tokens_router
from tenants.api import router as tenants_router

# Every REST router; the role x route matrix test walks these.
ROUTERS = (tenants_router, tokens_router, keys_router, shops_router, workforce_router, conversations_router,
           sla_router, capacity_router, seating_router, finance_router, scorecard_router, audit_router)

DESCRIPTION = """
Seatwise runs the operations of an e-commerce customer-service outsourcer: client brands' shops,
their SLAs, seats and agents.

Authenticate with `Authorization: Bearer <token>` (issue one with `seatwise token issue --role ops`).
Errors are RFC 9457 `application/problem+json`. Lists answer `{"items": [...], "next_cursor": ...}`:
pass `cursor=<next_cursor>` for the next page.
"""


def configure_logging(settings: Settings | None = None) -> None:
    """Our own loggers at INFO (one line per request, stage timings of ingest and plans), everything else
    at WARNING; JSON lines in production, readable text in the embedded mode (SEATWISE_LOG_FORMAT)."""
    observe.configure_logging((settings or get_settings()).json_logs)


def oidc_of(settings: Settings) -> Oidc | None:
    """The OpenID Connect verifier when an issuer is configured."""
    if not settings.oidc_issuer:
        return None
    return Oidc(settings.oidc_issuer, settings.oidc_audience, jwks_url=settings.oidc_jwks_url,
                algorithms=tuple(a.strip() for a in settings.oidc_algorithms.split(",") if a.strip()),
                role_claim=settings.oidc_role_claim, role_map=settings.oidc_role_map,
                tenant_claim=settings.oidc_tenant_claim)


def create_app_for_worker() -> FastAPI:
    """The app of one `seatwise serve --workers N` process: settings (and the app database URL the
    parent resolved) from the environment."""
    configure_logging(get_settings())
    return create_app(get_settings())


def create_app(settings: Settings | None = None, db: Database | None = None,
               database_url: str | None = None) -> FastAPI:
    """DB: an open Database (tests); else DATABASE_URL (the app role's), else derived from settings."""
    settings = settings or get_settings()
    jwt_secret = resolve_jwt_secret(settings)
    memoize_sequence_checks()  # refuses to start without one in production

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = app.state.db is None
        if owned:
            # Up to twice SEATWISE_POOL_SIZE connections, as an engine's overflow allows, but all kept once
            # opened: overflow ones were closed on their return, and under a steady load of more requests in
            # flight than the pool's size a server opened a dozen new connections a second (a backend's
            # start, authentication, the driver's set-up), each on some request's time.
            engine = make_engine(database_url or app_url(settings), 2 * settings.pool_size, max_overflow=0)
            app.state.db = Database(engine, memo_size=settings.report_cache_size)
            observe.watch_pool(app.state.db)
            await app.state.db.warm_up(min(4, settings.pool_size))
        # Everything alive now lives as long as the process: keep it out of every later full collection.
        gc.freeze()
        try:
            yield
        finally:
            if owned:
                await app.state.db.dispose()
                observe.process_ended()

    app = docs.documented_app(title="Seatwise", version=__version__, description=DESCRIPTION,
                              lifespan=lifespan)
    app.state.settings = settings
    app.state.jwt_secret = jwt_secret
    app.state.db = db
    app.state.api_keys = ApiKeys()
    app.state.tokens = VerifiedTokens(jwt_secret, settings.jwt_issuer)
    app.state.oidc = oidc_of(settings)
    app.state.limiter = RateLimiter(settings.rate_limit, settings.rate_limit_storage)
    # Bodies are bounded everywhere (a small limit), more on the ingest route and on /graphql (their own
    # limits replace this one); the 413 is a problem+json (errors.install wraps this middleware).
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=settings.max_body_bytes)
    errors.install(app)
    app.add_middleware(observe.Observe)  # outermost: every answer has its request id, latency and log line
    if settings.otel_endpoint:
        tracing.install(app, settings.otel_endpoint)

    for router in ROUTERS:
        app.include_router(router)
    graphql = Router(build_schema(settings), context_getter=context_getter,
                    graphql_ide="graphiql" if settings.graphiql else None)
    app.include_router(graphql, prefix="/graphql", tags=["graphql"], max_body_size=settings.max_graphql_bytes)
    if settings.graphiql:
        docs.mount_graphiql_assets(app)

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics of this process, for an admin token or SEATWISE_METRICS_TOKEN."""
        token = request.app.state.settings.metrics_token
        given = request.headers.get("authorization", "")
        if not (token and secrets.compare_digest(given.encode(), f"Bearer {token}".encode())):
            principal = await principal_of(request)
            if principal.role != Role.admin:
                raise errors.Forbidden("metrics are for admins and the metrics token")
            await verify(request.app.state.db, principal)  # a revoked admin token is refused here too
        body, kind = observe.metrics_body(request.app.state.db)
        return Response(body, media_type=kind)

    @app.get("/readyz", tags=["health"], summary="The database answers")
    async def readyz(request: Request):
        try:
            await request.app.state.db.ping()
        except Exception:  # noqa: BLE001 - any failure means not ready
            return errors.problem_response(503, "the database is not reachable", headers={"Retry-After": "5"})
        return JSONResponse({"status": "ready"})

    openapi.install(app)
    return app
