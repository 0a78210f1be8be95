"""SLA policies as applied: a stored version or the platform's default, and the book of a shop's versions
that answers "which terms are in force on this local day". No I/O.

Which policy judges what (the use cases follow this):
- a bucket (interval, hour, day, week or month) of a report is clipped to the requested range and judged by
  the policy in force on its first local day in it; a week or month bucket thus keeps that policy for all
  of it;
- a report's total is judged by the policy in force at the start of the requested range;
- breaches: a day by the policy of that day, a month by the policy in force on its first day.
The answer target T (service level) and the assessed window (3-minute rate) are part of the policy, so they
follow the same rule. A shop with no version in force gets its platform's default.
"""

from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Protocol

from service.shops.models import Platform
from service.sla.figures import DEFAULT_ANSWER_TARGET_S, SlaTargets

Window = tuple[time, time]
WHOLE_DAY: Window = (time(0), time(0))
# GLOSSARY.md: Tmall/Taobao and Douyin assess the 3-minute rate over 08:00-23:00, JD over 09:00-23:00
# (with T = 30 s). Pinduoduo and other platforms: the whole day. No targets: nothing is judged until a
# policy sets some.
PLATFORM_WINDOWS: dict[str, Window] = {
    Platform.tmall: (time(8), time(23)),
    Platform.taobao: (time(8), time(23)),
    Platform.jd: (time(9), time(23)),
    Platform.douyin: (time(8), time(23)),
}


class StoredPolicy(Protocol):
    """What a stored policy version (models.SlaPolicy) holds."""

    id: uuid.UUID
    shop_id: uuid.UUID
    effective_from: date
    answer_target_s: int
    service_level_target: float | None
    response_rate_3min_target: float | None
    frt_mean_target_s: float | None
    csat_target: float | None
    conversion_rate_target: float | None
    max_abandon_rate: float | None
    assessed_start: time
    assessed_end: time


@dataclass(frozen=True)
class ShopRef:
    """What the SLA use cases need of a shop the caller may see."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    name: str
    platform: str
    timezone: str


@dataclass(frozen=True)
class Terms:
    """A policy as applied: a stored version (id set) or a platform default (id None)."""

    id: uuid.UUID | None
    effective_from: date | None
    targets: SlaTargets
    window: Window

    @classmethod
    def of(cls, p: StoredPolicy) -> Terms:
        return cls(p.id, p.effective_from, SlaTargets(
            answer_target_s=p.answer_target_s, service_level=p.service_level_target,
            response_rate_3min=p.response_rate_3min_target, frt_mean_s=p.frt_mean_target_s,
            csat=p.csat_target, conversion_rate=p.conversion_rate_target,
            max_abandon_rate=p.max_abandon_rate),
            (p.assessed_start, p.assessed_end))

    @property
    def has_targets(self) -> bool:
        return self.targets.any


def platform_default(platform: str) -> Terms:
    return Terms(None, None, SlaTargets(answer_target_s=DEFAULT_ANSWER_TARGET_S),
                 PLATFORM_WINDOWS.get(platform, WHOLE_DAY))


class PolicyBook:
    """Every version of some shops, answering 'which terms are in force on this local day'."""

    def __init__(self, shops: Sequence[ShopRef], policies: Sequence[StoredPolicy]):
        self._default = {s.id: platform_default(s.platform) for s in shops}
        self._days: dict[uuid.UUID, list[date]] = defaultdict(list)
        self._terms: dict[uuid.UUID, list[Terms]] = defaultdict(list)
        for p in sorted(policies, key=lambda p: (p.shop_id, p.effective_from)):
            self._days[p.shop_id].append(p.effective_from)
            self._terms[p.shop_id].append(Terms.of(p))

    def on(self, shop_id: uuid.UUID, day: date) -> Terms:
        i = bisect.bisect_right(self._days.get(shop_id, []), day)
        return self._terms[shop_id][i - 1] if i else self._default[shop_id]

    def between(self, shop_id: uuid.UUID, first: date, last: date) -> list[Terms]:
        """The terms in force on some day of [first, last]."""
        days = self._days.get(shop_id, [])
        lo, hi = bisect.bisect_right(days, first), bisect.bisect_right(days, last)
        return [self.on(shop_id, first), *self._terms[shop_id][lo:hi]]


def windows_of(terms: Sequence[Terms]) -> list[Window]:
    """The distinct assessed windows in play, in first-seen order (each is a column of the aggregate)."""
    return list(dict.fromkeys(t.window for t in terms))
