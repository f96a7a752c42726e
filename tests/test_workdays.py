"""Working days in China (refunds/workdays.py) and the calendar managers keep in the admin."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from refunds import workdays
from refunds.models import CalendarDay
from refunds.workdays import add_working_days

SHANGHAI = ZoneInfo("Asia/Shanghai")


def china(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def holiday(day: date, name: str = "假日") -> CalendarDay:
    return CalendarDay.objects.create(date=day, working=False, name=name)


def worked(day: date, name: str = "调休") -> CalendarDay:
    return CalendarDay.objects.create(date=day, working=True, name=name)


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "days", "expected"), [
    # Friday 15:00 + 7: five days the next week, then Monday and Tuesday
    (china(2026, 11, 6, 15, 0), 7, china(2026, 11, 17, 15, 0)),
    # Monday 10:00 + 5 = the next Monday (the weekend does not count)
    (china(2026, 11, 2, 10, 0), 5, china(2026, 11, 9, 10, 0)),
    # a clock started on a Saturday counts from the Monday
    (china(2026, 11, 7, 10, 0), 1, china(2026, 11, 9, 10, 0)),
    (china(2026, 11, 8, 23, 30), 1, china(2026, 11, 9, 23, 30)),
    # zero working days: the moment itself
    (china(2026, 11, 7, 10, 0), 0, china(2026, 11, 7, 10, 0)),
])
def test_weekends_are_not_working_days(start, days, expected):
    assert add_working_days(start, days) == expected


@pytest.mark.django_db
def test_a_holiday_on_a_weekday_is_skipped_and_a_worked_weekend_day_counts():
    start = china(2026, 9, 30, 9, 0)  # Wednesday
    assert add_working_days(start, 2) == china(2026, 10, 2, 9, 0)
    for day in range(1, 8):  # 国庆节, Thursday 1 to Wednesday 7 October
        if date(2026, 10, day).weekday() < 5:
            holiday(date(2026, 10, day), "国庆节")
    worked(date(2026, 10, 10), "国庆节调休")  # the Saturday after
    # Thursday 1 to Wednesday 7 are off, Thursday 8 and Friday 9 count, Saturday 10 is worked
    assert add_working_days(start, 1) == china(2026, 10, 8, 9, 0)
    assert add_working_days(start, 3) == china(2026, 10, 10, 9, 0)
    assert add_working_days(start, 4) == china(2026, 10, 12, 9, 0)


@pytest.mark.django_db
def test_counted_on_the_china_clock_whatever_the_time_zone_of_the_start():
    # Friday 16:30 UTC is Saturday 00:30 in China: the count starts from the Monday
    start = datetime(2026, 11, 6, 16, 30, tzinfo=UTC)
    result = add_working_days(start, 1)
    assert result == china(2026, 11, 9, 0, 30)
    assert result.tzinfo == UTC  # given back in the caller's zone


@pytest.mark.django_db
def test_a_count_across_the_new_year_reads_both_years():
    holiday(date(2027, 1, 1), "元旦")  # a Friday
    start = china(2026, 12, 30, 12, 0)  # Wednesday
    assert add_working_days(start, 2) == china(2027, 1, 4, 12, 0)


@pytest.mark.django_db
def test_a_run_of_days_off_longer_than_the_window_read_ahead_is_followed():
    # 60 weekdays off in a row: more than the 2 × 1 + 21 days read in the first query
    day, marked = date(2026, 11, 3), 0
    while marked < 60:
        if day.weekday() < 5:
            holiday(day, "停工")
            marked += 1
        day += timedelta(days=1)
    first_after = day
    while first_after.weekday() >= 5:
        first_after += timedelta(days=1)
    assert add_working_days(china(2026, 11, 2, 8, 0), 1) == china(
        first_after.year, first_after.month, first_after.day, 8, 0)


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError):
        add_working_days(china(2026, 11, 2, 8, 0), -1)


@pytest.mark.django_db
def test_each_count_reads_the_calendar_once_and_a_job_reads_each_year_once(
        django_assert_num_queries):
    start = china(2026, 11, 2, 10, 0)
    with django_assert_num_queries(1):
        add_working_days(start, 7)
    with workdays.remembered():
        with django_assert_num_queries(1):  # 2026, read once
            for days in range(1, 20):
                add_working_days(start, days)
        with django_assert_num_queries(1):  # a count reaching into 2027 reads 2027, once
            add_working_days(start, 60)
            add_working_days(start, 61)
        holiday(date(2026, 11, 3))  # entered while the job runs: the job keeps what it read
        assert add_working_days(start, 1) == china(2026, 11, 3, 10, 0)
    # outside the job the calendar is read again
    assert add_working_days(start, 1) == china(2026, 11, 4, 10, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(("day", "working", "words"), [
    (date(2026, 11, 7), False, "is a Saturday or Sunday, already a day off"),
    (date(2026, 11, 9), True, "is a weekday, already a working day"),
])
def test_an_entry_that_changes_nothing_is_refused_with_a_message(day, working, words):
    entry = CalendarDay(date=day, working=working, name="x")
    with pytest.raises(ValidationError) as raised:
        entry.full_clean()
    assert words in str(raised.value.message_dict["working"])


@pytest.mark.django_db
def test_holidays_and_worked_weekend_days_are_accepted():
    CalendarDay(date=date(2026, 10, 1), working=False, name="国庆节").full_clean()
    CalendarDay(date=date(2026, 10, 10), working=True, name="国庆节调休").full_clean()


# --- the admin --------------------------------------------------------------------------------


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_a_manager_enters_the_holidays_in_the_admin(manager_client):
    url = reverse("admin:refunds_calendarday_add")
    answer = manager_client.post(url, {"date": "2026-10-01", "working": "", "name": "国庆节"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    day = CalendarDay.objects.get()
    assert (day.date, day.working, day.name) == (date(2026, 10, 1), False, "国庆节")
    listing = manager_client.get(reverse("admin:refunds_calendarday_changelist"))
    assert "国庆节" in listing.content.decode()


def test_the_admin_refuses_an_entry_that_changes_nothing_and_saves_nothing(manager_client):
    answer = manager_client.post(reverse("admin:refunds_calendarday_add"),
                                 {"date": "2026-11-07", "working": "", "name": "周六"})
    assert answer.status_code == 200
    assert "already a day off" in answer.content.decode()
    assert not CalendarDay.objects.exists()


def test_an_agent_cannot_change_the_calendar(client, agent):
    agent.is_staff = True
    agent.save()
    client.force_login(agent)
    answer = client.post(reverse("admin:refunds_calendarday_add"),
                         {"date": "2026-10-01", "working": "", "name": "国庆节"})
    assert answer.status_code == 403
    assert not CalendarDay.objects.exists()


# --- the sweep's warning when a year has no calendar ---------------------------------------


def _sweep_err(now: str) -> str:
    from io import StringIO

    from django.core.management import call_command

    err = StringIO()
    call_command("sweep_deadlines", "--dry-run", "--now", now, stdout=StringIO(), stderr=err)
    return err.getvalue()


@pytest.mark.django_db
def test_the_sweep_warns_when_the_calendar_lacks_a_year_a_kuaishou_shop_counts_in():
    from refunds.models import Platform
    from tests.factories import ShopFactory

    assert _sweep_err("2026-12-01T02:00:00+08:00") == ""  # nothing counts working days
    ShopFactory(code="ks", platform=Platform.KUAISHOU)
    err = _sweep_err("2026-12-01T02:00:00+08:00")
    assert "no days entered for 2026, 2027" in err and "Calendar days" in err
    holiday(date(2026, 10, 1), "国庆节")
    holiday(date(2027, 1, 1), "元旦")
    assert _sweep_err("2026-12-01T02:00:00+08:00") == ""
    assert "no days entered for 2028" in _sweep_err("2027-12-01T02:00:00+08:00")


def test_the_complaint_sweep_warns_when_an_open_complaint_counts_in_a_year_without_calendar(
        order, agent):
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    from refunds.services.complaints import complaint_create

    def complaint_sweep_err() -> str:
        err = StringIO()
        call_command("sweep_complaints", "--dry-run", stdout=StringIO(), stderr=err)
        return err.getvalue()

    assert complaint_sweep_err() == ""  # nothing counts working days yet
    complaint_create(shop=order.shop, order=order, actor=agent, kind="breach",
                     buyer_claim="承诺的赠品没发")
    year = timezone.localdate().year
    assert f"no days entered for {year}" in complaint_sweep_err()
