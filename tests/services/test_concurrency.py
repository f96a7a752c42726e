"""Two people acting on the same case (or the same order's money) at the same moment.

Each worker runs in its own thread, so Django gives it its own database connection, and
its own transaction. A `threading.Barrier` releases the workers together, and, to make the
overlap certain rather than likely, the test itself holds the order row lock (the first
lock every service takes, see `refunds.locks`) until the database reports every worker
waiting on it: each worker is then inside its service, holding the stale case it read
earlier, before any of them has read anything under the lock. Only then is the lock
released and the workers proceed one at a time, in an order the database picks.

The assertions hold whichever worker wins.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from refunds.exceptions import ActionNotAllowed, AmountError, CaseChanged, DomainError
from refunds.models import Case, CaseEvent, CaseState, Order, Refund
from refunds.services.cases import case_agree
from refunds.services.money import refundable_amount
from tests.factories import OrderFactory, make_case, make_staff

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

JOIN_TIMEOUT = 60  # seconds: a worker still running after this is a hang (deadlock) → fail
WAIT_TIMEOUT = 15  # seconds to see every worker blocked on the held order lock

# A worker gets `start` (the barrier) and returns its result; it must call start() once,
# after it has read what it needs and right before the action under test.
Worker = Callable[[Callable[[], None]], Any]


@dataclass
class Outcome:
    result: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _lock_waiters() -> int:
    """Backends of this (test) database waiting on a heavyweight lock, other than us."""
    with connection.cursor() as cursor:
        # pg_stat_activity is a per-transaction snapshot: take a fresh one on every poll.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def race(workers: list[Worker], *, hold_order_id: int | None = None) -> tuple[list[Outcome], bool]:
    """Run the workers at once, one thread (and one DB connection) each.

    With `hold_order_id`, that order row stays locked by this thread until every worker is
    waiting for it (or all have stopped, or WAIT_TIMEOUT). Returns the outcomes, in the
    workers' order, and whether every worker was seen waiting on the lock at once.
    """
    barrier = threading.Barrier(len(workers))
    outcomes = [Outcome() for _ in workers]

    def run(index: int, worker: Worker) -> None:
        try:
            outcomes[index].result = worker(lambda: barrier.wait(timeout=JOIN_TIMEOUT))
        except BaseException as error:  # noqa: BLE001 - reported by the test's assertions
            outcomes[index].error = error
            barrier.abort()  # never leave the other worker waiting at the barrier
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i, w), daemon=True)
               for i, w in enumerate(workers)]
    overlapped = False
    if hold_order_id is None:
        for thread in threads:
            thread.start()
    else:
        with transaction.atomic():
            Order.objects.select_for_update().get(pk=hold_order_id)
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + WAIT_TIMEOUT
            while time.monotonic() < deadline and any(t.is_alive() for t in threads):
                if _lock_waiters() >= len(workers):
                    overlapped = True
                    break
                time.sleep(0.01)
        # leaving the block commits and releases the order row: the workers go on
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    hung = [i for i, t in enumerate(threads) if t.is_alive()]
    assert not hung, f"workers {hung} still running after {JOIN_TIMEOUT}s (deadlock?)"
    return outcomes, overlapped


def agree_worker(case_id: int, actor) -> Worker:
    """case_agree on this thread's own Case instance, read before the start signal."""

    def work(start):
        case = Case.objects.get(pk=case_id)
        assert case.state == CaseState.REQUESTED
        start()
        return case_agree(case=case, actor=actor, expected_state="requested")

    return work


def split(outcomes: list[Outcome]) -> tuple[list[Outcome], list[Outcome]]:
    return [o for o in outcomes if o.ok], [o for o in outcomes if not o.ok]


