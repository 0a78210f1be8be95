"""Live KA protection on hand-made snapshots."""

from __future__ import annotations

from service.capacity.erlang import erlang_c_metrics, required_agents
from service.seating.rebalance import LiveAgent, ShopSnapshot, expected_service_level, propose_moves

KA_SKILLS = frozenset({"tmall", "cert:lumi"})


def ka(agents: int = 0, waiting: int = 8, volume: float = 0.0) -> ShopSnapshot:
    return ShopSnapshot(
        "ka", 0, KA_SKILLS, waiting, agents, volume, aht_s=900, concurrency=1, answer_s=30, target_sl=0.8
    )


def donor(id: str, tier: int, agents: int, volume: float) -> ShopSnapshot:
    return ShopSnapshot(
        id,
        tier,
        frozenset({"tmall"}),
        0,
        agents,
        volume,
        aht_s=300,
        concurrency=2,
        answer_s=30,
        target_sl=0.8,
    )


def people(shop: str, n: int, skills: frozenset[str] = KA_SKILLS, level: int = 1) -> list[LiveAgent]:
    return [LiveAgent(f"{shop}-{i:02d}", skills, shop, level) for i in range(n)]


def test_waiting_chats_count_as_next_interval_volume() -> None:
    shop = ka(agents=9, waiting=8)
    expected = erlang_c_metrics(8, 900, 900, 9, 30, 1).service_level
    assert expected_service_level(shop, 9) == float(expected)
    assert expected_service_level(ka(agents=0, waiting=0), 0) == 1.0  # nothing to answer


def test_moves_until_the_ka_shop_meets_its_target() -> None:
    # The KA shop has 8 chats waiting (8 Erlangs at 900 s) and nobody; a long-tail shop with no volume has
    # twelve agents who all hold the KA certificate: they move, one by one, until the target is met.
    shops = [ka(), donor("quiet", 2, 12, 0.0)]
    moves = propose_moves(shops, people("quiet", 12))
    need = int(required_agents("erlang_c", 8, 900, 900, 0.8, 30).agents)
    assert len(moves) == need
    assert [m.agent for m in moves] == [f"quiet-{i:02d}" for i in range(need)]
    assert moves[0].to_before == 0.0
    assert moves[-1].to_after >= 0.8 > moves[-2].to_after
    assert all(m.from_shop == "quiet" and m.from_before == m.from_after == 1.0 for m in moves)


def test_skills_floor_and_order() -> None:
    shops = [ka(), donor("std", 1, 3, 10.0), donor("lt", 2, 2, 5.0)]
    agents = [
        *people("std", 2),  # certified
        LiveAgent("std-plain", frozenset({"tmall"}), "std", 5),  # no certificate: never moves to the KA shop
        *people("lt", 2, level=3),
    ]
    moves = propose_moves(shops, agents)
    assert all(m.agent != "std-plain" for m in moves)
    # Donors with volume keep at least one agent.
    left = {"std": 3, "lt": 2}
    for m in moves:
        left[m.from_shop] -= 1
    assert min(left.values()) >= 1
    # The most senior first among a donor's agents; every move helps the KA shop.
    assert all(m.to_after > m.to_before for m in moves)
    lt_moves = [m.agent for m in moves if m.from_shop == "lt"]
    assert lt_moves in ([], ["lt-00"])


def test_agents_on_no_shop_go_first_and_nothing_moves_without_risk() -> None:
    shops = [ka(waiting=3), donor("std", 1, 5, 10.0)]
    agents = [LiveAgent("idle", KA_SKILLS, None, 1), *people("std", 5)]
    moves = propose_moves(shops, agents)
    assert moves[0].agent == "idle" and moves[0].from_before is None
    # Too few agents to lift a queue of 8 Erlangs off zero: nothing moves.
    assert propose_moves([ka(waiting=8), donor("std", 1, 5, 10.0)], agents) == []
    calm = [ka(agents=20, waiting=1), donor("std", 1, 5, 10.0)]
    assert propose_moves(calm, people("std", 5)) == []


def test_deterministic_and_bounded() -> None:
    shops = [ka(), donor("a", 1, 6, 4.0), donor("b", 2, 6, 4.0)]
    agents = people("a", 6) + people("b", 6)
    first = propose_moves(shops, agents)
    assert first == propose_moves(shops, list(reversed(agents)))
    assert len(propose_moves(shops, agents, max_moves=2)) == 2
