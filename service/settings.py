"""Configuration from the environment (SEATWISE_* variables and DATABASE_URL)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_ROLE = "seatwise_app"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEATWISE_", env_file=".env", extra="ignore")

    # Owner connection: runs migrations. Unset means the embedded PostgreSQL server.
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL"))
    # The server's own connection, as the non-superuser application role. Derived from
    # database_url (same host and database, user seatwise_app) when unset.
    app_database_url: str | None = None
    app_db_password: str | None = None
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("seatwise")))
    jwt_secret: str | None = None
    jwt_issuer: str = "seatwise"
    token_ttl_default: str = "8h"
    graphiql: bool = True
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 2000
    pool_size: int = 10
    # On SIGTERM or Ctrl-C the server stops taking connections and lets the requests in flight finish for up
    # to this many seconds; then it cancels them (an ingest cancelled so is wholly absent, and its client
    # gets no answer saying otherwise).
    shutdown_timeout_s: float = Field(default=30, gt=0)
    # SLA reports and breach lists kept in each server process, found again while the database's version of
    # what they read stands (service.kit.cache); 0 keeps none.
    report_cache_size: int = Field(default=4096, ge=0)
    max_page_size: int = 500
    # How far back a conversation may start (days): older records are rejected, so one client's ancient
    # dates cannot create partitions that every tenant's ingest then probes.
    ingest_max_age_days: int = Field(default=1096, ge=1)
    # Request body limits (bytes): every route, the ingest route, /graphql.
    max_body_bytes: int = 1024 * 1024
    max_ingest_bytes: int = 256 * 1024 * 1024
    max_graphql_bytes: int = 2 * 1024 * 1024
    # Calls per credential (token or API key), REST and GraphQL alike; in-process unless a shared store
    # is named (e.g. async+redis://redis:6379 for many replicas).
    rate_limit: str = "50/second;2000/minute"
    rate_limit_storage: str = "memory://"
    # OpenID Connect for people (production): the identity provider's issuer URL and this API's audience;
    # the JWKS URL (default: discovered from the issuer), the claim holding the role (a dotted path) and how
    # its values map to roles (JSON, e.g. {"cs-admins": "admin", "brand-users": "client"}; default: the role
    # names themselves), the claim holding a client's brand (id or slug).
    oidc_issuer: str | None = None
    oidc_audience: str = "seatwise"
    oidc_jwks_url: str | None = None
    oidc_algorithms: str = "RS256,ES256"
    oidc_role_claim: str = "roles"
    oidc_role_map: dict[str, str] | None = None
    oidc_tenant_claim: str = "seatwise_tenant"
    # Logs: `json` (one event a line) or `text`; default: text in the embedded mode, JSON in production.
    log_format: Literal["json", "text"] | None = None
    # /metrics answers an admin token, or this bearer token (for Prometheus' `authorization` setting).
    metrics_token: str | None = None
    # OpenTelemetry tracing (off by default): an OTLP/HTTP endpoint, e.g. http://otel-collector:4318; needs
    # the optional packages (`uv sync --extra otel`).
    otel_endpoint: str | None = None

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" if self.log_format else not self.embedded

    @property
    def embedded(self) -> bool:
        return self.database_url is None


class ConfigurationError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def resolve_jwt_secret(settings: Settings) -> str:
    """The signing secret: configured, or (embedded mode only) generated once and kept in the data dir."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if not settings.embedded:
        raise ConfigurationError(
            "SEATWISE_JWT_SECRET is not set. With DATABASE_URL pointing at a real database, Seatwise "
            "refuses to start without an explicit token signing secret (generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
        )
    path = settings.data_dir / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
