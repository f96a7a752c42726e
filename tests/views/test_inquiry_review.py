"""Review of the parcel inquiries (快递查询 / 改地址): each test shows one defect found in the
change c9f792b..HEAD and fails until it is fixed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from refunds.models import (
    CannedReply,
    Case,
    InquiryKind,
    InquiryOutcome,
    Notification,
    Order,
    OrderStatus,
)
from refunds.services import inquiries as services
from refunds.services.inquiry_sweep import sweep_inquiries
from tests.factories import OrderFactory, make_case
from tests.formparse import form_fields

from .helpers import text
from .test_inquiry_pages import NEW_ADDRESS, _open

pytestmark = pytest.mark.django_db



# --- the carrier-claim prefill (refunds/views/claims.py, _initial_from_inquiry) ----------------


def test_the_claim_prefill_does_not_cut_the_carriers_answer(login, agent, order):
    """`"parcel_status": inquiry.answer[:200]`: an answer longer than the claim's column is
    silently shortened in the form; the house rule is to refuse with a message, never cut."""
    answer = "网点确认丢件：" + "中转站扫描后无下一站记录，" * 20
    assert len(answer) > 200
    inquiry = _open(order, agent, kind=InquiryKind.NOT_RECEIVED)
    services.inquiry_record_answer(inquiry=inquiry, actor=agent, outcome=InquiryOutcome.LOST,
                                   answer=answer, carrier_staff="851")
    page = login(agent).get(f"/carrier-claims/new/?inquiry={inquiry.pk}")
    assert page.status_code == 200
    assert form_fields(text(page), "claim-create-form")["parcel_status"] == answer


def test_a_lost_return_parcel_prefills_a_return_claim(login, agent, order):
    """The open form invites another tracking number ("a return, a replacement"), but the
    prefill always says "shipped to the buyer" with the order's ship date: a return parcel
    the carrier lost is claimed in the wrong direction with the wrong date."""
    case = make_case(order=order)
    shipped_back = timezone.now() - timedelta(days=1)
    Case.objects.filter(pk=case.pk).update(return_tracking_no="YT8800112233",
                                           return_shipped_at=shipped_back)
    inquiry = _open(order, agent, case=Case.objects.get(pk=case.pk),
                    tracking_no="YT8800112233", carrier="圆通速递")
    services.inquiry_record_answer(inquiry=inquiry, actor=agent, outcome=InquiryOutcome.LOST,
                                   answer="退件在网点丢失", carrier_staff="302")
    fields = form_fields(text(login(agent).get(f"/carrier-claims/new/?inquiry={inquiry.pk}")),
                         "claim-create-form")
    assert fields["tracking_no"] == "YT8800112233"
    assert fields["direction"] == "return"
    assert fields["ship_date"] == f"{timezone.localdate(shipped_back):%Y-%m-%d}"


# --- an address change (改地址) ------------------------------------------------------------------


def test_the_orders_to_ship_do_not_show_a_refused_address_change_as_a_new_address(
        login, agent, warehouse, shop):
    """An address that could not be changed keeps its "New address (改地址)" badge (with the
    new address as its title) on the orders to ship until the buyer is told: the warehouse
    is told the opposite of what happened."""
    order = OrderFactory(shop=shop, unshipped=True)
    inquiry = _open(order, agent, kind=InquiryKind.ADDRESS)
    services.inquiry_record_answer(inquiry=inquiry, actor=agent,
                                   outcome=InquiryOutcome.ADDRESS_NOT_CHANGED,
                                   answer="订单已进入拣货，无法修改")
    page = text(login(warehouse).get("/orders/unshipped/"))
    row = page.split(f'<tr data-order="{order.pk}"')[1].split("</tr>")[0]
    assert NEW_ADDRESS not in row
    assert "New address (改地址)" not in row or "Address could not be changed" in row


def test_an_address_change_on_an_order_that_shipped_meanwhile_shows_its_parcel(
        login, agent, unshipped_order):
    """Opened before shipping, the inquiry keeps no tracking number or carrier; once the order
    ships the staff who must now call the carrier read "not shipped" on the inquiry, and the
    memo names no carrier."""
    inquiry = _open(unshipped_order, agent, kind=InquiryKind.ADDRESS)
    Order.objects.filter(pk=unshipped_order.pk).update(
        status=OrderStatus.SHIPPED, shipped_at=timezone.now(), carrier="中通快递",
        tracking_no="ZT7788990011")
    page = text(login(agent).get(f"/inquiries/{inquiry.pk}/"))
    parcel = page.split('id="inquiry-parcel">')[1].split("</dd>")[0]
    assert "not shipped" not in parcel
    assert "ZT7788990011" in parcel and "中通快递" in parcel


# --- the sweep (refunds/services/inquiry_sweep.py) --------------------------------------------


def test_the_default_policy_does_not_warn_of_an_inquiry_just_opened(agent, supervisor, order):
    """Defaults: answer within 24 hours (inquiry_reply_hours), warn 24 hours before a deadline
    (warning_hours). So every inquiry is "due" the moment it is opened, and the next sweep
    mails the opener and every supervisor about each new one. (The sweep tests set the reply
    hours to 72, which hides it.)"""
    policy = order.shop.policy
    assert (policy.inquiry_reply_hours, policy.warning_hours) == (24, 24)
    _open(order, agent, now=timezone.now() - timedelta(minutes=5))
    result = sweep_inquiries()
    assert result.due == 0
    assert not Notification.objects.exists()


# --- README claims ----------------------------------------------------------------------------


def test_the_inquiry_page_offers_the_logistics_replies_first(login, agent, order):
    """README: "the contact card (canned logistics replies first ...)"; views: "(物流 first)".
    INQUIRY_REPLY_CATEGORIES lists logistics first; the model's own ordering (category,
    alphabetical) would put after-sales ("after_sales") first."""
    after_sales = CannedReply.objects.create(title="售后说明", category="after_sales",
                                             language="zh-hans", text="亲，售后请联系我们")
    logistics = CannedReply.objects.create(title="查件回复", category="logistics",
                                           language="zh-hans", text="快递单号 {tracking}")
    inquiry = _open(order, agent)
    page = text(login(agent).get(f"/inquiries/{inquiry.pk}/"))
    assert page.index(f'data-reply="{logistics.pk}"') < page.index(
        f'data-reply="{after_sales.pk}"')
