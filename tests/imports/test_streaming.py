"""An export is read a pass at a time, never held whole: memory, uploads, BOMs, a changed file."""

from __future__ import annotations

import codecs
import io
import tracemalloc

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile

from refunds.imports import reader
from refunds.imports.reader import ImportFileError, read_export
from refunds.models import Order
from refunds.services.imports import import_orders
from tests.imports.conftest import ORDER_HEADER, csv_text, order_row


def _orders(count: int, start: int = 0) -> str:
    return csv_text(ORDER_HEADER, [
        order_row(**{"订单编号": f"39000000001{n:08d}", "买家会员名": f"tb买家{n}",
                     "买家留言": "请尽快发货，谢谢" * 4})
        for n in range(start, start + count)])


def test_reading_an_export_holds_blocks_of_it_not_the_whole_file(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "BLOCK", 64 * 1024)
    path = tmp_path / "orders.csv"
    path.write_bytes(_orders(12_000).encode("gbk"))
    size = path.stat().st_size
    assert size > 3_000_000

    tracemalloc.start()
    try:
        export = read_export(path)  # the encoding and strict CSV passes
        count = sum(1 for _record in export.records(only=["订单编号"]))
        count += sum(1 for _record in export.records())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 24_000
    # the file's text alone would be twice its GBK bytes (Python keeps CJK text as UCS-2)
    assert peak < size / 5, f"peak {peak:,} bytes for a {size:,}-byte file"


def _upload(content: bytes, temporary: bool):
    if temporary:  # what Django makes of an upload over FILE_UPLOAD_MAX_MEMORY_SIZE
        upload = TemporaryUploadedFile("orders.csv", "text/csv", len(content), None)
        upload.write(content)
        upload.seek(0)
        return upload
    return InMemoryUploadedFile(io.BytesIO(content), "file", "orders.csv", "text/csv",
                                len(content), None)


@pytest.mark.parametrize("temporary", [False, True], ids=["in memory", "on disk"])
def test_an_upload_is_read_in_every_pass_and_left_open_for_its_owner(shop_a, temporary):
    upload = _upload(_orders(3).encode("gbk"), temporary)

    dry = import_orders(shop=shop_a, path_or_file=upload, dry_run=True)
    result = import_orders(shop=shop_a, path_or_file=upload)

    assert (dry.imported, result.imported, result.rejected) == (3, 3, 0)
    assert result.encoding == "gbk" and result.filename == "orders.csv"
    assert Order.objects.filter(shop=shop_a).count() == 3
    assert not upload.closed
    upload.close()


def test_a_text_stream_is_read_as_it_is_without_its_byte_order_mark(shop_a):
    result = import_orders(shop=shop_a, path_or_file=io.StringIO("\ufeff" + _orders(2)))

    assert (result.imported, result.rejected, result.encoding) == (2, 0, "text")
    assert Order.objects.filter(shop=shop_a, platform_order_id="3900000000100000000").exists()


@pytest.mark.parametrize("block", [1024 * 1024, 5, 6], ids=["one block", "split", "split 2"])
def test_a_byte_order_mark_on_a_gbk_file_names_the_first_byte_that_is_not_utf8(
        tmp_path, monkeypatch, block):
    monkeypatch.setattr(reader, "BLOCK", block)  # the bad character straddles two blocks
    path = tmp_path / "orders.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"ab," + "订单编号".encode("gbk") + b"\r\n")

    with pytest.raises(ImportFileError, match="starts as utf-8-sig but byte 6 is not"):
        read_export(path)


def test_a_gbk_character_split_across_blocks_still_decodes(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "BLOCK", 3)
    path = tmp_path / "orders.csv"
    path.write_bytes(_orders(2).encode("gbk"))

    export = read_export(path)

    assert export.encoding == "gbk"
    assert [record.get("买家会员名") for record in export.records()] == ["tb买家0", "tb买家1"]


def test_a_file_changed_after_it_was_opened_is_refused_not_misread(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(_orders(2).encode("utf-8"))
    export = read_export(path)
    path.write_bytes(_orders(1).encode("utf-8") + b"\xff\xfe broken\r\n")

    with pytest.raises(ImportFileError, match="no longer reads as utf-8: it was changed"):
        list(export.records())


def test_a_text_stream_with_cr_line_ends_is_read_as_before(shop_a):
    text = _orders(2).replace("\r\n", "\r")

    result = import_orders(shop=shop_a, path_or_file=io.StringIO(text))

    assert (result.imported, result.rejected) == (2, 0)


@pytest.mark.parametrize("importer", ["import_orders", "import_reviews", "import_refunds"])
def test_a_file_replaced_by_another_shops_export_after_its_check_imports_none_of_it(
        shop_a, tmp_path, monkeypatch, importer):
    """The file is read again for the rows: each row is checked for its shop there too."""
    from refunds.services import imports as service

    path = tmp_path / "orders.csv"
    path.write_bytes(_orders(1).encode("gbk"))
    other = csv_text(ORDER_HEADER, [order_row(订单编号="3900000000077000009", 店铺Id="SHOP-B",
                                              店铺名称="别人的店")]).encode("gbk")
    check = service._check_shop

    def check_then_replace(export, shop):
        count = check(export, shop)
        path.write_bytes(other)  # the drop folder's file replaced by another shop's export
        return count

    monkeypatch.setattr(service, "_check_shop", check_then_replace)
    monkeypatch.setattr(service, "REVIEW_REQUIRED", ["订单编号"])  # the order export will do
    monkeypatch.setattr(service, "REFUND_REQUIRED", ["订单编号"])

    with pytest.raises(service.ImportStopped) as stopped:
        getattr(service, importer)(shop=shop_a, path_or_file=path)

    assert "belongs to 店铺Id “SHOP-B”" in str(stopped.value.result.failure)
    assert not Order.objects.filter(platform_order_id="3900000000077000009").exists()
