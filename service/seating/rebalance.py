"""Live KA protection: move skilled agents from lower-tier shops to KA shops at risk in the next interval.

For each shop the snapshot gives its tier, the chats waiting now, the agents available on it now, last
interval's volume, AHT (per chat), chat concurrency, the answer target and the target service level. The
expected service level of the next interval is Erlang C (`service.capacity.erlang.erlang_c_metrics`) with
the agents the shop would have and a volume of last interval's volume PLUS the chats waiting now: the
backlog has to be answered by the same agents within the interval, so it is treated as extra arrivals
(pessimistic for a shop whose backlog is about to clear, right for one that is falling behind).

A KA shop (tier 0) is at risk when its expected service level is below its target. Greedy, one move at a
time: the KA shop at risk with the largest weighted gain from one more agent (tier weight x expected
arrivals x rise in service level; that rise is the best over blocks of k more agents, per agent, since an
Erlang C queue short of several agents shows no gain from the first alone) takes one; the agent comes
from where it costs least: an agent on no
shop first, else a shop of a lower tier (tier > 0) with an agent having every skill the KA shop requires,
the donor losing the least weighted service level (ties: the donor left with the best service level, then
the shop id). A donor never goes below `floor` agents unless it expects no volume at all, and a move is
made only if the KA side gains more than the donor loses (weighted). Among the donor's agents the most
senior goes (KA shops get senior agents first), then the lowest id. An agent moves at most once. Stops
when no KA shop is at risk, nothing helps, or after `max_moves`. Deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from service.capacity.erlang import erlang_c_metrics

DEFAULT_TIER_WEIGHTS: Mapping[int, float] = MappingProxyType({0: 100.0, 1: 10.0, 2: 1.0})
_LOOKAHEAD = 60  # agents considered at once for a KA shop's gain


@dataclass(frozen=True)
class ShopSnapshot:
    id: str
    tier: int  # 0 KA, 1 standard, 2 long-tail
    required_skills: frozenset[str]
    waiting: int  # chats waiting now
    agents: int  # agents available on it now
    volume: float  # chats offered last interval
    aht_s: float  # handle time per chat
    concurrency: int = 1
    answer_s: float = 30.0
    target_sl: float = 0.8

    @property
    def expected_volume(self) -> float:
        """Next interval's volume: last interval's plus the backlog."""
        return self.volume + self.waiting


@dataclass(frozen=True)
class LiveAgent:
    id: str
    skills: frozenset[str]
    shop: str | None  # the shop it works on now (None: on no shop)
    level: int = 1


@dataclass(frozen=True)
class Move:
    agent: str
    from_shop: str | None
    to_shop: str
    to_before: float  # expected service level of the KA shop before the move
    to_after: float
    from_before: float | None  # the donor's (None when the agent was on no shop)
    from_after: float | None


def _envelope_gain(
    shop_id: str, n: int, now: float, available: int, sl: Callable[[str, int], float]
) -> float:
    """Service level gained per agent by the best block of 1..available more agents (Erlang C stays at 0
    until the servers exceed the load, so one agent alone may show no gain where a few do)."""
    best = 0.0
    for k in range(1, min(available, _LOOKAHEAD) + 1):
        best = max(best, (sl(shop_id, n + k) - now) / k)
    return best


def expected_service_level(shop: ShopSnapshot, agents: int, interval_s: float = 900.0) -> float:
    """Erlang C service level of the next interval with `agents` on the shop (see the module docstring)."""
    m = erlang_c_metrics(
        shop.expected_volume, shop.aht_s, interval_s, agents, shop.answer_s, shop.concurrency
    )
    return float(m.service_level)


def propose_moves(
    shops: Sequence[ShopSnapshot],
    agents: Sequence[LiveAgent],
    *,
    interval_s: float = 900.0,
    floor: int = 1,
    tier_weights: Mapping[int, float] = DEFAULT_TIER_WEIGHTS,
    max_moves: int | None = None,
) -> list[Move]:
    """Moves protecting KA shops at risk (see the module docstring), in the order to make them."""
    by_id = {s.id: s for s in shops}
    count = {s.id: s.agents for s in shops}
    cache: dict[tuple[str, int], float] = {}

    def sl(shop_id: str, n: int) -> float:
        key = (shop_id, n)
        if key not in cache:
            cache[key] = expected_service_level(by_id[shop_id], n, interval_s)
        return cache[key]

    def weight(shop: ShopSnapshot) -> float:
        return tier_weights.get(shop.tier, 1.0) * shop.expected_volume

    # Movable agents per place, most senior first.
    on: dict[str | None, list[LiveAgent]] = {}
    for agent in sorted(agents, key=lambda a: (-a.level, a.id)):
        if agent.shop is None or (agent.shop in by_id and by_id[agent.shop].tier > 0):
            on.setdefault(agent.shop, []).append(agent)

    def movable(ka: ShopSnapshot) -> int:
        """Agents who could still come to the KA shop."""
        return sum(
            1
            for place, people in on.items()
            if place is None or by_id[place].tier > ka.tier
            for a in people
            if ka.required_skills <= a.skills
        )

    moves: list[Move] = []
    while max_moves is None or len(moves) < max_moves:
        best: tuple[tuple[float, float, float, str, str], Move, LiveAgent] | None = None
        for ka in sorted((s for s in shops if s.tier == 0), key=lambda s: s.id):
            before = sl(ka.id, count[ka.id])
            if before >= ka.target_sl:
                continue
            after = sl(ka.id, count[ka.id] + 1)
            gain = weight(ka) * _envelope_gain(ka.id, count[ka.id], before, movable(ka), sl)
            if gain <= 0:
                continue
            for donor_id, people in sorted(on.items(), key=lambda kv: (kv[0] is not None, kv[0] or "")):
                skilled = next((a for a in people if ka.required_skills <= a.skills), None)
                if skilled is None:
                    continue
                if donor_id is None:
                    loss, d_before, d_after = 0.0, None, None
                else:
                    donor = by_id[donor_id]
                    if donor.tier <= ka.tier:
                        continue
                    n = count[donor_id]
                    if n - 1 < floor and donor.expected_volume > 0:
                        continue
                    d_before, d_after = sl(donor_id, n), sl(donor_id, n - 1)
                    loss = weight(donor) * (d_before - d_after)
                if loss >= gain:
                    continue
                key = (-gain, loss, -(d_after if d_after is not None else 2.0), ka.id, donor_id or "")
                if best is None or key < best[0]:
                    move = Move(skilled.id, donor_id, ka.id, before, after, d_before, d_after)
                    best = (key, move, skilled)
        if best is None:
            break
        _, move, agent = best
        moves.append(move)
        on[move.from_shop].remove(agent)
        count[move.to_shop] += 1
        if move.from_shop is not None:
            count[move.from_shop] -= 1
    return moves
