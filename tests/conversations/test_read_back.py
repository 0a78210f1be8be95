"""Reading conversations back ("did you get record X?"): GET /v1/conversations by shop, time range and
external id, paginated, a client its own shops' only (another brand's shop is a 404)."""

from __future__ import annotations

import json

from tests.conftest import auth
from tests.factories import assert_problem

OPS = auth("ops")


async def _send(client, records: list[dict]) -> None:
    body = "\n".join(json.dumps(r) for r in records).encode()
    answer = await client.post("/v1/conversations", content=body,
                               headers=OPS | {"content-type": "application/x-ndjson"})
    assert answer.status_code == 200 and not answer.json()["rejected"], answer.text


async def test_records_read_back_by_shop_time_and_external_id(client, world):
    a, b = world.shops_a[0], world.shops_b[0]
    await _send(client, [
        {"external_id": f"rb-{k}", "shop_id": str(a.id), "started_at": f"2026-10-0{k}T10:00:00+08:00",
         "first_response_at": f"2026-10-0{k}T10:00:05+08:00", "kind": "presale", "response_times_s": [5, 30]}
        for k in range(1, 4)] + [
        {"external_id": "rb-1", "shop_id": str(b.id), "started_at": "2026-10-01T10:00:00+08:00",
         "kind": "aftersale"}])
    mine = world.client_of("a")
    one = (await client.get("/v1/conversations", params={"external_id": "rb-2"}, headers=mine)).json()
    assert [(c["shop_id"], c["external_id"]) for c in one["items"]] == [(str(a.id), "rb-2")]
    assert one["items"][0]["response_times_s"] == [5.0, 30.0] and one["items"][0]["kind"] == "presale"
    # A client never sees another brand's record, even with the same external id; its shop is not found.
    same_id = (await client.get("/v1/conversations", params={"external_id": "rb-1"}, headers=mine)).json()
    assert {c["tenant_id"] for c in same_id["items"]} == {str(world.tenant_a.id)}
    assert_problem(await client.get("/v1/conversations", params={"shop": str(b.id)}, headers=mine), 404)
    staff = (await client.get("/v1/conversations", params={"external_id": "rb-1"}, headers=OPS)).json()
    assert {c["shop_id"] for c in staff["items"]} == {str(a.id), str(b.id)}
    # A time range in the shop's local time (dates are its midnights), and pages that add up.
    ranged = (await client.get("/v1/conversations", headers=mine, params={
        "shop": str(a.id), "from": "2026-10-02", "to": "2026-10-03T10:00"})).json()
    assert [c["external_id"] for c in ranged["items"]] == ["rb-2"]
    seen, cursor = [], None
    while True:
        page = (await client.get("/v1/conversations", headers=mine, params={
            "shop": str(a.id), "limit": 1, **({"cursor": cursor} if cursor else {})})).json()
        seen += [c["external_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [x for x in seen if x.startswith("rb-")] == ["rb-1", "rb-2", "rb-3"]
    bad = assert_problem(await client.get("/v1/conversations", params={"from": "last tuesday"}, headers=mine),
                         422, "query.from")
    assert "not a date" in bad["errors"][0]["reason"]
