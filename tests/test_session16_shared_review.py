"""Session 16 review: the SHARED code the stock-outs changed, checked for regressions in the
older features (complaint actions, register filters, the buyer page, the admin, the order
import, notifications, the navbar). A failing test here is a regression; "# holds" tests pin
what was verified to behave as before."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import F
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.translation import gettext

from refunds.admin import NotificationAdmin, OrderAdmin
from refunds.filters import ClaimFilter, ComplaintFilter, search_term
from refunds.models import (
    CarrierClaim,
    Complaint,
    FollowUpState,
    ImportRun,
    Notification,
    Order,
    OrderStatus,
    ReviewFollowUp,
    StockOut,
    StockOutState,
)
from refunds.selectors import buyer_orders, visible_unread_notifications
from refunds.services import claims as claim_services
from refunds.services import complaints as complaint_services
from refunds.services import stockouts as stockout_services
from refunds.services.imports import ImportResult, import_orders, import_refunds
from refunds.templatetags.followup_tags import followup_badge
from tests.factories import OrderFactory, make_case, make_staff
from tests.imports.conftest import (
    ORDER_HEADER,
    REFUND_HEADER,
    csv_text,
    order_row,
    refund_row,
)
from tests.reviews.conftest import make_follow_up
from tests.services.test_carrier_claims import details
from tests.services.test_complaints import record, with_evidence
from tests.test_admin import _change_form_data

ZH = "zh-CN,zh;q=0.9"
WAITING = "买家已付款，等待卖家发货"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


@pytest.fixture
def export(tmp_path):
    """As tests/imports/conftest.py's: export(header, rows) → a GBK file."""
    counter = iter(range(1, 10_000))

    def _export(header, rows):
        path = tmp_path / f"export-{next(counter)}.csv"
        path.write_bytes(csv_text(header, rows).encode("gbk"))
        return path

    return _export


@pytest.fixture
def shop_a(shop):
    shop.platform_shop_id = "SHOP-A"
    shop.save(update_fields=["platform_shop_id"])
    return shop


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] \
        if response.context and "messages" in response.context else []


def report(order, actor):
    return stockout_services.stockout_report(order=order, actor=actor, line=order.lines.get(),
                                             quantity=1)


def order_row_of(buyer_page: str, order) -> str:
    return buyer_page.split(f'<tr data-order="{order.pk}">')[1].split("</tr>")[0]


# --- 1. complaint_action through submit_transition -------------------------------------------


def test_complaint_action_unknown_action_is_404_even_when_stale(agent, order):  # holds
    complaint = record(order, agent)
    client = login(agent)
    assert client.post(f"/complaints/{complaint.pk}/actions/nonsense/", {}).status_code == 404
    assert client.post(f"/complaints/{complaint.pk}/actions/nonsense/",
                       {"nonsense-expected_state": "evidence"}).status_code == 404


def test_complaint_action_stale_page_says_changed_in_the_readers_language(agent, order):
    # holds: the stale check comes first (before the form's errors), redirect to the page
    complaint = with_evidence(record(order, agent), agent)
    complaint_services.complaint_submit_evidence(complaint=complaint, actor=agent)
    client = login(agent)
    response = client.post(f"/complaints/{complaint.pk}/actions/withdraw/",
                           {"withdraw-expected_state": "open"})  # and no note: invalid too
    assert response.status_code == 302
    assert response["Location"] == complaint.get_absolute_url()
    response = client.post(f"/complaints/{complaint.pk}/actions/withdraw/",
                           {"withdraw-expected_state": "open"}, follow=True,
                           HTTP_ACCEPT_LANGUAGE=ZH)
    with translation.override("zh-hans"):
        expected = str(complaint_services.ComplaintChanged.default_message)
    assert expected in messages_of(response)
    assert Complaint.objects.get(pk=complaint.pk).state == "evidence"


def test_complaint_action_invalid_form_is_a_400_rerender(supervisor, agent, order):  # holds
    complaint = record(order, agent)
    response = login(supervisor).post(
        f"/complaints/{complaint.pk}/actions/rule_for_buyer/",
        {"rule_for_buyer-expected_state": "open", "rule_for_buyer-ruling": "",
         "rule_for_buyer-penalty_points": "1000"})
    assert response.status_code == 400
    assert response.templates[0].name == "refunds/complaint_detail.html"
    assert response.context["open_form"] == "rule_for_buyer"
    assert "Please correct the errors below." in messages_of(response)
    assert Complaint.objects.get(pk=complaint.pk).state == "open"


