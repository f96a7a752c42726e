"""Disputes (平台介入) at their edges: who records a ruling, an exchange whose difference was
paid."""

from __future__ import annotations

from decimal import Decimal

import pytest

from refunds.exceptions import DomainError
from refunds.models import Case, CaseKind, CaseReason, CaseState, CloseReason, Refund
from refunds.services import cases as case_svc
from refunds.services import exchanges as exchange_svc
from refunds.services import payouts as payout_svc
from refunds.services.money import refundable_amount
from tests.factories import OrderFactory, make_case


def _received(shop, kind=CaseKind.EXCHANGE) -> Case:
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    case = make_case(order=order, kind=kind, reason=CaseReason.SIZE, amount="188.00")
    case = case_svc.case_agree(case=case, actor=None)
    case = case_svc.case_record_return_shipment(case=case, actor=None, carrier="中通",
                                                tracking_no="ZT1")
    return case_svc.case_receive(case=case, actor=None, resellable=True)


def test_an_agent_cannot_record_the_ruling_for_the_shop_through_close(shop, agent):
    """Rulings are the supervisors' (record_dispute_ruling). An agent holds close_case, and
    `close` accepts in_dispute: only as withdrawn or a duplicate, never as the platform's
    ruling ("Platform ruled against the buyer")."""
    case = case_svc.case_refuse(case=make_case(order=OrderFactory(shop=shop)), actor=None,
                                reason="凭证不足")
    case = case_svc.case_open_dispute(case=case, actor=agent, note="平台介入 JF001")
    assert not agent.has_perm("refunds.record_dispute_ruling")

    with pytest.raises(DomainError):
        case_svc.case_close(case=case, actor=agent, reason=CloseReason.PLATFORM_RULING,
                            note="平台判定卖家胜诉")

    case = Case.objects.get(pk=case.pk)
    assert case.state == CaseState.IN_DISPUTE


@pytest.mark.parametrize("ruling", ["dispute_for_buyer", "dispute_for_shop"])
def test_a_ruling_on_an_exchange_whose_difference_was_paid_can_be_recorded(
        shop, agent, supervisor, finance, ruling):
    """A cheaper replacement was chosen (多退: ¥88 back to the buyer) and finance paid the
    difference; then the platform stepped in. Its ruling binds and is recorded: the paid
    difference stays counted against what the buyer paid (only one still in a bank file
    stops an exchange from ending)."""
    case = _received(shop)
    exchange = exchange_svc.exchange_choose_replacement(case=case, actor=supervisor,
                                                        title="短袖T恤 M", price="100.00")
    payout_svc.payout_mark_paid(payout=exchange.payout, actor=finance,
                                payment_reference="ALIPAY001")
    case = case_svc.case_open_dispute(case=Case.objects.get(pk=case.pk), actor=agent,
                                      note="平台介入：买家称换货未处理")
    assert refundable_amount(case.order) == Decimal("100.00")

    if ruling == "dispute_for_buyer":  # the platform refunded what the buyer still had in it
        case_svc.case_dispute_for_buyer(case=case, actor=supervisor, amount="100.00")
        assert Refund.objects.get(case=case).amount == Decimal("100.00")
        assert refundable_amount(case.order) == Decimal("0.00")
    else:
        case_svc.case_dispute_for_shop(case=case, actor=supervisor)
    assert Case.objects.get(pk=case.pk).state != CaseState.IN_DISPUTE
