"""Kuaishou (DOMAIN.md: "platform review (Kuaishou) | shop | 7 working days to review, 7 to
pay | escalation"): the shop's review is counted in working days, and when it passes the
platform escalates the request; it never agrees to it on its own."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from refunds.events import ESCALATED
from refunds.models import (
    CalendarDay,
    Case,
    CaseEvent,
    CaseState,
    EventKind,
    Notification,
    NotificationKind,
    Platform,
    Refund,
)
from refunds.services import cases as svc
from tests.factories import OrderFactory, ShopFactory, make_case, make_staff

from .conftest import MINUTE, T0

# T0 is Monday 2 November 2026, 10:00 in China: 7 working days later is Wednesday 11th.
REVIEW_DUE = T0 + timedelta(days=9)


@pytest.fixture
def kuaishou(db):
    return ShopFactory(code="ks-shop", name="快手小店", platform=Platform.KUAISHOU)


@pytest.fixture
def ks_people(roles, kuaishou, shop):
    return {
        "assignee": make_staff("ks_agent", "agent", kuaishou, email="ks_agent@example.com"),
        "sup": make_staff("ks_sup", "supervisor", kuaishou, email="ks_sup@example.com"),
        "elsewhere": make_staff("tb_sup", "supervisor", shop, email="tb_sup@example.com"),
    }


def ks_request(kuaishou, people=None, **order) -> Case:
    case = make_case(order=OrderFactory(shop=kuaishou, **order), amount="188.00")
    if people:
        Case.objects.filter(pk=case.pk).update(assignee=people["assignee"])
        case.refresh_from_db()
    return case


@pytest.mark.parametrize("order", [{}, {"unshipped": True}], ids=["shipped", "unshipped"])
def test_a_kuaishou_request_is_due_in_seven_working_days_shipped_or_not(kuaishou, clock,
                                                                        order):
    case = ks_request(kuaishou, **order)
    assert case.deadline_rule == "platform_review_working_days"
    assert case.deadline_at == REVIEW_DUE
    assert case.deadline_owner == "shop"


def test_holidays_in_the_calendar_push_the_kuaishou_deadline(kuaishou, clock):
    CalendarDay.objects.create(date=date(2026, 11, 4), working=False, name="假日")
    CalendarDay.objects.create(date=date(2026, 11, 5), working=False, name="假日")
    case = ks_request(kuaishou)
    assert case.deadline_at == REVIEW_DUE + timedelta(days=2)  # Friday 13th


def test_the_policy_sets_the_number_of_working_days(kuaishou, clock):
    kuaishou.policy.platform_review_working_days = 3
    kuaishou.policy.save()
    case = ks_request(kuaishou)
    assert case.deadline_at == T0 + timedelta(days=3)  # Thursday 5th


def test_a_taobao_request_keeps_its_calendar_days(shop, clock):
    case = make_case(order=OrderFactory(shop=shop), amount="188.00")
    assert (case.deadline_rule, case.deadline_at) == ("agree_shipped_days",
                                                      T0 + timedelta(days=5))


def test_when_the_review_deadline_passes_the_platform_escalates_once(kuaishou, ks_people,
                                                                     clock, sweep):
    case = ks_request(kuaishou, ks_people)
    events = CaseEvent.objects.filter(case=case).count()

    clock.move_to(REVIEW_DUE - MINUTE)
    early = sweep()
    assert "escalated 0" in early.summary
    assert CaseEvent.objects.filter(case=case).count() == events

    clock.move_to(REVIEW_DUE + MINUTE)
    run = sweep("-v", "2")

    assert run.code == 0, run.err
    assert run.summary.startswith("applied 0 (auto-agreed 0,")
    assert "escalated 1," in run.summary
    assert f"case #{case.pk}: escalated by the platform: noted and notified" in run.out
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED  # still the shop's to decide
    assert case.is_escalated
    assert not Refund.objects.filter(case=case).exists()  # no money moved
    note = CaseEvent.objects.filter(case=case).latest("id")
    assert (note.kind, note.actor, note.staff_number) == (EventKind.NOTE, None, "SYSTEM")
    assert "platform_review_working_days = 7" in note.note
    assert "escalates it to its customer service" in note.note
    assert datetime.fromisoformat(note.data[ESCALATED]) == REVIEW_DUE
    told = Notification.objects.filter(case=case, kind=NotificationKind.ESCALATED)
    assert {n.user.username for n in told} == {"ks_agent", "ks_sup"}

    again = sweep("-v", "2")
    assert "escalated 0," in again.summary and again.summary.endswith("failed 0")
    assert f"case #{case.pk}" not in again.out  # not even as skipped
    assert CaseEvent.objects.filter(case=case).count() == events + 1
    assert told.count() == 2


def test_an_imported_kuaishou_deadline_escalates_too(kuaishou, ks_people, clock, sweep):
    case = ks_request(kuaishou, ks_people)
    platform_deadline = T0 + timedelta(days=6)
    Case.objects.filter(pk=case.pk).update(deadline_at=platform_deadline,
                                           deadline_rule="platform")
    clock.move_to(platform_deadline + MINUTE)
    run = sweep()
    assert "escalated 1," in run.summary and "auto-agreed 0" in run.summary
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED and case.is_escalated


def test_a_dry_run_reports_the_escalation_and_writes_nothing(kuaishou, ks_people, clock,
                                                             sweep):
    case = ks_request(kuaishou, ks_people)
    events = CaseEvent.objects.filter(case=case).count()
    clock.move_to(REVIEW_DUE + MINUTE)
    dry = sweep("--dry-run", "-v", "2")
    assert dry.code == 0, dry.err
    assert f"case #{case.pk}: escalated by the platform: would do" in dry.out
    assert "escalated 1," in dry.summary
    case.refresh_from_db()
    assert not case.is_escalated and case.escalated_deadline_at is None
    assert CaseEvent.objects.filter(case=case).count() == events
    assert not Notification.objects.filter(case=case).exists()


def test_the_case_page_says_it_was_escalated_until_someone_decides(kuaishou, ks_people,
                                                                   clock, sweep, client):
    case = ks_request(kuaishou, ks_people)
    clock.move_to(REVIEW_DUE + MINUTE)
    sweep()
    agent = ks_people["assignee"]
    client.force_login(agent)
    page = client.get(reverse("refunds:case_detail", args=[case.pk])).content.decode()
    assert "data-escalated" in page and "Kuaishou escalated the request" in page

    case.refresh_from_db()
    svc.case_agree(case=case, actor=agent)
    case.refresh_from_db()
    assert case.state == CaseState.REFUND_PENDING and not case.is_escalated
    page = client.get(reverse("refunds:case_detail", args=[case.pk])).content.decode()
    assert "data-escalated" not in page


def test_a_request_escalated_then_refused_and_modified_gets_a_new_review(kuaishou, ks_people,
                                                                         clock, sweep):
    case = ks_request(kuaishou, ks_people)
    clock.move_to(REVIEW_DUE + MINUTE)
    sweep()
    case.refresh_from_db()
    case = svc.case_refuse(case=case, actor=ks_people["assignee"], reason="凭证不足")
    case = svc.case_buyer_modify(case=case, actor=ks_people["assignee"],
                                 requested_amount=Decimal("88.00"))
    assert case.state == CaseState.REQUESTED and not case.is_escalated
    assert case.deadline_rule == "platform_review_working_days"
    clock.move_to(case.deadline_at + MINUTE)
    assert "escalated 1," in sweep().summary


def test_kuaishou_pays_within_its_working_days_when_our_own_deadline_is_longer(kuaishou,
                                                                             clock):
    case = ks_request(kuaishou)
    case = svc.case_agree(case=case, actor=None)
    assert (case.state, case.deadline_rule) == (CaseState.REFUND_PENDING, "payout_days")
    assert case.deadline_at == T0 + timedelta(days=1)  # ours (1 day) is sooner

    kuaishou.policy.payout_days = 14
    kuaishou.policy.save()
    case = svc.case_agree(case=ks_request(kuaishou), actor=None)
    assert case.deadline_rule == "platform_pay_working_days"
    assert case.deadline_at == REVIEW_DUE  # 7 working days, not 14 calendar days
