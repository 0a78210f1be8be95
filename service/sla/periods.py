"""The periods SLA reports and breach lists cover, from what a caller sends. No I/O.

Errors name the use case's parameters (`from`, `to`, `as_of`); each door says where they travel.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from service.kit.errors import Invalid
from service.kit.time import INTERVAL, local_day_start

# Longest range per granularity: enough for a year-on-year view by day, week or month.
MAX_SPAN = {"interval": timedelta(days=7), "hour": timedelta(days=62), "day": timedelta(days=400),
            "week": timedelta(days=400), "month": timedelta(days=400)}
MAX_BREACH_DAYS = 400
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
_FORMAT = "a date (YYYY-MM-DD) or a datetime (YYYY-MM-DDTHH:MM, shop-local unless it has an offset)"


def check_day(field: str, d: date) -> date:
    if not EARLIEST <= d <= LATEST:
        raise Invalid(field, f"out of range ({EARLIEST.year}-{LATEST.year})")
    return d


def parse_moment(value: str, field: str, tz: str) -> datetime:
    """A date (local midnight) or a datetime (local unless it carries an offset), as a UTC instant that
    must be a whole quarter hour (rollups are 15-minute intervals)."""
    raw = value.strip()
    try:
        if len(raw) == 10:
            return local_day_start(check_day(field, date.fromisoformat(raw)), tz)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(field, f"not {_FORMAT}") from None
    check_day(field, moment.date())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    u = moment.astimezone(UTC)
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
