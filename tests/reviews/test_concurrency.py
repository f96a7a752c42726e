"""Two colleagues contacting one buyer at the same moment, and the sweep meeting a busy row
(PostgreSQL: real row locks, one connection per thread)."""

from __future__ import annotations

import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from refunds.models import Buyer, ContactLog, Order, ReviewFollowUp
from refunds.services.cases import contact_log_create
from refunds.services.contacts import ContactBlocked
from refunds.services.followups import followup_contact_log_create
from tests.factories import OrderFactory, make_case, make_staff

from .conftest import T0, make_follow_up

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TIMEOUT = 30


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


def race(workers, *, hold):
    """Run the workers in threads while this thread holds the row `hold()` locks, until
    every worker waits for it; returns (results or errors, whether they overlapped)."""
    outcomes: list = [None] * len(workers)

    def run(index, work):
        try:
            outcomes[index] = work()
        except BaseException as error:  # noqa: BLE001 - the test looks at it
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w), daemon=True)
               for i, w in enumerate(workers)]
    overlapped = False
    with transaction.atomic():
        hold()
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and any(t.is_alive() for t in threads):
            if _lock_waiters() >= len(workers):
                overlapped = True
                break
            time.sleep(0.01)
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a worker hangs (deadlock?)"
    return outcomes, overlapped


def test_two_colleagues_cannot_both_make_the_last_call_of_the_day(shop, roles):
    agents = [make_staff(f"agent{n}", "agent", shop, staff_number=f"A10{n}") for n in range(2)]
    case = make_case(order=OrderFactory(shop=shop), amount="50.00")
    buyer_id = case.order.buyer_id
    contact_log_create(case=case, actor=agents[0], channel="phone", outcome="no_answer")

    def caller(agent):
        return lambda: contact_log_create(case=case, actor=agent, channel="phone",
                                          outcome="no_answer")

    outcomes, overlapped = race([caller(a) for a in agents],
                                hold=lambda: Buyer.objects.select_for_update().get(pk=buyer_id))
    assert overlapped
    blocked = [o for o in outcomes if isinstance(o, ContactBlocked)]
    logged = [o for o in outcomes if isinstance(o, ContactLog)]
    assert len(blocked) == 1 and len(logged) == 1, outcomes
    assert ContactLog.objects.filter(buyer_id=buyer_id, channel="phone").count() == 2


def test_the_follow_up_and_the_case_page_share_the_count_under_the_lock(shop, roles):
    agent = make_staff("agent", "agent", shop, staff_number="A1001")
    order = OrderFactory(shop=shop)
    case = make_case(order=order, amount="50.00")
    follow_up = make_follow_up(order=order)
    contact_log_create(case=case, actor=agent, channel="phone", outcome="no_answer")
    outcomes, overlapped = race([
        lambda: contact_log_create(case=case, actor=agent, channel="phone", outcome="reached"),
        lambda: followup_contact_log_create(follow_up=follow_up, actor=agent, channel="phone",
                                            outcome="no_answer"),
    ], hold=lambda: Buyer.objects.select_for_update().get(pk=order.buyer_id))
    assert overlapped
    assert sum(isinstance(o, ContactBlocked) for o in outcomes) == 1, outcomes
    assert ContactLog.objects.filter(channel="phone").count() == 2


def test_the_sweep_leaves_a_follow_up_someone_is_working_on(shop, roles):
    from datetime import timedelta

    follow_up = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=40))
    out = StringIO()
    outcomes, _overlapped = race(
        [lambda: call_command("sweep_reviews", stdout=out)],
        hold=lambda: Order.objects.select_for_update().get(pk=follow_up.order_id))
    assert outcomes == [None]
    assert "0 expired" in out.getvalue() and "1 skipped" in out.getvalue()
    assert ReviewFollowUp.objects.get(pk=follow_up.pk).state == "new"
    call_command("sweep_reviews", stdout=StringIO())
    assert ReviewFollowUp.objects.get(pk=follow_up.pk).state == "expired"
