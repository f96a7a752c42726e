"""Two sweeps at once, and a sweep meeting a case somebody holds (PostgreSQL only).

Each worker runs in its own thread, so it has its own database connection and its own
transactions, exactly like two cron jobs that overlap.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from refunds.models import (
    Case,
    CaseEvent,
    CaseState,
    Notification,
    NotificationKind,
    Order,
    Refund,
)
from refunds.services.cases import case_refuse
from refunds.services.sweep import AUTO_AGREE, CLOSE, sweep_deadlines
from tests.factories import OrderFactory, make_case, make_staff

from .conftest import mailed

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

JOIN_TIMEOUT = 60  # seconds: a worker still running after this is a hang → fail
STEP_TIMEOUT = 2  # seconds a worker waits for the other at each lockstep


def _overdue_cases(shop, count: int) -> list[Case]:
    """`count` cases past their deadline, half refund-only requests, half refused."""
    opened = timezone.now() - timedelta(days=10)
    cases = []
    for n in range(count):
        order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
        case = make_case(order=order, amount="188.00", now=opened)
        if n % 2:
            case = case_refuse(case=case, actor=None, reason="凭证不足", now=opened)
        cases.append(case)
    return cases


def _run_workers(count: int, now) -> list:
    """`count` sweeps at once, moving in lockstep: each handles a case, then waits for the
    others, so they are always working on the same stretch of the list."""
    start = threading.Barrier(count)
    step = threading.Barrier(count)
    results: list = [None] * count

    def lockstep(_phase, _done, _total):
        try:
            step.wait(timeout=STEP_TIMEOUT)
        except threading.BrokenBarrierError:
            pass  # the other worker ran out of cases: go on alone

    def run(index: int) -> None:
        try:
            start.wait(timeout=JOIN_TIMEOUT)
            results[index] = sweep_deadlines(now=now, chunk_size=5, on_progress=lockstep)
        except BaseException as error:  # noqa: BLE001 - asserted below
            results[index] = error
        finally:
            step.abort()  # never leave the other worker waiting for this one
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a sweep hung (waiting on a lock?)"
    return results


def test_two_sweeps_at_once_handle_every_case_exactly_once(roles, shop):
    supervisor = make_staff("sup_pg", "supervisor", shop, staff_number="S9001",
                            email="sup_pg@example.com")
    for round_no in range(3):
        cases = _overdue_cases(shop, 20)
        ids = [case.pk for case in cases]
        mail.outbox.clear()

        reports = _run_workers(2, timezone.now())

        context = f"round {round_no}: {reports}"
        errors = [r for r in reports if isinstance(r, BaseException)]
        assert not errors, context
        assert all(not r.failures for r in reports), context
        assert sum(r.applied[AUTO_AGREE] for r in reports) == 10, context
        assert sum(r.applied[CLOSE] for r in reports) == 10, context
        assert sum(r.skipped for r in reports) >= 1, f"{context}: the sweeps never met"

        states = dict(Case.objects.filter(pk__in=ids).values_list("pk", "state"))
        for n, pk in enumerate(ids):
            expected = CaseState.CLOSED if n % 2 else CaseState.REFUND_PENDING
            assert states[pk] == expected, context
            transitions = CaseEvent.objects.filter(case_id=pk, transition__in=["agree", "close"])
            assert transitions.count() == 1, f"{context}: case {pk}"
            assert transitions.get().staff_number == "SYSTEM"
        agreed = ids[0::2]
        assert Refund.objects.filter(case_id__in=agreed).count() == 10, context
        actions = Notification.objects.filter(case_id__in=ids, user=supervisor,
                                              kind=NotificationKind.DEADLINE_ACTION)
        assert actions.count() == 20, context
        entries = [(address, subject) for address, subject, _body in mailed(mail.outbox)]
        assert sorted(entries) == sorted(set(entries)), f"{context}: an email went out twice"
        assert len([e for e in entries if "deadline passed" in e[1]]) == 20, context
        assert len(mail.outbox) <= 4, f"{context}: a digest per sweep and phase, not per case"


def test_a_case_somebody_holds_is_skipped_not_waited_for(roles, shop):
    held, *others = _overdue_cases(shop, 3)
    now = timezone.now()
    results: list = []

    def sweep_in_thread():
        try:
            results.append(sweep_deadlines(now=now))
        except BaseException as error:  # noqa: BLE001 - asserted below
            results.append(error)
        finally:
            connection.close()

    with transaction.atomic():
        Order.objects.select_for_update().get(pk=held.order_id)  # an agent is agreeing it
        worker = threading.Thread(target=sweep_in_thread, daemon=True)
        worker.start()
        worker.join(JOIN_TIMEOUT)
        assert not worker.is_alive(), "the sweep waited for the held order row"

    report = results[0]
    assert not isinstance(report, BaseException), report
    assert (report.skipped, report.applied_total, report.failures) == (1, 2, [])
    assert Case.objects.get(pk=held.pk).state == CaseState.REQUESTED

    again = sweep_deadlines(now=now)  # the next night: nobody holds it any more
    assert (again.skipped, again.applied_total) == (0, 1)
    assert Case.objects.get(pk=held.pk).state == CaseState.REFUND_PENDING
    assert all(Case.objects.get(pk=c.pk).state != CaseState.REQUESTED for c in others)
