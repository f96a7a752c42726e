"""Text longer than its column is refused, never cut to fit: every service that stores text a
person or a file gave it says so and changes nothing; text exactly as long as the column is
kept whole. (The forms check the same lengths; these are the callers without a form.)"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds.exceptions import ActionNotAllowed
from refunds.models import (
    Case,
    CaseEvent,
    CaseKind,
    CaseReason,
    Compensation,
    CompensationKind,
    Exchange,
    FollowUpEvent,
    Payout,
    PayoutRoute,
    Refund,
    RefundDeduction,
    ReturnParcel,
    Review,
)
from refunds.services import cases as case_svc
from refunds.services import compensation as comp_svc
from refunds.services import exchanges as exchange_svc
from refunds.services import payouts as payout_svc
from refunds.services.followups import followup_create
from refunds.services.warehouse import parcel_register_unmatched
from tests.factories import OrderFactory, make_case, make_staff


def written() -> tuple:
    """Everything these services write, to show a refused call wrote none of it."""
    return (
        list(Case.objects.order_by("pk").values_list(
            "state", "refusal_reason", "return_carrier", "return_tracking_no")),
        CaseEvent.objects.count(),
        list(Refund.objects.order_by("pk").values_list("status", "payment_reference",
                                                       "failure_reason")),
        RefundDeduction.objects.count(),
        list(Payout.objects.order_by("pk").values_list("state", "payment_reference",
                                                       "failure_reason", "route", "account")),
        list(Compensation.objects.order_by("pk").values_list("state", "decline_reason",
                                                             "payment_reference")),
        list(Exchange.objects.order_by("pk").values_list(
            "replacement_title", "replacement_sku", "buyer_settled_reference", "carrier")),
        ReturnParcel.objects.count(),
        Review.objects.count(),
        FollowUpEvent.objects.count(),
    )


def refused(call, limit: int) -> None:
    before = written()
    with pytest.raises(ActionNotAllowed, match=f"too long: {limit + 1} characters, "
                                               f"at most {limit}"):
        call("字" * (limit + 1))
    assert written() == before


@pytest.fixture
def requested(shop):
    return make_case(order=OrderFactory(shop=shop), amount="100.00")


@pytest.fixture
def refund_pending(shop, agent):
    return case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop), amount="100.00"),
                               actor=agent)


@pytest.fixture
def agent2(roles, shop):
    return make_staff("agent2", "agent", shop, staff_number="A1002")


def returned(shop, kind=CaseKind.RETURN) -> Case:
    case = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("188.00")), kind=kind,
                     reason=CaseReason.SIZE, amount="188.00")
    case = case_svc.case_agree(case=case, actor=None)
    case = case_svc.case_record_return_shipment(case=case, actor=None, carrier="中通",
                                                tracking_no="ZT1")
    return case_svc.case_receive(case=case, actor=None, resellable=True)


# --- the case and its refund ------------------------------------------------------------------


def test_refusal_reason(requested, agent):
    refused(lambda text: case_svc.case_refuse(case=requested, actor=agent, reason=text), 200)
    case_svc.case_refuse(case=requested, actor=agent, reason="字" * 200)
    assert Case.objects.get(pk=requested.pk).refusal_reason == "字" * 200


def test_return_carrier_and_tracking_number(shop, agent):
    case = case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop),
                                              kind=CaseKind.RETURN), actor=agent)
    refused(lambda text: case_svc.case_record_return_shipment(
        case=case, actor=None, carrier=text, tracking_no="SF1"), 50)
    refused(lambda text: case_svc.case_record_return_shipment(
        case=case, actor=None, carrier="顺丰", tracking_no="9" * len(text)), 64)
    case_svc.case_record_return_shipment(case=case, actor=None, carrier="字" * 50,
                                         tracking_no="9" * 64)
    assert Case.objects.values_list("return_carrier", "return_tracking_no").get(
        pk=case.pk) == ("字" * 50, "9" * 64)


def test_deduction_reason(shop, agent):
    case = returned(shop)
    refused(lambda text: case_svc.case_approve_refund(case=case, actor=agent,
                                                      deductions=[(text, "5.00")]), 200)
    case_svc.case_approve_refund(case=case, actor=agent, deductions=[("字" * 200, "5.00")])
    assert RefundDeduction.objects.get().reason == "字" * 200


@pytest.mark.parametrize("case_service, payout_service, argument, field, limit", [
    (case_svc.case_mark_refunded, payout_svc.payout_mark_paid, "payment_reference",
     "payment_reference", 100),
    (case_svc.case_mark_refund_failed, payout_svc.payout_mark_failed, "reason",
     "failure_reason", 200),
])
def test_what_finance_writes_on_a_refund(refund_pending, finance, case_service, payout_service,
                                         argument, field, limit):
    """From the case page and from the finance page: the refund's and its payout's text."""
    refused(lambda text: case_service(case=refund_pending, actor=finance, **{argument: text}),
            limit)
    payout = Payout.objects.get(case=refund_pending)
    refused(lambda text: payout_service(payout=payout, actor=finance, **{argument: text}),
            limit)
    payout_service(payout=payout, actor=finance, **{argument: "字" * limit})
    assert getattr(Refund.objects.get(case=refund_pending), field) == "字" * limit
    assert getattr(Payout.objects.get(pk=payout.pk), field) == "字" * limit


def test_alipay_account_of_a_payout(refund_pending, finance):
    payout = Payout.objects.get(case=refund_pending)
    refused(lambda text: payout_svc.payout_change_route(
        payout=payout, actor=finance, route=PayoutRoute.ALIPAY, account=text), 100)
    payout_svc.payout_change_route(payout=payout, actor=finance, route=PayoutRoute.ALIPAY,
                                   account="a" * 100)
    assert Payout.objects.get(pk=payout.pk).account == "a" * 100


# --- compensation -----------------------------------------------------------------------------


def test_compensation_reasons_and_reference(requested, agent, agent2):
    def propose(reason, kind=CompensationKind.POSTAGE):
        return comp_svc.compensation_propose(case=requested, actor=agent, kind=kind,
                                             amount="5.00", reason=reason)

    refused(propose, 500)
    declined = propose("运费")
    refused(lambda text: comp_svc.compensation_decline(compensation=declined, actor=agent2,
                                                       reason=text), 500)
    comp_svc.compensation_decline(compensation=declined, actor=agent2, reason="字" * 500)
    coupon = propose("字" * 500, kind=CompensationKind.COUPON)
    comp_svc.compensation_approve(compensation=coupon, actor=agent2)
    refused(lambda text: comp_svc.compensation_mark_issued(compensation=coupon, actor=agent,
                                                           reference=text), 100)
    comp_svc.compensation_mark_issued(compensation=coupon, actor=agent, reference="券" * 100)
    assert list(Compensation.objects.order_by("pk").values_list(
        "reason", "decline_reason", "payment_reference")) == [
        ("运费", "字" * 500, ""), ("字" * 500, "", "券" * 100)]


# --- exchanges --------------------------------------------------------------------------------


def test_replacement_title_sku_reference_and_carrier(shop, agent, warehouse):
    case = returned(shop, kind=CaseKind.EXCHANGE)

    def choose(title="升级款", sku=""):
        return exchange_svc.exchange_choose_replacement(case=case, actor=agent, title=title,
                                                        sku=sku, price="208.00")

    refused(lambda text: choose(title=text), 200)
    refused(lambda text: choose(sku=text), 100)
    choose(title="字" * 200, sku="S" * 100)  # dearer: the buyer owes ¥20
    refused(lambda text: exchange_svc.exchange_buyer_paid(case=case, actor=agent,
                                                          reference=text), 100)
    exchange_svc.exchange_buyer_paid(case=case, actor=agent, reference="R" * 100)
    refused(lambda text: exchange_svc.case_ship_replacement(
        case=case, actor=warehouse, carrier=text, tracking_no="SF1"), 50)
    refused(lambda text: exchange_svc.case_ship_replacement(
        case=case, actor=warehouse, carrier="顺丰", tracking_no="9" * len(text)), 64)
    exchange_svc.case_ship_replacement(case=case, actor=warehouse, carrier="字" * 50,
                                       tracking_no="9" * 64)
    assert Exchange.objects.values_list(
        "replacement_title", "replacement_sku", "buyer_settled_reference", "carrier",
        "tracking_no").get() == ("字" * 200, "S" * 100, "R" * 100, "字" * 50, "9" * 64)


# --- the warehouse and the reviews ------------------------------------------------------------


def test_carrier_of_an_unmatched_parcel(shop, warehouse):
    refused(lambda text: parcel_register_unmatched(shop=shop, actor=warehouse,
                                                   tracking_no="SF9", carrier=text), 50)
    parcel_register_unmatched(shop=shop, actor=warehouse, tracking_no="SF9", carrier="字" * 50)
    assert ReturnParcel.objects.get().carrier == "字" * 50


def test_item_title_of_a_review_followed_up_by_hand(shop, agent):
    order = OrderFactory(shop=shop)

    def create(title):
        return followup_create(shop=shop, order=order, rating="bad", item_title=title,
                               content="", posted_at=timezone.now() - timedelta(hours=1),
                               category="", actor=agent)

    refused(create, 200)
    create("字" * 200)
    assert Review.objects.get().item_title == "字" * 200


def test_the_message_names_the_field_in_the_users_language(requested, agent):
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(ActionNotAllowed) as refusal:
        case_svc.case_refuse(case=requested, actor=agent, reason="字" * 201)
    assert str(refusal.value.message) == "拒绝原因过长：201 个字符，最多 200 个。"

