"""Parcel inquiries and address changes (快递查询 / 改地址), seeds/004: ask the carrier, note
their staff number, answer the buyer promptly, leave the memo in the seller centre."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from refunds.exceptions import ActionNotAllowed, PermissionDeniedError
from refunds.models import (
    ContactChannel,
    ContactLog,
    ContactOutcome,
    InquiryEvent,
    InquiryEventKind,
    InquiryKind,
    InquiryOutcome,
    InquiryState,
    OrderStatus,
    ParcelInquiry,
)
from refunds.services import inquiries as services
from refunds.services.contacts import ContactBlocked
from tests.factories import OrderFactory, make_case, make_staff


def _open(order, actor, kind=InquiryKind.WHERE, **kwargs):
    kwargs.setdefault("question", "物流三天没更新了")
    return services.inquiry_open(order=order, actor=actor, kind=kind, **kwargs)


def _answer(inquiry, actor, outcome=InquiryOutcome.ON_THE_WAY, **kwargs):
    kwargs.setdefault("answer", "中转站滞留，今天派送")
    kwargs.setdefault("carrier_staff", "851")
    return services.inquiry_record_answer(inquiry=inquiry, actor=actor, outcome=outcome,
                                          **kwargs)


def _tell(inquiry, actor, outcome=ContactOutcome.REACHED, **kwargs):
    return services.inquiry_contact(inquiry=inquiry, actor=actor, channel=ContactChannel.IM,
                                    outcome=outcome, note="已告知买家", **kwargs)


def test_opening_takes_the_orders_parcel_and_sets_the_reply_time(order, agent):
    now = timezone.now()
    order.shop.policy.inquiry_reply_hours = 6
    order.shop.policy.save()
    inquiry = _open(order, agent, now=now)
    assert inquiry.state == InquiryState.OPEN
    assert inquiry.tracking_no == order.tracking_no and inquiry.carrier == order.carrier
    assert inquiry.reply_by == now + timedelta(hours=6)
    event = InquiryEvent.objects.get(inquiry=inquiry)
    assert event.kind == InquiryEventKind.CREATED and event.staff_number == "A1001"
    assert event.note == "物流三天没更新了"


def test_a_typed_tracking_number_is_normalised(order, agent):
    inquiry = _open(order, agent, tracking_no=" sf 1234 5678 ")
    assert inquiry.tracking_no == "SF12345678"


def test_a_parcel_not_shipped_cannot_be_asked_about(unshipped_order, agent):
    with pytest.raises(ActionNotAllowed, match="has not shipped"):
        _open(unshipped_order, agent)
    assert not ParcelInquiry.objects.exists()


def test_an_address_change_needs_the_new_address(unshipped_order, agent):
    with pytest.raises(ActionNotAllowed, match="new address"):
        _open(unshipped_order, agent, kind=InquiryKind.ADDRESS, new_address="  ")
    inquiry = _open(unshipped_order, agent, kind=InquiryKind.ADDRESS,
                    new_address="张三 13800000000 杭州市文三路 1 号")
    assert inquiry.tracking_no == "" and inquiry.new_address.startswith("张三")


def test_no_address_change_once_the_platform_finished_the_order(shop, agent):
    for status in (OrderStatus.COMPLETED, OrderStatus.CLOSED):
        order = OrderFactory(shop=shop, status=status)
        with pytest.raises(ActionNotAllowed):
            _open(order, agent, kind=InquiryKind.ADDRESS, new_address="新地址")
    assert not ParcelInquiry.objects.exists()


def test_no_address_change_once_the_parcel_was_signed_for(order, agent):
    """A signed-for parcel goes nowhere else: the buyer is pointed to "not received"."""
    order.delivered_at = timezone.now() - timedelta(hours=3)
    order.save(update_fields=["delivered_at"])
    with pytest.raises(ActionNotAllowed, match="signed for") as refused:
        _open(order, agent, kind=InquiryKind.ADDRESS, new_address="新地址")
    assert "Shown delivered, not received" in str(refused.value)
    assert not ParcelInquiry.objects.exists()
    # what the buyer may still ask about that parcel
    assert _open(order, agent, kind=InquiryKind.NOT_RECEIVED).kind == InquiryKind.NOT_RECEIVED


def test_one_open_inquiry_of_a_kind_per_order(order, agent):
    first = _open(order, agent)
    with pytest.raises(ActionNotAllowed, match=f"#{first.pk}"):
        _open(order, agent)
    # another kind is another question
    _open(order, agent, kind=InquiryKind.ADDRESS, new_address="新地址")
    services.inquiry_withdraw(inquiry=first, actor=agent, reason="包裹到了")
    assert _open(order, agent).pk != first.pk


def test_another_shops_staff_and_finance_may_not_open(order, agent_b, finance):
    for user in (agent_b, finance):
        with pytest.raises(PermissionDeniedError):
            _open(order, user)
    assert not ParcelInquiry.objects.exists()


def test_the_case_must_be_the_orders(order, shop, agent):
    other_case = make_case(shop=shop)
    with pytest.raises(ActionNotAllowed):
        _open(order, agent, case=other_case)
    case = make_case(order=order)
    assert _open(order, agent, case=case).case == case


def test_asking_the_carrier_records_who_and_when_they_call_back(order, agent):
    now = timezone.now()
    inquiry = _open(order, agent, now=now)
    callback = now + timedelta(hours=3)
    inquiry = services.inquiry_ask_carrier(inquiry=inquiry, actor=agent, carrier_staff="851",
                                           callback_by=callback, note="网点说滞留", now=now)
    assert inquiry.state == InquiryState.WAITING
    assert inquiry.carrier_staff == "851" and inquiry.callback_by == callback
    # called again: a new time
    later = now + timedelta(hours=5)
    inquiry = services.inquiry_ask_carrier(inquiry=inquiry, actor=agent, carrier_staff="852",
                                           callback_by=later, now=now + timedelta(hours=4))
    inquiry.refresh_from_db()
    assert inquiry.state == InquiryState.WAITING and inquiry.callback_by == later
    assert inquiry.carrier_staff == "852"
    assert InquiryEvent.objects.filter(inquiry=inquiry, transition="ask_carrier").count() == 2


@pytest.mark.parametrize("hours, message", [(-1, "past"), (24 * 8, "days away")])
def test_a_callback_time_must_be_soon_and_ahead(order, agent, hours, message):
    now = timezone.now()
    inquiry = _open(order, agent, now=now)
    with pytest.raises(ActionNotAllowed, match=message):
        services.inquiry_ask_carrier(inquiry=inquiry, actor=agent, carrier_staff="851",
                                     callback_by=now + timedelta(hours=hours), now=now)
    inquiry.refresh_from_db()
    assert inquiry.state == InquiryState.OPEN and inquiry.carrier_staff == ""


def test_asking_the_carrier_needs_their_staff_number(order, agent):
    inquiry = _open(order, agent)
    with pytest.raises(ActionNotAllowed, match="快递客服号"):
        services.inquiry_ask_carrier(inquiry=inquiry, actor=agent, carrier_staff=" ",
                                     callback_by=timezone.now() + timedelta(hours=1))


def test_the_answer_must_fit_the_kind_and_name_the_carrier(order, agent):
    inquiry = _open(order, agent)
    with pytest.raises(ActionNotAllowed, match="outcome"):
        _answer(inquiry, agent, outcome=InquiryOutcome.ADDRESS_CHANGED)
    with pytest.raises(ActionNotAllowed, match="快递客服号"):
        _answer(inquiry, agent, carrier_staff="")
    with pytest.raises(ActionNotAllowed, match="answer"):
        _answer(inquiry, agent, answer="  ")
    inquiry.refresh_from_db()
    assert inquiry.state == InquiryState.OPEN and inquiry.outcome == ""


def test_the_staff_number_given_when_asked_serves_the_answer(order, agent):
    inquiry = _open(order, agent)
    services.inquiry_ask_carrier(inquiry=inquiry, actor=agent, carrier_staff="851",
                                 callback_by=timezone.now() + timedelta(hours=1))
    inquiry = _answer(inquiry, agent, carrier_staff="")
    assert inquiry.state == InquiryState.ANSWERED and inquiry.carrier_staff == "851"
    assert inquiry.answered_staff == "A1001"


def test_an_address_changed_before_shipping_needs_no_carrier(unshipped_order, agent):
    inquiry = _open(unshipped_order, agent, kind=InquiryKind.ADDRESS, new_address="新地址")
    with pytest.raises(ActionNotAllowed):
        _answer(inquiry, agent, outcome=InquiryOutcome.ON_THE_WAY, carrier_staff="")
    inquiry = _answer(inquiry, agent, outcome=InquiryOutcome.ADDRESS_CHANGED, carrier_staff="",
                      answer="已在千牛后台修改收货地址")
    assert inquiry.state == InquiryState.ANSWERED and inquiry.carrier_staff == ""


def test_an_address_change_of_a_shipped_parcel_asks_the_carrier(order, agent):
    inquiry = _open(order, agent, kind=InquiryKind.ADDRESS, new_address="新地址")
    with pytest.raises(ActionNotAllowed, match="快递客服号"):
        _answer(inquiry, agent, outcome=InquiryOutcome.ADDRESS_CHANGED, carrier_staff="")


def test_the_buyer_is_told_through_a_contact_after_the_answer(order, agent):
    inquiry = _open(order, agent)
    _tell(inquiry, agent)  # told "we are checking": not the answer
    inquiry = _answer(inquiry, agent, now=timezone.now() + timedelta(seconds=1))
    with pytest.raises(ActionNotAllowed, match="Tell the buyer first"):
        services.inquiry_tell_buyer(inquiry=inquiry, actor=agent)
    _tell(inquiry, agent, outcome=ContactOutcome.NO_ANSWER,
          now=timezone.now() + timedelta(seconds=2))
    with pytest.raises(ActionNotAllowed):
        services.inquiry_tell_buyer(inquiry=inquiry, actor=agent)
    contact = _tell(inquiry, agent, outcome=ContactOutcome.LEFT_MESSAGE,
                    now=timezone.now() + timedelta(seconds=3))
    assert contact.inquiry == inquiry and contact.shop == order.shop
    inquiry = services.inquiry_tell_buyer(inquiry=inquiry, actor=agent,
                                          now=timezone.now() + timedelta(seconds=4))
    assert inquiry.state == InquiryState.CLOSED
    assert inquiry.buyer_told_at is not None and inquiry.closed_at == inquiry.buyer_told_at
    kinds = list(InquiryEvent.objects.filter(inquiry=inquiry).values_list("kind", flat=True))
    assert kinds.count(InquiryEventKind.CONTACT) == 3


def test_a_contact_goes_through_the_harassment_guard(order, agent):
    inquiry = _open(order, agent)
    order.buyer.do_not_contact = True
    order.buyer.save()
    with pytest.raises(ContactBlocked):
        _tell(inquiry, agent)
    assert not ContactLog.objects.exists()
    assert not InquiryEvent.objects.filter(kind=InquiryEventKind.CONTACT).exists()


def test_no_contact_on_a_closed_inquiry(order, agent):
    inquiry = _open(order, agent)
    services.inquiry_withdraw(inquiry=inquiry, actor=agent, reason="买家说收到了")
    with pytest.raises(ActionNotAllowed):
        _tell(inquiry, agent)


def test_withdrawn_only_before_the_answer_and_with_a_reason(order, agent):
    inquiry = _open(order, agent)
    with pytest.raises(ActionNotAllowed, match="Say why"):
        services.inquiry_withdraw(inquiry=inquiry, actor=agent, reason=" ")
    _answer(inquiry, agent)
    with pytest.raises(ActionNotAllowed, match="not possible"):
        services.inquiry_withdraw(inquiry=inquiry, actor=agent, reason="包裹到了")
    inquiry.refresh_from_db()
    assert inquiry.state == InquiryState.ANSWERED


def test_a_stale_page_changes_nothing(order, agent):
    inquiry = _open(order, agent)
    _answer(inquiry, agent)
    with pytest.raises(services.InquiryChanged):
        services.inquiry_withdraw(inquiry=inquiry, actor=agent, reason="x",
                                  expected_state=InquiryState.OPEN)
    assert InquiryEvent.objects.filter(inquiry=inquiry, transition="withdraw").count() == 0


def test_another_shops_agent_cannot_act(order, agent, agent_b):
    inquiry = _open(order, agent)
    with pytest.raises(PermissionDeniedError):
        _answer(inquiry, agent_b)
    with pytest.raises(PermissionDeniedError):
        _tell(inquiry, agent_b)
    inquiry.refresh_from_db()
    assert inquiry.state == InquiryState.OPEN


def test_the_warehouse_reads_but_does_not_handle(order, agent, warehouse):
    inquiry = _open(order, agent)
    assert warehouse.has_perm("refunds.view_parcelinquiry")
    with pytest.raises(PermissionDeniedError):
        _answer(inquiry, warehouse)


def test_the_seller_memo_names_the_day_the_carrier_and_our_staff(order, agent):
    inquiry = _open(order, agent)
    assert services.seller_memo(inquiry) == ""
    inquiry = _answer(inquiry, agent, outcome=InquiryOutcome.DELIVERED,
                      answer="放在门卫室", carrier_staff="302")
    memo = services.seller_memo(inquiry)
    day = timezone.localtime(inquiry.answered_at, services.CHINA)
    assert memo.startswith(f"{day:%m-%d}")
    assert "302" in memo and order.carrier in memo and "放在门卫室" in memo
    assert memo.endswith("A1001")


def test_the_seller_memo_is_in_chinese_whatever_the_staffs_language(order, agent):
    """The memo is read in the seller centre: an English-speaking agent still leaves 中文."""
    inquiry = _answer(_open(order, agent), agent, outcome=InquiryOutcome.DELIVERED,
                      answer="放在门卫室", carrier_staff="302")
    with translation.override("en"):
        memo = services.seller_memo(inquiry)
        assert translation.get_language() == "en"  # the caller's language is left alone
    assert "包裹到哪了（查件）" in memo and "已签收" in memo and memo.endswith("客服 A1001")
    assert "Staff" not in memo


def test_a_lost_parcel_points_at_a_carrier_claim(order, agent):
    inquiry = _answer(_open(order, agent), agent, outcome=InquiryOutcome.LOST, answer="丢件")
    assert inquiry.claim_kind == "lost"
    other = _answer(_open(order, agent, kind=InquiryKind.NOT_RECEIVED), agent)
    assert other.claim_kind == ""


def test_late_and_callback_missed(order, agent):
    now = timezone.now()
    inquiry = _open(order, agent, now=now - timedelta(hours=30))
    assert services.is_late(inquiry, now)
    assert not services.is_late(inquiry, now - timedelta(hours=10))
    inquiry = services.inquiry_ask_carrier(inquiry=inquiry, actor=agent, carrier_staff="1",
                                           callback_by=now + timedelta(hours=1), now=now)
    assert not services.callback_missed(inquiry, now)
    assert services.callback_missed(inquiry, now + timedelta(hours=2))


def test_an_agent_serving_two_shops_sees_each_shops_reply_hours(shop, other_shop, roles):
    both = make_staff("both", "agent", shop, other_shop)
    other_shop.policy.inquiry_reply_hours = 2
    other_shop.policy.save()
    now = timezone.now()
    first = _open(OrderFactory(shop=shop), both, now=now)
    second = _open(OrderFactory(shop=other_shop), both, now=now)
    assert first.reply_by == now + timedelta(hours=24)
    assert second.reply_by == now + timedelta(hours=2)
