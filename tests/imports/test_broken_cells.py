"""Files and cells broken in ways the seller centre never writes, but editors and people do:
each is a clear message, on the page and in the commands, and changes nothing."""

from __future__ import annotations

import codecs

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from refunds.imports.reader import ImportFileError, read_export
from refunds.models import Case, ImportRun, Order, Review
from refunds.services.imports import import_orders, import_refunds, import_reviews
from tests.factories import OrderFactory
from tests.imports.conftest import (
    ORDER_HEADER,
    REFUND_HEADER,
    REVIEW_HEADER,
    csv_text,
    order_row,
    refund_row,
    review_row,
)

ORDERS = csv_text(ORDER_HEADER, [order_row()])
BROKEN_ENCODINGS = {
    # an editor put a UTF-8 byte-order mark on a GBK file
    "utf8-mark-on-gbk": codecs.BOM_UTF8 + ORDERS.encode("gbk"),
    # a UTF-16 file cut off in the middle of a character
    "utf16-cut": codecs.BOM_UTF16_LE + ORDERS.encode("utf-16-le") + b"\x00",
}


@pytest.mark.parametrize("raw", BROKEN_ENCODINGS.values(), ids=BROKEN_ENCODINGS.keys())
def test_a_file_whose_bytes_do_not_follow_its_byte_order_mark_is_refused(tmp_path, raw):
    path = tmp_path / "orders.csv"
    path.write_bytes(raw)
    with pytest.raises(ImportFileError, match="save it again as UTF-8 or GBK"):
        read_export(path)


def test_the_upload_page_says_so_and_imports_nothing(client, manager, shop_a):
    client.force_login(manager)
    upload = SimpleUploadedFile("orders.csv", BROKEN_ENCODINGS["utf8-mark-on-gbk"],
                                content_type="text/csv")
    response = client.post("/imports/", {"shop": shop_a.pk, "kind": "orders", "file": upload})
    assert response.status_code == 400
    assert "save it again as UTF-8 or GBK" in response.content.decode()
    assert not Order.objects.exists()
    assert "save it again" in ImportRun.objects.get().refused  # the attempt is in the history


IMPLAUSIBLE = ["0001-01-01 00:00:00", "9999-12-31 23:59:59", "1899-12-30 00:00:00"]


@pytest.mark.parametrize("when", IMPLAUSIBLE)
def test_an_order_row_with_an_implausible_date_is_rejected_the_others_imported(
        shop_a, export, when):
    path = export(ORDER_HEADER, [
        order_row(**{"订单创建时间": when}),
        order_row(**{"订单编号": "3900000000099000002"}),
    ])
    result = import_orders(shop=shop_a, path_or_file=path)
    assert (result.imported, result.rejected) == (1, 1), result.summary()
    assert list(Order.objects.values_list("platform_order_id", flat=True)) == [
        "3900000000099000002"]
    assert "not a plausible date" in str(result.errors)


@pytest.mark.parametrize("when", IMPLAUSIBLE)
def test_a_refund_row_with_an_implausible_date_is_rejected(shop_a, export, when):
    order = OrderFactory(shop=shop_a)
    path = export(REFUND_HEADER, [refund_row(**{"订单编号": order.platform_order_id,
                                                "申请时间": when})])
    result = import_refunds(shop=shop_a, path_or_file=path)
    assert result.rejected == 1, result.summary()
    assert not Case.objects.exists()


@pytest.mark.parametrize("when", IMPLAUSIBLE)
def test_a_review_row_with_an_implausible_date_is_rejected(shop_a, export, when):
    order = OrderFactory(shop=shop_a)
    path = export(REVIEW_HEADER, [review_row(**{"订单编号": order.platform_order_id,
                                                "评价时间": when})])
    result = import_reviews(shop=shop_a, path_or_file=path)
    assert result.rejected == 1, result.summary()
    assert not Review.objects.exists()
