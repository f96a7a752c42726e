"""A row with a non-empty cell beyond the header's last column (an unquoted comma shifted it,
or the header lost a column) is rejected with that cell, never read askew with the cell
thrown away; empty cells there (a trailing comma) are nothing."""

from __future__ import annotations

from refunds.models import Case, Order
from refunds.services.imports import import_orders, import_refunds
from tests.factories import OrderFactory
from tests.imports.conftest import ORDER_HEADER, REFUND_HEADER, order_row, refund_row


def test_an_order_row_with_a_cell_beyond_the_header_is_rejected_with_it(shop_a, export):
    result = import_orders(shop=shop_a, path_or_file=export(ORDER_HEADER, [
        order_row(订单编号="3900000000099000001"),
        order_row(订单编号="3900000000099000002") + ["多出来的一格"],
        order_row(订单编号="3900000000099000003") + ["", " "],  # a trailing comma or two
    ]))
    assert (result.imported, result.rejected) == (2, 1)
    [(line, reason)] = result.errors
    assert line == 3 and "多出来的一格" in reason and "more cells than the header" in reason
    assert set(Order.objects.values_list("platform_order_id", flat=True)) == {
        "3900000000099000001", "3900000000099000003"}


def test_a_refund_row_with_a_cell_beyond_the_header_opens_no_case(shop_a, export):
    order = OrderFactory(shop=shop_a, platform_order_id="3900000000099000011")
    result = import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, [
        refund_row(退款编号="180000009000001", 订单编号=order.platform_order_id,
                   退款金额="10.00") + ["10.00"],
    ]))
    assert (result.imported, result.rejected) == (0, 1)
    assert "“10.00” is under no column" in result.errors[0][1]
    assert not Case.objects.exists()