def test_complaint_action_domain_error_is_its_message(warehouse, agent, order):  # holds
    complaint = record(order, agent)
    response = login(warehouse).post(f"/complaints/{complaint.pk}/actions/withdraw/",
                                     {"withdraw-expected_state": "open",
                                      "withdraw-note": "x"}, follow=True)
    assert response.redirect_chain[-1][0] == complaint.get_absolute_url()
    assert any("permission" in message.lower() for message in messages_of(response))
    assert Complaint.objects.get(pk=complaint.pk).state == "open"


def test_complaint_action_success_message_in_the_readers_language(agent, order):  # holds
    complaint = record(order, agent)
    response = login(agent).post(f"/complaints/{complaint.pk}/actions/withdraw/",
                                 {"withdraw-expected_state": "open", "withdraw-note": "撤诉"},
                                 follow=True, HTTP_ACCEPT_LANGUAGE=ZH)
    with translation.override("zh-hans"):
        expected = gettext("Done: %(action)s.") % {
            "action": complaint_services.action_label("withdraw")}
    assert expected != "Done: Withdraw." and re.search(r"[\u4e00-\u9fff]", expected)
    assert expected in messages_of(response)
    assert Complaint.objects.get(pk=complaint.pk).state == "withdrawn"


# --- 2. RegisterFilters / search_term ---------------------------------------------------------


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_the_registers_shop_choice_is_the_users_shops(agent, shop, other_shop):  # holds
    for filter_class, queryset in ((ClaimFilter, CarrierClaim.objects.all()),
                                   (ComplaintFilter, Complaint.objects.all())):
        filters = filter_class(None, queryset=queryset, request=_request(agent))
        assert list(filters.filters["shop"].queryset) == [shop], filter_class
        bound = filter_class({"shop": other_shop.pk}, queryset=queryset,
                             request=_request(agent))
        assert not bound.form.is_valid() and "shop" in bound.form.errors


def test_the_registers_search_unwraps_a_spreadsheet_cell(agent, warehouse, shop):  # holds
    assert search_term(' ="3900001" ') == "3900001" and search_term(None) == ""
    claim_order, complaint_order = OrderFactory(shop=shop), OrderFactory(shop=shop)
    OrderFactory(shop=shop)
    claim = claim_services.claim_create(shop=shop, order=claim_order, actor=warehouse,
                                        **details())
    complaint = record(complaint_order, agent, platform_reference="TS-77")
    cell = f'="{claim_order.platform_order_id}"'
    claims = ClaimFilter({"q": cell}, queryset=CarrierClaim.objects.all(),
                         request=_request(agent)).qs
    assert list(claims) == [claim]
    for term in (f'="{complaint_order.platform_order_id}"', '="TS-77"'):
        complaints = ComplaintFilter({"q": term}, queryset=Complaint.objects.all(),
                                     request=_request(agent)).qs
        assert list(complaints) == [complaint], term
    # and through the pages
    page = page_text(login(agent).get("/complaints/", {"q": '="TS-77"'}))
    assert f'data-complaint="{complaint.pk}"' in page


# --- 3. buyer_orders and the buyer page --------------------------------------------------------


def test_buyer_orders_has_one_caller():  # holds (grep: refunds/views/buyers.py only)
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "refunds"
    callers = [path.relative_to(root).as_posix() for path in root.rglob("*.py")
               if "buyer_orders(" in path.read_text(encoding="utf-8")]
    assert sorted(callers) == ["selectors.py", "views/buyers.py"]


def test_the_buyer_page_lists_follow_ups_with_their_labels_and_badges(agent, shop):  # holds
    order = OrderFactory(shop=shop)
    follow_ups = [make_follow_up(order=order, item_title=f"款{n}", state=state)
                  for n, state in enumerate([None, FollowUpState.APPEALED,
                                             FollowUpState.REVISED])]
    response = login(agent).get(f"/buyers/{order.buyer_id}/")
    row = order_row_of(page_text(response), order)
    for follow_up in follow_ups:
        follow_up.refresh_from_db()
        assert (f'<a href="{follow_up.get_absolute_url()}">#{follow_up.pk}</a> <span class="badge '
                f'{followup_badge(follow_up.state)}">{follow_up.get_state_display()}</span>'
                in row), follow_up.state
    zh = page_text(login(agent).get(f"/buyers/{order.buyer_id}/", HTTP_ACCEPT_LANGUAGE=ZH))
    with translation.override("zh-hans"):
        label = str(FollowUpState.APPEALED.label)
    assert label != "Appealed as malicious (恶意评价)" and label in order_row_of(zh, order)


