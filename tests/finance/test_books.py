"""The books end to end through REST: October 2026 computed from attendance, the roster and the rollups,
recomputed identically, closed with gapless numbers and frozen; late attendance becomes linked adjustments in
November; reopening is an admin's and is recorded; a brand reads only its finalized statements, without
rates."""

from __future__ import annotations

import asyncio
import hashlib
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.conftest import auth
from tests.factories import (
    FINANCE_MONTH,
    _work,
    add_work_session,
    assert_problem,
    cli_env,
    finance_contracts,
    finance_world,
    gql,
    plan_for_world,
    roster_for_plan,
    run_cli,
)

D = Decimal
FINANCE = auth("finance")
OCT = FINANCE_MONTH


@pytest.fixture(scope="module")
async def books(db, world, client):
    data = await finance_world(db, world)
    for body in finance_contracts(world):
        r = await client.post("/v1/finance/contracts", json=body, headers=FINANCE)
        assert r.status_code == 201, r.text
    return data


async def _statements(client, month: str) -> dict:
    r = await client.get("/v1/finance/statements", params={"month": month}, headers=FINANCE)
    assert r.status_code == 200, r.text
    out = {}
    for s in r.json()["items"]:
        full = await client.get(f"/v1/finance/statements/{s['id']}", headers=FINANCE)
        out[s["tenant_id"]] = full.json()
    return out


async def _snapshot(db, month: str) -> str:
    """Every stored figure of a month, as text: what 'byte-identical' compares."""
    parts = []
    async with db.system_transaction() as session:
        for table, order in (("statements", "tenant_id"),
                             ("statement_lines", "tenant_id, statement_id, position"),
                             ("cost_lines", "tenant_id, shop_id, site_id, of_month"),
                             ("shop_month_usage", "tenant_id, shop_id")):
            rows = await session.execute(text(f"SELECT t::text FROM {table} t WHERE month = CAST(:m AS date) "
                                              f"ORDER BY {order}"),
                                         {"m": date.fromisoformat(f"{month}-01")})
            parts += [r[0] for r in rows]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