def describe(outcomes: list[Outcome]) -> str:
    return "; ".join(
        "ok" if o.ok else f"{type(o.error).__name__}: {o.error}" for o in outcomes
    )


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("hold_lock", [True, False], ids=["held-order-lock", "barrier-only"])
def test_two_agents_agreeing_the_same_case_at_once_exactly_one_wins(shop, agent, supervisor,
                                                                    hold_lock):
    """Both agree the same requested refund-only case: one agrees it, once; the other is told."""
    for round_no in range(5):
        order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
        case = make_case(order=order, amount="188.00")  # shipped, above the instant limit
        assert case.state == CaseState.REQUESTED, "must not be auto-agreed"

        outcomes, overlapped = race(
            [agree_worker(case.pk, agent), agree_worker(case.pk, supervisor)],
            hold_order_id=order.pk if hold_lock else None,
        )

        context = f"round {round_no}: {describe(outcomes)}"
        if hold_lock:
            assert overlapped, f"{context}: the two agrees never waited on the order together"
        won, lost = split(outcomes)
        assert len(won) == 1 and len(lost) == 1, context
        assert isinstance(lost[0].error, (CaseChanged, ActionNotAllowed)), context
        assert isinstance(lost[0].error, DomainError), context
        assert won[0].result.state == CaseState.REFUND_PENDING, context

        case.refresh_from_db()
        assert case.state == CaseState.REFUND_PENDING, context
        agrees = CaseEvent.objects.filter(case=case, transition="agree")
        assert agrees.count() == 1, context
        assert list(Refund.objects.filter(order=order).values_list("amount", flat=True)) == [
            Decimal("188.00")
        ], context
        assert refundable_amount(Order.objects.get(pk=order.pk)) == Decimal("0.00"), context


@pytest.mark.parametrize("hold_lock", [True, False], ids=["held-order-lock", "barrier-only"])
def test_concurrent_refunds_on_one_order_never_exceed_paid(shop, agent, supervisor, hold_lock):
    """Two cases on one order, 150 each of 188 paid, agreed at once: only one gets the money."""
    for round_no in range(3):
        order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
        # Both requests are accepted: nothing is committed until a case is agreed.
        first = make_case(order=order, amount="150.00")
        second = make_case(order=order, amount="150.00")
        assert first.state == second.state == CaseState.REQUESTED

        outcomes, overlapped = race(
            [agree_worker(first.pk, agent), agree_worker(second.pk, supervisor)],
            hold_order_id=order.pk if hold_lock else None,
        )

        context = f"round {round_no}: {describe(outcomes)}"
        if hold_lock:
            assert overlapped, f"{context}: the two agrees never waited on the order together"
        won, lost = split(outcomes)
        assert len(won) == 1 and len(lost) == 1, context
        error = lost[0].error
        assert isinstance(error, AmountError), context
        assert "still refundable" in str(error.message), context
        assert "¥38.00" in str(error.message), context  # what is left: 188 − 150

        refunds = Refund.objects.filter(order=order)
        assert sum(r.amount for r in refunds) <= order.paid_amount, context
        assert [r.amount for r in refunds] == [Decimal("150.00")], context
        states = sorted(Case.objects.filter(order=order).values_list("state", flat=True))
        assert states == sorted([CaseState.REFUND_PENDING, CaseState.REQUESTED]), context
        assert CaseEvent.objects.filter(case__order=order, transition="agree").count() == 1
        assert refundable_amount(Order.objects.get(pk=order.pk)) == Decimal("38.00"), context


def test_two_agents_posting_agree_at_once_never_get_a_500(shop, agent):
    """The desk pages: both posts redirect; the loser reads why, nobody sees a server error."""
    agent_two = make_staff("agent_two", "agent", shop, staff_number="A1002")
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    case = make_case(order=order, amount="188.00")
    assert case.state == CaseState.REQUESTED
    url = reverse("refunds:case_action", args=[case.pk, "agree"])

    clients = []
    for user in (agent, agent_two):
        client = Client()
        client.force_login(user)
        clients.append(client)

    def poster(client: Client) -> Worker:
        def work(start):
            start()
            return client.post(url, {"agree-expected_state": "requested"})

        return work

    outcomes, overlapped = race([poster(c) for c in clients], hold_order_id=order.pk)

    context = describe(outcomes)
    assert overlapped, f"{context}: the two posts never waited on the order together"
    assert all(o.ok for o in outcomes), context  # no exception escaped a view
    responses = [o.result for o in outcomes]
    assert [r.status_code for r in responses] == [302, 302], context
    assert all(r.url == case.get_absolute_url() for r in responses)

    case.refresh_from_db()
    assert case.state == CaseState.REFUND_PENDING
    assert CaseEvent.objects.filter(case=case, transition="agree").count() == 1
    assert Refund.objects.filter(case=case).count() == 1

    pages = []
    for client, response in zip(clients, responses, strict=True):
        page = client.get(response.url)
        assert page.status_code == 200
        pages.append(page.content.decode())
    winners = [p for p in pages if "Done: Agree" in p]
    losers = [p for p in pages if "This case changed while you were looking at it" in p
              or "is not possible" in p]
    assert len(winners) == 1 and len(losers) == 1
    assert winners[0] is not losers[0]
