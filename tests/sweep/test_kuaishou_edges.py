"""Kuaishou at its edges: the sweep's labels and paths, query counts, a failed payout, a
request counted in calendar days before the shop was on Kuaishou."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from refunds import events
from refunds.models import (
    CalendarDay,
    Case,
    CaseState,
    Notification,
    NotificationKind,
    Platform,
)
from refunds.services import cases as svc
from tests.factories import OrderFactory, ShopFactory, make_case, make_staff

from .conftest import MINUTE, T0

REVIEW_DUE = T0 + timedelta(days=9)


@pytest.fixture
def kuaishou(db):
    return ShopFactory(code="ks-shop", name="快手小店", platform=Platform.KUAISHOU)


@pytest.fixture
def ks_people(roles, kuaishou):
    return {
        "assignee": make_staff("ks_agent", "agent", kuaishou, email="ks_agent@example.com"),
        "sup": make_staff("ks_sup", "supervisor", kuaishou, email="ks_sup@example.com"),
    }


def ks_request(kuaishou, people=None, **order) -> Case:
    case = make_case(order=OrderFactory(shop=kuaishou, **order), amount="188.00")
    if people:
        Case.objects.filter(pk=case.pk).update(assignee=people["assignee"])
        case.refresh_from_db()
    return case


@pytest.fixture
def broken_escalation(monkeypatch):
    """The escalation of the given cases raises (anything unexpected: a bad row, the DB)."""
    broken: set[int] = set()
    original = events.build_escalation_event

    def build(*, case, **kwargs):
        if case.pk in broken:
            raise RuntimeError("boom")
        return original(case=case, **kwargs)

    monkeypatch.setattr(events, "build_escalation_event", build)
    return broken


# --- a failed escalation is reported as an escalation, never as an "auto-agree" ------------


def test_one_by_one_failure_of_an_escalation_is_labelled_as_an_escalation(
        kuaishou, ks_people, clock, sweep, broken_escalation):
    case = ks_request(kuaishou, ks_people)
    broken_escalation.add(case.pk)
    clock.move_to(REVIEW_DUE + MINUTE)
    run = sweep("--commit-every", "1")
    assert run.code == 1
    assert f"case #{case.pk}: escalated by the platform: FAILED" in run.err, run.err
    assert "auto-agree" not in run.err
    failure = Notification.objects.get(case=case, kind=NotificationKind.SWEEP_FAILURE,
                                       user=ks_people["sup"])
    assert "auto-agree" not in failure.message, failure.message


def test_group_fallback_failure_of_an_escalation_is_labelled_as_an_escalation(
        kuaishou, ks_people, clock, sweep, broken_escalation):
    good = ks_request(kuaishou, ks_people)
    bad = ks_request(kuaishou, ks_people)
    broken_escalation.add(bad.pk)
    clock.move_to(REVIEW_DUE + MINUTE)
    run = sweep()  # one group of two: it fails, then one by one
    good.refresh_from_db()
    assert good.is_escalated  # the other case of the group still works
    assert f"case #{bad.pk}: escalated by the platform: FAILED" in run.err, run.err


# --- query counts -----------------------------------------------------------------------------


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_agreeing_a_kuaishou_request_costs_one_query_more_than_a_tmall_one(
        kuaishou, shop, clock):
    # Kuaishou's 7 working days to pay run from the approval: when it was is read (one
    # query); payout_days (1) is sooner than 7 working days, so the calendar is not read
    ks = ks_request(kuaishou)
    tm = make_case(order=OrderFactory(shop=shop), amount="188.00")
    warm = make_case(order=OrderFactory(shop=shop), amount="188.00")
    svc.case_agree(case=warm, actor=None)  # the content types cache, read once per process
    ks_n = _queries(lambda: svc.case_agree(case=Case.objects.get(pk=ks.pk), actor=None))
    tm_n = _queries(lambda: svc.case_agree(case=Case.objects.get(pk=tm.pk), actor=None))
    assert ks_n == tm_n + 1


def test_case_page_queries_do_not_depend_on_the_shop_being_kuaishou(
        kuaishou, ks_people, clock, sweep, client):
    case = ks_request(kuaishou, ks_people)
    clock.move_to(REVIEW_DUE + MINUTE)
    client.force_login(ks_people["assignee"])
    url = reverse("refunds:case_detail", args=[case.pk])
    client.get(url)
    before = _queries(lambda: client.get(url))
    sweep()
    after = _queries(lambda: client.get(url))
    page = client.get(url).content.decode()
    assert "data-escalated" in page
    assert after == before


# --- escalation once across imports: see tests/imports/test_kuaishou_import.py -------------


# --- the admin --------------------------------------------------------------------------------


def test_a_duplicate_calendar_date_gets_a_clear_message(client, manager):
    client.force_login(manager)
    CalendarDay.objects.create(date=date(2026, 10, 1), working=False, name="国庆节")
    answer = client.post(reverse("admin:refunds_calendarday_add"),
                         {"date": "2026-10-01", "working": "", "name": "国庆节"})
    assert answer.status_code == 200
    assert "already exists" in answer.content.decode()


@pytest.mark.parametrize("query", ["date__gte=abc", "date__year=x", "working__exact=maybe",
                                   "id=abc", "date__lt=2026-13-40", "o=99"])
def test_calendar_list_bad_filters_do_not_500(client, manager, query):
    client.force_login(manager)
    answer = client.get(reverse("admin:refunds_calendarday_changelist") + "?" + query)
    assert answer.status_code in (200, 302)


# --- the pay deadline -------------------------------------------------------------------------


def test_kuaishou_pay_deadline_counts_from_the_agreement_not_from_a_failed_payout(
        kuaishou, clock, roles):
    kuaishou.policy.payout_days = 30
    kuaishou.policy.save()
    case = svc.case_agree(case=ks_request(kuaishou), actor=None)
    assert case.deadline_rule == "platform_pay_working_days"
    first = case.deadline_at
    clock.move_to(T0 + timedelta(days=3))
    case = svc.case_mark_refund_failed(case=Case.objects.get(pk=case.pk), actor=None,
                                       reason="账户异常")
    # the platform's 7 working days to pay run from the review, a failed payout does not
    # restart them
    assert case.deadline_at <= first


# --- a case the sweep could not lock is reported as an escalation ----------------------------


def test_a_locked_kuaishou_request_is_reported_as_an_escalation_not_an_auto_agree(
        kuaishou, ks_people, clock, sweep, monkeypatch):
    from refunds.services import sweep as sweep_module

    case = ks_request(kuaishou, ks_people)
    real = sweep_module.try_lock_cases
    monkeypatch.setattr(sweep_module, "try_lock_cases",
                        lambda ids: {k: v for k, v in real(ids).items() if k != case.pk})
    clock.move_to(REVIEW_DUE + MINUTE)
    run = sweep("-v", "2")
    line = next(line for line in run.out.splitlines() if f"case #{case.pk}:" in line)
    assert "auto-agree" not in line, line


# --- dry run and real run agree, group path and one-by-one path agree ------------------------


def _mixed(kuaishou, shop, ks_people):
    return [ks_request(kuaishou, ks_people), ks_request(kuaishou, ks_people),
            make_case(order=OrderFactory(shop=shop), amount="188.00")]


@pytest.mark.parametrize("every", ["200", "1"])
def test_dry_run_predicts_the_real_run_with_kuaishou_requests(kuaishou, shop, ks_people,
                                                                clock, sweep, every):
    _mixed(kuaishou, shop, ks_people)
    clock.move_to(REVIEW_DUE + MINUTE)
    dry = sweep("--dry-run", "--commit-every", every)
    real = sweep("--commit-every", every)
    assert real.code == 0, real.err
    assert dry.summary.split(": ", 1)[1] == real.summary


# --- the platform's own pay deadline passing is not "our own payout deadline" ----------------


def test_kuaishou_pay_deadline_passing_is_not_described_as_the_platform_doing_nothing(
        kuaishou, ks_people, clock, sweep):
    kuaishou.policy.payout_days = 30
    kuaishou.policy.save()
    case = svc.case_agree(case=ks_request(kuaishou, ks_people), actor=None)
    assert case.deadline_rule == "platform_pay_working_days"
    clock.move_to(case.deadline_at + MINUTE)
    sweep()
    told = Notification.objects.filter(case=case, kind=NotificationKind.DEADLINE_ACTION)
    assert told.exists()
    assert all("the platform does nothing here" not in n.message for n in told), \
        told[0].message


# --- requests counted in calendar days (before the shop was on Kuaishou) are counted again ---


def test_an_open_kuaishou_request_with_a_calendar_day_deadline_is_not_escalated_early(
        kuaishou, ks_people, clock, sweep):
    """A request opened before the upgrade (or before the shop was set to Kuaishou) still has
    agree_unshipped_days = 2: Kuaishou reviews within 7 working days and has not escalated
    anything two days in."""
    case = ks_request(kuaishou, ks_people, unshipped=True)
    Case.objects.filter(pk=case.pk).update(deadline_at=T0 + timedelta(days=2),
                                           deadline_rule="agree_unshipped_days")
    clock.move_to(T0 + timedelta(days=2) + MINUTE)
    run = sweep()
    assert "escalated 0," in run.summary, run.summary
    case.refresh_from_db()
    # counted again from when it was asked (T0): 7 working days, Wednesday 11th
    assert (case.deadline_at, case.deadline_rule) == (REVIEW_DUE,
                                                      "platform_review_working_days")
    assert not case.is_escalated
    clock.move_to(REVIEW_DUE + MINUTE)
    assert "escalated 1," in sweep().summary


def test_a_calendar_day_deadline_already_past_in_working_days_too_is_escalated(
        kuaishou, ks_people, clock, sweep):
    case = ks_request(kuaishou, ks_people)
    Case.objects.filter(pk=case.pk).update(deadline_at=T0 + timedelta(days=5),
                                           deadline_rule="agree_shipped_days")
    clock.move_to(REVIEW_DUE + timedelta(days=1))
    dry = sweep("--dry-run")
    assert "escalated 1," in dry.summary
    assert "escalated 1," in sweep().summary
    case.refresh_from_db()
    assert case.is_escalated and case.state == CaseState.REQUESTED


def test_the_dry_run_says_a_calendar_day_deadline_would_be_counted_again(
        kuaishou, ks_people, clock, sweep):
    case = ks_request(kuaishou, ks_people, unshipped=True)
    Case.objects.filter(pk=case.pk).update(deadline_at=T0 + timedelta(days=2),
                                           deadline_rule="agree_unshipped_days")
    clock.move_to(T0 + timedelta(days=2) + MINUTE)
    dry = sweep("--dry-run", "-v", "2")
    assert f"case #{case.pk}: escalated by the platform: skipped (would be counted again in " \
           "working days (Kuaishou): due 2026-11-11 10:00)" in dry.out, dry.out
    assert Case.objects.get(pk=case.pk).deadline_rule == "agree_unshipped_days"