def test_the_buyer_page_lists_an_orders_follow_ups_in_deadline_order(agent, shop):
    """REGRESSION: before, the follow-ups were prefetched in ReviewFollowUp's Meta ordering
    (deadline_at, id) — the one whose revision window closes first came first; the UNION now
    sorts them by primary key."""
    order = OrderFactory(shop=shop)
    now = timezone.now()
    later = make_follow_up(order=order, item_title="款A", posted_at=now - timedelta(days=1))
    sooner = make_follow_up(order=order, item_title="款B", posted_at=now - timedelta(days=10))
    assert sooner.deadline_at < later.deadline_at and later.pk < sooner.pk
    before = list(order.review_follow_ups.all())  # what the old prefetch listed
    assert [f.pk for f in before] == [sooner.pk, later.pk]
    (listed,) = buyer_orders(agent, order.buyer_id)
    assert [item.pk for item in listed.items["follow_ups"]] == [sooner.pk, later.pk]


def test_the_buyer_page_costs_the_same_queries_whatever_the_follow_ups(agent, warehouse,
                                                                       shop):  # holds
    first = OrderFactory(shop=shop)
    make_follow_up(order=first, item_title="款0")
    client = login(agent)
    client.get(f"/buyers/{first.buyer_id}/")  # warm the session, content types …
    with CaptureQueriesContext(connection) as few:
        client.get(f"/buyers/{first.buyer_id}/")
    orders = [OrderFactory(shop=shop, buyer=first.buyer) for _ in range(4)]
    for order in orders:
        for n in range(3):
            make_follow_up(order=order, item_title=f"款{n}")
    record(orders[0], agent)
    unshipped = OrderFactory(shop=shop, buyer=first.buyer, unshipped=True,
                             paid_at=timezone.now())
    report(unshipped, warehouse)
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/buyers/{first.buyer_id}/")
    assert len(many) == len(few)
    page = page_text(response)
    assert page.count('href="/reviews/') >= 13
    listed = buyer_orders(agent, first.buyer_id)
    assert sum(len(order.items["follow_ups"]) for order in listed) == 13
    assert [order.pk for order in listed] == [
        order.pk for order in Order.objects.filter(buyer=first.buyer).order_by("-paid_at", "-id")]


def test_buyer_orders_union_items_land_on_their_order_with_the_right_state(
        agent, warehouse, shop):  # holds (SQLite and PostgreSQL: states of 20/12/12 chars)
    order = OrderFactory(shop=shop)
    follow_up = make_follow_up(order=order, state=FollowUpState.REMEDY_OFFERED)  # 14 chars
    complaint = record(order, agent)
    unshipped = OrderFactory(shop=shop, buyer=order.buyer, unshipped=True,
                             paid_at=timezone.now())
    stockout = report(unshipped, warehouse)
    StockOut.objects.filter(pk=stockout.pk).update(state=StockOutState.ORDER_CLOSED)
    by_pk = {o.pk: o for o in buyer_orders(agent, order.buyer_id)}
    assert [(i.pk, i.state, str(i.label)) for i in by_pk[order.pk].items["follow_ups"]] == [
        (follow_up.pk, "remedy_offered", "Remedy offered")]
    assert [(i.pk, i.state) for i in by_pk[order.pk].items["complaints"]] == [
        (complaint.pk, "open")]
    assert by_pk[order.pk].items["stockouts"] == []
    assert [(i.pk, i.state, i.url) for i in by_pk[unshipped.pk].items["stockouts"]] == [
        (stockout.pk, "order_closed", f"/stock-outs/{stockout.pk}/")]
    assert by_pk[unshipped.pk].items["follow_ups"] == []


def test_the_buyer_page_never_shows_another_shops_orders_or_items(agent, agent_b, shop,
                                                                  other_shop):  # holds
    mine = OrderFactory(shop=shop)
    theirs = OrderFactory(shop=other_shop, buyer=mine.buyer)
    my_follow_up = make_follow_up(order=mine)
    their_follow_up = make_follow_up(order=theirs, item_title="别家")
    their_complaint = record(theirs, agent_b)
    page = page_text(login(agent).get(f"/buyers/{mine.buyer_id}/"))
    assert f'<tr data-order="{mine.pk}">' in page
    assert f'<tr data-order="{theirs.pk}">' not in page
    assert f"/reviews/{my_follow_up.pk}/" in page
    assert f"/reviews/{their_follow_up.pk}/" not in page
    assert f'data-complaint="{their_complaint.pk}"' not in page
    # every item of an order is of the order's shop (the services check it)
    for model in (ReviewFollowUp, Complaint, StockOut):
        assert not model.objects.exclude(shop_id=F("order__shop_id")).exists()


