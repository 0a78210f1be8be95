"""Time as every domain counts it: 15-minute intervals, local days (DST-safe) and the moments callers send.
No I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from service.kit.errors import Invalid

INTERVAL_S = 900
INTERVAL = timedelta(seconds=INTERVAL_S)  # the unit of staffing and of rollups
DEFAULT_TZ = "Asia/Shanghai"


def quarter_hour(value: datetime | None) -> datetime | None:
    """VALUE as an aware instant on a quarter hour (plans' and rosters' unit), or a ValueError saying why
    (a pydantic validator's message); None passes."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("needs an offset (e.g. 2026-12-12T00:00:00+08:00)")
    if value.minute % 15 or value.second or value.microsecond:
        raise ValueError("must be on a quarter hour")
    return value


def zone(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


@lru_cache(maxsize=4096)
def _day_start_utc(d: date, z: tzinfo) -> datetime:
    naive = datetime.combine(d, time())
    u = min(naive.replace(tzinfo=z, fold=f).astimezone(UTC) for f in (0, 1))
    u = u.replace(minute=u.minute - u.minute % 15, second=0, microsecond=0)
    for _ in range(4 * 48):
        if u.astimezone(z).date() >= d:
            break
        u += INTERVAL
    for _ in range(4 * 48):
        if (u - INTERVAL).astimezone(z).date() != d:
            break
        u -= INTERVAL
    return u


def local_day_start(d: date, tz: str | tzinfo) -> datetime:
    """UTC instant where the local day D starts in TZ (the start of its first quarter hour): local
    midnight, or the end of a DST gap that swallows midnight (datetime.combine(d, 00:00) does not exist
    there). Every day, week and month boundary of every domain starts here."""
    return _day_start_utc(d, zone(tz))


def local_today(tz: str | tzinfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone(tz)).date()


def month_start(d: date) -> date:
    return d.replace(day=1)


def next_month(d: date) -> date:
    """The first day of the month after D's."""
    return (d.replace(day=1) + timedelta(days=32)).replace(day=1)


EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2999, 12, 31)
MOMENT_FORMAT = "a date (YYYY-MM-DD) or a datetime (YYYY-MM-DDTHH:MM, local unless it has an offset)"


def parse_local_moment(value: str, field: str, tz: str | tzinfo) -> datetime:
    """What a caller sends for a point in time, as a UTC instant: a date (its local midnight in TZ) or an ISO
    datetime (local in TZ unless it carries an offset), between EARLIEST_DAY and LATEST_DAY. Raises
    Invalid(FIELD) naming the format otherwise."""
    raw = value.strip()
    try:
        moment = datetime.fromisoformat(raw) if len(raw) > 10 else None
        day = moment.date() if moment is not None else date.fromisoformat(raw)
    except ValueError:
        raise Invalid(field, f"not {MOMENT_FORMAT}") from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise Invalid(field, f"out of range ({EARLIEST_DAY.year}-{LATEST_DAY.year})")
    if moment is None:
        return local_day_start(day, tz)
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=zone(tz))).astimezone(UTC)


def local_days(first: date, last: date, tz: str | tzinfo) -> tuple[datetime, datetime]:
    """The UTC span [start of FIRST, start of the day after LAST) of local days in TZ."""
    return local_day_start(first, tz), local_day_start(last + timedelta(days=1), tz)
