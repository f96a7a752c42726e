"""Deadlines per shop policy (DOMAIN.md's table), checked with time-machine."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from refunds.models import Case, CaseKind
from refunds.selectors import due_filter
from refunds.services import cases as svc
from tests.factories import OrderFactory, make_case

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def traveller():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_request_on_unshipped_order_is_due_in_policy_days(shop, traveller):
    order = OrderFactory(shop=shop, unshipped=True, paid_amount=Decimal("300.00"))
    case = make_case(order=order, amount="300.00")
    assert case.deadline_at == T0 + timedelta(days=2)
    assert (case.deadline_owner, case.deadline_rule) == ("shop", "agree_unshipped_days")


def test_request_on_shipped_order_is_due_in_policy_days(shop, traveller):
    case = make_case(order=OrderFactory(shop=shop))
    assert case.deadline_at == T0 + timedelta(days=5)
    assert case.deadline_rule == "agree_shipped_days"


def test_policy_change_applies_to_new_deadlines(shop, traveller):
    shop.policy.agree_shipped_days = 3
    shop.policy.save()
    case = make_case(order=OrderFactory(shop=shop))
    assert case.deadline_at == T0 + timedelta(days=3)


def test_each_state_has_its_owner_and_rule(shop, agent, warehouse, finance, traveller):
    case = make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN)

    traveller.shift(timedelta(hours=3))
    case = svc.case_agree(case=case, actor=agent)
    assert case.deadline_at == T0 + timedelta(hours=3, days=7)
    assert (case.deadline_owner, case.deadline_rule) == ("buyer", "buyer_return_days")

    traveller.shift(timedelta(days=1))
    shipped_at = T0 + timedelta(days=1, hours=3)
    case = svc.case_record_return_shipment(case=case, actor=agent, carrier="顺丰",
                                           tracking_no="SF1")
    assert case.deadline_at == shipped_at + timedelta(days=10)
    assert (case.deadline_owner, case.deadline_rule) == ("warehouse", "confirm_receipt_days")

    traveller.shift(timedelta(days=2))
    case = svc.case_receive(case=case, actor=warehouse, resellable=True)
    # The platform's confirm-receipt clock still runs from the buyer's shipment.
    assert case.deadline_at == shipped_at + timedelta(days=10)
    assert case.deadline_owner == "shop"

    traveller.shift(timedelta(hours=1))
    case = svc.case_approve_refund(case=case, actor=agent)
    assert case.deadline_at == T0 + timedelta(days=3, hours=4) + timedelta(days=1)
    assert (case.deadline_owner, case.deadline_rule) == ("finance", "payout_days")

    case = svc.case_mark_refunded(case=case, actor=finance, payment_reference="ALI")
    assert (case.deadline_at, case.deadline_owner, case.deadline_rule) == (None, "", "")


def test_refused_request_gives_the_buyer_policy_days(shop, agent, traveller):
    shop.policy.buyer_modify_days = 4
    shop.policy.save()
    case = make_case(order=OrderFactory(shop=shop))
    traveller.shift(timedelta(hours=5))
    case = svc.case_refuse(case=case, actor=agent, reason="凭证不足")
    assert case.deadline_at == T0 + timedelta(hours=5, days=4)
    assert (case.deadline_owner, case.deadline_rule) == ("buyer", "buyer_modify_days")


def test_buyer_modification_restarts_the_shop_clock(shop, agent, traveller):
    case = make_case(order=OrderFactory(shop=shop))
    case = svc.case_refuse(case=case, actor=agent, reason="凭证不足")
    traveller.shift(timedelta(days=2))
    case = svc.case_buyer_modify(case=case, actor=agent)
    assert case.deadline_at == T0 + timedelta(days=2 + 5)


def test_closed_case_has_no_deadline(shop, agent, traveller):
    case = svc.case_close(case=make_case(order=OrderFactory(shop=shop)), actor=agent,
                          reason="withdrawn")
    assert case.deadline_at is None


def test_overdue_and_due_soon_filters_follow_the_clock(shop, traveller):
    case = make_case(order=OrderFactory(shop=shop))  # due T0 + 5 days
    cases = Case.objects.all()
    assert not cases.filter(due_filter("overdue")).exists()
    assert not cases.filter(due_filter("24h")).exists()
    traveller.shift(timedelta(days=4, hours=1))
    assert list(cases.filter(due_filter("24h"))) == [case]
    traveller.shift(timedelta(days=1))
    assert list(cases.filter(due_filter("overdue"))) == [case]
    assert not cases.filter(due_filter("24h")).exists()
