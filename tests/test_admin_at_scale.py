"""The admin's lists for managers at scale (docs/PERFORMANCE.md, session 5): a list's query
count does not grow with its rows, its search is the queue's (exact first, then part of a
nick), and no list runs the date hierarchy's DISTINCT over every row."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin as django_admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds import admin as desk_admin
from refunds.models import (
    Buyer,
    Notification,
    NotificationKind,
    Order,
    Review,
    ReviewFollowUp,
    ReviewRating,
)
from refunds.services import cases as svc
from refunds.services import followups
from tests.factories import BuyerFactory, OrderFactory, make_case

# every manager's list whose rows name a case (its name shows its order id) or a buyer
LISTS = ["case", "caseevent", "refund", "payout", "contactlog", "order",
         "buyer", "orderline", "reviewfollowup"]


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


DAYTIME = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 11:00 in China: no calling-hours rule


def _cases(shop, manager, count: int) -> None:
    for n in range(count):
        case = make_case(order=OrderFactory(shop=shop, buyer=BuyerFactory()), amount="10.00")
        svc.case_agree(case=case, actor=None)  # a refund, its payout, timeline rows
        svc.contact_log_create(case=case, actor=manager, channel="phone", outcome="reached",
                               note=f"n{n}", now=DAYTIME)
        # a bad review followed up, with a contact of its own and a remedy case
        review = Review.objects.create(shop=shop, order=case.order, buyer_nick="x",
                                       item_title="t", rating=ReviewRating.BAD,
                                       content="差", posted_at=DAYTIME)
        follow_up = followups.followup_create_for_review(review, now=DAYTIME)
        ReviewFollowUp.objects.filter(pk=follow_up.pk).update(remedy_case=case)
        followups.followup_contact_log_create(follow_up=follow_up, actor=manager,
                                              channel="phone", outcome="reached", now=DAYTIME)
        Notification.objects.create(user=manager, case=case, kind=NotificationKind.DEADLINE_WARNING,
                                    message="soon")


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


def test_a_lists_query_count_does_not_grow_with_its_rows(manager_client, manager, shop):
    _cases(shop, manager, 2)
    few = {name: _queries(manager_client, f"/admin/refunds/{name}/") for name in LISTS}
    _cases(shop, manager, 6)
    many = {name: _queries(manager_client, f"/admin/refunds/{name}/") for name in LISTS}
    assert many == few


def test_no_list_uses_a_date_hierarchy():
    """date_hierarchy reads the month of every row on each load (2.9 s at 1,000,000 orders):
    the desk's large tables use a date filter instead."""
    with_hierarchy = [type(model_admin).__name__
                      for model, model_admin in django_admin.site._registry.items()
                      if model._meta.app_label == "refunds" and model_admin.date_hierarchy]
    assert with_hierarchy == []


def test_the_order_list_filters_by_payment_date(manager_client, shop):
    from django.utils import timezone

    recent = OrderFactory(shop=shop, paid_at=timezone.now() - timedelta(days=1))
    OrderFactory(shop=shop, paid_at=timezone.now() - timedelta(days=400))
    changelist = manager_client.get("/admin/refunds/order/").context["cl"]
    dates = [spec for spec in changelist.filter_specs
             if isinstance(spec, django_admin.DateFieldListFilter)]
    assert [spec.field_path for spec in dates] == ["paid_at"]
    past_week = [choice for choice in dates[0].choices(changelist)
                 if "paid_at__gte" in choice["query_string"]][1]  # today, past 7 days, …
    response = manager_client.get("/admin/refunds/order/" + past_week["query_string"])
    assert list(response.context["cl"].result_list) == [recent]


def test_the_order_search_finds_exact_ids_and_parts_of_nicks(manager_client, shop):
    exact = OrderFactory(shop=shop, platform_order_id="TB9001", buyer=BuyerFactory(nick="x"))
    OrderFactory(shop=shop, buyer=BuyerFactory(nick="fan-of-TB9001"))
    fragment = OrderFactory(shop=shop, buyer=BuyerFactory(nick="小王爱购物"))
    found = manager_client.get("/admin/refunds/order/", {"q": "TB9001"}).context["cl"]
    assert list(found.result_list) == [exact]
    found = manager_client.get("/admin/refunds/order/", {"q": "王爱"}).context["cl"]
    assert list(found.result_list) == [fragment]


def test_the_case_search_is_the_queues(manager_client, shop, other_shop):
    mine = make_case(order=OrderFactory(shop=shop, buyer=BuyerFactory(nick="小王爱购物")))
    make_case(order=OrderFactory(shop=other_shop, buyer=BuyerFactory(nick="小王爱购物2")))
    found = manager_client.get("/admin/refunds/case/", {"q": "小王"}).context["cl"]
    assert list(found.result_list) == [mine]  # the other shop's is not searched


def test_a_too_common_part_of_a_nick_is_said_in_the_admin(manager_client, shop, monkeypatch):
    monkeypatch.setattr(desk_admin, "NICK_FRAGMENT_CAP", 2)
    for n in range(3):
        OrderFactory(shop=shop, buyer=BuyerFactory(nick=f"tb{n}00"))
    response = manager_client.get("/admin/refunds/order/", {"q": "tb"})
    assert list(response.context["cl"].result_list) == []
    page = html.unescape(response.content.decode())
    assert "More than 2 buyers' nicks contain “tb”: type more of the nick" in page


def test_the_buyer_list_shows_only_buyers_of_the_managers_shops(manager_client, shop,
                                                                other_shop):
    mine = OrderFactory(shop=shop).buyer
    both = OrderFactory(shop=shop).buyer
    OrderFactory(shop=other_shop, buyer=both)
    theirs = OrderFactory(shop=other_shop).buyer
    listed = list(manager_client.get("/admin/refunds/buyer/").context["cl"].result_list)
    assert sorted(b.pk for b in listed) == sorted([mine.pk, both.pk])  # each once
    assert theirs.pk not in [b.pk for b in listed]
    assert Buyer.objects.count() == 3 and Order.objects.count() == 4


def test_the_too_common_notice_is_said_once_and_not_left_for_the_next_page(
        manager_client, shop, monkeypatch):
    """Django searches again for each filter's counts and for autocomplete."""
    monkeypatch.setattr(desk_admin, "NICK_FRAGMENT_CAP", 2)
    for n in range(3):
        OrderFactory(shop=shop, buyer=BuyerFactory(nick=f"tb{n}00"))
    notice = "type more of the nick"
    page = html.unescape(manager_client.get(
        "/admin/refunds/order/", {"q": "tb", "_facets": "True"}).content.decode())
    assert page.count(notice) == 1
    manager_client.get("/admin/autocomplete/", {"app_label": "refunds",
                                                "model_name": "orderline",
                                                "field_name": "order", "term": "tb"})
    after = manager_client.get("/admin/refunds/order/").content.decode()
    assert notice not in html.unescape(after)


@pytest.mark.parametrize("term", ["sf 1234 5678", "sf12345678", "SF12345678"])
def test_the_order_search_finds_a_tracking_number_as_written(manager_client, shop, term):
    order = OrderFactory(shop=shop, tracking_no="SF12345678")
    found = manager_client.get("/admin/refunds/order/", {"q": term}).context["cl"]
    assert list(found.result_list) == [order]
