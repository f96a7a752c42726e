"""The order import's fast paths give what the plain ones give (docs/PERFORMANCE.md).

Reading ahead in a thread (used on PostgreSQL), the raw key lookups, the datetime short cut
and the plain-amount short cut are each compared with the slower way they replace. The
whole import runs through them in the other tests of this folder, on SQLite and on
PostgreSQL (with DATABASE_URL set).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import translation

from refunds.imports.reader import read_export
from refunds.imports.rows import CHINA, ORDER_USED, RowError, order_parser, parse_money
from refunds.models import Buyer, Order
from refunds.services.imports import (
    ImportResult,
    _keyed_rows,
    _parsed_chunks,
    _read_ahead,
    _value_adapter,
)
from tests.imports.conftest import ORDER_HEADER, order_row


def _chunks_of(path, read_ahead: bool, shop) -> tuple[list[list[str]], list, list]:
    export = read_export(path)
    result, progress = ImportResult(kind="orders"), []
    chunks = _parsed_chunks(export, shop, order_parser(export.columns), lambda row: row.order_id,
                            result, lambda done, total: progress.append((done, total)), 3,
                            only=ORDER_USED, read_ahead=read_ahead)
    ids = [[row.order_id for row in chunk] for chunk in chunks]
    return ids, result.errors, progress


def test_reading_ahead_gives_the_same_chunks_row_errors_and_progress(export, shop_a):
    path = export(ORDER_HEADER, [
        order_row(**{"订单编号": "1"}),
        order_row(**{"订单编号": "2", "订单状态": "不知道"}),
        order_row(**{"订单编号": "1", "订单备注": "again"}),  # a repeat starts a new chunk
    ])

    ahead = _chunks_of(path, read_ahead=True, shop=shop_a)

    assert ahead == _chunks_of(path, read_ahead=False, shop=shop_a)
    assert ahead[0] == [["1"], ["1"]]
    assert [line for line, _reason in ahead[1]] == [3]
    assert ahead[2][-1] == (3, 3)


@pytest.mark.django_db
def test_row_errors_read_ahead_are_in_the_callers_language(export, shop_a):
    path = export(ORDER_HEADER, [order_row(**{"订单编号": "1", "订单状态": "不知道"})])

    with translation.override("zh-hans"):
        _ids, errors, _progress = _chunks_of(path, read_ahead=True, shop=shop_a)

    assert errors == [(2, "未知的订单状态“不知道”。")]


def test_an_error_met_reading_ahead_is_raised_in_the_caller():
    def items():
        yield 1
        raise ValueError("broken")

    ahead = _read_ahead(items())
    assert next(ahead) == 1
    with pytest.raises(ValueError, match="broken"):
        next(ahead)


def test_closing_the_reader_early_stops_its_thread():
    ahead = _read_ahead(iter(range(1000)))
    assert next(ahead) == 0

    ahead.close()

    assert not [thread for thread in threading.enumerate()
                if thread.name == "import-read-ahead"]


@pytest.mark.django_db
def test_keyed_rows_finds_what_the_orm_finds_beyond_the_parameter_limit(shop_a):
    Buyer.objects.bulk_create([Buyer(platform=shop_a.platform, nick=f"tb{n}") for n in range(5)]
                              + [Buyer(platform="other", nick="tb3")])
    keys = [f"tb{n}" for n in range(0, 2500, 2)]  # more than SQLite's 999 parameters

    found = _keyed_rows(Buyer, ["nick", "id"], {"platform": shop_a.platform}, "nick", keys)

    assert sorted(found) == sorted(Buyer.objects.filter(platform=shop_a.platform,
                                                        nick__in=keys)
                                   .values_list("nick", "pk"))
    assert sorted(nick for nick, _pk in found) == ["tb0", "tb2", "tb4"]
    assert _keyed_rows(Buyer, ["id"], {"platform": shop_a.platform}, "nick", []) == []


@pytest.mark.django_db
@pytest.mark.parametrize("moment", [
    datetime(2026, 11, 1, 10, 5, tzinfo=CHINA),
    datetime(2026, 11, 1, 2, 5, 30, 250, tzinfo=UTC),
])
def test_the_datetime_short_cut_sends_what_django_sends(moment):
    field = Order._meta.get_field("paid_at")

    assert _value_adapter(field, connection)(moment) == field.get_db_prep_save(moment,
                                                                                connection)


@pytest.mark.parametrize(("value", "expected"), [
    ("188.00", "188.00"), ("0.5", "0.50"), ("012", "12.00"), ("9999999999.99", "9999999999.99"),
    ("¥1,188.5", "1188.50"), (" 3.10 ", "3.10"),
])
def test_plain_and_decorated_amounts_read_alike(value, expected):
    assert parse_money(value, "买家实际支付金额") == Decimal(expected)


@pytest.mark.parametrize("value", ["10000000000", "1.005", "-1", "abc", "NaN"])
def test_amounts_out_of_range_or_malformed_are_still_refused(value):
    with pytest.raises(RowError):
        parse_money(value, "买家实际支付金额")


def test_a_plain_zero_is_refused_where_the_amount_must_be_positive():
    with pytest.raises(RowError, match="more than zero"):
        parse_money("0.00", "退款金额", positive=True)
