"""A header that names a column twice (a hand-made file): the column is read from whichever
copy holds a value, and a row whose copies disagree is rejected with both values — never
read from one copy with the other thrown away."""

from __future__ import annotations

from refunds.models import Order
from refunds.services.imports import import_orders
from tests.imports.conftest import ORDER_HEADER, order_row

HEADER = [*ORDER_HEADER, "买家留言", "买家会员名"]


def _row(order_id: str, *, note: str = "", note_again: str = "", nick_again: str = "tb买家甲"):
    return order_row(订单编号=order_id, 买家留言=note) + [note_again, nick_again]


def test_a_repeated_column_is_read_from_the_copy_that_holds_a_value(shop_a, export):
    result = import_orders(shop=shop_a, path_or_file=export(HEADER, [
        _row("3900000000099000001", note="请尽快发货", note_again=""),
        _row("3900000000099000002", note="", note_again="周末送货"),
        _row("3900000000099000003", note="同一句", note_again="同一句"),
    ]))

    assert (result.imported, result.rejected) == (3, 0)
    assert dict(Order.objects.values_list("platform_order_id", "buyer_message")) == {
        "3900000000099000001": "请尽快发货", "3900000000099000002": "周末送货",
        "3900000000099000003": "同一句"}


def test_a_row_whose_repeated_columns_disagree_is_rejected_with_both_values(shop_a, export):
    result = import_orders(shop=shop_a, path_or_file=export(HEADER, [
        _row("3900000000099000001"),
        _row("3900000000099000002", nick_again="tb买家乙"),
    ]))

    assert (result.imported, result.rejected) == (1, 1)
    [(line, reason)] = result.errors
    assert line == 3
    assert "two “买家会员名” columns" in reason and "“tb买家甲” and “tb买家乙”" in reason
    assert list(Order.objects.values_list("platform_order_id", flat=True)) == [
        "3900000000099000001"]
