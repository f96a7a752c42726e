"""Stock-outs when two people act at once (PostgreSQL's row locks): one wins, the other is
told; one item is reported once; two refunds on one order never pass what the buyer paid."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from refunds.exceptions import ActionNotAllowed, DomainError
from refunds.models import Case, ContactChannel, ContactOutcome, StockOut, StockOutEvent
from refunds.services import stockouts as services
from refunds.services.money import refundable_amount
from refunds.timezones import CHINA
from tests.factories import OrderFactory, OrderLineFactory, make_staff

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks"),
    pytest.mark.django_db(transaction=True),
]


def _paid(shop, **kwargs):
    return OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now() - timedelta(hours=2),
                        **kwargs)


def _told(stockout, agent):
    services.stockout_contact(stockout=stockout, actor=agent, channel=ContactChannel.PHONE,
                              outcome=ContactOutcome.REACHED, note="告知缺货")


def test_a_refund_and_an_agreed_wait_at_once_one_wins_the_other_is_told(shop, warehouse,
                                                                       agent, supervisor):
    from tests.services.race import describe, race

    order = _paid(shop)
    stockout = services.stockout_report(order=order, actor=warehouse, line=order.lines.get())
    _told(stockout, agent)
    day = timezone.now().astimezone(CHINA).date() + timedelta(days=3)
    outcomes = race([
        lambda: services.stockout_refund(stockout=stockout, actor=agent,
                                         expected_state="reported"),
        lambda: services.stockout_buyer_agreed(stockout=stockout, actor=supervisor,
                                               remedy="wait", agreed_ship_by=day,
                                               expected_state="reported"),
    ])
    assert sum(o.ok for o in outcomes) == 1, describe(outcomes)
    assert isinstance(next(o.error for o in outcomes if not o.ok), services.StockOutChanged)
    assert StockOutEvent.objects.filter(stockout=stockout, kind="transition").count() == 1
    assert Case.objects.count() == (1 if outcomes[0].ok else 0)


def test_one_item_reported_twice_at_once_is_reported_once(shop, warehouse, agent):
    from tests.services.race import describe, race

    order = _paid(shop)
    line = order.lines.get()
    outcomes = race([
        lambda: services.stockout_report(order=order, actor=warehouse, line=line),
        lambda: services.stockout_report(order=order, actor=agent, line=line),
    ])
    assert sum(o.ok for o in outcomes) == 1, describe(outcomes)
    error = next(o.error for o in outcomes if not o.ok)
    assert isinstance(error, ActionNotAllowed) and "already reported" in str(error)
    assert StockOut.objects.count() == 1


def test_two_items_refunded_at_once_never_pass_what_was_paid(shop, warehouse, agent):
    """¥150 paid for two items of ¥100 each (a discount): both refunds cannot be whole."""
    from tests.services.race import describe, race

    order = _paid(shop, paid_amount=Decimal("150.00"), goods_amount=Decimal("150.00"),
                  postage=Decimal("0.00"))
    order.lines.update(paid_amount=Decimal("100.00"), quantity=1)
    OrderLineFactory(order=order, quantity=1, paid_amount=Decimal("100.00"))
    shop.policy.instant_refund_limit = Decimal("0")
    shop.policy.save()
    first, second = order.lines.order_by("id")
    stockouts = [services.stockout_report(order=order, actor=warehouse, line=line)
                 for line in (first, second)]
    for stockout in stockouts:
        _told(stockout, make_staff(f"ag{stockout.pk}", "agent", shop))
    outcomes = race([
        lambda: services.stockout_refund(stockout=stockouts[0], actor=agent),
        lambda: services.stockout_refund(stockout=stockouts[1], actor=agent),
    ])
    assert all(o.ok or isinstance(o.error, DomainError) for o in outcomes), describe(outcomes)
    amounts = sorted(Case.objects.values_list("requested_amount", flat=True))
    assert sum(amounts) <= Decimal("150.00")
    assert amounts == [Decimal("50.00"), Decimal("100.00")]  # the second gets what is left
    assert refundable_amount(order) == Decimal("150.00")  # requested, nothing committed yet


def _refund_closed_unpaid(shop, warehouse, agent):
    """A stock-out the buyer took a refund for, then withdrew that request (the case closed)."""
    from refunds.models import CloseReason
    from refunds.services.cases import case_close

    order = _paid(shop)
    stockout = services.stockout_report(order=order, actor=warehouse, line=order.lines.get())
    _told(stockout, agent)
    case = services.stockout_refund(stockout=stockout, actor=agent).case
    case_close(case=case, actor=agent, reason=CloseReason.WITHDRAWN)
    return stockout, case


def test_a_refund_closed_unpaid_sent_back_while_the_case_is_reopened(shop, warehouse, agent,
                                                                    supervisor):
    """The agent sends the stock-out back to the buyer's choice while a supervisor reopens
    its refund case for review (复核): both lock the order first, so one waits for the other —
    sent back first, the reopening takes it back to the refund; reopened first, it stays a
    refund. Either way it ends a refund: never reported beside a case that may pay."""
    from refunds.models import CaseState
    from refunds.services.cases import case_reopen
    from tests.services.race import describe, race

    stockout, case = _refund_closed_unpaid(shop, warehouse, agent)
    outcomes = race([
        lambda: services.stockout_refund_fell_through(stockout=stockout, actor=agent,
                                                      expected_state="refund"),
        lambda: case_reopen(case=case, actor=supervisor, reason="买家申请复核",
                            expected_state="closed"),
    ])
    stockout.refresh_from_db()
    case.refresh_from_db()
    assert outcomes[1].ok, describe(outcomes)  # the reopen never waits on the stock-out
    assert case.state == CaseState.REQUESTED
    if not outcomes[0].ok:
        assert isinstance(outcomes[0].error, ActionNotAllowed), describe(outcomes)
    assert stockout.state == "refund" and stockout.case_id == case.pk
    sent_back = StockOutEvent.objects.filter(stockout=stockout, transition="refund_fell_through")
    taken_back = StockOutEvent.objects.filter(stockout=stockout, transition="refund_reopened")
    assert sent_back.count() == taken_back.count() == (1 if outcomes[0].ok else 0)


def test_a_refund_closed_unpaid_sent_back_twice_at_once_moves_once(shop, warehouse, agent,
                                                                  supervisor):
    from tests.services.race import describe, race

    stockout, _case = _refund_closed_unpaid(shop, warehouse, agent)
    outcomes = race([
        lambda: services.stockout_refund_fell_through(stockout=stockout, actor=agent,
                                                      expected_state="refund"),
        lambda: services.stockout_refund_fell_through(stockout=stockout, actor=supervisor,
                                                      expected_state="refund"),
    ])
    assert sum(o.ok for o in outcomes) == 1, describe(outcomes)
    assert isinstance(next(o.error for o in outcomes if not o.ok), services.StockOutChanged)
    assert StockOutEvent.objects.filter(stockout=stockout,
                                        transition="refund_fell_through").count() == 1
