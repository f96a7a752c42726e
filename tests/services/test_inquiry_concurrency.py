"""Parcel inquiries when two people act at once (PostgreSQL's row locks): one answer is
recorded, the other agent is told; one question of a kind is opened once per order.

Each race runs twice: released by a barrier only (tests/services/race.py, as the stock-out
races), and with the test holding the order row — the first lock every inquiry service takes
(`refunds.locks.lock_inquiry`, `inquiry_open`) — until the database shows both workers waiting
on it (tests/services/test_concurrency.py), so the overlap is certain, not likely: both have
read the inquiry (or found no open one) as it was before either acted."""

from __future__ import annotations

import pytest
from django.db import connection

from refunds.exceptions import ActionNotAllowed
from refunds.models import (
    InquiryEvent,
    InquiryEventKind,
    InquiryKind,
    InquiryOutcome,
    InquiryState,
    Order,
    ParcelInquiry,
)
from refunds.services import inquiries as services
from tests.factories import OrderFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks"),
    pytest.mark.django_db(transaction=True),
]

HOLD = pytest.mark.parametrize("hold_lock", [True, False],
                               ids=["held-order-lock", "barrier-only"])


def _race(workers, order_id: int, hold_lock: bool):
    """Run `workers` (each a function of `start`, called right before the action) at once;
    (outcomes, describe(outcomes)). Holding the lock, both must have waited on it."""
    if hold_lock:
        from tests.services.test_concurrency import describe, race

        outcomes, overlapped = race(workers, hold_order_id=order_id)
        assert overlapped, f"{describe(outcomes)}: the two never waited on the order together"
    else:
        from tests.services.race import describe, race

        outcomes = race([lambda work=work: work(lambda: None) for work in workers])
    return outcomes, describe(outcomes)


def _open(order, actor, kind=InquiryKind.WHERE):
    return services.inquiry_open(order=order, actor=actor, kind=kind, question="物流三天没更新了")


def _answering(inquiry_id: int, actor, answer: str, expected_state: str | None):
    def work(start):
        inquiry = ParcelInquiry.objects.get(pk=inquiry_id)  # the page the agent has open
        assert inquiry.state == InquiryState.OPEN
        start()
        return services.inquiry_record_answer(inquiry=inquiry, actor=actor,
                                              outcome=InquiryOutcome.ON_THE_WAY, answer=answer,
                                              carrier_staff="851",
                                              expected_state=expected_state)
    return work


def _opening(order_id: int, actor, kind=InquiryKind.WHERE):
    def work(start):
        order = Order.objects.get(pk=order_id)
        start()
        return _open(order, actor, kind)
    return work


@HOLD
@pytest.mark.parametrize(("expected_state", "told"), [
    ("open", services.InquiryChanged),  # the page the loser saw is out of date
    (None, ActionNotAllowed),  # no state given: the locked row refuses the transition
], ids=["expected-state", "no-expected-state"])
def test_two_agents_recording_the_answer_at_once_one_wins_the_other_is_told(
        shop, agent, supervisor, expected_state, told, hold_lock):
    inquiry = _open(OrderFactory(shop=shop), agent)
    outcomes, context = _race([
        _answering(inquiry.pk, agent, "中转站滞留，今天派送", expected_state),
        _answering(inquiry.pk, supervisor, "已到驿站，请取件", expected_state),
    ], inquiry.order_id, hold_lock)
    assert sum(o.ok for o in outcomes) == 1, context
    assert isinstance(next(o.error for o in outcomes if not o.ok), told), context
    transitions = InquiryEvent.objects.filter(inquiry=inquiry,
                                              kind=InquiryEventKind.TRANSITION)
    assert transitions.count() == 1, context
    winner = next(o.result for o in outcomes if o.ok)
    inquiry.refresh_from_db()
    assert inquiry.state == InquiryState.ANSWERED
    assert (inquiry.answer, inquiry.answered_staff) == (winner.answer, winner.answered_staff)
    assert transitions.get().note == winner.answer  # the timeline tells the answer kept


@HOLD
def test_the_answer_and_a_withdrawal_at_once_one_wins(shop, agent, supervisor, hold_lock):
    inquiry = _open(OrderFactory(shop=shop), agent)

    def withdrawing(start):
        stale = ParcelInquiry.objects.get(pk=inquiry.pk)
        start()
        return services.inquiry_withdraw(inquiry=stale, actor=supervisor,
                                          reason="包裹已经收到了", expected_state="open")

    outcomes, context = _race([_answering(inquiry.pk, agent, "中转站滞留，今天派送", "open"),
                               withdrawing], inquiry.order_id, hold_lock)
    assert sum(o.ok for o in outcomes) == 1, context
    assert isinstance(next(o.error for o in outcomes if not o.ok),
                      services.InquiryChanged), context
    inquiry.refresh_from_db()
    assert inquiry.state == (InquiryState.ANSWERED if outcomes[0].ok
                             else InquiryState.WITHDRAWN)
    assert InquiryEvent.objects.filter(inquiry=inquiry,
                                       kind=InquiryEventKind.TRANSITION).count() == 1


@HOLD
def test_two_agents_opening_the_same_question_at_once_open_it_once(shop, agent, supervisor,
                                                                   hold_lock):
    order = OrderFactory(shop=shop)
    outcomes, context = _race([_opening(order.pk, agent), _opening(order.pk, supervisor)],
                              order.pk, hold_lock)
    assert sum(o.ok for o in outcomes) == 1, context
    error = next(o.error for o in outcomes if not o.ok)
    assert isinstance(error, ActionNotAllowed) and "already being checked" in str(error), (
        context)
    [inquiry] = ParcelInquiry.objects.filter(order=order)
    assert inquiry.pk == next(o.result for o in outcomes if o.ok).pk
    assert f"#{inquiry.pk}" in str(error)  # the loser is sent to the one that was opened
    assert InquiryEvent.objects.filter(kind=InquiryEventKind.CREATED).count() == 1


@HOLD
def test_two_different_questions_on_one_order_at_once_are_both_opened(shop, agent, supervisor,
                                                                      hold_lock):
    """The order's lock takes them one at a time; it refuses only the same kind twice."""
    order = OrderFactory(shop=shop)
    outcomes, context = _race([_opening(order.pk, agent, InquiryKind.WHERE),
                               _opening(order.pk, supervisor, InquiryKind.NOT_RECEIVED)],
                              order.pk, hold_lock)
    assert all(o.ok for o in outcomes), context
    assert set(ParcelInquiry.objects.filter(order=order).values_list("kind", flat=True)) == {
        InquiryKind.WHERE, InquiryKind.NOT_RECEIVED}
