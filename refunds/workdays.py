"""Working days (工作日) in China, as the platforms count them.

Monday to Friday are working days, Saturday and Sunday are not, except the days managers
enter in the admin (`CalendarDay`): the public holidays that fall on a weekday, and the
weekend days worked in exchange (调休). A date the table does not list follows the weekday.

`add_working_days(start, n)` is the moment n working days after `start`, at the same China
clock time: a Kuaishou request made on Friday at 15:00 must be reviewed within 7 working days,
by the Tuesday of the week after next at 15:00 (earlier than the end of that day, so the
desk acts before the platform does). A clock that starts on a day off starts counting with
the next working day: Saturday 10:00 plus one working day is Monday 10:00.

Each call reads the calendar rows it needs in one query. A job that computes many
deadlines (an import, the sweep) wraps itself in `remembered()`, and reads the table once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta

from .timezones import CHINA

# {year: {date: working}}, while a job runs inside remembered()
_REMEMBERED: ContextVar[dict[int, dict[date, bool]] | None] = ContextVar(
    "workdays_remembered", default=None)


@contextmanager
def remembered() -> Iterator[None]:
    """Read each year of the calendar once while the block runs (a job, not a page: the
    table is read as it was when the year was first needed)."""
    token = _REMEMBERED.set({})
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


def _exceptions(first: date, last: date) -> dict[date, bool]:
    from .models import CalendarDay

    cache = _REMEMBERED.get()
    if cache is None:
        return dict(CalendarDay.objects.filter(date__range=(first, last))
                    .values_list("date", "working"))
    missing = [year for year in range(first.year, last.year + 1) if year not in cache]
    if missing:
        for year in missing:
            cache[year] = {}
        rows = CalendarDay.objects.filter(date__year__gte=missing[0],
                                          date__year__lte=missing[-1])
        for day, working in rows.values_list("date", "working"):
            cache.setdefault(day.year, {})[day] = working
    found: dict[date, bool] = {}
    for year in range(first.year, last.year + 1):
        found.update(cache[year])
    return found


def years_without_calendar(now: datetime, ahead: timedelta = timedelta(days=45)) -> list[int]:
    """The years, of today and of `ahead` from now (China time), for which the calendar holds
    no day at all: their holidays were not entered, and working days there are only Monday to
    Friday (Kuaishou's review and pay deadlines, every dispute's and complaint's evidence
    deadline). Empty while nothing counts working days: no shop on Kuaishou, no dispute or
    complaint waiting for evidence."""
    from .models import CalendarDay, Case, CaseState, Complaint, ComplaintState, Platform, Shop

    counting = (Shop.objects.filter(platform=Platform.KUAISHOU).exists()
                or Case.objects.filter(state=CaseState.IN_DISPUTE,
                                       dispute_evidence_at__isnull=True).exists()
                or Complaint.objects.filter(state=ComplaintState.OPEN).exists())
    if not counting:
        return []

    years = sorted({now.astimezone(CHINA).year, (now + ahead).astimezone(CHINA).year})
    entered = set(CalendarDay.objects.filter(date__year__in=years)
                  .values_list("date__year", flat=True).distinct())
    return [year for year in years if year not in entered]


def is_working_day(day: date, exceptions: dict[date, bool]) -> bool:
    if day in exceptions:
        return exceptions[day]
    return day.weekday() < 5


def add_working_days(start: datetime, days: int) -> datetime:
    """`days` (≥ 0) working days after `start` (aware), at the same China clock time."""
    if days < 0:
        raise ValueError("days must be zero or more")
    local = start.astimezone(CHINA)
    day, counted = local.date(), 0
    # Read ahead generously (a week of holidays fits in any window), then further if needed.
    window = timedelta(days=2 * days + 21)
    first, last = day, day + window
    exceptions = _exceptions(first, last)
    while counted < days:
        day += timedelta(days=1)
        if day > last:
            first, last = day, day + window
            exceptions = _exceptions(first, last)
        if is_working_day(day, exceptions):
            counted += 1
    moment = datetime.combine(day, local.time(), tzinfo=CHINA)
    return moment.astimezone(start.tzinfo)
