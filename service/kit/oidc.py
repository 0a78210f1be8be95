"""People in production: OpenID Connect access tokens from the outsourcer's identity provider.

A token whose `iss` is the configured issuer is verified against the provider's JWKS (RS256 or ES256;
found by discovery at `<issuer>/.well-known/openid-configuration` unless SEATWISE_OIDC_JWKS_URL names it),
fetched once and cached, and fetched again for a key id it has not seen (the provider rotated its keys);
its audience must be the configured one. The Seatwise role comes from a claim (a dotted path, e.g.
`realm_access.roles`; a string or a list) through a mapping of the provider's values to roles, the tenant of
a client from another claim (the brand's id or slug). The built-in issuer stays for the embedded mode and
the operator's CLI.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import urllib.request
import uuid
from typing import Any

import jwt
from sqlalchemy import text

from service.kit.db import Database
from service.kit.errors import Unauthorized
from service.kit.identity import Principal, Role

# When several mapped roles apply, the most capable wins.
_RANK = (Role.admin, Role.ops, Role.finance, Role.client)
_TENANT = text("SELECT id FROM tenants WHERE slug = :key")


def _fetch_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - the operator's configured URL
        return json.loads(answer.read())


class Oidc:
    def __init__(self, issuer: str, audience: str, *, jwks_url: str | None = None,
                 algorithms: tuple[str, ...] = ("RS256", "ES256"), role_claim: str = "roles",
                 role_map: dict[str, str] | None = None, tenant_claim: str = "seatwise_tenant",
                 refresh_s: float = 300.0):
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.jwks_url = jwks_url
        self.algorithms = list(algorithms)
        self.role_claim = role_claim.split(".")
        self.role_map = {k: Role(v) for k, v in (role_map or {r.value: r.value for r in Role}).items()}
        self.tenant_claim = tenant_claim
        self.refresh_s = refresh_s
        self.keys: dict[str, Any] = {}
        self.fetched = -refresh_s
        self.tenants: dict[str, uuid.UUID] = {}

    def claims_issuer(self, token: str) -> bool:
        """Whether TOKEN says it comes from this issuer (read unverified, only to pick the verifier)."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return False
        return str(claims.get("iss", "")).rstrip("/") == self.issuer

    def _load_keys(self) -> dict[str, Any]:
        url = self.jwks_url or _fetch_json(f"{self.issuer}/.well-known/openid-configuration")["jwks_uri"]
        keys = {}
        for jwk in jwt.PyJWKSet.from_dict(_fetch_json(url)).keys:
            if jwk.key_id:
                keys[jwk.key_id] = jwk.key
        return keys

    async def _key(self, kid: str) -> Any:
        key = self.keys.get(kid)
        stale = time.monotonic() - self.fetched > self.refresh_s
        if key is None or stale:
            if key is None and not stale and time.monotonic() - self.fetched < 10:
                raise Unauthorized("the token's signing key is not one the identity provider publishes")
            try:
                self.keys = await asyncio.to_thread(self._load_keys)
            except (OSError, ValueError, KeyError, jwt.PyJWTError):
                if key is None:
                    raise Unauthorized("the identity provider's keys could not be fetched; retry") from None
            self.fetched = time.monotonic()
            key = self.keys.get(kid, key)
        if key is None:
            raise Unauthorized("the token's signing key is not one the identity provider publishes")
        return key

    def _role(self, claims: dict[str, Any]) -> Role:
        value: Any = claims
        for part in self.role_claim:
            value = value.get(part) if isinstance(value, dict) else None
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        roles = {self.role_map[v] for v in values if isinstance(v, str) and v in self.role_map}
        for role in _RANK:
            if role in roles:
                return role
        raise Unauthorized("the identity provider's token carries no Seatwise role")

    async def _tenant(self, db: Database, value: Any) -> uuid.UUID:
        if not isinstance(value, str) or not value:
            raise Unauthorized("a client's token must name its brand")
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
        if value not in self.tenants:
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT set_config('app.staff', 'on', true)"))
                found = (await conn.execute(_TENANT, {"key": value})).scalar()
            if found is None:
                raise Unauthorized("the credential names a tenant that does not exist")
            self.tenants[value] = found
        return self.tenants[value]

    async def principal(self, db: Database, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("the bearer token is not a valid token") from None
        if header.get("alg") not in self.algorithms:
            raise Unauthorized(f"the token is signed with {header.get('alg')!r}; accepted: "
                               f"{', '.join(self.algorithms)}")
        key = await self._key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(token, key, algorithms=self.algorithms, audience=self.audience,
                                issuer=self.issuer, options={"require": ["exp", "iss", "sub", "aud"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired; sign in again") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the identity provider's token is not valid here ({type(exc).__name__})") \
                from None
        role = self._role(claims)
        tenant = await self._tenant(db, claims.get(self.tenant_claim)) if role == Role.client else None
        # The revocation list is keyed by token id: the provider's jti, else the token's own digest.
        jti = str(claims.get("jti") or hashlib.sha256(token.encode()).hexdigest())[:64]
        return Principal(subject=str(claims["sub"]), role=role, tenant_id=tenant, jti=jti)
