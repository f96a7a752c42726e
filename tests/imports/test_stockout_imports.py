"""Stock-outs (缺货) and the imports: an order export that shows the order shipped or closed
settles its open stock-outs, with a timeline row; a platform refund for 缺货 is a case of
that reason."""

from __future__ import annotations

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from refunds.models import (
    Case,
    CaseKind,
    CaseReason,
    ContactChannel,
    ContactOutcome,
    ImportRun,
    Order,
    StockOutEvent,
    StockOutState,
)
from refunds.services import stockouts as services
from refunds.services.imports import import_orders, import_refunds
from refunds.templatetags.refunds_tags import in_words
from refunds.timezones import CHINA
from tests.factories import make_staff
from tests.imports.conftest import (
    ORDER_HEADER,
    REFUND_HEADER,
    csv_text,
    order_row,
    refund_row,
)

ORDER_ID = "3900000000099000001"
WAITING = "买家已付款，等待卖家发货"


def _paid_and_reported(shop, export):
    """The order imported paid and not shipped, then reported out of stock."""
    import_orders(shop=shop, path_or_file=export(ORDER_HEADER, [order_row(**{
        "订单编号": ORDER_ID, "订单状态": WAITING, "物流单号": "", "物流公司": ""})]))
    order = Order.objects.get(platform_order_id=ORDER_ID)
    warehouse = make_staff("wh", "warehouse", shop, staff_number="W9")
    return services.stockout_report(order=order, actor=warehouse, line=order.lines.get(),
                                    quantity=1)


def test_the_order_shipped_in_the_next_export_settles_the_stockout(roles, shop_a, export):
    stockout = _paid_and_reported(shop_a, export)
    agent = make_staff("ag", "agent", shop_a)
    services.stockout_contact(stockout=stockout, actor=agent, channel=ContactChannel.PHONE,
                              outcome=ContactOutcome.REACHED, note="可等")
    services.stockout_buyer_agreed(
        stockout=stockout, actor=agent, remedy="wait",
        agreed_ship_by=timezone.now().astimezone(CHINA).date() + timedelta(days=3), note="")

    result = import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{
        "订单编号": ORDER_ID, "物流单号": "SF777"})]))

    assert result.stockouts_settled == 1
    assert result.summary().endswith(", stock-outs settled 1")
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.SHIPPED and stockout.resolved_at is not None
    event = StockOutEvent.objects.filter(stockout=stockout).latest("id")
    assert (event.kind, event.from_state, event.to_state, event.actor) == (
        "transition", "agreed", "shipped", None)
    assert in_words(event) == "The order import shows the order shipped."
    with translation.override("zh-hans"):
        assert in_words(event) != "The order import shows the order shipped."


def test_the_order_closed_on_the_platform_closes_the_stockout(roles, shop_a, export):
    stockout = _paid_and_reported(shop_a, export)
    import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [order_row(**{
        "订单编号": ORDER_ID, "订单状态": "交易关闭", "物流单号": "", "物流公司": ""})]))
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.ORDER_CLOSED


def test_the_same_export_again_or_a_dry_run_moves_nothing(roles, shop_a, export):
    stockout = _paid_and_reported(shop_a, export)
    same = export(ORDER_HEADER, [order_row(**{
        "订单编号": ORDER_ID, "订单状态": WAITING, "物流单号": "", "物流公司": ""})])
    assert "stock-outs" not in import_orders(shop=shop_a, path_or_file=same).summary()
    shipped = export(ORDER_HEADER, [order_row(**{"订单编号": ORDER_ID})])
    import_orders(shop=shop_a, path_or_file=shipped, dry_run=True)
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.REPORTED
    assert StockOutEvent.objects.filter(stockout=stockout).count() == 1  # its report


def test_a_platform_refund_for_out_of_stock_is_a_case_of_that_reason(roles, shop_a, export):
    stockout = _paid_and_reported(shop_a, export)
    import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, [refund_row(**{
        "订单编号": ORDER_ID, "退款原因": "缺货", "是否需要退货": "否", "货物状态": "买家未收到货",
        "售中或售后": "售中"})]))
    case = Case.objects.get()
    assert (case.reason, case.kind) == (CaseReason.OUT_OF_STOCK, CaseKind.REFUND_ONLY)

    agent = make_staff("ag", "agent", shop_a)
    services.stockout_contact(stockout=stockout, actor=agent, channel=ContactChannel.IM,
                              outcome=ContactOutcome.REACHED, note="买家已申请退款")
    services.stockout_refund(stockout=stockout, actor=agent)
    stockout.refresh_from_db()
    assert stockout.case == case and Case.objects.count() == 1  # the same request, not a second


def test_the_upload_page_and_the_history_count_the_stockouts_settled(roles, shop_a, export,
                                                                    client, manager):
    _paid_and_reported(shop_a, export)
    client.force_login(manager)
    data = csv_text(ORDER_HEADER, [order_row(**{"订单编号": ORDER_ID, "物流单号": "SF777"})])
    response = client.post("/imports/", {
        "shop": shop_a.pk, "kind": "orders",
        "file": SimpleUploadedFile("orders.csv", data.encode("gbk"), content_type="text/csv")})
    page = response.content.decode()
    assert 'data-count="stockouts_settled">1<' in page
    assert ImportRun.objects.latest("id").stockouts_settled == 1
    history = client.get("/imports/").content.decode()
    assert 'data-stockouts-settled="1">1 stock-out settled<' in history
