"""What the sweep does when a deadline passes: the platform's rule, as SYSTEM, once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail

from refunds.models import (
    Case,
    CaseEvent,
    CaseState,
    CloseReason,
    EventKind,
    Notification,
    NotificationKind,
    Refund,
    RefundStatus,
)
from refunds.services import cases as svc
from refunds.services import sweep as sweep_service
from tests.factories import OrderFactory, make_case

from .conftest import (
    MINUTE,
    SHANGHAI,
    T0,
    awaiting_return,
    mailed,
    received,
    refund_pending,
    refused,
    requested_refund,
    requested_return,
    requested_unshipped,
    return_in_transit,
)

SCENARIOS = {
    # builder, policy rule, days, state after, transition, words of the note
    "requested-refund-only-shipped": (requested_refund, "agree_shipped_days", 5,
                                      CaseState.REFUND_PENDING, "agree", "auto-agree"),
    "requested-refund-only-unshipped": (requested_unshipped, "agree_unshipped_days", 2,
                                        CaseState.REFUND_PENDING, "agree", "auto-agree"),
    "requested-return": (requested_return, "agree_shipped_days", 5,
                         CaseState.AWAITING_RETURN, "agree", "auto-agree"),
    "refused": (refused, "buyer_modify_days", 7, CaseState.CLOSED, "close",
                "did not modify the refused request"),
    "awaiting-return": (awaiting_return, "buyer_return_days", 7, CaseState.CLOSED, "close",
                        "did not ship the return"),
    "return-in-transit": (return_in_transit, "confirm_receipt_days", 10, CaseState.REFUNDED,
                          "platform_refund", "auto-refund"),
    "received": (received, "confirm_receipt_days", 10, CaseState.REFUNDED, "platform_refund",
                 "auto-refund"),
}


def _transitions(case) -> int:
    return CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).count()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_platform_rule_applies_only_once_the_deadline_has_passed(shop, clock, sweep, scenario):
    build, rule, days, after, transition, words = SCENARIOS[scenario]
    case = build(shop)
    before_state = case.state
    assert case.deadline_rule == rule
    assert case.deadline_at == T0 + timedelta(days=days)
    deadline = case.deadline_at
    transitions = _transitions(case)

    clock.move_to(deadline - MINUTE)
    early = sweep()
    assert early.code == 0, early.err
    assert early.summary.startswith("applied 0 (auto-agreed 0, closed 0, auto-refunded 0)")
    case.refresh_from_db()
    assert case.state == before_state
    assert _transitions(case) == transitions

    clock.move_to(deadline + MINUTE)
    late = sweep()
    assert late.code == 0, late.err
    assert late.summary.startswith("applied 1 ")
    case.refresh_from_db()
    assert case.state == after
    assert _transitions(case) == transitions + 1
    event = CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).latest("id")
    assert event.transition == transition
    assert (event.actor, event.staff_number) == (None, "SYSTEM")
    assert event.from_state == before_state and event.to_state == after
    assert event.created_at == deadline + MINUTE  # the sweep's time, not the case's
    assert f"({rule} = {days})" in event.note
    local_deadline = deadline.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert f"passed at {local_deadline}." in event.note
    assert words in event.note
    if after == CaseState.CLOSED:
        assert case.close_reason == CloseReason.TIMEOUT


def test_auto_agree_of_a_refund_only_request_commits_the_money(shop, clock, sweep):
    case = requested_refund(shop)
    clock.move_to(case.deadline_at + MINUTE)
    assert sweep().code == 0
    case.refresh_from_db()
    assert case.state == CaseState.REFUND_PENDING
    refund = Refund.objects.get(case=case)
    assert (refund.amount, refund.status, refund.approved_by) == (
        Decimal("188.00"), RefundStatus.PENDING, None)
    # Finance's payout clock starts now.
    assert case.deadline_rule == "payout_days"
    assert case.deadline_at == T0 + timedelta(days=6) + MINUTE


def test_auto_agree_of_a_return_asks_for_the_goods_and_commits_no_money(shop, clock, sweep):
    case = requested_return(shop)
    clock.move_to(case.deadline_at + MINUTE)
    assert sweep().code == 0
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_RETURN
    assert case.return_address == shop.policy.return_address
    assert not Refund.objects.filter(case=case).exists()


@pytest.mark.parametrize("build", [return_in_transit, received])
def test_auto_refund_pays_the_requested_amount_as_the_platform(shop, clock, sweep, build):
    case = build(shop)
    clock.move_to(case.deadline_at + MINUTE)
    assert sweep().code == 0
    refund = Refund.objects.get(case=case)
    assert refund.amount == case.requested_amount
    assert refund.status == RefundStatus.PAID
    assert refund.payment_reference == "PLATFORM"
    assert refund.paid_at == case.deadline_at + MINUTE


def test_overdue_payout_is_notified_once_and_left_to_finance(shop, clock, sweep, people):
    case = refund_pending(shop)
    clock.move_to(case.deadline_at + MINUTE)
    first = sweep()
    assert first.code == 0
    assert "payouts overdue 1" in first.summary and first.summary.startswith("applied 0 ")
    case.refresh_from_db()
    assert case.state == CaseState.REFUND_PENDING  # the platform does nothing here
    notes = Notification.objects.filter(case=case, kind=NotificationKind.DEADLINE_ACTION)
    assert {n.user.username for n in notes} == {"sup_a", "sup_both", "sup_no_mail"}
    assert all("payout_days" in n.message and "finance must pay" in n.message for n in notes)

    again = sweep()
    assert "payouts overdue 1" in again.summary
    assert notes.count() == 3


def test_money_rule_refusal_fails_that_case_and_the_others_still_go(shop, clock, sweep,
                                                                    people):
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    first = make_case(order=order, amount="150.00")
    second = make_case(order=order, amount="150.00")  # accepted: nothing committed yet
    other = requested_return(shop)
    clock.move_to(first.deadline_at + MINUTE)

    run = sweep()

    assert run.code == 1
    assert "applied 2 (auto-agreed 2, closed 0, auto-refunded 0)" in run.summary
    assert run.summary.endswith("failed 1")
    assert f"case #{second.pk}: auto-agree: FAILED" in run.err
    assert "still refundable" in run.err and "¥38.00" in run.err
    assert "1 case failed" in run.err
    states = dict(Case.objects.values_list("pk", "state"))
    assert states[first.pk] == CaseState.REFUND_PENDING
    assert states[second.pk] == CaseState.REQUESTED
    assert states[other.pk] == CaseState.AWAITING_RETURN
    assert not Refund.objects.filter(case=second).exists()
    failures = Notification.objects.filter(case=second, kind=NotificationKind.SWEEP_FAILURE)
    assert {n.user.username for n in failures} == {"sup_a", "sup_both", "sup_no_mail"}
    assert "still refundable" in failures[0].message

    # Next run: still failing (and said so), but nobody is told twice.
    events, notifications, emails = CaseEvent.objects.count(), Notification.objects.count(), len(
        mail.outbox)
    rerun = sweep()
    assert rerun.code == 1 and rerun.summary.endswith("failed 1")
    assert rerun.summary.startswith("applied 0 ")
    assert (CaseEvent.objects.count(), Notification.objects.count(), len(mail.outbox)) == (
        events, notifications, emails)


def test_a_case_that_breaks_mid_way_is_rolled_back_alone(shop, clock, sweep, monkeypatch):
    """The close is written, then something fails in the same case: the close is undone."""
    victim = refused(shop)
    survivor = awaiting_return(shop)
    real_notify = sweep_service.notify_many

    def broken_notify(notices, **kwargs):
        # after the close is written: the group is undone, then each case is done on its own
        if any(notice.case.pk == victim.pk for notice in notices):
            raise RuntimeError("mail queue full")
        return real_notify(notices, **kwargs)

    monkeypatch.setattr(sweep_service, "notify_many", broken_notify)
    clock.move_to(victim.deadline_at + MINUTE)
    run = sweep()

    assert run.code == 1
    assert f"case #{victim.pk}: close (timed out): FAILED (RuntimeError: mail queue full)" in (
        run.err)
    victim.refresh_from_db()
    survivor.refresh_from_db()
    assert victim.state == CaseState.REFUSED and victim.close_reason == ""
    assert not CaseEvent.objects.filter(case=victim, transition="close").exists()
    assert survivor.state == CaseState.CLOSED


def test_a_case_changed_since_it_was_selected_is_skipped(shop, clock, sweep, monkeypatch):
    """Someone refused the request between the selection and the lock: leave it alone."""
    case = requested_refund(shop)
    clock.move_to(case.deadline_at + MINUTE)
    selected = sweep_service.selectors.in_deadline_chunks

    def stale_chunks(queryset, size):
        for chunk in selected(queryset, size):
            svc.case_refuse(case=case, actor=None, reason="凭证不足")
            yield chunk

    monkeypatch.setattr(sweep_service.selectors, "in_deadline_chunks", stale_chunks)
    run = sweep("-v", "2")
    assert run.code == 0
    assert run.summary.startswith("applied 0 ") and "skipped 1" in run.summary
    assert f"case #{case.pk}: auto-agree: skipped (changed since it was selected)" in run.out
    case.refresh_from_db()
    assert case.state == CaseState.REFUSED


def test_second_run_changes_nothing(shop, clock, sweep, people):
    cases = [build(shop) for build in (requested_refund, requested_return, refused,
                                       awaiting_return, return_in_transit, received)]
    svc.case_assign(case=cases[0], actor=people["assignee"], assignee=people["assignee"])
    latest = max(case.deadline_at for case in cases)
    clock.move_to(latest + MINUTE)

    first = sweep()
    assert first.code == 0, first.err
    assert first.summary == ("applied 6 (auto-agreed 2, closed 2, auto-refunded 2), payouts "
                             "overdue 0, escalated 0, warned 1 cases (4 notifications), "
                             "skipped 0, failed 0")
    # the refund-only case now waits for finance, due in exactly 24 hours: warned at once
    payout_due = latest + MINUTE + timedelta(days=1)
    assert Notification.objects.filter(case=cases[0], kind=NotificationKind.DEADLINE_WARNING,
                                       deadline_at=payout_due).count() == 4
    actions = Notification.objects.filter(kind=NotificationKind.DEADLINE_ACTION)
    assert actions.count() == 6 * 3 + 1  # three supervisors per case, plus the assignee
    assert sorted(address for address, subject, _body in mailed(mail.outbox)
                  if f"#{cases[0].pk}: deadline passed" in subject) == [
        "agent_x@example.com", "sup_a@example.com", "sup_both@example.com"]
    # one email per person per run: the deadlines passed, then the warnings, in one
    people_mailed = ["agent_x@example.com", "sup_a@example.com", "sup_both@example.com"]
    assert [m.to[0] for m in mail.outbox] == people_mailed
    for message in mail.outbox:
        assert "deadline passed" in message.body
        assert message.body.index("deadline passed") < message.body.index("must act by")

    snapshot = (
        list(Case.objects.order_by("pk").values_list("state", "deadline_at", "updated_at")),
        CaseEvent.objects.count(), Notification.objects.count(), Refund.objects.count(),
        len(mail.outbox),
    )
    # A little later, as a cron job started twice would be. The two auto-agreed refunds
    # got a payout deadline of exactly now + 24 hours: the first run warned about it already.
    clock.shift(timedelta(seconds=30))
    second = sweep()
    assert second.code == 0
    assert second.summary.startswith("applied 0 (auto-agreed 0, closed 0, auto-refunded 0)")
    assert "warned 0 cases (0 notifications)" in second.summary
    assert (
        list(Case.objects.order_by("pk").values_list("state", "deadline_at", "updated_at")),
        CaseEvent.objects.count(), Notification.objects.count(), Refund.objects.count(),
        len(mail.outbox),
    ) == snapshot


def test_dry_run_writes_nothing_and_predicts_the_run(shop, clock, sweep, people):
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    make_case(order=order, amount="150.00")
    doomed = make_case(order=order, amount="150.00")
    cases = [build(shop) for build in (requested_return, refused, received, refund_pending)]
    clock.move_to(max(case.deadline_at for case in cases) + MINUTE)
    closing = Case.objects.filter(state=CaseState.REFUSED).get()
    soon = requested_refund(shop)  # due in 5 days: warn in 4 days
    clock.shift(timedelta(days=4, hours=1))

    def snapshot():
        return (
            list(Case.objects.order_by("pk").values_list("state", "deadline_at",
                                                         "warned_deadline_at", "updated_at")),
            CaseEvent.objects.count(), Notification.objects.count(), Refund.objects.count(),
            len(mail.outbox),
        )

    before = snapshot()
    dry = sweep("--dry-run", "-v", "2")
    assert snapshot() == before
    assert dry.code == 1  # it would fail one case
    assert "dry run: nothing is written" in dry.out
    assert f"case #{doomed.pk}: auto-agree: FAILED" in dry.err
    assert f"case #{closing.pk}: close (timed out): would do" in dry.out
    assert f"case #{soon.pk}: deadline warning: would warn" in dry.out
    assert dry.summary.startswith("dry run, nothing written: applied 4 (auto-agreed 2, "
                                  "closed 1, auto-refunded 1), payouts overdue 1, escalated 0, "
                                  "warned 2 cases (6 notifications)")  # `soon`, and the new payout

    real = sweep()
    assert real.code == 1
    assert dry.summary == f"dry run, nothing written: {real.summary}"