# --- 4. has_after_sales ------------------------------------------------------------------------


def test_has_after_sales_counts_stockouts_and_still_the_rest(agent, warehouse, shop):  # holds
    bare = OrderFactory(shop=shop)
    assert not bare.has_after_sales()
    with_case = make_case(order=OrderFactory(shop=shop))
    assert with_case.order.has_after_sales()
    complained = OrderFactory(shop=shop)
    record(complained, agent)
    assert complained.has_after_sales()
    short = OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now())
    report(short, warehouse)
    assert short.has_after_sales()
    request = _request(agent)
    order_admin = OrderAdmin(Order, django_admin.site)
    assert "paid_amount" in order_admin.get_readonly_fields(request, short)
    assert "paid_amount" not in order_admin.get_readonly_fields(request, bare)


# --- 5. the admin --------------------------------------------------------------------------------


@pytest.fixture
def manager_client(manager):
    return login(manager)


def test_an_admin_order_edit_without_status_change_settles_nothing(manager_client, warehouse,
                                                                   shop):  # holds
    order = OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now())
    stockout = report(order, warehouse)
    url = f"/admin/refunds/order/{order.pk}/change/"
    data = _change_form_data(manager_client, url)
    data.update({"buyer_message": "请尽快发货", "lines-TOTAL_FORMS": "0",
                 "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0",
                 "lines-MAX_NUM_FORMS": "1000"})
    response = manager_client.post(url, data, follow=True)
    assert response.status_code == 200
    assert "stock-out" not in " ".join(messages_of(response))
    order.refresh_from_db()
    assert order.buyer_message == "请尽快发货"
    assert StockOut.objects.get(pk=stockout.pk).state == StockOutState.REPORTED


def test_an_admin_order_shipped_without_stockouts_saves_as_before(manager_client, shop):
    # holds
    order = OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now())
    url = f"/admin/refunds/order/{order.pk}/change/"
    data = _change_form_data(manager_client, url)
    data.update({"status": "shipped", "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0",
                 "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "1000"})
    response = manager_client.post(url, data, follow=True)
    assert response.status_code == 200
    assert not any("stock-out" in message for message in messages_of(response))
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED


def test_the_notification_admin_still_scopes_case_notifications(manager, supervisor, shop,
                                                                other_shop):  # holds
    manager.user_permissions.add(Permission.objects.get(codename="view_notification"))
    mine = Notification.objects.create(user=supervisor, case=make_case(
        order=OrderFactory(shop=shop)), kind="deadline_warning", message="mine")
    theirs = Notification.objects.create(user=supervisor, case=make_case(
        order=OrderFactory(shop=other_shop)), kind="deadline_warning", message="theirs")
    about_nothing = Notification.objects.create(user=supervisor, kind="sweep_failure",
                                                message="sweep")
    follow_up = make_follow_up(shop=shop)
    about_review = Notification.objects.create(user=supervisor, follow_up=follow_up,
                                               kind="review_warning", message="review")
    request = _request(manager)
    listed = set(NotificationAdmin(Notification, django_admin.site).get_queryset(request))
    assert listed == {mine, about_review}
    assert about_nothing not in listed and theirs not in listed
    page = manager_client_get(manager, "/admin/refunds/notification/")
    assert f"/admin/refunds/notification/{mine.pk}/change/" in page
    assert f"/admin/refunds/notification/{theirs.pk}/change/" not in page


def manager_client_get(user, url) -> str:
    response = login(user).get(url)
    assert response.status_code == 200
    return page_text(response)


# --- 6. the order import ------------------------------------------------------------


def test_the_order_import_summary_line_is_unchanged_without_stockouts(shop_a, export):  # holds
    rows = [order_row(**{"订单编号": "1", "订单状态": WAITING, "物流单号": "", "物流公司": ""})]
    result = import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, rows))
    assert result.summary() == "imported 1, updated 0, unchanged 0, rejected 0"
    shipped = [order_row(**{"订单编号": "1"})]
    result = import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, shipped))
    assert result.summary() == "imported 0, updated 1, unchanged 0, rejected 0"
    assert result.stockouts_settled == 0 and result.run.stockouts_settled == 0
    assert ImportResult(kind="orders", filename="x", conflicts=[]).summary() == (
        "imported 0, updated 0, unchanged 0, rejected 0")


