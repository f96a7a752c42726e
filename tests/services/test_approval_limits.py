"""Approval limits hold for totals, whichever way the money leaves: refunds split over cases,
compensation in pieces, an exchange's price difference, return postage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from refunds.exceptions import DomainError, PermissionDeniedError
from refunds.models import CaseKind, CaseReason, Compensation, Payout, PayoutKind
from refunds.services import cases as case_svc
from refunds.services import compensation as comp_svc
from refunds.services import exchanges as svc
from tests.factories import OrderFactory, make_case, make_staff
from tests.services.test_exchanges import received


def test_an_agent_cannot_pay_back_an_exchange_difference_above_the_limit(
        shop, agent, supervisor):
    case = received(shop, paid="2000.00", amount="2000.00")  # an exchange; limit 500.00
    with pytest.raises(PermissionDeniedError, match="a supervisor must choose"):
        svc.exchange_choose_replacement(case=case, actor=agent, title="赠品", price="0")
    assert not Payout.objects.filter(case=case).exists()
    exchange = svc.exchange_choose_replacement(case=case, actor=supervisor, title="赠品",
                                               price="0")
    assert exchange.payout.amount == Decimal("2000.00")


def test_an_agent_chooses_a_replacement_within_the_limit(shop, agent):
    case = received(shop, paid="2000.00", amount="2000.00")  # an exchange
    exchange = svc.exchange_choose_replacement(case=case, actor=agent, title="同款",
                                               price="1500.00")
    assert exchange.payout.amount == Decimal("500.00")  # exactly the limit: allowed


@pytest.mark.parametrize("amount, allowed", [("30.00", True), ("30.01", False)])
def test_return_postage_above_the_policys_limit_needs_a_supervisor(shop, agent, supervisor,
                                                                   amount, allowed):
    case = received(shop, kind=CaseKind.RETURN, reason=CaseReason.QUALITY, paid="2000.00",
                    amount="2000.00")
    if allowed:
        assert svc.return_postage_settle(case=case, actor=agent, amount=amount) is not None
        return
    with pytest.raises(PermissionDeniedError, match="a supervisor must approve it"):
        svc.return_postage_settle(case=case, actor=agent, amount=amount)
    assert not Payout.objects.filter(case=case, kind=PayoutKind.POSTAGE).exists()
    assert svc.return_postage_settle(case=case, actor=supervisor, amount=amount) is not None


def test_compensation_in_pieces_still_needs_a_supervisor_for_the_total(shop, agent,
                                                                        supervisor):
    colleague = make_staff("agent2", "agent", shop, staff_number="A1002")
    case = make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN)
    limit = case.order.postage  # 8.00: above it a supervisor approves
    first, second = (comp_svc.compensation_propose(case=case, actor=agent, kind="coupon",
                                                   amount=Decimal("5.00"), reason="补偿")
                     for _ in range(2))
    comp_svc.compensation_approve(compensation=first, actor=colleague)
    with pytest.raises(DomainError, match="makes ¥10.00, above the compensation limit"):
        comp_svc.compensation_approve(compensation=second, actor=colleague)
    assert Compensation.objects.get(pk=second.pk).state == "proposed"
    comp_svc.compensation_approve(compensation=second, actor=supervisor)
    assert Compensation.objects.get(pk=second.pk).state == "approved"
    assert limit == Decimal("8.00")


def test_one_orders_refunds_split_over_cases_add_up_to_the_agents_limit(shop, agent,
                                                                        supervisor):
    order = OrderFactory(shop=shop, paid_amount=Decimal("2000.00"))  # limit 500.00

    def request(amount):
        return case_svc.case_create(shop=shop, order=order, kind=CaseKind.REFUND_ONLY,
                                    reason=CaseReason.QUALITY, requested_amount=amount,
                                    actor=agent)

    case_svc.case_agree(case=request("300.00"), actor=agent)
    second = request("200.00")
    case_svc.case_agree(case=second, actor=agent)  # 500.00 in all: still the agent's
    third = request("100.00")
    with pytest.raises(DomainError, match="¥600.00 on this order .* a supervisor must"):
        case_svc.case_agree(case=third, actor=agent)  # 600.00: the supervisor's
    case_svc.case_agree(case=third, actor=supervisor)



def test_a_reopened_cases_own_earlier_refund_counts_towards_the_limit(shop, agent, supervisor,
                                                                      finance):
    from refunds.models import Case

    order = OrderFactory(shop=shop, paid_amount=Decimal("2000.00"))  # agent limit 500.00
    case = case_svc.case_create(shop=shop, order=order, kind=CaseKind.REFUND_ONLY,
                                reason=CaseReason.QUALITY, requested_amount="400.00",
                                actor=agent)
    case_svc.case_agree(case=case, actor=agent)
    case_svc.case_mark_refunded(case=Case.objects.get(pk=case.pk), actor=finance,
                                payment_reference="ALI-1")
    case_svc.case_reopen(case=Case.objects.get(pk=case.pk), actor=supervisor,
                         reason="复核", requested_amount="400.00")
    with pytest.raises(DomainError, match="¥800.00 on this order"):
        case_svc.case_agree(case=Case.objects.get(pk=case.pk), actor=agent)
