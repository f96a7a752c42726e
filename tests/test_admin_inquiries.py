"""Parcel inquiries (快递查询 / 改地址) in the admin: a manager reads their shops' inquiries
and their timeline; nothing there opens, changes or deletes one (they change through the
inquiry page); an order an inquiry hangs on keeps its shop and money."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from refunds.models import InquiryEvent, InquiryKind, InquiryState, Notification, ParcelInquiry
from refunds.services import inquiries as services
from tests.factories import OrderFactory, make_staff
from tests.test_admin import _change_form_data

LIST = "/admin/refunds/parcelinquiry/"


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def _open(shop, actor, question="物流三天没更新了", **kwargs) -> ParcelInquiry:
    return services.inquiry_open(order=OrderFactory(shop=shop), actor=actor,
                                 kind=InquiryKind.WHERE, question=question, **kwargs)


def _asked(inquiry, actor) -> ParcelInquiry:
    return services.inquiry_ask_carrier(inquiry=inquiry, actor=actor, carrier_staff="851",
                                        callback_by=timezone.now() + timedelta(hours=4),
                                        note="快递说下午回电")


def test_a_manager_reads_their_shops_inquiries_and_their_timeline(manager_client, shop,
                                                                  other_shop, agent, agent_b):
    mine = _asked(_open(shop, agent), agent)
    theirs = _open(other_shop, agent_b, question="别家店的包裹在哪")
    response = manager_client.get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert f"{LIST}{mine.pk}/change/" in page
    assert f"{LIST}{theirs.pk}/change/" not in page
    assert other_shop.name not in page  # not even in the shop filter

    detail = manager_client.get(f"{LIST}{mine.pk}/change/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "物流三天没更新了" in body
    inline = detail.context["inline_admin_formsets"]
    assert [type(formset.opts).__name__ for formset in inline] == ["InquiryEventInline"]
    assert inline[0].formset.queryset.count() == 2  # opened, asked the carrier
    assert "快递说下午回电" in body and "A1001" in body  # the timeline's note and staff number

    # another shop's inquiry is not there at all ("doesn't exist", back to the index)
    response = manager_client.get(f"{LIST}{theirs.pk}/change/")
    assert response.status_code == 302 and response.url == "/admin/"
    assert "别家店的包裹在哪" not in manager_client.get(f"{LIST}{theirs.pk}/change/",
                                                     follow=True).content.decode()
    assert manager_client.get(f"{LIST}?q={theirs.order.platform_order_id}").context[
        "cl"].result_count == 0
    assert manager_client.get(f"{LIST}?q={mine.order.platform_order_id}").context[
        "cl"].result_count == 1


def test_nothing_in_the_admin_opens_changes_or_deletes_an_inquiry(manager_client, shop, agent):
    inquiry = _asked(_open(shop, agent), agent)
    events = list(InquiryEvent.objects.filter(inquiry=inquiry).values_list("pk", flat=True))
    url = f"{LIST}{inquiry.pk}/change/"
    page = manager_client.get(url).content.decode()
    assert 'name="state"' not in page and 'name="question"' not in page
    assert 'name="events-0-DELETE"' not in page and 'name="events-0-note"' not in page
    assert manager_client.post(url, {"state": "closed", "question": "改了"}).status_code == 403
    assert manager_client.post(f"{LIST}{inquiry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert manager_client.get(f"{LIST}add/").status_code == 403
    assert manager_client.post(LIST, {"action": "delete_selected", "_selected_action":
                                      [inquiry.pk], "post": "yes"}).status_code in (200, 302)
    inquiry.refresh_from_db()
    assert (inquiry.state, inquiry.question) == (InquiryState.WAITING, "物流三天没更新了")
    assert list(InquiryEvent.objects.filter(inquiry=inquiry).values_list("pk", flat=True)) == (
        events)


def test_an_order_with_an_inquiry_keeps_its_shop_and_money_read_only(manager_client, shop,
                                                                     agent):
    plain = OrderFactory(shop=shop)
    page = manager_client.get(f"/admin/refunds/order/{plain.pk}/change/").content.decode()
    assert 'name="shop"' in page and 'name="paid_amount"' in page  # corrected by hand

    inquiry = _open(shop, agent)  # no case, no refund: only the inquiry hangs on the order
    order = inquiry.order
    assert order.has_after_sales()
    url = f"/admin/refunds/order/{order.pk}/change/"
    page = manager_client.get(url).content.decode()
    for name in ("shop", "buyer", "paid_amount", "goods_amount", "postage"):
        assert f'name="{name}"' not in page
    data = _change_form_data(manager_client, url)
    data.update({"paid_amount": "1.00", "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0",
                 "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "1000"})
    manager_client.post(url, data)
    order.refresh_from_db()
    assert (order.shop_id, order.paid_amount) == (shop.pk, Decimal("188.00"))


def test_the_notifications_admin_lists_those_about_the_managers_shops_inquiries(
        manager_client, manager, shop, other_shop, agent, agent_b, supervisor):
    manager.user_permissions.add(Permission.objects.get(codename="view_notification"))
    mine = _open(shop, agent)
    theirs = _open(other_shop, agent_b)
    about_mine = Notification.objects.create(user=supervisor, inquiry=mine, kind="inquiry_due",
                                             message="mine", deadline_at=mine.reply_by)
    about_theirs = Notification.objects.create(
        user=make_staff("sup_b", "supervisor", other_shop), inquiry=theirs, kind="inquiry_due",
        message="theirs", deadline_at=theirs.reply_by)
    page = manager_client.get("/admin/refunds/notification/").content.decode()
    assert f"/admin/refunds/notification/{about_mine.pk}/change/" in page
    assert f"/admin/refunds/notification/{about_theirs.pk}/change/" not in page
    assert f"parcel inquiry (快递查询) #{mine.pk}" in page
    assert manager_client.get(
        f"/admin/refunds/notification/{about_theirs.pk}/change/").status_code == 302


def test_the_admin_finds_an_inquiry_by_a_tracking_number_typed_loosely(manager_client, shop,
                                                                        agent):
    inquiry = _open(shop, agent, tracking_no="SF1234567890")
    _open(shop, agent, tracking_no="YT99")
    response = manager_client.get(LIST, {"q": " No: sf 1234 567890 "})
    assert list(response.context["cl"].result_list) == [inquiry]
