"""Reading an export: encodings, CRLF, quoted newlines and commas, `="…"`, line numbers."""

from __future__ import annotations

import codecs

import pytest

from refunds.imports.reader import ImportFileError, clean_cell, detect_encoding, read_export
from refunds.imports.rows import parse_time
from tests.imports.conftest import ORDER_HEADER, csv_text, order_row

RARE = "𠮷野家的𠀋"  # outside GBK: GB18030 (four-byte sequences) or UTF-8 only


@pytest.mark.parametrize(("encoding", "prefix", "label"), [
    ("gbk", b"", "gbk"),
    ("gb18030", b"", "gb18030"),
    ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
    ("utf-8", b"", "utf-8"),
])
def test_every_platform_encoding_is_detected_and_decoded_without_loss(tmp_path, encoding,
                                                                        prefix, label):
    nick = "tb买家甲" if encoding == "gbk" else f"tb{RARE}"
    text = csv_text(ORDER_HEADER, [order_row(**{"买家会员名": nick, "宝贝标题": "羊毛·针织开衫"})])
    path = tmp_path / "orders.csv"
    path.write_bytes(prefix + text.encode(encoding))

    export = read_export(path)

    assert export.encoding == label
    assert export.header[0] == "订单编号"  # no BOM left on the first column
    [record] = list(export.records())
    assert record.get("买家会员名") == nick
    assert record.get("宝贝标题") == "羊毛·针织开衫"


def test_gbk_files_are_decoded_as_gb18030_so_nothing_is_dropped():
    raw = "订单编号,买家会员名\r\n1,𠮷\r\n".encode("gb18030")
    assert detect_encoding(raw) == ("gb18030", "gb18030")
    assert detect_encoding("订单编号\r\n".encode("gbk")) == ("gbk", "gb18030")


def test_binary_and_undecodable_files_are_refused_whole():
    with pytest.raises(ImportFileError):
        detect_encoding(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(ImportFileError):
        detect_encoding(b"\xe8\xae\xa2abc\x80def")


def test_crlf_quoted_newlines_commas_and_line_numbers(tmp_path):
    text = ("订单编号,买家留言,物流单号\r\n"
            '="3900000000000000001","请尽快,发货",No:SF123\r\n'
            '"=""3900000000000000002""","第一行\r\n第二行",No: 456\r\n'
            "\r\n"
            "3900000000000000003,,\r\n")
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode("gbk"))

    records = list(read_export(path).records())

    assert [r.line for r in records] == [2, 3, 6]  # the physical line each row starts on
    assert [r.get("订单编号") for r in records] == [
        "3900000000000000001", "3900000000000000002", "3900000000000000003"]
    assert records[0].get("买家留言") == "请尽快,发货"
    assert records[1].get("买家留言") == "第一行\r\n第二行"


def test_extra_and_short_rows_are_tolerated(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes("订单编号,买家会员名,,备用\r\n1,甲,x,y,z,more\r\n2\r\n".encode("gbk"))
    first, second = read_export(path).records()
    assert first.get("买家会员名") == "甲"
    assert second.get("买家会员名") == ""


def test_a_missing_required_column_is_named(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes("订单编号,买家会员名\r\n1,甲\r\n".encode("gbk"))
    export = read_export(path)
    with pytest.raises(ImportFileError, match="买家实际支付金额"):
        export.require(["订单编号", "买家实际支付金额"])


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ImportFileError):
        read_export(path)


def test_cells_are_stripped_and_unwrapped():
    assert clean_cell(' ="0012345" ') == "0012345"
    assert clean_cell("\t3900\t") == "3900"
    assert clean_cell("=SUM(A1)") == "=SUM(A1)"  # only the quoted guard is unwrapped


def test_times_are_china_time():
    moment = parse_time("2026-10-28 23:29:00", "订单创建时间")
    assert moment.utcoffset().total_seconds() == 8 * 3600
    assert moment.isoformat() == "2026-10-28T23:29:00+08:00"
    assert parse_time("2026/1/5 9:03", "x").isoformat() == "2026-01-05T09:03:00+08:00"
