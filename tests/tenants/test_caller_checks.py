"""Tokens that outlive their right (issue 11): a suspended or offboarded brand's tokens, a token for a tenant
that does not exist, and a revoked token on the calls that open no transaction (the Erlang what-if) are all
refused, in both doors; the check rides the transaction's one opening round trip."""

from __future__ import annotations

import json
import uuid

import pytest

from service.kit.identity import OPERATOR
from tenants.schemas import TenantUpdate
from tenants.service import revoke_token, update_tenant
from tests.conftest import auth, make_token
from tests.factories import assert_problem, gql, make_shop

ERLANG = {"model": "erlang_c", "interval_s": 1800, "aht_s": 180, "target_service_level": 0.8,
          "target_answer_s": 20, "intervals": [{"volume": 100}]}
STAFFING = ("{ staffing(input: {model: erlang_c, intervalS: 900, ahtS: 180, targetServiceLevel: 0.8, "
            "targetAnswerS: 20, intervals: [{volume: 10}]}) { intervals { agents } } }")


async def _set_status(db, tenant, status: str) -> None:
    async with db.system_transaction() as session:
        await update_tenant(session, tenant.id, TenantUpdate(status=status))


@pytest.mark.parametrize("status", ["suspended", "offboarded"])
async def test_a_suspended_or_offboarded_brand_is_refused(client, db, status):
    tenant, shop = await make_shop(db)
    headers = auth("client", tenant.id)
    assert (await client.get("/v1/shops", headers=headers)).status_code == 200
    await _set_status(db, tenant, status)
    assert_problem(await client.get("/v1/shops", headers=headers), 403)
    line = json.dumps({"external_id": "x", "shop_id": str(shop.id), "started_at": "2026-11-20T10:00:00+08:00",
                       "kind": "presale"})
    r = await client.post("/v1/conversations", content=line,
                          headers={**headers, "Content-Type": "application/x-ndjson"})
    assert_problem(r, 403)
    result = await gql(client, "{ shops { items { id } } }", headers=headers)
    assert result["errors"][0]["extensions"]["status"] == 403, result
    # Staff still manage the brand, and reactivating it restores its tokens.
    assert (await client.get(f"/v1/shops/{shop.id}", headers=auth("ops"))).status_code == 200
    await _set_status(db, tenant, "active")
    assert (await client.get("/v1/shops", headers=headers)).status_code == 200


async def test_a_token_for_a_tenant_that_does_not_exist_is_401(client):
    headers = auth("client", uuid.uuid4())
    assert_problem(await client.get("/v1/shops", headers=headers), 401)
    result = await gql(client, "{ shops { items { id } } }", headers=headers)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", result


async def test_a_revoked_token_cannot_run_the_erlang_what_if(client, db):
    token = make_token("ops")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/v1/staffing/erlang", json=ERLANG, headers=headers)).status_code == 200
    assert "errors" not in await gql(client, STAFFING, headers=headers)
    from service.kit.identity import decode_token
    from tests.conftest import JWT_SECRET

    jti = decode_token(JWT_SECRET, token).jti
    async with db.system_transaction() as session:
        assert await revoke_token(session, jti, known=True)
    assert_problem(await client.post("/v1/staffing/erlang", json=ERLANG, headers=headers), 401)
    result = await gql(client, STAFFING, headers=headers)
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", result


def test_the_operator_is_never_refused():
    assert OPERATOR.scope.jti == "" and OPERATOR.scope.tenant_id is None


class _Sent:
    """The simple-protocol statements the app's connections send (asyncpg's Connection.execute)."""

    def __init__(self, monkeypatch):
        import asyncpg

        self.queries: list[str] = []
        plain = asyncpg.Connection.execute

        async def execute(conn, query, *args, **kwargs):
            self.queries.append(query)
            return await plain(conn, query, *args, **kwargs)

        monkeypatch.setattr(asyncpg.Connection, "execute", execute)


async def test_the_scope_travels_with_begin_and_still_refuses(client, db, monkeypatch):
    """A transaction's BEGIN carries its scope (seatwise_enter, kit.db.ScopedConnection): one round trip for
    both, and a revoked token or a suspended brand is refused by it as before; the refused connection is not
    reused (the next call on the pool answers)."""
    tenant, _ = await make_shop(db)
    sent = _Sent(monkeypatch)
    headers = auth("client", tenant.id)
    assert (await client.get("/v1/shops", headers=headers)).status_code == 200
    begins = [q for q in sent.queries if q.startswith("BEGIN")]
    assert begins and all("seatwise_enter(" in q and str(tenant.id) in q for q in begins), sent.queries
    await _set_status(db, tenant, "suspended")
    assert_problem(await client.get("/v1/shops", headers=headers), 403)
    token = make_token("ops")
    async with db.system_transaction() as session:
        from service.kit.identity import decode_token
        from tests.conftest import JWT_SECRET

        await revoke_token(session, decode_token(JWT_SECRET, token).jti, known=True)
    for _ in range(3):
        assert_problem(await client.get("/v1/shops", headers={"Authorization": f"Bearer {token}"}), 401)
        assert (await client.get("/v1/shops", headers=auth("ops"))).status_code == 200


async def test_a_token_id_of_other_characters_takes_the_parametrized_round_trip(client, db, monkeypatch):
    """A token id that is not plain (an identity provider's, say, with a quote) is never written into SQL: the
    scope then takes its own parametrized round trip, and is refused when revoked just the same."""
    import jwt

    from tests.conftest import JWT_SECRET

    odd = "it's-odd\\"
    token = jwt.encode({"sub": "x", "role": "ops", "exp": 4102444800, "jti": odd, "iss": "seatwise"},
                       JWT_SECRET, algorithm="HS256")
    sent = _Sent(monkeypatch)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v1/shops", headers=headers)).status_code == 200
    assert not any(odd in q for q in sent.queries)
    async with db.system_transaction() as session:
        await revoke_token(session, odd, known=True)
    assert_problem(await client.get("/v1/shops", headers=headers), 401)
