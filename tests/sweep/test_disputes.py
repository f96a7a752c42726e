"""The sweep and disputes (平台介入): evidence not submitted in time, the platform rules
against the shop and refunds the buyer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from refunds.models import (
    Case,
    CaseEvent,
    CaseState,
    EventKind,
    Notification,
    NotificationKind,
    Refund,
    RefundStatus,
)
from refunds.services import cases as svc
from tests.factories import OrderFactory, make_case

from .conftest import MINUTE, T0

EVIDENCE_DUE = T0 + timedelta(days=7)  # T0 is a Monday: 5 working days, the next Monday


@pytest.fixture
def dispute(shop, people, clock):
    case = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("188.00")),
                     amount="188.00")
    case = svc.case_refuse(case=case, actor=None, reason="凭证不足")
    Case.objects.filter(pk=case.pk).update(assignee=people["assignee"])
    case = svc.case_open_dispute(case=Case.objects.get(pk=case.pk), actor=people["assignee"],
                                 note="平台介入")
    assert case.deadline_at == EVIDENCE_DUE
    return case


def test_no_evidence_in_time_the_platform_rules_against_the_shop(dispute, clock, sweep):
    clock.move_to(EVIDENCE_DUE - MINUTE)
    assert sweep().summary.startswith("applied 0 ")

    clock.move_to(EVIDENCE_DUE + MINUTE)
    run = sweep()

    assert run.code == 0, run.err
    assert run.summary.startswith("applied 1 (auto-agreed 0, closed 0, auto-refunded 1)")
    dispute.refresh_from_db()
    assert dispute.state == CaseState.REFUNDED
    refund = Refund.objects.get(case=dispute)
    assert (refund.amount, refund.status, refund.payment_reference) == (
        Decimal("188.00"), RefundStatus.PAID, "PLATFORM")
    event = CaseEvent.objects.filter(case=dispute, kind=EventKind.TRANSITION).latest("id")
    assert (event.transition, event.from_state, event.staff_number) == (
        "platform_refund", "in_dispute", "SYSTEM")
    assert "dispute_evidence_working_days = 5" in event.note
    assert "did not submit its evidence in time" in event.note
    assert Notification.objects.filter(case=dispute,
                                       kind=NotificationKind.DEADLINE_ACTION).exists()
    assert sweep().summary.startswith("applied 0 ")  # once


def test_evidence_in_time_leaves_the_ruling_to_the_platform(dispute, people, clock, sweep):
    svc.case_submit_dispute_evidence(case=dispute, actor=people["assignee"], note="聊天记录")
    clock.move_to(EVIDENCE_DUE + timedelta(days=30))
    run = sweep()
    assert run.summary.startswith("applied 0 ")
    dispute.refresh_from_db()
    assert dispute.state == CaseState.IN_DISPUTE
    assert not Refund.objects.filter(case=dispute).exists()


def test_the_evidence_deadline_is_warned_before_it_passes(dispute, clock, sweep):
    clock.move_to(EVIDENCE_DUE - timedelta(hours=12))
    run = sweep()
    assert "warned 1 cases" in run.summary
    warned = Notification.objects.filter(case=dispute, kind=NotificationKind.DEADLINE_WARNING)
    assert {n.user.username for n in warned} >= {"agent_x", "sup_a"}
    assert all("dispute_evidence_working_days" in n.message for n in warned)


def test_a_dry_run_says_what_the_platform_would_do_and_writes_nothing(dispute, clock, sweep):
    clock.move_to(EVIDENCE_DUE + MINUTE)
    dry = sweep("--dry-run", "-v", "2")
    assert f"case #{dispute.pk}: auto-refund: would do" in dry.out
    dispute.refresh_from_db()
    assert dispute.state == CaseState.IN_DISPUTE
    assert not Refund.objects.filter(case=dispute).exists()


def test_one_case_per_transaction_does_the_same(dispute, clock, sweep):
    clock.move_to(EVIDENCE_DUE + MINUTE)
    run = sweep("--commit-every", "1")
    assert run.summary.startswith("applied 1 (auto-agreed 0, closed 0, auto-refunded 1)")
    assert Case.objects.get(pk=dispute.pk).state == CaseState.REFUNDED
