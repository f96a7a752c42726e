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
from refunds import pagination
from refunds.models import (
    Buyer,
    Case,
    CaseEvent,
    Notification,
    NotificationKind,
    Order,
    OrderLine,
    Refund,
    Review,
    ReviewFollowUp,
    ReviewRating,
)
from refunds.services import cases as svc
from refunds.services import followups
from tests.factories import BuyerFactory, OrderFactory, ShopFactory, make_case

# every manager's list whose rows name a case (its name shows its order id) or a buyer
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")

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


# --- lists of rows that only grow: no whole-table sort or scan per load (session 7) --------

# every list whose model orders by a date no index leads with
NEWEST_FIRST_LISTS = ["caseevent", "refund", "payout", "contactlog", "notification",
                      "compensation", "returnparcel", "orderline", "review"]


def _list_statements(client, name: str, params=None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/admin/refunds/{name}/", params or {})
    assert response.status_code == 200, name
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.parametrize("name", ["caseevent", "refund", "payout", "contactlog",
                                  "notification", "review"])
def test_a_growing_list_shows_its_newest_rows_first(admin_client, manager, shop, name):
    """(A superuser's client: not every list is a manager's.)"""
    _cases(shop, manager, 3)
    listed = [row.pk for row in
              admin_client.get(f"/admin/refunds/{name}/").context["cl"].result_list]
    model = next(model for model in django_admin.site._registry
                 if model._meta.model_name == name)
    assert len(listed) >= 3
    assert listed == sorted(model.objects.values_list("pk", flat=True), reverse=True)


@pytest.mark.parametrize(("name", "table"), [("orderline", "refunds_orderline"),
                                             ("order", "refunds_order"),
                                             ("case", "refunds_case"),
                                             ("payout", "refunds_payout")])
def test_the_shop_filter_offers_the_managers_shops_without_reading_the_rows(
        manager_client, manager, shop, other_shop, name, table):
    second = ShopFactory(code="shop-c", name="第二家店")
    manager.staff_profile.shops.add(second)
    _cases(shop, manager, 1)
    statements = _list_statements(manager_client, name)
    assert not [sql for sql in statements if "DISTINCT" in sql and table in sql], statements
    changelist = manager_client.get(f"/admin/refunds/{name}/").context["cl"]
    (spec,) = [spec for spec in changelist.filter_specs
               if isinstance(spec, desk_admin.ShopListFilter)]
    # both of the manager's shops, the one without rows too; never the other shop
    assert sorted(label for _pk, label in spec.lookup_choices) == sorted([str(shop),
                                                                          str(second)])
    assert other_shop.pk not in [pk for pk, _label in spec.lookup_choices]


def test_the_shop_filter_filters(manager_client, manager, shop):
    second = ShopFactory(code="shop-c", name="第二家店")
    manager.staff_profile.shops.add(second)
    mine = OrderFactory(shop=shop)
    theirs = OrderFactory(shop=second)
    listed = manager_client.get("/admin/refunds/order/",
                                {"shop__id__exact": second.pk}).context["cl"].result_list
    assert list(listed) == [theirs]
    listed = manager_client.get("/admin/refunds/order/",
                                {"shop__id__exact": shop.pk}).context["cl"].result_list
    assert list(listed) == [mine]


def test_the_timeline_filters_by_state_change_without_reading_every_row(manager_client,
                                                                         manager, shop):
    _cases(shop, manager, 2)  # each: created, agreed (a transition), a contact
    statements = _list_statements(manager_client, "caseevent")
    assert not [sql for sql in statements if "DISTINCT" in sql and "refunds_caseevent" in sql]
    changelist = manager_client.get("/admin/refunds/caseevent/").context["cl"]
    (spec,) = [spec for spec in changelist.filter_specs
               if isinstance(spec, desk_admin.CaseTransitionFilter)]
    names = [name for name, _label in spec.lookup_choices]
    assert {"agree", "refuse", "close", "mark_refunded", "reopen"} <= set(names)
    assert len(names) == len(set(names))
    assert dict(spec.lookup_choices)["agree"] == svc.action_label("agree")
    agreed = manager_client.get("/admin/refunds/caseevent/",
                                {"transition": "agree"}).context["cl"].result_list
    expected = CaseEvent.objects.filter(kind="transition", transition="agree")
    assert expected.count() == 2
    assert sorted(event.pk for event in agreed) == sorted(expected.values_list("pk", flat=True))


def test_every_transition_the_timeline_records_is_offered(manager_client, manager, shop):
    """The filter's choices come from the state machine, so a transition added to a case
    is offered without a DISTINCT over the timeline: every case transition the services
    record is one of them."""
    offered = {name for name, _label in desk_admin.case_transitions()}
    declared = {name for name in dir(Case)
                if hasattr(getattr(Case, name, None), "_django_fsm")}
    assert offered == declared


@on_sqlite
@pytest.mark.parametrize("name", NEWEST_FIRST_LISTS)
def test_a_growing_lists_page_is_read_in_index_order(admin_client, manager, shop, name):
    """SQLite's plan (by shape, no statistics): the 100 rows are read off the primary key in
    order, not every row sorted. Before: a temp b-tree sorted the whole table per load."""
    _cases(shop, manager, 1)
    table = f"refunds_{name}"
    statements = [sql for sql in _list_statements(admin_client, name)
                  if f'FROM "{table}"' in sql and "ORDER BY" in sql]
    assert statements, name
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {statements[-1]}")
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


# --- a manager's long lists: counted up to a cap, read in the list's order (session 7) -------


def _refunds(shop, count: int) -> None:
    for _n in range(count):
        svc.case_agree(case=make_case(order=OrderFactory(shop=shop), amount="10.00"), actor=None)


def _small_pages(monkeypatch, model, cap: int = 3, per_page: int = 2, show_all: int = 2):
    model_admin = django_admin.site._registry[model]
    monkeypatch.setattr(model_admin, "list_per_page", per_page)
    monkeypatch.setattr(model_admin, "list_max_show_all", show_all)
    monkeypatch.setattr(pagination, "CAP", cap)


def test_a_long_list_is_counted_up_to_a_cap_and_says_more_than(manager_client, shop,
                                                                  monkeypatch):
    _small_pages(monkeypatch, Refund)
    _refunds(shop, 6)
    response = manager_client.get("/admin/refunds/refund/")
    changelist = response.context["cl"]
    assert changelist.paginator.capped
    assert changelist.result_count == 4  # counted to max(cap, one page past this one)
    page = html.unescape(response.content.decode())
    assert "More than 4 refunds" in page
    assert "?p=2" in page  # the next page is in reach
    # page 3 of the 6 rows: counted one page further, the last two rows are shown
    third = manager_client.get("/admin/refunds/refund/", {"p": 3}).context["cl"]
    assert [refund.pk for refund in third.result_list] == sorted(
        Refund.objects.values_list("pk", flat=True), reverse=True)[4:]
    assert not third.paginator.capped and third.result_count == 6
    # the search box's count says so too
    assert "More than 4 results" in page


def test_a_short_list_is_counted_exactly(manager_client, shop):
    _refunds(shop, 3)
    response = manager_client.get("/admin/refunds/refund/")
    assert response.context["cl"].result_count == 3
    assert not response.context["cl"].paginator.capped
    assert "More than" not in response.content.decode()


def test_a_list_with_actions_counts_exactly_what_select_all_selects(manager_client, shop,
                                                                    monkeypatch):
    _small_pages(monkeypatch, Case)
    for _n in range(6):
        make_case(order=OrderFactory(shop=shop))
    response = manager_client.get("/admin/refunds/case/")
    assert response.context["cl"].result_count == 6
    assert "Select all 6 cases" in html.unescape(response.content.decode())


def test_the_capped_count_is_said_in_chinese(manager_client, shop, monkeypatch):
    _small_pages(monkeypatch, Refund)
    _refunds(shop, 6)
    page = html.unescape(manager_client.get(
        "/admin/refunds/refund/", headers={"accept-language": "zh-hans"}).content.decode())
    assert "超过 4 条" in page  # the list's count
    assert "超过 4 条结果" in page  # the search box's


def test_a_capped_count_never_offers_show_all(manager_client, shop, monkeypatch):
    """"Show all" lists every row when the count is at most its limit: a count capped below
    that limit would offer it and then load the whole table. The cap stays above it."""
    _small_pages(monkeypatch, Refund, cap=3, per_page=2, show_all=5)
    _refunds(shop, 8)
    changelist = manager_client.get("/admin/refunds/refund/").context["cl"]
    assert changelist.paginator.capped and changelist.result_count == 6
    assert not changelist.can_show_all


def test_the_autocomplete_pages_past_the_cap(manager_client, shop, monkeypatch):
    """The order picker (autocomplete) asks for `page`, not the list's `p`: every order can
    be reached, page after page."""
    monkeypatch.setattr(pagination, "CAP", 3)
    monkeypatch.setattr(django_admin.site._registry[Order], "list_max_show_all", 2)
    orders = [OrderFactory(shop=shop) for _n in range(45)]  # a page is 20
    seen, page = [], 1
    while True:
        answer = manager_client.get("/admin/autocomplete/", {
            "app_label": "refunds", "model_name": "orderline", "field_name": "order",
            "term": "", "page": page}).json()
        seen += [int(item["id"]) for item in answer["results"]]
        if not answer["pagination"]["more"]:
            break
        page += 1
    assert sorted(seen) == sorted(order.pk for order in orders)


@on_sqlite
def _plan_of_list(client, name: str) -> str:
    table = f"refunds_{name}"
    statements = [sql for sql in _list_statements(client, name)
                  if sql.startswith(f'SELECT "{table}"."id"') and "ORDER BY" in sql]
    assert statements, name
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {statements[-1]}")
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


@on_sqlite
@pytest.mark.parametrize(("name", "index"), [("order", "refunds_order_shop_id"),
                                             ("case", "case_shop_deadline_idx")])
def test_a_one_shop_managers_list_reads_its_shop_index_in_order(manager_client, manager, shop,
                                                                name, index):
    """One shop on the list's own table: SQLite reads the shop's index, already in the list's
    order — the fewest rows (walking the whole table would cost a small shop dearly)."""
    _cases(shop, manager, 1)
    plan = _plan_of_list(manager_client, name)
    assert index in plan, plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


@on_sqlite
@pytest.mark.parametrize("name", ["order", "orderline", "caseevent", "refund", "case"])
def test_a_managers_list_walks_its_order_not_every_row_of_the_shops(manager_client, manager,
                                                                    shop, name):
    """SQLite's plan (by shape): offered `shop_id IN (…)`, it read every row of the
    manager's shops through the shop index and sorted them all for one page (1.6 s for a
    million orders). The scope is now tested on each row of the list's own order."""
    manager.staff_profile.shops.add(ShopFactory(code="shop-c", name="第二家店"))
    _cases(shop, manager, 1)
    plan = _plan_of_list(manager_client, name)
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


def test_a_managers_list_shows_only_the_managers_shops(manager_client, manager, shop,
                                                       other_shop):
    """The scope written for SQLite's planner still keeps another shop's rows out."""
    second = ShopFactory(code="shop-c", name="第二家店")
    manager.staff_profile.shops.add(second)
    mine = [OrderFactory(shop=shop), OrderFactory(shop=second)]
    OrderFactory(shop=other_shop)  # with its order line
    orders = manager_client.get("/admin/refunds/order/").context["cl"].result_list
    assert sorted(order.pk for order in orders) == sorted(order.pk for order in mine)
    lines = manager_client.get("/admin/refunds/orderline/").context["cl"].result_list
    assert sorted(line.order_id for line in lines) == sorted(order.pk for order in mine)
    assert OrderLine.objects.count() == 3


@pytest.mark.parametrize("page", ["x", "-1", "0", "99999999999999999999", "2"])
def test_a_bad_or_missing_page_number_on_a_capped_list_is_never_an_error(manager_client, shop,
                                                                         page):
    """What Django's admin does with a page it cannot show: back to the list (?e=1), not a
    500; the cap reads a number past its limit as its last page."""
    _refunds(shop, 3)
    response = manager_client.get("/admin/refunds/refund/", {"p": page})
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        assert "e=1" in response["Location"]
    autocomplete = manager_client.get("/admin/autocomplete/", {
        "app_label": "refunds", "model_name": "orderline", "field_name": "order",
        "term": "", "page": page})
    assert autocomplete.status_code in (200, 404), autocomplete.status_code