async def test_october_is_computed_from_attendance_roster_and_rollups(client, world, books):
    r = await client.post(f"/v1/finance/periods/{OCT}/compute", headers=FINANCE)
    assert r.status_code == 200, r.text
    assert r.json()["statements"] == 2 and r.json()["adjustments"] == 0
    st = await _statements(client, OCT)
    a, b = st[str(world.tenant_a.id)], st[str(world.tenant_b.id)]
    lines = {(x["component"], x["shop_id"]): x for x in a["lines"]}
    shop0, shop1 = (str(s.id) for s in world.shops_a)
    assert lines[("base_fee", None)]["amount"] == "5000.00"
    seat0 = lines[("seat_hours", shop0)]
    assert (D(seat0["quantity"]), seat0["amount"]) == (D(8), "360.00")  # 480 min from attendance x 45
    assert seat0["source"] == "8 seat-hours from attendance"
    assert lines[("seat_hours", shop1)]["amount"] == "450.00"  # 600 min
    # The SLA domain's breach of A's first shop: 60 % of a 10 % pool of A's charges.
    credit = lines[("sla_credit.service_level", shop0)]
    charges = sum(D(x["amount"]) for x in a["lines"] if x["kind"] == "charge")
    assert D(credit["amount"]) == -(charges * D("0.1")).quantize(D("0.01")) * D("0.6").quantize(D("0.01")) \
        or D(credit["amount"]) == -(D("0.6") * (charges * D("0.1")).quantize(D("0.01"))).quantize(D("0.01"))
    assert credit["kind"] == "credit" and D(a["credits"]) == D(credit["amount"])
    for s in (a, b):  # lines sum to the totals, to the fen
        counted = [D(x["amount"]) for x in s["lines"] if x["kind"] in ("charge", "credit", "adjustment")]
        assert sum(counted) == D(s["total"]) == D(s["charges"]) + D(s["credits"]) + D(s["adjustments"])
    assert {x["component"] for x in b["lines"]} <= {"conversations", "gmv_commission"}

    costs = (await client.get("/v1/finance/costs", params={"from": OCT, "by": "shop"},
                              headers=FINANCE)).json()
    by_shop = {row["key"]: row for row in costs["rows"]}
    s1 = by_shop[shop1]
    # 600 min at 42/h = 420.00; 120 min of workday overtime at 50 % of the 30/h wage = 30.00; seat 6/h.
    assert (s1["labour_base"], s1["overtime_premium"], s1["seat"]) == ("420.00", "30.00", "60.00")
    b0 = by_shop[str(world.shops_b[0].id)]  # 240 min on the National Day holiday: 300 %, 200 % on the wage
    assert (b0["labour_base"], b0["overtime_premium"], b0["overtime_holiday_hours"]) == ("168.00", "240.00",
                                                                                          "4.0000")
    b1 = by_shop[str(world.shops_b[1].id)]  # the second agent: attendance on the 14th, the roster on the 15th
    assert (b1["attendance_hours"], b1["roster_hours"]) == ("8.0000", "8.0000")
    assert b1["labour_base"] == "576.00"  # 960 min at the profile's 36.00/h (no cost version)
    assert b1["conversations"] == 0 and b1["cost_per_conversation"] is None
    assert D(by_shop[shop0]["cost_per_seat_hour"]) > 0

    # Recomputing a draft gives identical amounts.
    again = await client.post(f"/v1/finance/periods/{OCT}/compute", headers=FINANCE)
    assert again.status_code == 200
    st2 = await _statements(client, OCT)
    strip = lambda s: [(x["position"], x["amount"], x["quantity"], x["rate"], x["source"])  # noqa: E731
                       for x in s["lines"]]
    assert {k: strip(v) for k, v in st2.items()} == {k: strip(v) for k, v in st.items()}
    assert {k: v["id"] for k, v in st2.items()} == {k: v["id"] for k, v in st.items()}  # drafts keep ids

    margins = (await client.get("/v1/finance/margins", params={"from": OCT}, headers=FINANCE)).json()
    brand_b = next(row for row in margins["rows"] if row["key"] == str(world.tenant_b.id))
    assert D(brand_b["margin"]) == D(brand_b["revenue"]) + D(brand_b["credits"]) - D(brand_b["cost"])
    assert D(margins["total"]["margin"]) == sum(D(row["margin"]) for row in margins["rows"])
    ka = (await client.get("/v1/finance/margins", params={"from": OCT, "tier": "KA", "by": "shop"},
                           headers=FINANCE)).json()
    assert {row["key"] for row in ka["rows"]} <= {shop0, shop1}


async def test_usage_counts_what_the_rollups_count(db, world, books):
    """Answered conversations per shop-month read off the day FRT histograms are the 15-minute rollups'
    count; GMV is read for the shops asked (a commission's), None for the others."""
    from service.finance import queries as q
    from service.finance.periods import Month

    month = Month.parse(OCT)
    async with db.system_transaction() as session:
        shops = [s for s in await q.shops(session) if s.tenant_id in (world.tenant_a.id, world.tenant_b.id)]
        usage = await q.rollup_usage(session, shops, month, {world.shops_a[0].id})
        lo, hi = month.span("Asia/Shanghai")
        direct = {r[0]: (int(r[1]), r[2]) for r in await session.execute(text(
            "SELECT shop_id, sum(answered), sum(gmv) FROM shop_interval_stats "
            "WHERE interval_start >= :lo AND interval_start < :hi GROUP BY 1"), {"lo": lo, "hi": hi})}
    assert len(usage) == 3 and all(usage[s][0] == direct[s][0] > 0 for s in usage)
    assert usage[world.shops_a[0].id][1] == direct[world.shops_a[0].id][1] > 0
    assert all(usage[s][1] is None for s in usage if s != world.shops_a[0].id)


