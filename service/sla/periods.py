"""The periods SLA reports and breach lists cover, from what a caller sends. No I/O.

Errors name the use case's parameters (`from`, `to`, `as_of`); each door says where they travel.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from service.kit.errors import Invalid
from service.kit.time import EARLIEST_DAY as EARLIEST
from service.kit.time import INTERVAL, local_day_start, parse_local_moment
from service.kit.time import LATEST_DAY as LATEST

# Longest range per granularity: enough for a year-on-year view by day, week or month.
MAX_SPAN = {"interval": timedelta(days=7), "hour": timedelta(days=62), "day": timedelta(days=400),
            "week": timedelta(days=400), "month": timedelta(days=400)}
MAX_BREACH_DAYS = 400


def check_day(field: str, d: date) -> date:
    if not EARLIEST <= d <= LATEST:
        raise Invalid(field, f"out of range ({EARLIEST.year}-{LATEST.year})")
    return d


def parse_day(value: str | None, field: str) -> date | None:
    """A local date given as text (YYYY-MM-DD), or None."""
    if value is None:
        return None
    try:
        return check_day(field, date.fromisoformat(value.strip()))
    except ValueError:
        raise Invalid(field, "not a date (YYYY-MM-DD)") from None


def parse_moment(value: str, field: str, tz: str) -> datetime:
    """A date (local midnight) or a datetime (local unless it carries an offset), as a UTC instant that
    must be a whole quarter hour (rollups are 15-minute intervals)."""
    u = parse_local_moment(value, field, tz)
    if u.minute % 15 or u.second or u.microsecond:
        raise Invalid(field, "must be a whole quarter hour (reports add up 15-minute intervals)")
    return u


def period_of(tz: str, granularity: str, start: str | None, end: str | None,
              now: datetime | None = None) -> tuple[datetime, datetime]:
    """[from, to) as UTC instants. Defaults: to = the end of the shop's local today, from = the start of
    the local month holding the last instant before to (month to date)."""
    zone = ZoneInfo(tz)
    hi = parse_moment(end, "to", tz) if end else \
        local_day_start((now or datetime.now(UTC)).astimezone(zone).date() + timedelta(days=1), tz)
    if start:
        lo = parse_moment(start, "from", tz)
    else:
        lo = local_day_start((hi - INTERVAL).astimezone(zone).date().replace(day=1), tz)
    if hi <= lo:
        raise Invalid("to", "must be after from")
    if hi - lo > MAX_SPAN[granularity]:
        raise Invalid("to", f"the range may span at most {MAX_SPAN[granularity].days} days "
                      f"with granularity {granularity}")
    return lo, hi


def breach_range(start: date | None, end: date | None, today: date | None = None) -> tuple[date, date]:
    """[from, to) in local dates. Default: the month to date (UTC today)."""
    today = today or datetime.now(UTC).date()
    end = end or today + timedelta(days=1)
    start = start or (end - timedelta(days=1)).replace(day=1)
    check_day("from", start)
    check_day("to", end)
    if end <= start:
        raise Invalid("to", "must be after from")
    if (end - start).days > MAX_BREACH_DAYS:
        raise Invalid("to", f"the range may span at most {MAX_BREACH_DAYS} days")
    return start, end
