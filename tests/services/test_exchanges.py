"""After inspection: refunds with deduction lines, return postage by reason, and exchanges
(换货): the replacement, the difference settled both ways (多退少补), shipped, completed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from refunds.exceptions import ActionNotAllowed, AmountError, PermissionDeniedError
from refunds.models import (
    Case,
    CaseEvent,
    CaseKind,
    CaseReason,
    CaseState,
    CloseReason,
    EventKind,
    Exchange,
    Payout,
    PayoutKind,
    PayoutState,
    Refund,
    RefundDeduction,
)
from refunds.services import cases as case_svc
from refunds.services import exchanges as svc
from refunds.services import payouts as payout_svc
from refunds.services.money import money_breakdown, refundable_amount
from tests.factories import OrderFactory, make_case, make_staff


def received(shop, kind=CaseKind.EXCHANGE, reason=CaseReason.SIZE, paid="188.00",
             amount="188.00") -> Case:
    order = OrderFactory(shop=shop, paid_amount=Decimal(paid))
    case = make_case(order=order, kind=kind, reason=reason, amount=amount)
    case = case_svc.case_agree(case=case, actor=None)
    case = case_svc.case_record_return_shipment(case=case, actor=None, carrier="中通",
                                                tracking_no="ZT1")
    return case_svc.case_receive(case=case, actor=None, resellable=True)


def state_of(case) -> str:
    return Case.objects.values_list("state", flat=True).get(pk=case.pk)


# --- deductions -------------------------------------------------------------------------------


def test_refund_after_return_keeps_deductions_as_lines_with_reasons(shop, agent):
    case = received(shop, kind=CaseKind.RETURN)
    case = case_svc.case_approve_refund(case=case, actor=agent, deductions=[
        ("天猫技术服务费 5%", "9.40"), ("发票未退回 税点", "5.00")])
    refund = Refund.objects.get(case=case)
    assert refund.amount == Decimal("173.60")
    assert [(d.reason, d.amount) for d in refund.deductions.all()] == [
        ("天猫技术服务费 5%", Decimal("9.40")), ("发票未退回 税点", Decimal("5.00"))]
    event = CaseEvent.objects.get(case=case, transition="approve_refund")
    assert event.data["before_deductions"] == "188.00" and len(event.data["deductions"]) == 2
    assert Payout.objects.get(refund=refund).amount == Decimal("173.60")
    assert refundable_amount(case.order) == Decimal("14.40")  # kept, still the buyer's money


@pytest.mark.parametrize("deductions,error", [
    ([("", "5.00")], ActionNotAllowed),          # no reason
    ([("手续费", "0")], AmountError),             # not an amount kept
    ([("手续费", "188.00")], AmountError),        # nothing left to refund
    ([("a", "100"), ("b", "88")], AmountError),
    ([("手续费", "1.234")], AmountError),
])
def test_bad_deductions_change_nothing(shop, agent, deductions, error):
    case = received(shop, kind=CaseKind.RETURN)
    with pytest.raises(error):
        case_svc.case_approve_refund(case=case, actor=agent, deductions=deductions)
    assert state_of(case) == CaseState.RECEIVED
    assert not Refund.objects.filter(case=case).exists()
    assert not RefundDeduction.objects.exists()


def test_deductions_come_off_a_chosen_amount(shop, agent):
    case = received(shop, kind=CaseKind.RETURN)
    case_svc.case_approve_refund(case=case, actor=agent, amount="100.00",
                                 deductions=[("手续费", "5.00")])
    assert Refund.objects.get(case=case).amount == Decimal("95.00")


# --- return postage ---------------------------------------------------------------------------


def test_shop_pays_return_postage_for_a_quality_problem(shop, agent, finance):
    case = received(shop, kind=CaseKind.RETURN, reason=CaseReason.QUALITY)
    payout = svc.return_postage_settle(case=case, actor=agent, amount="12.00")
    assert (payout.kind, payout.amount, payout.state) == (PayoutKind.POSTAGE, Decimal("12.00"),
                                                          "pending")
    assert money_breakdown(case.order)["reimbursements"] == Decimal("12.00")
    assert CaseEvent.objects.filter(case=case, kind="payout", transition="postage").count() == 1
    with pytest.raises(ActionNotAllowed, match="already settled"):
        svc.return_postage_settle(case=case, actor=agent, amount="12.00")
    payout_svc.payout_mark_paid(payout=payout, actor=finance, payment_reference="ALI-P")
    assert money_breakdown(case.order)["reimbursements_paid"] == Decimal("12.00")


def test_buyer_pays_return_postage_for_no_reason_and_insurer_where_insured(shop, agent):
    no_reason = received(shop, kind=CaseKind.RETURN, reason=CaseReason.NO_REASON)
    assert svc.return_postage_settle(case=no_reason, actor=agent, amount="12.00") is None
    assert "paid by the buyer" in CaseEvent.objects.filter(case=no_reason, kind="note").last().note
    insured = received(shop, kind=CaseKind.RETURN, reason=CaseReason.QUALITY)
    assert svc.return_postage_settle(case=insured, actor=agent, freight_insurance=True) is None
    assert "运费险" in CaseEvent.objects.filter(case=insured, kind="note").last().note
    assert not Payout.objects.filter(kind=PayoutKind.POSTAGE).exists()


def test_postage_rules_come_from_the_policy(shop, agent):
    shop.policy.shop_pays_return_postage = ["size"]
    shop.policy.save()
    case = received(shop, kind=CaseKind.RETURN, reason=CaseReason.SIZE)
    assert svc.return_postage_settle(case=case, actor=agent, amount="10.00") is not None


def test_postage_is_checked_against_the_money_rule_and_the_state(shop, agent):
    case = received(shop, kind=CaseKind.RETURN, reason=CaseReason.QUALITY)
    case_svc.case_approve_refund(case=case, actor=agent)  # all 188 committed
    with pytest.raises(AmountError, match="still refundable"):
        svc.return_postage_settle(case=case, actor=agent, amount="12.00")
    with pytest.raises(ActionNotAllowed, match="Enter"):
        svc.return_postage_settle(case=received(shop, kind=CaseKind.RETURN,
                                                reason=CaseReason.QUALITY), actor=agent)
    early = case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop),
                                               kind=CaseKind.RETURN, reason=CaseReason.QUALITY),
                                actor=None)
    with pytest.raises(ActionNotAllowed, match="back"):
        svc.return_postage_settle(case=early, actor=agent, amount="12.00")
    assert not Payout.objects.filter(kind=PayoutKind.POSTAGE).exists()


@pytest.mark.parametrize("role", ["warehouse", "finance"])
def test_postage_is_decided_by_after_sales(request, shop, role):
    case = received(shop, kind=CaseKind.RETURN, reason=CaseReason.QUALITY)
    with pytest.raises(PermissionDeniedError):
        svc.return_postage_settle(case=case, actor=request.getfixturevalue(role),
                                  amount="12.00")


# --- exchanges --------------------------------------------------------------------------------


def test_cheaper_replacement_the_shop_pays_the_difference(shop, agent, warehouse, finance):
    case = received(shop)
    exchange = svc.exchange_choose_replacement(case=case, actor=agent, title="同款 M 码",
                                               sku="TS-M", price="150.00")
    assert exchange.difference == Decimal("-38.00") and exchange.buyer_owes == 0
    payout = exchange.payout
    assert (payout.kind, payout.amount) == (PayoutKind.EXCHANGE_DIFFERENCE, Decimal("38.00"))
    assert refundable_amount(case.order) == Decimal("150.00")
    case = svc.case_ship_replacement(case=case, actor=warehouse, carrier="顺丰",
                                     tracking_no="sf 555", expected_state="received")
    assert case.state == CaseState.REPLACEMENT_SHIPPED and case.deadline_at is None
    exchange.refresh_from_db()
    assert (exchange.carrier, exchange.tracking_no) == ("顺丰", "SF555")
    case = svc.case_complete_exchange(case=case, actor=agent)
    assert case.state == CaseState.COMPLETED and not case.is_open
    payout_svc.payout_mark_paid(payout=payout, actor=finance, payment_reference="ALI-D")
    assert money_breakdown(case.order)["reimbursements_paid"] == Decimal("38.00")


def test_dearer_replacement_the_buyer_owes_until_paid(shop, agent, warehouse):
    case = received(shop)
    exchange = svc.exchange_choose_replacement(case=case, actor=agent, title="升级款",
                                               price="208.00")
    assert exchange.buyer_owes == Decimal("20.00") and exchange.payout is None
    assert refundable_amount(case.order) == Decimal("188.00")  # nothing paid out
    with pytest.raises(ActionNotAllowed, match="still owes"):
        svc.case_ship_replacement(case=case, actor=warehouse, carrier="顺丰", tracking_no="SF1")
    assert state_of(case) == CaseState.RECEIVED
    with pytest.raises(ActionNotAllowed):
        svc.exchange_buyer_paid(case=case, actor=agent, reference=" ")
    svc.exchange_buyer_paid(case=case, actor=agent, reference="补差价 2026112201")
    with pytest.raises(ActionNotAllowed, match="already"):
        svc.exchange_buyer_paid(case=case, actor=agent, reference="again")
    svc.case_ship_replacement(case=case, actor=warehouse, carrier="顺丰", tracking_no="SF1")
    assert state_of(case) == CaseState.REPLACEMENT_SHIPPED


def test_same_price_nothing_is_owed(shop, agent):
    case = received(shop)
    exchange = svc.exchange_choose_replacement(case=case, actor=agent, title="同款", price="188")
    assert exchange.difference == 0 and exchange.payout is None and exchange.buyer_owes == 0


def test_replacement_is_chosen_once_for_exchanges_only(shop, agent):
    ret = received(shop, kind=CaseKind.RETURN)
    with pytest.raises(ActionNotAllowed, match="Only an exchange"):
        svc.exchange_choose_replacement(case=ret, actor=agent, title="x", price="1")
    case = received(shop)
    svc.exchange_choose_replacement(case=case, actor=agent, title="x", price="188")
    with pytest.raises(ActionNotAllowed, match="already"):
        svc.exchange_choose_replacement(case=case, actor=agent, title="y", price="100")
    assert Exchange.objects.count() == 1 and not Payout.objects.filter(
        kind=PayoutKind.EXCHANGE_DIFFERENCE).exists()


@pytest.mark.parametrize("price", ["-1", "abc", "", "1.001"])
def test_bad_replacement_price_changes_nothing(shop, agent, price):
    case = received(shop)
    with pytest.raises((ActionNotAllowed, AmountError)):
        svc.exchange_choose_replacement(case=case, actor=agent, title="x", price=price)
    assert not Exchange.objects.exists()


def test_shop_difference_is_checked_against_the_money_rule(shop, agent):
    """The returned goods are worth at most what the buyer still has in the order: with 180
    of 188 refunded on another case, a ¥100 replacement is owed by the buyer, not paid back,
    and a typed value above the 8 left is refused."""
    case = received(shop)
    other = make_case(order=case.order, amount="180.00")
    case_svc.case_agree(case=other, actor=agent)  # 180 of 188 committed
    with pytest.raises(AmountError, match="cannot be worth more than the ¥8.00"):
        svc.exchange_choose_replacement(case=case, actor=agent, title="便宜款", price="100",
                                        returned_value="188")
    assert not Exchange.objects.exists()

    exchange = svc.exchange_choose_replacement(case=case, actor=agent, title="便宜款",
                                               price="100")

    assert (exchange.returned_value, exchange.buyer_owes, exchange.payout) == (
        Decimal("8.00"), Decimal("92.00"), None)
    assert not Payout.objects.filter(kind=PayoutKind.EXCHANGE_DIFFERENCE).exists()


def test_ship_needs_a_chosen_replacement_and_an_exchange(shop, warehouse):
    case = received(shop)
    with pytest.raises(ActionNotAllowed, match="Choose"):
        svc.case_ship_replacement(case=case, actor=warehouse, carrier="顺丰", tracking_no="SF1")
    ret = received(shop, kind=CaseKind.RETURN)
    with pytest.raises(ActionNotAllowed):
        svc.case_ship_replacement(case=ret, actor=warehouse, carrier="顺丰", tracking_no="SF1")
    with pytest.raises(ActionNotAllowed, match="carrier"):
        svc.case_ship_replacement(case=case, actor=warehouse, carrier="", tracking_no="SF1")
    assert state_of(case) == state_of(ret) == CaseState.RECEIVED


@pytest.mark.parametrize("role", ["warehouse", "finance"])
def test_only_after_sales_chooses_the_replacement(request, shop, role):
    case = received(shop)
    with pytest.raises(PermissionDeniedError):
        svc.exchange_choose_replacement(case=case, actor=request.getfixturevalue(role),
                                        title="x", price="188")


def test_nobody_works_another_shops_exchange(shop, roles, other_shop):
    case = received(shop)
    outsider = make_staff("outsider", "manager", other_shop)
    with pytest.raises(PermissionDeniedError):
        svc.exchange_choose_replacement(case=case, actor=outsider, title="x", price="188")
    with pytest.raises(PermissionDeniedError):
        svc.return_postage_settle(case=case, actor=outsider, amount="1")


# --- an exchange that ends otherwise: its difference payout is cancelled ----------------------


def in_transit_exchange(shop, agent, price="150.00"):
    """An exchange whose cheaper replacement was chosen before the parcel is back."""
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    case = make_case(order=order, kind=CaseKind.EXCHANGE, reason=CaseReason.SIZE,
                     amount="188.00")
    case = case_svc.case_agree(case=case, actor=None)
    case = case_svc.case_record_return_shipment(case=case, actor=None, carrier="中通",
                                                tracking_no="ZT1")
    exchange = svc.exchange_choose_replacement(case=case, actor=agent, title="同款 M 码",
                                               price=price)
    return Case.objects.get(pk=case.pk), exchange.payout


def test_a_closed_exchange_leaves_no_difference_to_pay(shop, agent, finance):
    case, payout = in_transit_exchange(shop, agent)
    assert refundable_amount(case.order) == Decimal("150.00")

    case_svc.case_close(case=case, actor=agent, reason=CloseReason.TIMEOUT)

    payout.refresh_from_db()
    assert payout.state == PayoutState.CANCELLED
    assert refundable_amount(case.order) == Decimal("188.00")  # no longer committed
    event = CaseEvent.objects.filter(case=case, kind=EventKind.PAYOUT).latest("id")
    assert (event.transition, event.from_state, event.to_state) == (
        "cancel", "pending", "cancelled")
    with pytest.raises(ActionNotAllowed):
        payout_svc.payout_mark_paid(payout=payout, actor=finance, payment_reference="ALI-1")
    assert payout_svc.payout_batch_export(shop=shop, actor=finance) is None


def test_a_refused_exchange_leaves_no_difference_to_pay(shop, agent):
    case = received(shop)
    payout = svc.exchange_choose_replacement(case=case, actor=agent, title="同款 M 码",
                                             price="150.00").payout
    case_svc.case_refuse(case=case, actor=agent, reason="影响二次销售")
    payout.refresh_from_db()
    assert payout.state == PayoutState.CANCELLED


def test_the_platform_refunding_an_exchange_cancels_the_difference_first(shop, agent):
    case = received(shop)
    payout = svc.exchange_choose_replacement(case=case, actor=agent, title="同款 M 码",
                                             price="150.00").payout
    # the whole 188.00 back: possible only because the 38.00 difference is no longer owed
    case_svc.case_platform_refund(case=case, amount="188.00", reference="PLATFORM")
    payout.refresh_from_db()
    assert payout.state == PayoutState.CANCELLED
    figures = money_breakdown(case.order)
    assert (figures["refunds"], figures["reimbursements"]) == (Decimal("188.00"), Decimal("0"))


def test_an_exported_difference_blocks_the_ending_and_changes_nothing(shop, agent, finance):
    case, payout = in_transit_exchange(shop, agent)
    payout_svc.payout_batch_export(shop=shop, actor=finance)
    events = CaseEvent.objects.filter(case=case).count()
    with pytest.raises(ActionNotAllowed, match="already “Exported”"):
        case_svc.case_close(case=case, actor=agent, reason=CloseReason.TIMEOUT)
    payout.refresh_from_db()
    assert (state_of(case), payout.state) == (CaseState.RETURN_IN_TRANSIT, "exported")
    assert CaseEvent.objects.filter(case=case).count() == events


def test_the_nightly_sweep_cancels_the_difference_of_an_exchange_it_refunds(shop, agent):
    from datetime import timedelta

    from django.utils import timezone

    from refunds.services.sweep import sweep_deadlines

    case, payout = in_transit_exchange(shop, agent)
    other, other_payout = in_transit_exchange(shop, agent, price="100.00")
    Case.objects.filter(pk__in=[case.pk, other.pk]).update(
        deadline_at=timezone.now() - timedelta(minutes=1))

    preview = sweep_deadlines(dry_run=True)  # foresees the same: both refunded
    assert not preview.failures and preview.applied_total == 2
    report = sweep_deadlines()

    assert not report.failures
    assert state_of(case) == state_of(other) == CaseState.REFUNDED  # platform auto-refund
    for each in (payout, other_payout):
        each.refresh_from_db()
        assert each.state == PayoutState.CANCELLED
    assert money_breakdown(case.order)["reimbursements"] == Decimal("0")


def test_an_exchange_that_comes_back_chooses_its_replacement_again(shop, agent, warehouse):
    case = received(shop)
    payout = svc.exchange_choose_replacement(case=case, actor=agent, title="同款 M 码",
                                             price="150.00").payout
    case_svc.case_refuse(case=case, actor=agent, reason="影响二次销售")
    payout.refresh_from_db()
    assert payout.state == PayoutState.CANCELLED
    # the buyer changes the request and sends the goods again
    case = case_svc.case_buyer_modify(case=Case.objects.get(pk=case.pk), actor=agent)
    case = case_svc.case_agree(case=case, actor=agent)
    case = case_svc.case_record_return_shipment(case=case, actor=None, carrier="中通",
                                                tracking_no="ZT2")
    case = case_svc.case_receive(case=case, actor=None, resellable=True)
    with pytest.raises(ActionNotAllowed, match="choose the replacement again"):
        svc.case_ship_replacement(case=case, actor=warehouse, carrier="顺丰", tracking_no="SF1")
    exchange = svc.exchange_choose_replacement(case=case, actor=agent, title="同款 L 码",
                                               price="150.00")
    assert exchange.replacement_title == "同款 L 码" and exchange.payout.state == "pending"
    assert Exchange.objects.filter(case=case).count() == 1
    svc.case_ship_replacement(case=case, actor=warehouse, carrier="顺丰", tracking_no="SF1")
    assert state_of(case) == CaseState.REPLACEMENT_SHIPPED
    assert money_breakdown(case.order)["reimbursements"] == Decimal("38.00")  # once