async def test_closing_numbers_freezes_and_late_data_becomes_adjustments(client, db, world, books):
    client_a = world.client_of("a")
    draft = await client.get(f"/v1/tenants/{world.tenant_a.slug}/statements/{OCT}", headers=client_a)
    assert_problem(draft, 404)  # a draft is not the brand's to read yet
    closed = await client.post(f"/v1/finance/periods/{OCT}/close", headers=FINANCE)
    assert closed.status_code == 200, closed.text
    numbers = closed.json()["numbers"]
    assert len(numbers) == 2 and numbers[0][:8] == "SW-2026-"
    assert int(numbers[1][-6:]) == int(numbers[0][-6:]) + 1  # gapless
    frozen = await _snapshot(db, OCT)
    assert_problem(await client.post(f"/v1/finance/periods/{OCT}/compute", headers=FINANCE), 409)

    # Late attendance for October: 3 more hours on A's first shop.
    await add_work_session(db, world.tenant_a.id, world.shops_a[0].id, "late-1",
                           _work(world.agent.id, "20 09:00", "20 12:00"))
    nov = await client.post("/v1/finance/periods/2026-11/compute", headers=FINANCE)
    assert nov.status_code == 200, nov.text
    assert nov.json()["corrected_months"] == [OCT] and nov.json()["adjustments"] >= 1
    assert await _snapshot(db, OCT) == frozen  # the closed month is byte-identical
    a_nov = (await _statements(client, "2026-11"))[str(world.tenant_a.id)]
    fix = next(x for x in a_nov["lines"] if x["kind"] == "adjustment" and x["component"] == "seat_hours")
    assert (D(fix["quantity"]), fix["amount"], fix["corrects_month"], fix["reason"]) == (D(3), "135.00", OCT,
                                                                                          "late_data")
    a_oct = (await _statements(client, OCT))[str(world.tenant_a.id)]
    target = next(x for x in a_oct["lines"] if x["component"] == "seat_hours"
                  and x["shop_id"] == str(world.shops_a[0].id))
    assert (fix["corrects_statement_id"], fix["corrects_position"]) == (a_oct["id"], target["position"])
    costs = (await client.get("/v1/finance/costs", params={"from": "2026-11", "by": "shop"},
                              headers=FINANCE)).json()
    late = next(r for r in costs["rows"] if r["key"] == str(world.shops_a[0].id))
    assert late["hours"] == "3.0000" and late["labour_base"] == "126.00"  # booked in November, for October
    # Computing November again does not book the correction twice.
    await client.post("/v1/finance/periods/2026-11/compute", headers=FINANCE)
    a_nov2 = (await _statements(client, "2026-11"))[str(world.tenant_a.id)]
    assert [x for x in a_nov2["lines"] if x["kind"] == "adjustment"] == \
        [x for x in a_nov["lines"] if x["kind"] == "adjustment"]
    # Closing November keeps the correction it carries; December books no second one.
    closed_nov = await client.post("/v1/finance/periods/2026-11/close", headers=FINANCE)
    assert closed_nov.status_code == 200, closed_nov.text
    assert closed_nov.json()["adjustments"] == nov.json()["adjustments"]
    dec = await client.post("/v1/finance/periods/2026-12/compute", headers=FINANCE)
    assert dec.json()["corrected_months"] == ["2026-10", "2026-11"] and dec.json()["adjustments"] == 0

    # The brand reads its finalized October: charges, credits, quantities, never a rate.
    mine = await client.get(f"/v1/tenants/{world.tenant_a.slug}/statements/{OCT}", headers=client_a)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["number"] in numbers and body["lines"]
    assert all("rate" not in x and "credit" not in x for x in body["lines"])
    assert "rate" not in mine.text and "cost" not in mine.text and "margin" not in mine.text
    other = await client.get(f"/v1/tenants/{world.tenant_b.slug}/statements/{OCT}", headers=client_a)
    assert_problem(other, 404)


