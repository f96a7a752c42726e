"""The buyer's return postage is paid once: as its reimbursement after the inspection or as a
postage compensation (运费补偿), never both — either order, and the page offers the other no
more."""

from __future__ import annotations

from decimal import Decimal

import pytest

from refunds.exceptions import ActionNotAllowed
from refunds.models import CaseKind, CaseReason, CompensationKind, Payout
from refunds.services import cases as case_services
from refunds.services import compensation as compensation_services
from refunds.services import exchanges as exchange_services
from tests.factories import OrderFactory, make_case, make_staff


@pytest.fixture
def colleague(roles, shop):
    return make_staff("agent2", "agent", shop, staff_number="A1002")


@pytest.fixture
def returned(shop):
    """A quality return, back in the warehouse: the shop owes the return postage."""
    case = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("188.00")),
                     kind=CaseKind.RETURN, reason=CaseReason.QUALITY, amount="100.00")
    case = case_services.case_agree(case=case, actor=None)
    case = case_services.case_record_return_shipment(case=case, actor=None, carrier="中通",
                                                     tracking_no="ZT7")
    return case_services.case_receive(case=case, actor=None, resellable=False)


def _postage_compensation(case, agent, colleague):
    compensation = compensation_services.compensation_propose(
        case=case, actor=agent, kind=CompensationKind.POSTAGE, amount="8.00",
        reason="退货运费")
    return compensation_services.compensation_approve(compensation=compensation,
                                                      actor=colleague)


def test_no_postage_compensation_once_the_return_postage_is_reimbursed(returned, agent):
    payout = exchange_services.return_postage_settle(case=returned, actor=agent, amount="8.00")

    with pytest.raises(ActionNotAllowed, match=f"already reimbursed \\(payout #{payout.pk}\\)"):
        compensation_services.compensation_propose(
            case=returned, actor=agent, kind=CompensationKind.POSTAGE, amount="8.00",
            reason="退货运费")
    # other compensation stays possible
    compensation_services.compensation_propose(
        case=returned, actor=agent, kind=CompensationKind.COUPON, amount="5.00",
        reason="致歉券")


def test_no_reimbursement_once_a_postage_compensation_was_made(login, returned, agent,
                                                              colleague):
    _postage_compensation(returned, agent, colleague)
    assert 'id="return-postage"' not in login(agent).get(
        f"/cases/{returned.pk}/").content.decode()

    with pytest.raises(ActionNotAllowed, match="already settled"):
        exchange_services.return_postage_settle(case=returned, actor=agent, amount="8.00")
    assert list(Payout.objects.filter(case=returned).values_list("kind", "amount")) == [
        ("compensation", Decimal("8.00"))]


def test_a_declined_postage_compensation_leaves_the_postage_to_settle(login, returned, agent,
                                                                     colleague):
    compensation = compensation_services.compensation_propose(
        case=returned, actor=agent, kind=CompensationKind.POSTAGE, amount="8.00",
        reason="退货运费")
    compensation_services.compensation_decline(compensation=compensation, actor=colleague,
                                               reason="走运费险")
    assert 'id="return-postage"' in login(agent).get(f"/cases/{returned.pk}/").content.decode()
    assert exchange_services.return_postage_settle(case=returned, actor=agent,
                                                   amount="8.00") is not None


def test_one_postage_compensation_at_a_time(returned, agent, colleague):
    first = _postage_compensation(returned, agent, colleague)

    with pytest.raises(ActionNotAllowed, match=f"already has a postage compensation "
                                               f"\\(#{first.pk}, ¥8.00\\)"):
        compensation_services.compensation_propose(
            case=returned, actor=agent, kind=CompensationKind.POSTAGE, amount="8.00",
            reason="退货运费")


def test_a_paid_postage_compensation_says_it_was_paid(returned, agent, colleague, finance):
    from refunds.services import payouts as payout_services

    first = _postage_compensation(returned, agent, colleague)
    payout_services.payout_mark_paid(payout=first.payout, actor=finance,
                                     payment_reference="ALI-8")

    with pytest.raises(ActionNotAllowed, match=f"already paid as compensation #{first.pk} "
                                               f"\\(¥8.00\\)"):
        compensation_services.compensation_propose(
            case=returned, actor=agent, kind=CompensationKind.POSTAGE, amount="8.00",
            reason="退货运费")


def test_no_postage_compensation_when_the_freight_insurance_pays_it(returned, agent):
    exchange_services.return_postage_settle(case=returned, actor=agent, freight_insurance=True)
    with pytest.raises(ActionNotAllowed, match="paid by the freight insurance"):
        compensation_services.compensation_propose(
            case=returned, actor=agent, kind=CompensationKind.POSTAGE, amount="8.00",
            reason="退货运费")
    compensation_services.compensation_propose(  # other compensation stays possible
        case=returned, actor=agent, kind=CompensationKind.COUPON, amount="5.00",
        reason="致歉券")


def test_a_goodwill_postage_compensation_when_the_buyer_pays_the_postage(shop, agent):
    case = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("188.00")),
                     kind=CaseKind.RETURN, reason=CaseReason.NO_REASON, amount="100.00")
    case = case_services.case_agree(case=case, actor=None)
    case = case_services.case_record_return_shipment(case=case, actor=None, carrier="中通",
                                                     tracking_no="ZT8")
    case = case_services.case_receive(case=case, actor=None, resellable=True)
    exchange_services.return_postage_settle(case=case, actor=agent)  # the buyer's to pay
    compensation = compensation_services.compensation_propose(
        case=case, actor=agent, kind=CompensationKind.POSTAGE, amount="8.00", reason="安抚")
    assert compensation.pk is not None
