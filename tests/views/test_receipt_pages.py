"""The confirm-receipt pages (延长收货): the list of windows, an order's window with its two
records, the case page's row; behind a login, the user's shops and the role's permission."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from refunds.models import CaseEvent, CaseKind, EventKind, Order, OrderStatus, ReceiptWindowChange
from refunds.services import receipts as services
from tests.factories import OrderFactory, make_case

from .helpers import alert_texts, text

pytestmark = pytest.mark.django_db
_ORDER_ROW = re.compile(r'<tr data-order="(\d+)"')


def _window(shop, days_left: float = 2, estimated: bool = False, **kwargs) -> Order:
    order = OrderFactory(shop=shop, **kwargs)
    order.confirm_receipt_by = timezone.now() + timedelta(days=days_left)
    order.confirm_receipt_estimated = estimated
    order.save(update_fields=["confirm_receipt_by", "confirm_receipt_estimated"])
    return order


def _with_case(shop, days_left: float = 2, **kwargs):
    order = _window(shop, days_left, **kwargs)
    case = make_case(order=order, kind=CaseKind.RETURN, amount="50.00")
    return order, case


def _listed(response) -> list[int]:
    return [int(pk) for pk in _ORDER_ROW.findall(text(response))]


def _extend_post(client, order, **data):
    payload = {"expected_confirm_by": order.confirm_receipt_by.isoformat()
               if order.confirm_receipt_by else "", "days": "5", "note": ""}
    payload.update(data)
    return client.post(f"/orders/{order.pk}/receipt/extend/",
                       {f"extend-{name}": value for name, value in payload.items()})


def _read_post(client, order, confirm_by: str, **data):
    payload = {"expected_confirm_by": order.confirm_receipt_by.isoformat()
               if order.confirm_receipt_by else "", "confirm_by": confirm_by, "note": ""}
    payload.update(data)
    return client.post(f"/orders/{order.pk}/receipt/read/",
                       {f"read-{name}": value for name, value in payload.items()})


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/receipts/", "/orders/{pk}/receipt/"])
def test_every_page_needs_a_login(client, shop, path):
    order = _window(shop)
    response = client.get(path.format(pk=order.pk))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_posts_need_a_login_and_change_nothing(client, shop):
    order = _window(shop)
    response = _extend_post(client, order)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not ReceiptWindowChange.objects.exists()


def test_another_shops_order_is_a_404_everywhere(login, agent_b, shop):
    order, _case = _with_case(shop)
    client = login(agent_b)
    assert client.get(f"/orders/{order.pk}/receipt/").status_code == 404
    assert _extend_post(client, order).status_code == 404
    assert _read_post(client, order, "2030-01-01T10:00").status_code == 404
    assert order.pk not in _listed(client.get("/receipts/"))
    assert Order.objects.get(pk=order.pk).receipt_extensions == 0


def test_the_warehouse_sees_the_window_but_cannot_record_it(login, warehouse, shop):
    order, _case = _with_case(shop)
    client = login(warehouse)
    page = client.get(f"/orders/{order.pk}/receipt/")
    assert page.status_code == 200
    assert 'id="receipt-extend"' not in text(page) and 'id="receipt-read"' not in text(page)
    response = _extend_post(client, order)
    assert "permission" in alert_texts(client.get(response["Location"]))
    assert Order.objects.get(pk=order.pk).receipt_extensions == 0


def test_the_navbar_links_the_list_for_those_who_may_extend(login, agent, finance, shop):
    assert 'href="/receipts/"' in text(login(agent).get("/cases/"))
    assert 'href="/receipts/"' not in text(login(finance).get("/finance/"))


# --- the list ---------------------------------------------------------------------------------


def test_the_list_shows_shipped_orders_with_an_open_case_soonest_first(login, agent, shop,
                                                                        other_shop):
    later, _ = _with_case(shop, days_left=6)
    sooner, _ = _with_case(shop, days_left=1)
    estimated, _ = _with_case(shop, days_left=4, estimated=True)
    no_case = _window(shop, days_left=1)
    completed, _ = _with_case(shop, days_left=1, status=OrderStatus.COMPLETED)
    closed_case_order = _window(shop, days_left=1)
    from refunds.services.cases import case_close

    case_close(case=make_case(order=closed_case_order, amount="10.00"), actor=agent,
               reason="withdrawn", expected_state="requested")
    unknown = OrderFactory(shop=shop)
    make_case(order=unknown, amount="10.00")
    elsewhere, _ = _with_case(other_shop, days_left=1)

    client = login(agent)
    assert _listed(client.get("/receipts/")) == [sooner.pk, estimated.pk, later.pk]
    assert _listed(client.get("/receipts/", {"due": "warn"})) == [sooner.pk]
    assert _listed(client.get("/receipts/", {"due": "estimated"})) == [estimated.pk]
    assert _listed(client.get("/receipts/", {"due": "unknown"})) == [unknown.pk]
    assert _listed(client.get("/receipts/", {"due": "nonsense"})) == [
        sooner.pk, estimated.pk, later.pk]
    for hidden in (no_case, completed, closed_case_order, elsewhere):
        assert hidden.pk not in _listed(client.get("/receipts/"))


def test_a_date_passed_over_a_week_ago_is_no_longer_listed(login, agent, shop):
    """The trade has completed on the platform: nothing to extend (the next order import
    shows it completed)."""
    recent, _ = _with_case(shop, days_left=-2)
    _with_case(shop, days_left=-8)
    page = login(agent).get("/receipts/")
    assert _listed(page) == [recent.pk]
    assert 'class="table-danger"' in text(page)


def test_the_warning_filter_follows_each_shops_policy(login, agent, shop):
    shop.policy.receipt_warning_days = 7
    shop.policy.save()
    order, _ = _with_case(shop, days_left=6)
    assert _listed(login(agent).get("/receipts/", {"due": "warn"})) == [order.pk]


def test_the_list_query_count_does_not_grow_with_its_rows(login, agent, shop):
    client = login(agent)
    _with_case(shop, days_left=1)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/receipts/").status_code == 200
    for days in range(2, 10):
        _with_case(shop, days_left=days)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/receipts/")
    assert len(_listed(response)) == 9
    assert len(many) == len(few)


# --- the order's page and its two records --------------------------------------------------


def test_an_agent_records_an_extension_from_the_case(login, agent, shop):
    order, case = _with_case(shop, days_left=1)
    before = order.confirm_receipt_by
    client = login(agent)
    page = client.get(f"/orders/{order.pk}/receipt/", {"case": case.pk})
    assert 'id="receipt-extend"' in text(page) and f'value="{case.pk}"' in text(page)

    response = _extend_post(client, order, days="7", case=str(case.pk), note="换货处理中")
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.pk}/receipt/?case={case.pk}"
    page = client.get(response["Location"])
    assert "Recorded: the order confirms receipt by itself at" in alert_texts(page, "success")
    order.refresh_from_db()
    assert order.confirm_receipt_by == before + timedelta(days=7)
    change = ReceiptWindowChange.objects.get()
    assert (change.case, change.note, change.days) == (case, "换货处理中", 7)
    assert "换货处理中" in text(page)  # the history
    event = CaseEvent.objects.get(case=case, kind=EventKind.RECEIPT)
    assert "换货处理中" in text(client.get(f"/cases/{case.pk}/"))
    assert event.actor == agent


def test_a_stale_page_is_told_and_changes_nothing(login, agent, supervisor, shop):
    order, _case = _with_case(shop, days_left=1)
    seen = order.confirm_receipt_by
    services.receipt_extend(order=order, actor=supervisor, days=3, expected_confirm_by=seen)
    shop.policy.receipt_extension_limit = 3
    shop.policy.save()
    client = login(agent)
    response = _extend_post(client, order, expected_confirm_by=seen.isoformat())
    assert "changed while you were looking" in alert_texts(client.get(response["Location"]))
    assert ReceiptWindowChange.objects.count() == 1


@pytest.mark.parametrize("data", [
    {"days": "4"}, {"days": "abc"}, {"days": ""}, {"case": "999999"}, {"case": "abc"},
    {"note": "长" * 2001},
])
def test_bad_input_is_shown_and_changes_nothing(login, agent, shop, data):
    order, _case = _with_case(shop, days_left=1)
    client = login(agent)
    response = _extend_post(client, order, **data)
    assert response.status_code == 400
    assert "Please correct the errors below." in alert_texts(response)
    assert not ReceiptWindowChange.objects.exists()
    assert Order.objects.get(pk=order.pk).confirm_receipt_by == order.confirm_receipt_by


def test_a_form_posted_back_with_errors_keeps_the_case_in_both_forms(login, agent, shop):
    order, case = _with_case(shop, days_left=2)
    response = _extend_post(login(agent), order, days="4", case=str(case.pk))
    assert response.status_code == 400
    page = text(response)
    for prefix in ("extend", "read"):  # the form posted back, and the other one
        assert re.search(rf'name="{prefix}-case" value="{case.pk}"', page), prefix


@pytest.mark.parametrize("seen", ["yesterday", "2026-12-01T10:00:00"])
def test_a_tampered_date_seen_is_a_changed_page(login, agent, shop, seen):
    order, _case = _with_case(shop, days_left=1)
    client = login(agent)
    response = _extend_post(client, order, expected_confirm_by=seen)
    assert response.status_code == 302
    assert "changed while you were looking" in alert_texts(client.get(response["Location"]))
    assert not ReceiptWindowChange.objects.exists()


def test_a_case_of_another_order_is_not_accepted(login, agent, shop):
    order, _case = _with_case(shop, days_left=1)
    _other_order, other_case = _with_case(shop, days_left=1)
    response = _extend_post(login(agent), order, case=str(other_case.pk))
    assert response.status_code == 400
    assert "That case is not one of this order&#x27;s." in text(response)  # said, not hidden
    assert not ReceiptWindowChange.objects.exists()


def test_a_refusal_of_the_service_is_a_message_not_a_500(login, agent, shop):
    shop.policy.receipt_extension_limit = 1
    shop.policy.save()
    order, _case = _with_case(shop, days_left=1)
    client = login(agent)
    _extend_post(client, order)
    order.refresh_from_db()
    page = client.get(f"/orders/{order.pk}/receipt/")
    assert 'id="receipt-extend"' not in text(page)  # none left: only the date can be read
    response = _extend_post(client, order)  # a form kept open in another tab
    assert response.status_code == 302
    assert "already extended 1 time;" in alert_texts(client.get(response["Location"]))
    assert ReceiptWindowChange.objects.count() == 1


def test_the_date_read_from_the_seller_centre(login, agent, shop):
    order, _case = _with_case(shop, days_left=1, estimated=True)
    client = login(agent)
    page = client.get(f"/orders/{order.pk}/receipt/")
    assert "estimated" in text(page) and 'id="receipt-read"' in text(page)
    when = timezone.localtime(timezone.now() + timedelta(days=5)).replace(second=0,
                                                                          microsecond=0)
    response = _read_post(client, order, when.strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.confirm_receipt_by, order.confirm_receipt_estimated) == (when, False)

    past = _read_post(client, order, "2020-01-01T10:00")
    assert "has passed" in alert_texts(client.get(past["Location"]))
    assert ReceiptWindowChange.objects.count() == 1


def test_an_order_not_awaiting_confirmation_has_no_forms(login, agent, shop):
    order, _case = _with_case(shop, days_left=1, status=OrderStatus.COMPLETED)
    page = login(agent).get(f"/orders/{order.pk}/receipt/")
    assert page.status_code == 200
    assert "no window to extend" in text(page)
    assert 'id="receipt-extend"' not in text(page) and 'id="receipt-read"' not in text(page)


def test_the_order_page_query_count_does_not_grow_with_its_history(login, agent, shop):
    shop.policy.receipt_extension_limit = 10
    shop.policy.save()
    order, _case = _with_case(shop, days_left=1)
    client = login(agent)
    _extend_post(client, order)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/orders/{order.pk}/receipt/")
    for _ in range(4):
        order.refresh_from_db()
        _extend_post(client, order, days="3")
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/orders/{order.pk}/receipt/")
    assert text(response).count('class="list-group-item small"') == 5
    assert len(many) == len(few)


# --- the case page ----------------------------------------------------------------------------


def test_the_case_page_shows_when_the_order_confirms_and_links_the_window(login, agent, shop):
    order, case = _with_case(shop, days_left=1, estimated=True)
    page = text(login(agent).get(f"/cases/{case.pk}/"))
    assert 'id="confirm-by"' in page and "estimated" in page
    assert f'/orders/{order.pk}/receipt/?case={case.pk}' in page


def test_the_case_page_of_an_unshipped_order_has_no_window(login, agent, shop):
    case = make_case(order=OrderFactory(shop=shop, unshipped=True), amount="10.00")
    assert 'id="confirm-by"' not in text(login(agent).get(f"/cases/{case.pk}/"))