async def test_reopening_is_an_admins_and_recorded(client, world, books):
    assert_problem(await client.post(f"/v1/finance/periods/{OCT}/reopen", json={"reason": "audit"},
                                     headers=FINANCE), 403)
    bad = await client.post(f"/v1/finance/periods/{OCT}/reopen", json={"reason": ""}, headers=auth("admin"))
    assert_problem(bad, 422, "body.reason")
    r = await client.post(f"/v1/finance/periods/{OCT}/reopen", json={"reason": "auditor's request"},
                          headers=auth("admin"))
    assert r.status_code == 200, r.text
    period = r.json()
    assert period["status"] == "open" and period["finalized"] == 2
    assert [e["action"] for e in period["events"]] == ["close", "reopen"]
    assert period["events"][-1]["reason"] == "auditor's request"
    closed = await client.post(f"/v1/finance/periods/{OCT}/close", headers=FINANCE)
    assert closed.status_code == 200 and closed.json()["numbers"] == []  # nothing left to number
    assert_problem(await client.post(f"/v1/finance/periods/{OCT}/close", headers=FINANCE), 409)
    for path in ("/v1/finance/periods/2099-01/close", "/v1/finance/periods/2026-13/compute"):
        assert_problem(await client.post(path, headers=FINANCE), 422, "path.month")


async def test_the_balance_view_prices_a_point(client, world, books):
    r = await client.get("/v1/finance/balance", params={"month": OCT, "tenant": world.tenant_a.slug},
                         headers=auth("ops"))
    assert r.status_code == 200, r.text
    rows = {x["shop_id"]: x for x in r.json()["items"]}
    short = rows[str(world.shops_a[0].id)]
    assert short["target_sl"] == 0.999 and short["met"] is False and short["gap"] < 0
    assert D(short["credit_exposure"]) > 0 and D(short["cost"]) > 0 and D(short["agent_hours"]) > 0
    assert short["marginal"] is not None and D(short["marginal"]["cost_per_point"]) > 0
    assert_problem(await client.get("/v1/finance/balance", params={"month": "10-2026"}, headers=FINANCE),
                   422, "query.month")


async def test_exports_stream_the_long_format(client, world, books):
    r = await client.get("/v1/finance/exports/statements", params={"from": OCT, "to": "2026-11"},
                         headers=FINANCE)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = r.text.strip().split("\r\n")
    assert rows[0].startswith("Statement,Brand,Month,Kind,Component")
    assert any(",adjustment,seat_hours," in row for row in rows)
    x = await client.get("/v1/finance/exports/margins", params={"from": OCT, "format": "xlsx", "by": "shop"},
                         headers=auth("ops"))
    assert x.status_code == 200 and x.content[:2] == b"PK"  # a zip: the workbook
    assert "attachment" in x.headers["content-disposition"]
    assert_problem(await client.get("/v1/finance/exports/wages", headers=FINANCE), 422)


async def test_a_plan_and_its_roster_get_a_cost_estimate_and_a_margin(client, db, world, books):
    plan = await plan_for_world(db)
    r = await client.get(f"/v1/finance/capacity-plans/{plan}/estimate", headers=FINANCE)
    assert r.status_code == 200, r.text
    est = r.json()
    assert est["shops"] and D(est["cost"]) == sum(D(s["cost"]) for s in est["shops"])
    assert D(est["margin"]) == D(est["revenue"]) + D(est["credits"]) - D(est["cost"])
    ka = est["ka_first"]
    assert ka is not None and {s["tier"] for s in ka["shops"]} <= {"KA", "standard", "longtail"}
    assert D(ka["net"]) == sum(D(s["margin"]) for s in ka["shops"])
    roster = await roster_for_plan(db, world, plan)
    r = await client.get(f"/v1/finance/rosters/{roster}/estimate", headers=auth("ops"))
    assert r.status_code == 200, r.text
    assert r.json()["roster_id"] == str(roster) and r.json()["ka_first"] is None
    assert D(r.json()["hourly_cost"]) == D("42.00")  # the named agent's cost version
    assert_problem(await client.get(f"/v1/finance/rosters/{plan}/estimate", headers=FINANCE), 404)


BRAND_FIELDS = {"tenant_id", "month", "number", "finalized_at", "lines", "charges", "credits", "adjustments",
                "total", "pending_credits", "forgiven_credits"}
BRAND_LINE_FIELDS = {"position", "kind", "component", "shop_id", "quantity", "unit", "amount", "source",
                     "corrects_month", "reason"}


