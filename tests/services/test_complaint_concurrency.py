"""Complaints and the money rule when two people act at once (PostgreSQL's row locks)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from refunds.exceptions import AmountError
from refunds.models import Complaint, ComplaintEvent
from refunds.services import complaints as svc
from refunds.services.cases import case_agree
from refunds.services.complaints import ComplaintChanged
from refunds.services.money import refundable_amount
from tests.factories import OrderFactory, make_case
from tests.services.test_complaints import record

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks"),
    pytest.mark.django_db(transaction=True),
]


def test_two_rulings_at_once_one_wins_the_other_is_told(shop, agent, supervisor, manager):
    from tests.services.race import describe, race

    complaint = record(OrderFactory(shop=shop), agent)
    outcomes = race([
        lambda: svc.complaint_rule_for_shop(complaint=complaint, actor=supervisor,
                                            ruling="驳回", expected_state="open"),
        lambda: svc.complaint_rule_for_buyer(complaint=complaint, actor=manager,
                                             ruling="支持买家", refund_amount="10.00",
                                             expected_state="open"),
    ])
    assert sum(o.ok for o in outcomes) == 1, describe(outcomes)
    assert isinstance(next(o.error for o in outcomes if not o.ok), ComplaintChanged)
    assert ComplaintEvent.objects.filter(complaint=complaint, kind="transition").count() == 1


def test_a_ruling_and_a_refund_on_one_order_at_once_never_pay_past_what_was_paid(
        shop, agent, supervisor, manager):
    """¥188 paid: a refund of ¥150 and a ruling paying ¥50 cannot both be recorded."""
    from tests.services.race import describe, race

    order = OrderFactory(shop=shop)
    case = make_case(order=order, amount="150.00")
    complaint = record(order, agent)
    outcomes = race([
        lambda: case_agree(case=case, actor=supervisor),
        lambda: svc.complaint_rule_for_buyer(complaint=complaint, actor=manager,
                                             ruling="支持买家", refund_amount="50.00"),
    ])
    assert sum(o.ok for o in outcomes) == 1, describe(outcomes)
    assert isinstance(next(o.error for o in outcomes if not o.ok), AmountError)
    assert refundable_amount(order) in (Decimal("38.00"), Decimal("138.00"))


def test_one_complaint_number_recorded_twice_at_once_is_recorded_once(shop, agent, supervisor):
    from tests.services.race import describe, race

    first, second = OrderFactory(shop=shop), OrderFactory(shop=shop)
    outcomes = race([lambda: record(first, agent, platform_reference="TS-RACE"),
                     lambda: record(second, supervisor, platform_reference="TS-RACE")])
    assert sum(o.ok for o in outcomes) == 1, describe(outcomes)
    assert Complaint.objects.filter(platform_reference="TS-RACE").count() == 1
