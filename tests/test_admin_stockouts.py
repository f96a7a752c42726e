"""Stock-outs in the admin: a manager reads their shops' ones and the timeline; nothing there
changes or deletes them (they change through the stock-out page)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from refunds.models import StockOut, StockOutEvent, StockOutState
from refunds.services import stockouts as services
from tests.factories import OrderFactory, make_staff


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
