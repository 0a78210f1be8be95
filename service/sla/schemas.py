"""What the API accepts and answers for SLA policies; the figures a report answers are in figures.py."""

from __future__ import annotations

import uuid
from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.kit.shapes import partial
from service.sla.policies import Terms

Rate = Field(default=None, ge=0, le=1)


DAY_END = "24:00"  # an assessed window's end at midnight: 00:00-24:00 is the whole day


def local_time_text(value: time, end: bool = False) -> str:
    """A shop-local time as people write it: HH:MM, and an end at midnight as 24:00."""
    return DAY_END if end and value == time(0) else f"{value:%H:%M}"


def _quarter_hour(value: time | str | None) -> time | None:
    """A shop-local time on a quarter hour, from a time or its text (HH:MM; 24:00, the end of the day, is
    midnight)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = time(0) if value.strip() == DAY_END else time.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("not a time of day (HH:MM, e.g. 08:00; 24:00 ends the day)") from None
    if value.tzinfo is not None:
        raise ValueError("a shop-local time without offset (e.g. 08:00)")
    if value.minute % 15 or value.second or value.microsecond:
        raise ValueError("must be a whole quarter hour (e.g. 08:00, 22:45)")
    return value


class SlaTerms(BaseModel):
    """The targets and assessed hours of a policy version; a target left out is not judged."""

    model_config = ConfigDict(extra="forbid")

    answer_target_s: int = Field(default=30, ge=1, le=600, description="T of the service level, seconds")
    service_level_target: float | None = Rate
    response_rate_3min_target: float | None = Rate
    frt_mean_target_s: float | None = Field(default=None, ge=0, le=86_400)
    csat_target: float | None = Rate
    conversion_rate_target: float | None = Rate
    max_abandon_rate: float | None = Rate
    assessed_start: time | None = Field(default=None, description="Shop-local HH:MM on a quarter hour; "
                                        "with assessed_end (00:00 to 24:00: the whole day)")
    assessed_end: time | None = Field(default=None, description="Shop-local HH:MM, exclusive; 24:00 is "
                                      "the end of the day, and an end before the start crosses midnight")

    _qh = field_validator("assessed_start", "assessed_end", mode="before")(_quarter_hour)


class SlaPolicyFrom(BaseModel):
    effective_from: date


class SlaPolicyCreate(SlaTerms, SlaPolicyFrom):
    """A new version of a shop's policy, applying from `effective_from` (shop-local date) on.
    Targets left out are not judged; the assessed hours default to the platform's."""


class SlaPolicyUpdate(partial(SlaTerms)):  # type: ignore[misc]
    """Change a version in place (PATCH: the fields sent; a target set to null is no longer judged)."""


class SlaPolicyVersion(BaseModel):
    id: uuid.UUID | None
    shop_id: uuid.UUID
    is_default: bool
    effective_from: date | None


class SlaPolicyRead(SlaTerms, SlaPolicyVersion):
    """A policy version, or the platform default (is_default: true, no id, effective_from null)."""

    model_config = ConfigDict(extra="ignore")

    assessed_start: str = Field(description="Shop-local HH:MM")
    assessed_end: str = Field(description="Shop-local HH:MM, exclusive: 24:00 is the end of the day (00:00 "
                              "to 24:00: the whole day)")
    _qh = field_validator("assessed_start", "assessed_end")(lambda value: value)  # already text here

    @classmethod
    def of(cls, shop_id: uuid.UUID, terms: Terms) -> SlaPolicyRead:
        t = terms.targets
        return cls(id=terms.id, shop_id=shop_id, is_default=terms.id is None,
                   effective_from=terms.effective_from,
                   answer_target_s=int(t.answer_target_s), service_level_target=t.service_level,
                   response_rate_3min_target=t.response_rate_3min, frt_mean_target_s=t.frt_mean_s,
                   csat_target=t.csat, conversion_rate_target=t.conversion_rate,
                   max_abandon_rate=t.max_abandon_rate,
                   assessed_start=local_time_text(terms.window[0]),
                   assessed_end=local_time_text(terms.window[1], end=True))
