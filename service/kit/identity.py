"""Who is calling: roles, principals, the database scope they see, and bearer JWTs.

A principal is a staff member of the outsourcer (admin, ops, finance: every tenant) or a client brand's
user (client: exactly one tenant). It comes from a signed JWT. This module sits below every domain and the
rest of the kit (it imports only the kit's errors), so the database layer, both doors and every domain
can depend on it without a circle.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from service.kit.errors import Unauthorized


class Role(enum.StrEnum):
    admin = "admin"
    ops = "ops"
    finance = "finance"
    client = "client"


STAFF = frozenset({Role.admin, Role.ops, Role.finance})
ALL_ROLES = frozenset(Role)


@dataclass(frozen=True)
class Scope:
    """What the database lets a transaction see: every tenant (staff) or exactly one (a client)."""

    staff: bool
    tenant_id: uuid.UUID | None = None
    jti: str | None = None  # the caller's token id: refused if revoked
    key_id: uuid.UUID | None = None  # the caller's API key: refused if revoked or expired
    principal: Principal | None = None  # who acts (the audit log's actor); None for the operator's tools


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    tenant_id: uuid.UUID | None
    jti: str
    key_id: uuid.UUID | None = None  # set when the caller authenticated with an API key (jti is then '')

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    @property
    def scope(self) -> Scope:
        return Scope(staff=self.is_staff, tenant_id=self.tenant_id, jti=self.jti, key_id=self.key_id,
                     principal=self)

    @property
    def limit_key(self) -> str:
        """What rate limits count by: the API key, else the token."""
        return f"key:{self.key_id}" if self.key_id else f"token:{self.jti or self.subject}"


_TTL = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_ttl(text: str) -> timedelta:
    """'8h', '30m', '7d', '3600' -> timedelta."""
    match = _TTL.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 8h, 7d)")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def issue_token(secret: str, *, subject: str, role: Role, tenant_id: uuid.UUID | None, ttl: timedelta,
                issuer: str = "seatwise") -> str:
    return issue_token_claims(secret, subject=subject, role=role, tenant_id=tenant_id, ttl=ttl,
                              issuer=issuer)[0]


def issue_token_claims(secret: str, *, subject: str, role: Role, tenant_id: uuid.UUID | None, ttl: timedelta,
                       issuer: str = "seatwise") -> tuple[str, dict[str, str | int]]:
    """A signed token and its claims (jti, exp: what its issuer records)."""
    if role == Role.client and tenant_id is None:
        raise ValueError("a client token needs a tenant")
    if role != Role.client and tenant_id is not None:
        raise ValueError("only client tokens carry a tenant; staff see every tenant")
    now = int(time.time())
    claims: dict[str, str | int] = {"sub": subject, "role": role.value, "iat": now,
                                    "exp": now + int(ttl.total_seconds()), "jti": str(uuid.uuid4()),
                                    "iss": issuer}
    if tenant_id is not None:
        claims["tenant"] = str(tenant_id)
    return jwt.encode(claims, secret, algorithm="HS256"), claims


# --- API keys: `swk_<prefix>_<secret>`, stored as the SHA-256 of the whole key --------------------------

KEY_SCHEME = "swk_"


def new_api_key() -> tuple[str, str, str]:
    """A new key, its prefix (shown in listings) and its hash (what is stored)."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_SCHEME}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, key_hash(key)


def key_hash(key: str) -> str:
    # A key holds 256 random bits: a plain hash cannot be brute-forced, and it is one lookup per call.
    return hashlib.sha256(key.encode()).hexdigest()


def is_api_key(credential: str) -> bool:
    return credential.startswith(KEY_SCHEME)


def looks_like_token(text: str) -> bool:
    """A JWT's shape (three dot-separated parts), as opposed to a bare jti."""
    return text.count(".") == 2 and len(text) > 40


def decode_token(secret: str, token: str, issuer: str = "seatwise", verify_exp: bool = True) -> Principal:
    """The principal of a built-in token; VERIFY_EXP False reads an expired one (to revoke it)."""
    return _verified(secret, token, issuer, verify_exp)[0]


class VerifiedTokens:
    """Built-in tokens this process has verified, by their text: a token's claims never change, so its
    signature is checked once; its expiry is checked on every use, as PyJWT does (revocation and the tenant's
    status are the database's, on every call). At most SIZE are kept."""

    def __init__(self, secret: str, issuer: str = "seatwise", size: int = 10_000):
        self.secret, self.issuer, self.size = secret, issuer, size
        self._known: dict[str, tuple[Principal, float]] = {}

    def principal(self, token: str) -> Principal:
        known = self._known.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        principal, expires = _verified(self.secret, token, self.issuer)  # raises once expired
        if len(self._known) >= self.size:
            self._known.clear()
        self._known[token] = (principal, expires)
        return principal


def _verified(secret: str, token: str, issuer: str, verify_exp: bool = True) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=issuer,
                            options={"require": ["sub", "role", "exp", "jti"], "verify_exp": verify_exp})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired; issue a new one") from None
    except jwt.InvalidSignatureError:
        raise Unauthorized("the bearer token was not signed by this server (issued for another data dir? "
                           "the CLI signs for its SEATWISE_DATA_DIR)") from None
    except jwt.PyJWTError:
        raise Unauthorized("the bearer token is not a valid Seatwise token") from None
    try:
        role = Role(claims["role"])
        tenant = uuid.UUID(claims["tenant"]) if claims.get("tenant") else None
    except (ValueError, TypeError, AttributeError):
        raise Unauthorized("the bearer token carries an unknown role or tenant") from None
    if (role == Role.client) != (tenant is not None):
        raise Unauthorized("the bearer token's role and tenant do not match")
    return (Principal(subject=str(claims["sub"]), role=role, tenant_id=tenant, jti=str(claims["jti"])),
            float(claims["exp"]))


def bearer(authorization: str | None) -> str:
    """The credential of an Authorization header (401 without one)."""
    if not authorization:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def principal_from_header(secret: str, authorization: str | None, issuer: str = "seatwise") -> Principal:
    return decode_token(secret, bearer(authorization), issuer)


# The operator's own tools (the CLI, the demo loader) act as this staff principal, in a system transaction.
OPERATOR = Principal(subject="seatwise-cli", role=Role.admin, tenant_id=None, jti="")