async def test_a_brand_sees_charges_credits_and_quantities_field_by_field(client, world, books):
    """REST and GraphQL give a brand exactly the fields of its view: no rate, cost or margin anywhere."""
    a = world.client_of("a")
    page = (await client.get(f"/v1/tenants/{world.tenant_a.slug}/statements", headers=a)).json()
    assert page["items"] and all(set(s) == BRAND_FIELDS for s in page["items"])
    assert all(set(x) == BRAND_LINE_FIELDS for s in page["items"] for x in s["lines"])
    assert {s["tenant_id"] for s in page["items"]} == {str(world.tenant_a.id)}
    query = ("query($t: String!, $m: String!) { brandStatement(tenant: $t, month: $m) { number total "
             "lines { kind component quantity unit amount source } } }")
    ok = await gql(client, query, {"t": world.tenant_a.slug, "m": OCT}, a)
    assert "errors" not in ok and ok["data"]["brandStatement"]["lines"]
    for field in ("rate", "correctsStatementId", "credit"):
        asked = await gql(client, query.replace("source", field), {"t": world.tenant_a.slug, "m": OCT}, a)
        assert "Cannot query field" in asked["errors"][0]["message"]
    schema = await gql(client, '{ __type(name: "BrandStatementLine") { fields { name } } }', {}, a)
    names = {f["name"] for f in schema["data"]["__type"]["fields"]}
    assert not names & {"rate", "cost", "margin", "credit", "labour"}
    for refused in ('{ marginReport { total { margin } } }', '{ costReport { rows { total } } }',
                    '{ statements { items { id } } }', '{ contracts { items { id } } }'):
        assert (await gql(client, refused, {}, a))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = await gql(client, query, {"t": world.tenant_b.slug, "m": OCT}, a)
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # Nor through its audit trail: its statements' finalizing is there, its contract's prices are not.
    trail = await client.get("/v1/audit", params={"limit": 500}, headers=a)
    entries = trail.json()["items"]
    assert {"statements"} <= {e["object_type"] for e in entries}
    assert not {"contracts", "contract_versions", "cost_lines", "agent_cost_versions"} & \
        {e["object_type"] for e in entries}
    assert not any(word in trail.text for word in ("seat_hour_rate", "per_conversation_rate", "margin"))


async def test_the_books_writes_are_on_record(client, world, books):
    """Compute, close and reopen are in the audit log (staff's), each finalized statement in its brand's."""
    staff = (await client.get("/v1/audit", params={"object_type": "finance_periods", "limit": 500},
                              headers=auth("admin"))).json()["items"]
    assert {"compute", "close", "reopen"} <= {e["action"] for e in staff if e["object_id"] == OCT}
    reopened = next(e for e in staff if e["action"] == "reopen")
    assert reopened["after"]["reason"] == "auditor's request" and reopened["actor_role"] == "admin"
    contracts = (await client.get("/v1/audit", params={"object_type": "contract_versions"},
                                  headers=auth("admin"))).json()["items"]
    assert contracts and all(e["tenant_id"] is None for e in contracts)  # staff's entries
    mine = (await client.get("/v1/audit", params={"object_type": "statements", "action": "finalize"},
                             headers=world.client_of("a"))).json()["items"]
    assert mine and {e["tenant_id"] for e in mine} == {str(world.tenant_a.id)}
    assert all(e["after"]["number"].startswith("SW-") for e in mine)


async def test_the_export_command_writes_csv_and_xlsx(database, tmp_path, books):
    env = cli_env(database, tmp_path / "data")
    out = tmp_path / "statements.xlsx"
    result = await asyncio.to_thread(run_cli, ["export", "statements", "--period", "2026-10..2026-11",
                                               "--format", "xlsx", "--out", str(out)], env)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "Statement" in sheet and "<pane" in sheet and "SUM(" in sheet  # header, frozen panes, totals row
    csv_out = tmp_path / "margins.csv"
    result = await asyncio.to_thread(run_cli, ["export", "margins", "--period", "2026", "--by", "shop",
                                               "--out", str(csv_out)], env)
    assert result.exit_code == 0, result.output
    assert csv_out.read_text().startswith("By,Key,Month,Revenue (CNY)")
    bad = await asyncio.to_thread(run_cli, ["export", "margins", "--period", "last-year"], env)
    assert bad.exit_code == 2 and "period" in bad.output
