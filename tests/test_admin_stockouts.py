"""Stock-outs in the admin: a manager reads their shops' ones and the timeline; nothing there
changes or deletes them (they change through the stock-out page)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from refunds.models import Notification, StockOut, StockOutEvent, StockOutState
from refunds.services import stockouts as services
from tests.factories import OrderFactory, make_staff
from tests.test_admin import _change_form_data


def _report(shop, warehouse):
    order = OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now())
    return services.stockout_report(order=order, actor=warehouse, line=order.lines.get(),
                                    quantity=1, note="库存为 0")


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_a_manager_reads_their_shops_stockouts_only(manager_client, shop, other_shop,
                                                    warehouse, roles):
    mine = _report(shop, warehouse)
    theirs = _report(other_shop, make_staff("wh_b", "warehouse", other_shop))
    page = manager_client.get("/admin/refunds/stockout/").content.decode()
    assert f"/admin/refunds/stockout/{mine.pk}/change/" in page
    assert f"/admin/refunds/stockout/{theirs.pk}/change/" not in page
    detail = manager_client.get(f"/admin/refunds/stockout/{mine.pk}/change/")
    assert detail.status_code == 200 and "库存为 0" in detail.content.decode()
    assert manager_client.get(f"/admin/refunds/stockout/{theirs.pk}/change/").status_code == 302


def test_nothing_in_the_admin_changes_or_deletes_a_stockout(manager_client, shop, warehouse):
    stockout = _report(shop, warehouse)
    assert manager_client.post(f"/admin/refunds/stockout/{stockout.pk}/change/",
                               {"state": "shipped"}).status_code == 403
    assert manager_client.post(f"/admin/refunds/stockout/{stockout.pk}/delete/",
                               {"post": "yes"}).status_code == 403
    assert manager_client.get("/admin/refunds/stockout/add/").status_code == 403
    assert StockOut.objects.get().state == StockOutState.REPORTED
    assert StockOutEvent.objects.count() == 1


def test_an_order_marked_shipped_in_the_admin_settles_its_stockouts(manager_client, shop,
                                                                    warehouse):
    stockout = _report(shop, warehouse)
    url = f"/admin/refunds/order/{stockout.order_id}/change/"
    data = _change_form_data(manager_client, url)
    assert data["status"] == "paid"
    data.update({"status": "shipped", "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0",
                 "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "1000"})
    response = manager_client.post(url, data, follow=True)
    assert "1 stock-out of this order follows it" in response.content.decode()
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.SHIPPED
    event = StockOutEvent.objects.filter(stockout=stockout).latest("id")
    assert (event.from_state, event.to_state) == ("reported", "shipped")


def test_the_notifications_admin_lists_those_about_the_managers_shops_stockouts(
        manager_client, manager, shop, other_shop, warehouse, supervisor, roles):
    """The roles give no notification admin; a manager a superuser lets read it reads those
    of their shops only — about a stock-out too, not only about a case."""
    manager.user_permissions.add(Permission.objects.get(codename="view_notification"))
    mine = _report(shop, warehouse)
    theirs = _report(other_shop, make_staff("wh_c", "warehouse", other_shop))
    about_mine = Notification.objects.create(user=supervisor, stockout=mine,
                                             kind="stockout_due", message="mine")
    about_theirs = Notification.objects.create(user=supervisor, stockout=theirs,
                                               kind="stockout_due", message="theirs")
    page = manager_client.get("/admin/refunds/notification/").content.decode()
    assert f"/admin/refunds/notification/{about_mine.pk}/change/" in page
    assert f"/admin/refunds/notification/{about_theirs.pk}/change/" not in page
    assert f"stock-out (缺货) #{mine.pk}" in page
    assert manager_client.get(
        f"/admin/refunds/notification/{about_theirs.pk}/change/").status_code == 302
