"""A quote that opens a cell and never closes makes lenient CSV reading take the rest of the
file as that one cell: the rows after it would vanish without a word. Such a file, and any
other that is not well-formed CSV, is refused whole, naming the line, before a row is
written — on the page, in the commands and in the import history."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from refunds.imports.reader import ImportFileError, read_export
from refunds.models import Case, ImportRun, Order
from refunds.services.imports import import_orders, import_refunds
from tests.factories import OrderFactory
from tests.imports.conftest import ORDER_HEADER, REFUND_HEADER, csv_text, order_row, refund_row


def orders_with_an_open_quote() -> bytes:
    """Four orders; the second's buyer message opens a quote that never closes (line 3)."""
    text = csv_text(ORDER_HEADER, [
        order_row(订单编号=f"390000000009900000{n}", 买家留言="QUOTE" if n == 2 else "")
        for n in range(1, 5)])
    return text.replace("QUOTE", '"请尽快发货').encode("gbk")


def test_an_order_file_is_refused_naming_the_line_where_the_quote_opened(shop_a, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(orders_with_an_open_quote())
    with pytest.raises(ImportFileError, match="opened on line 3 is never closed"):
        import_orders(shop=shop_a, path_or_file=path)
    assert not Order.objects.exists()


def test_a_refund_file_is_refused_and_opens_no_case(shop_a, tmp_path):
    orders = [OrderFactory(shop=shop_a, platform_order_id=f"39000000000990001{n}")
              for n in range(3)]
    text = csv_text(REFUND_HEADER, [
        refund_row(退款编号=f"18000000900000{n}", 订单编号=order.platform_order_id,
                   退款金额="10.00", 退款说明="QUOTE" if n == 0 else "x")
        for n, order in enumerate(orders)]).replace("QUOTE", '"不想要了')
    path = tmp_path / "refunds.csv"
    path.write_bytes(text.encode("gbk"))
    with pytest.raises(ImportFileError, match="opened on line 2 is never closed"):
        import_refunds(shop=shop_a, path_or_file=path)
    assert not Case.objects.exists()


def test_the_upload_page_says_so_and_keeps_the_attempt(client, manager, shop_a):
    client.force_login(manager)
    upload = SimpleUploadedFile("orders.csv", orders_with_an_open_quote(),
                                content_type="text/csv")
    response = client.post("/imports/", {"shop": shop_a.pk, "kind": "orders", "file": upload})
    assert response.status_code == 400
    assert "is never closed" in response.content.decode()
    assert not Order.objects.exists()
    assert "line 3" in ImportRun.objects.get().refused


def test_other_malformed_csv_is_refused_with_its_line(tmp_path):
    text = csv_text(ORDER_HEADER, [order_row(), order_row(买家留言="QUOTE")])
    path = tmp_path / "orders.csv"
    path.write_bytes(text.replace("QUOTE", '"请"尽快').encode("gbk"))  # text after a closed quote
    with pytest.raises(ImportFileError, match="Line 3 cannot be read as CSV"):
        read_export(path)


def test_quotes_the_platforms_write_are_read_as_before(tmp_path):
    """Quoted cells with commas, doubled quotes and line breaks, and the ="…" guard."""
    row = order_row(买家留言="QUOTED")
    text = csv_text(ORDER_HEADER, [row]).replace("QUOTED", '"第一行,有逗号\r\n第二行 ""引号"""')
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode("gbk"))
    [record] = list(read_export(path).records())
    assert record.get("买家留言") == '第一行,有逗号\r\n第二行 "引号"'
