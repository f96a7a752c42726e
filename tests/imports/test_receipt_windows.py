"""The order import starts the buyer's confirm-receipt window (延长收货): from the ship time
when the export has one, else estimated from the payment; a date a person recorded stays."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from refunds.models import Order
from refunds.services import receipts
from refunds.services.imports import import_orders
from refunds.timezones import CHINA
from tests.factories import make_staff
from tests.imports.conftest import ORDER_HEADER, order_row

ORDER_ID = "3900000000099000001"
PAID = datetime(2026, 11, 1, 10, 5, tzinfo=CHINA)  # the defaults' 订单付款时间
WAITING = "买家已付款，等待卖家发货"


def _import(shop, export, header=ORDER_HEADER, **values):
    rows = [order_row(**values)] if header is ORDER_HEADER else [
        [*order_row(**{k: v for k, v in values.items() if k != "发货时间"}),
         values.get("发货时间", "")]]
    return import_orders(shop=shop, path_or_file=export(header, rows))


def test_a_shipped_order_without_ship_time_gets_an_estimate_from_the_payment(roles, shop_a,
                                                                           export):
    result = _import(shop_a, export)
    order = Order.objects.get(platform_order_id=ORDER_ID)
    assert (order.confirm_receipt_by, order.confirm_receipt_estimated) == (
        PAID + timedelta(days=10), True)
    again = _import(shop_a, export)  # the same export again changes nothing
    assert (result.imported, again.updated, again.unchanged) == (1, 0, 1)


def test_the_ship_time_starts_the_window_and_replaces_the_estimate(roles, shop_a, export):
    shop_a.policy.auto_confirm_days = 15
    shop_a.policy.save()
    _import(shop_a, export)
    header = [*ORDER_HEADER, "发货时间"]
    result = _import(shop_a, export, header, **{"发货时间": "2026-11-02 09:00:00"})
    order = Order.objects.get(platform_order_id=ORDER_ID)
    shipped = datetime(2026, 11, 2, 9, 0, tzinfo=CHINA)
    assert (order.shipped_at, order.confirm_receipt_by, order.confirm_receipt_estimated) == (
        shipped, shipped + timedelta(days=15), False)
    assert result.updated == 1


def test_an_unshipped_order_has_no_window_until_it_ships(roles, shop_a, export):
    _import(shop_a, export, **{"订单状态": WAITING, "物流单号": "", "物流公司": ""})
    assert Order.objects.get(platform_order_id=ORDER_ID).confirm_receipt_by is None
    _import(shop_a, export)
    order = Order.objects.get(platform_order_id=ORDER_ID)
    assert order.confirm_receipt_by == PAID + timedelta(days=10)


def test_a_date_an_agent_recorded_is_kept_by_the_next_import(roles, shop_a, export):
    _import(shop_a, export)
    order = Order.objects.get(platform_order_id=ORDER_ID)
    agent = make_staff("ag", "agent", shop_a)
    read = timezone.now() + timedelta(days=4)
    receipts.receipt_read(order=order, actor=agent, confirm_by=read,
                          expected_confirm_by=order.confirm_receipt_by)
    header = [*ORDER_HEADER, "发货时间"]
    _import(shop_a, export, header, **{"发货时间": "2026-11-02 09:00:00"})
    order.refresh_from_db()
    assert (order.confirm_receipt_by, order.confirm_receipt_estimated) == (read, False)
