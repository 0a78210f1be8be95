"""Tenant use cases. Staff manage tenants; a client's transaction sees its own tenant only (RLS)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.crud import apply_changes, by_ids, flush, list_page, one_or_404
from service.kit.errors import Invalid, NotFound
from service.kit.identity import Principal, Role, issue_token_claims, new_api_key
from service.kit.pagination import Paged, PageRequest, page_of
from tenants.models import ApiKey, IssuedToken, Tenant, TokenRevocation
from tenants.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    TenantCreate,
    TenantFilter,
    TenantUpdate,
    TokenRead,
    TokenStatus,
)


def _by_key(key: str | uuid.UUID):
    """A tenant by id or slug: the API accepts either."""
    if isinstance(key, uuid.UUID):
        return Tenant.id == key
    try:
        return Tenant.id == uuid.UUID(key)
    except ValueError:
        return Tenant.slug == key


async def get_tenant(session: AsyncSession, key: str | uuid.UUID) -> Tenant:
    return await one_or_404(session, select(Tenant).where(_by_key(key)), "tenant")


async def read_tenant(session: AsyncSession, principal: Principal, key: str | uuid.UUID) -> Tenant:
    """One brand by id or slug: staff any, a client its own; another brand's is not found (never confirm
    that it exists)."""
    tenant = await find_tenant(session, key)
    if tenant is None or (not principal.is_staff and tenant.id != principal.tenant_id):
        raise NotFound("tenant not found")
    return tenant


async def find_tenant(session: AsyncSession, key: str | uuid.UUID) -> Tenant | None:
    return (await session.execute(select(Tenant).where(_by_key(key)))).scalars().first()


async def list_tenants(session: AsyncSession, filters: TenantFilter, page: PageRequest) -> Paged[Tenant]:
    stmt = select(Tenant).filter_by(**filters.model_dump(include={"tier", "status"}, exclude_none=True))
    if filters.q:
        stmt = stmt.where(Tenant.name.ilike(f"%{filters.q}%") | Tenant.slug.ilike(f"%{filters.q}%"))
    return await list_page(session, stmt, Tenant.id, page)


async def create_tenant(session: AsyncSession, data: TenantCreate) -> Tenant:
    tenant = Tenant(**data.model_dump(mode="json"))
    session.add(tenant)
    await flush(session, f"tenant '{data.slug}'")
    return tenant


async def update_tenant(session: AsyncSession, key: str | uuid.UUID, changes: TenantUpdate) -> Tenant:
    tenant = await get_tenant(session, key)
    apply_changes(tenant, changes)
    await flush(session, "tenant")
    return tenant


async def tenants_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> list[Tenant | None]:
    return await by_ids(session, Tenant, ids)




# --- tokens the built-in issuer signs --------------------------------------------------------------------


async def issue_token(session: AsyncSession, secret: str, *, subject: str, role: Role,
                      tenant_id: uuid.UUID | None, ttl: timedelta, issued_by: str, issuer: str = "seatwise"
                      ) -> tuple[str, IssuedToken]:
    """Sign a token and record it (its id, whom it is for, its expiry; never the token), so admins can list
    and revoke it."""
    token, claims = issue_token_claims(secret, subject=subject, role=role, tenant_id=tenant_id, ttl=ttl,
                                       issuer=issuer)
    record = IssuedToken(jti=str(claims["jti"]), subject=subject, role=role.value, brand_id=tenant_id,
                         issued_by=issued_by, expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC))
    session.add(record)
    await flush(session, "token")
    return token, record


def _token_read(token: IssuedToken, revoked_at: datetime | None, now: datetime) -> TokenRead:
    status = (TokenStatus.revoked if revoked_at else
              TokenStatus.expired if token.expires_at <= now else TokenStatus.active)
    return TokenRead.model_validate({**token.model_dump(), "revoked_at": revoked_at, "status": status})


async def list_tokens(session: AsyncSession, page: PageRequest) -> Paged[TokenRead]:
    """Issued tokens, newest first by id order of issue (their revocation and expiry as status)."""
    stmt = (select(IssuedToken, TokenRevocation.revoked_at)
            .outerjoin(TokenRevocation, TokenRevocation.jti == IssuedToken.jti))
    after = page.after(datetime, str)
    if after is not None:
        stmt = stmt.where(tuple_(IssuedToken.issued_at, IssuedToken.jti) < tuple_(*after))
    order = (IssuedToken.issued_at.desc(), IssuedToken.jti.desc())
    rows = (await session.execute(stmt.order_by(*order)
                                  .limit(page.limit + 1))).all()
    now = datetime.now(UTC)
    reads = [_token_read(token, revoked_at, now) for token, revoked_at in rows]
    return page_of(reads, page, key=lambda t: (t.issued_at, t.jti))


async def get_token(session: AsyncSession, jti: str) -> TokenRead:
    row = (await session.execute(select(IssuedToken, TokenRevocation.revoked_at)
                                 .outerjoin(TokenRevocation, TokenRevocation.jti == IssuedToken.jti)
                                 .where(IssuedToken.jti == jti))).first()
    if row is None:
        raise NotFound("no token with this id")
    return _token_read(row[0], row[1], datetime.now(UTC))


async def revoke_token(session: AsyncSession, jti: str, reason: str | None = None, *,
                       expires_at: datetime | None = None, known: bool = False) -> bool:
    """Put JTI on the revocation list; False when it already was. Unless KNOWN (the caller holds the
    signed token itself), a jti this issuer never recorded is refused (NotFound): a typo must not look
    like a revocation."""
    if await session.get(TokenRevocation, jti) is not None:
        return False
    issued = await session.get(IssuedToken, jti)
    if issued is None and not known:
        raise NotFound("no token with this id was issued here (pass the token itself to revoke one "
                       "issued elsewhere)")
    session.add(TokenRevocation(jti=jti, reason=reason,
                                expires_at=issued.expires_at if issued else expires_at))
    await flush(session, "revocation")
    return True


# --- API keys ------------------------------------------------------------------------------------------


def _visible_keys(caller: Principal) -> Any:
    stmt = select(ApiKey)
    return stmt if caller.role == Role.admin else stmt.where(ApiKey.brand_id == caller.tenant_id)


async def create_api_key(session: AsyncSession, caller: Principal, data: ApiKeyCreate) -> ApiKeyCreated:
    """A new key: an admin's for any role and brand, a brand user's for its own brand as a client."""
    tenant_id = None
    if caller.role != Role.admin:
        if data.role != Role.client:
            raise Invalid("role", "a brand's user may create client keys only")
        if data.tenant is not None and (await find_tenant(session, data.tenant)) is None:
            raise Invalid("tenant", "no such tenant")  # another brand's is invisible here: the same answer
        tenant_id = caller.tenant_id
    elif data.role == Role.client:
        if data.tenant is None:
            raise Invalid("tenant", "a client key needs the brand it acts for")
        tenant = await find_tenant(session, data.tenant)
        if tenant is None:
            raise Invalid("tenant", "no such tenant")
        tenant_id = tenant.id
    elif data.tenant is not None:
        raise Invalid("tenant", "only client keys act for a brand; staff keys see every brand")
    if data.expires_at is not None and data.expires_at.tzinfo is None:
        raise Invalid("expires_at", "give an offset, e.g. 2027-01-01T00:00:00+08:00")
    key, prefix, digest = new_api_key()
    row = ApiKey(name=data.name, prefix=prefix, secret_hash=digest, role=data.role.value, brand_id=tenant_id,
                 created_by=caller.subject, expires_at=data.expires_at)
    session.add(row)
    await flush(session, "API key")
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(row).model_dump(), "key": key})


async def list_api_keys(session: AsyncSession, caller: Principal, page: PageRequest) -> Paged[ApiKey]:
    return await list_page(session, _visible_keys(caller), ApiKey.id, page)


async def revoke_api_key(session: AsyncSession, caller: Principal, key_id: uuid.UUID) -> ApiKey:
    key = await one_or_404(session, _visible_keys(caller).where(ApiKey.id == key_id), "API key")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        await flush(session, "API key")
    return key
