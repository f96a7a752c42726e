"""Disputes (平台介入): the platform arbitrates, the shop must submit its evidence within 5
working days (DOMAIN.md: "dispute opened | shop submits evidence | 5 working days | ruled
against the shop"), and the platform's ruling binds."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from refunds.exceptions import ActionNotAllowed, AmountError
from refunds.models import (
    CalendarDay,
    Case,
    CaseEvent,
    CaseState,
    CloseReason,
    Payout,
    PayoutState,
    Refund,
    RefundStatus,
)
from refunds.services import cases as svc
from refunds.services.money import refundable_amount
from tests.factories import OrderFactory, make_case

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPENED = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)  # a Monday
EVIDENCE_DUE = OPENED + timedelta(days=7)  # 5 working days: the next Monday


@pytest.fixture
def clock():
    with time_machine.travel(OPENED, tick=False) as traveller:
        yield traveller


def refused_case(shop, amount="188.00", **order) -> Case:
    case = make_case(order=OrderFactory(shop=shop, **order), amount=amount)
    return svc.case_refuse(case=case, actor=None, reason="凭证不足")


def disputed(shop, agent, **kwargs) -> Case:
    return svc.case_open_dispute(case=refused_case(shop, **kwargs), actor=agent,
                                 note="买家申请平台介入，纠纷单号 JF001")


def test_a_dispute_waits_for_the_shops_evidence_for_five_working_days(shop, agent, clock):
    case = disputed(shop, agent)
    assert case.state == CaseState.IN_DISPUTE
    assert case.dispute_opened_at == OPENED
    assert (case.deadline_at, case.deadline_owner, case.deadline_rule) == (
        EVIDENCE_DUE, "shop", "dispute_evidence_working_days")
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert (event.transition, event.from_state, event.to_state, event.actor) == (
        "open_dispute", "refused", "in_dispute", agent)
    assert event.note == "买家申请平台介入，纠纷单号 JF001"


def test_holidays_push_the_evidence_deadline(shop, agent, clock):
    CalendarDay.objects.create(date=date(2026, 11, 3), working=False, name="假日")
    case = disputed(shop, agent)
    assert case.deadline_at == EVIDENCE_DUE + timedelta(days=1)


def test_a_dispute_needs_to_say_what_is_disputed(shop, agent):
    case = refused_case(shop)
    with pytest.raises(ActionNotAllowed, match="Say what the buyer disputes"):
        svc.case_open_dispute(case=case, actor=agent, note="   ")
    assert Case.objects.get(pk=case.pk).state == CaseState.REFUSED


def test_submitting_evidence_ends_the_shops_deadline_and_more_can_follow(shop, agent, clock):
    case = disputed(shop, agent)
    clock.move_to(OPENED + timedelta(days=1))
    case = svc.case_submit_dispute_evidence(case=case, actor=agent, note="聊天记录、质检照片")
    assert case.state == CaseState.IN_DISPUTE
    first = case.dispute_evidence_at
    assert first == OPENED + timedelta(days=1)
    assert (case.deadline_at, case.deadline_owner, case.deadline_rule) == (None, "", "")

    clock.move_to(OPENED + timedelta(days=2))
    case = svc.case_submit_dispute_evidence(case=case, actor=agent, note="补充物流凭证")
    assert case.dispute_evidence_at == first  # the deadline was met the first time
    notes = list(CaseEvent.objects.filter(case=case, transition="submit_dispute_evidence")
                 .values_list("note", flat=True))
    assert notes == ["聊天记录、质检照片", "补充物流凭证"]
    with pytest.raises(ActionNotAllowed, match="Say what evidence"):
        svc.case_submit_dispute_evidence(case=case, actor=agent, note="")


def test_ruled_for_the_buyer_records_the_platforms_refund_once(shop, agent, supervisor):
    case = disputed(shop, agent, paid_amount=Decimal("188.00"))
    case = svc.case_dispute_for_buyer(case=case, actor=supervisor, amount="150.00",
                                      note="平台判定支持买家")
    assert case.state == CaseState.REFUNDED
    [refund] = Refund.objects.filter(case=case)
    assert (refund.amount, refund.status, refund.payment_reference) == (
        Decimal("150.00"), RefundStatus.PAID, "PLATFORM")
    # finance must not pay what the platform already paid
    assert not Payout.objects.filter(refund=refund).exclude(state=PayoutState.PAID).exists()
    assert refundable_amount(case.order) == Decimal("38.00")
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert (event.transition, event.actor, event.data["by_platform"]) == (
        "dispute_for_buyer", supervisor, True)


def test_ruled_for_the_buyer_defaults_to_the_requested_amount(shop, agent, supervisor):
    case = disputed(shop, agent, amount="120.00", paid_amount=Decimal("188.00"))
    svc.case_dispute_for_buyer(case=case, actor=supervisor)
    assert Refund.objects.get(case=case).amount == Decimal("120.00")


def test_a_ruling_never_records_more_than_the_buyer_paid(shop, agent, supervisor):
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    case = svc.case_refuse(case=make_case(order=order, amount="150.00"), actor=None,
                           reason="凭证不足")
    case = svc.case_open_dispute(case=case, actor=agent, note="平台介入")
    other = make_case(order=order, amount="100.00")
    svc.case_agree(case=other, actor=supervisor)  # ¥100 committed: ¥88 left on the order
    with pytest.raises(AmountError):
        svc.case_dispute_for_buyer(case=case, actor=supervisor)
    with pytest.raises(AmountError):
        svc.case_dispute_for_buyer(case=case, actor=supervisor, amount="160.00")  # > asked
    case.refresh_from_db()
    assert case.state == CaseState.IN_DISPUTE
    assert not Refund.objects.filter(case=case).exists()
    svc.case_dispute_for_buyer(case=case, actor=supervisor, amount="88.00")
    assert refundable_amount(order) == Decimal("0.00")


def test_ruled_for_the_shop_closes_the_request(shop, agent, supervisor):
    case = svc.case_dispute_for_shop(case=disputed(shop, agent), actor=supervisor,
                                     note="平台判定卖家胜诉")
    assert (case.state, case.close_reason) == (CaseState.CLOSED, CloseReason.PLATFORM_RULING)
    assert not Refund.objects.filter(case=case).exists()
    assert case.deadline_at is None


def test_two_people_recording_a_ruling_at_once_one_wins(shop, agent, supervisor):
    case = disputed(shop, agent)
    stale = Case.objects.get(pk=case.pk)
    svc.case_dispute_for_shop(case=case, actor=supervisor, expected_state="in_dispute")
    with pytest.raises(Exception) as raised:
        svc.case_dispute_for_buyer(case=stale, actor=supervisor, expected_state="in_dispute")
    assert type(raised.value).__name__ == "CaseChanged"
    assert not Refund.objects.filter(case=case).exists()


# --- ruled: the buyer returns the goods first (退货退款) ---------------------------------


def test_a_return_first_ruling_awaits_the_parcel_then_refunds_as_any_return(shop, agent,
                                                                           supervisor,
                                                                           warehouse, clock):
    from refunds.models import CaseKind

    case = make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN, amount="188.00")
    case = svc.case_refuse(case=case, actor=agent, reason="凭证不足")
    case = svc.case_open_dispute(case=case, actor=agent, note="买家申请平台介入")
    assert case.return_address == ""
    case = svc.case_dispute_return_first(case=case, actor=supervisor, note="平台判定退货退款")
    assert case.state == CaseState.AWAITING_RETURN
    assert case.return_address == shop.policy.return_address
    assert (case.deadline_owner, case.deadline_rule) == ("buyer", "buyer_return_days")
    assert not Refund.objects.filter(case=case).exists()  # no money before the goods
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert (event.transition, event.from_state, event.to_state, event.actor) == (
        "dispute_return_first", "in_dispute", "awaiting_return", supervisor)
    case = svc.case_record_return_shipment(case=case, actor=agent, carrier="中通",
                                           tracking_no="ZT100")
    case = svc.case_receive(case=case, actor=warehouse, resellable=True)
    case = svc.case_approve_refund(case=case, actor=supervisor)
    assert case.state == CaseState.REFUND_PENDING
    assert Refund.objects.get(case=case).amount == Decimal("188.00")


def test_a_parcel_sent_before_the_dispute_is_awaited_not_asked_for_again(shop, agent,
                                                                        supervisor, clock):
    from refunds.models import CaseKind

    case = make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN, amount="188.00")
    case = svc.case_agree(case=case, actor=agent)
    case = svc.case_record_return_shipment(case=case, actor=agent, carrier="中通",
                                           tracking_no="ZT200")
    case = svc.case_open_dispute(case=case, actor=agent, note="买家称已寄回，卖家未签收")
    case = svc.case_dispute_return_first(case=case, actor=supervisor)
    assert case.state == CaseState.RETURN_IN_TRANSIT
    assert case.return_tracking_no == "ZT200"
    assert case.deadline_owner == "warehouse"


def test_a_refund_only_request_has_no_goods_to_return_first(shop, agent, supervisor, clock):
    case = disputed(shop, agent)
    with pytest.raises(ActionNotAllowed):
        svc.case_dispute_return_first(case=case, actor=supervisor)
    assert Case.objects.get(pk=case.pk).state == CaseState.IN_DISPUTE
    assert not CaseEvent.objects.filter(case=case, transition="dispute_return_first").exists()