def test_a_dry_run_order_import_settles_nothing(roles, shop_a, export):  # holds
    import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{
        "订单编号": "1", "订单状态": WAITING, "物流单号": "", "物流公司": ""})]))
    order = Order.objects.get(platform_order_id="1")
    stockout = report(order, make_staff("wh", "warehouse", shop_a))
    runs = ImportRun.objects.count()
    result = import_orders(shop=shop_a, dry_run=True,
                           path_or_file=export(ORDER_HEADER, [order_row(**{"订单编号": "1"})]))
    assert result.stockouts_settled == 1  # said, as the dry run's other counts are
    assert StockOut.objects.get(pk=stockout.pk).state == StockOutState.REPORTED
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert ImportRun.objects.count() == runs


def test_the_settling_follows_each_chunk(roles, shop_a, export, monkeypatch):  # holds
    from refunds.services import imports as import_services

    monkeypatch.setattr(import_services, "CHUNK_SIZE", 2)
    ids = [f"39000{n}" for n in range(5)]
    import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{
        "订单编号": pk, "订单状态": WAITING, "物流单号": "", "物流公司": ""}) for pk in ids]))
    warehouse = make_staff("wh", "warehouse", shop_a)
    stockouts = [report(Order.objects.get(platform_order_id=pk), warehouse) for pk in ids]
    closed = "交易关闭"
    result = import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [
        order_row(**{"订单编号": pk, **({"订单状态": closed, "物流单号": "", "物流公司": ""}
                                       if n == 4 else {})})
        for n, pk in enumerate(ids)]))
    assert result.summary() == "imported 0, updated 5, unchanged 0, rejected 0, " \
                               "stock-outs settled 5"
    states = [StockOut.objects.get(pk=s.pk).state for s in stockouts]
    assert states == ["shipped"] * 4 + ["order_closed"]
    assert result.run.stockouts_settled == 5


def test_the_refund_import_summary_is_unaffected(shop_a, export):  # holds
    import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{"订单编号": "7"})]))
    result = import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, [refund_row(**{
        "退款编号": "A", "订单编号": "7"})]))
    assert result.summary() == "imported 1, updated 0, unchanged 0, rejected 0"
    assert result.stockouts_settled == 0 and result.run.stockouts_settled == 0


# --- 7. visible_unread_notifications ------------------------------------------------------------


def test_visible_unread_notifications_scoping(agent, warehouse, shop, other_shop):  # holds
    case_mine = make_case(order=OrderFactory(shop=shop))
    case_theirs = make_case(order=OrderFactory(shop=other_shop))
    follow_up_theirs = make_follow_up(shop=other_shop)
    stockout_mine = report(OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now()),
                           warehouse)
    stockout_theirs = report(OrderFactory(shop=other_shop, unshipped=True,
                                          paid_at=timezone.now()),
                             make_staff("wh_b", "warehouse", other_shop))
    made = {name: Notification.objects.create(user=agent, kind="deadline_warning",
                                              message=name, **about)
            for name, about in {"case_mine": {"case": case_mine},
                                "case_theirs": {"case": case_theirs},
                                "follow_up_theirs": {"follow_up": follow_up_theirs},
                                "stockout_mine": {"stockout": stockout_mine},
                                "stockout_theirs": {"stockout": stockout_theirs},
                                "nothing": {}}.items()}
    visible = {n.message for n in visible_unread_notifications(agent)}
    assert visible == {"case_mine", "stockout_mine", "nothing"}
    made["nothing"].read_at = timezone.now()
    made["nothing"].save()
    assert {n.message for n in visible_unread_notifications(agent)} == {"case_mine",
                                                                       "stockout_mine"}


# --- 8. the navbar ------------------------------------------------------------


def test_the_navbar_stockouts_link_only_with_view_stockout(agent, shop):  # holds
    page = page_text(login(agent).get("/cases/"))
    assert 'href="/stock-outs/">Stock-outs</a>' in page
    assert page.index("To ship") < page.index("Stock-outs") < page.index("Reviews")
    bare = make_staff("bare", "agent", shop, staff_number="X1")
    bare.groups.clear()
    bare.user_permissions.add(Permission.objects.get(codename="view_case"))
    page = page_text(login(bare).get("/cases/"))
    assert "/stock-outs/" not in page
