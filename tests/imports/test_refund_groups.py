"""import_refunds at scale: rows in groups of one transaction each (a savepoint per row), and a
row the case has already seen answered without locking or writing (docs/PERFORMANCE.md)."""

from __future__ import annotations

import logging
from decimal import Decimal
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from refunds.models import Case, CaseEvent, CaseState, ImportRun, Payout, Refund
from refunds.services import imports
from refunds.services.imports import REFUND_GROUP, import_refunds
from tests.factories import OrderFactory
from tests.imports.conftest import REFUND_HEADER, STATUS, refund_row

ROWS = REFUND_GROUP + REFUND_GROUP // 2  # two groups, the second half full


@pytest.fixture
def orders(shop_a):
    return [OrderFactory(shop=shop_a, platform_order_id=f"39000000000770{n:05d}",
                         paid_amount=Decimal("188.00")) for n in range(ROWS)]


@pytest.fixture
def requests_file(export, orders):
    """One new refund request per order (refund ids 1800000077xxxxx)."""
    def _file(status: str = "WAIT_SELLER_AGREE", modified: str = "2026-11-05 09:00:00",
              only: slice = slice(None)):
        return export(REFUND_HEADER, [
            refund_row(**{"退款编号": f"1800000077{n:05d}", "订单编号": order.platform_order_id,
                          "退款状态": STATUS[status], "修改时间": modified, "退款金额": "50.00",
                          "是否需要退货": "否"})
            for n, order in enumerate(orders)][only])

    return _file


@pytest.mark.django_db(transaction=True)
def test_new_refunds_commit_once_per_group_not_once_per_row(shop_a, requests_file):
    path = requests_file()
    with mock.patch.object(connection, "commit", wraps=connection.commit) as commit:
        result = import_refunds(shop=shop_a, path_or_file=path)

    assert (result.imported, result.rejected) == (ROWS, 0)
    assert Case.objects.filter(shop=shop_a, state=CaseState.REQUESTED).count() == ROWS
    assert commit.call_count == 2  # the two groups (the history row is written in autocommit)


@pytest.mark.django_db
def test_new_requests_are_opened_together_one_statement_per_table(shop_a, requests_file):
    with CaptureQueriesContext(connection) as queries:
        result = import_refunds(shop=shop_a, path_or_file=requests_file())

    assert (result.imported, result.rejected) == (ROWS, 0)
    inserts = [query["sql"] for query in queries.captured_queries
               if query["sql"].startswith('INSERT INTO "refunds_case"')]
    # per group, not per row (SQLite's statements hold at most 999 parameters: a few each)
    assert 2 <= len(inserts) <= 8
    assert CaseEvent.objects.filter(case__shop=shop_a, kind="created").count() == ROWS


@pytest.mark.django_db
def test_a_group_whose_transaction_fails_is_done_again_row_by_row(shop_a, requests_file,
                                                                  caplog):
    create = imports.cases_import_create
    calls = []

    def fails_once(**kwargs):
        calls.append(len(kwargs["items"]))
        if len(calls) == 1:  # e.g. a deadlock with another import: the group is undone
            raise OperationalError("deadlock detected")
        return create(**kwargs)

    with mock.patch.object(imports, "cases_import_create", side_effect=fails_once), \
            caplog.at_level(logging.WARNING, logger="refunds.services.imports"):
        result = import_refunds(shop=shop_a, path_or_file=requests_file())

    assert (result.imported, result.updated, result.unchanged, result.rejected) == (
        ROWS, 0, 0, 0)
    assert Case.objects.filter(shop=shop_a).count() == ROWS  # none twice, none lost
    assert CaseEvent.objects.filter(case__shop=shop_a).count() == ROWS
    assert ImportRun.objects.get().imported == ROWS
    # the undone group, its rows one by one, then the second group together
    assert calls == [REFUND_GROUP] + [1] * REFUND_GROUP + [ROWS - REFUND_GROUP]
    assert "doing them one by one" in caplog.text


@pytest.mark.parametrize(("first", "second", "imported"), [
    # a request commits nothing until it is agreed: both open, as one by one
    ("WAIT_SELLER_AGREE", "WAIT_SELLER_AGREE", 2),
    ("WAIT_SELLER_AGREE", "SUCCESS", 2),
    # the platform's refund is money paid: a second one of 150 on 188 is more than is left
    ("SUCCESS", "SUCCESS", 1),
    ("SUCCESS", "WAIT_SELLER_AGREE", 1),
])
@pytest.mark.django_db
def test_new_requests_on_one_order_in_a_group_are_checked_as_one_by_one(
        shop_a, export, orders, first, second, imported):
    def row(refund_id, status):
        return refund_row(**{"退款编号": refund_id, "订单编号": orders[0].platform_order_id,
                             "退款状态": STATUS[status], "退款金额": "150.00",
                             "是否需要退货": "否"})

    rows = [row("180000007711111", first), row("180000007722222", second)]
    together = import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, rows))
    opened = sorted(Case.objects.values_list("platform_refund_id", "state"))
    paid = sorted(Refund.objects.values_list("case__platform_refund_id", "amount"))
    payouts = sorted(Payout.objects.values_list("case__platform_refund_id", "amount", "state"))
    Payout.objects.all().delete()
    Refund.objects.all().delete()
    CaseEvent.objects.all().delete()
    Case.objects.all().delete()
    with mock.patch.object(imports, "REFUND_GROUP", 1):  # one row per group: one by one
        alone = import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, rows))

    assert (together.imported, together.rejected) == (alone.imported, alone.rejected) == (
        imported, 2 - imported)
    assert together.errors == alone.errors
    assert opened == sorted(Case.objects.values_list("platform_refund_id", "state"))
    assert paid == sorted(Refund.objects.values_list("case__platform_refund_id", "amount"))
    assert payouts == sorted(Payout.objects.values_list("case__platform_refund_id", "amount",
                                                        "state"))
    if imported == 1:
        assert "38.00" in together.errors[0][1]


@pytest.mark.django_db
def test_a_group_failing_after_some_of_its_rows_were_written_is_redone_whole(
        shop_a, export, orders):
    known = refund_row(**{"退款编号": "180000007700999", "订单编号": orders[-1].platform_order_id,
                          "退款金额": "50.00", "是否需要退货": "否"})
    import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, [known]))
    done = refund_row(**{**dict(zip(REFUND_HEADER, known, strict=True)),
                         "退款状态": STATUS["SUCCESS"], "修改时间": "2026-11-06 09:00:00"})

    def new(n):
        return refund_row(**{"退款编号": f"1800000077{n:05d}",
                             "订单编号": orders[n].platform_order_id,
                             "退款金额": "50.00", "是否需要退货": "否"})

    create = imports.cases_import_create
    calls = []

    def fails_second(**kwargs):  # new requests, the known refund synced, then new ones fail
        calls.append(len(kwargs["items"]))
        if len(calls) == 2:
            raise OperationalError("could not serialize access")
        return create(**kwargs)

    rows = [new(0), new(1), done, new(2), new(3)]
    with mock.patch.object(imports, "cases_import_create", side_effect=fails_second):
        result = import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, rows))

    assert (result.imported, result.updated, result.unchanged, result.rejected) == (4, 1, 0, 0)
    assert calls == [2, 2, 1, 1, 1, 1]  # the group, undone; then its new rows one by one
    assert Case.objects.filter(shop=shop_a).count() == 5
    assert Refund.objects.filter(case__platform_refund_id="180000007700999").count() == 1
    assert CaseEvent.objects.filter(case__platform_refund_id="180000007700999").count() == 2


@pytest.mark.django_db
def test_a_re_export_of_rows_already_seen_locks_and_writes_nothing(shop_a, requests_file):
    path = requests_file()
    import_refunds(shop=shop_a, path_or_file=path)
    events = CaseEvent.objects.count()

    with CaptureQueriesContext(connection) as queries:
        again = import_refunds(shop=shop_a, path_or_file=path)

    assert (again.imported, again.updated, again.unchanged, again.rejected) == (0, 0, ROWS, 0)
    assert CaseEvent.objects.count() == events
    statements = [query["sql"] for query in queries.captured_queries]
    writes = [sql for sql in statements if sql.startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(writes) == 1 and "refunds_importrun" in writes[0]  # only the history row
    assert not any("FOR UPDATE" in sql for sql in statements)  # PostgreSQL: no lock taken
    assert len(statements) <= 8  # not a lock per row


@pytest.mark.django_db
def test_a_row_seen_before_but_on_another_order_is_still_refused(shop_a, export, orders):
    def row(order):
        return refund_row(**{"退款编号": "180000007799999", "订单编号": order.platform_order_id,
                             "退款金额": "50.00"})

    import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, [row(orders[0])]))
    moved = import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, [row(orders[1])]))

    assert (moved.unchanged, moved.rejected) == (0, 1)
    assert orders[0].platform_order_id in moved.errors[0][1]


@pytest.mark.django_db
def test_an_older_row_after_a_newer_one_in_the_same_file_is_a_conflict_not_unchanged(
        shop_a, export, orders):
    def row(status, modified):
        return refund_row(**{"退款编号": "180000007788888", "订单编号": orders[0].platform_order_id,
                             "退款状态": STATUS[status], "修改时间": modified,
                             "退款金额": "50.00", "是否需要退货": "否"})

    first = row("WAIT_SELLER_AGREE", "2026-11-05 09:00:00")
    import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, [first]))
    # the re-export holds the platform's refund, then the first row once more
    result = import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, [
        row("SUCCESS", "2026-11-06 09:00:00"), first]))

    assert (result.updated, result.unchanged, len(result.conflicts)) == (1, 0, 1)
    assert "older" in result.conflicts[0].reason
    assert Case.objects.get(platform_refund_id="180000007788888").state == CaseState.REFUNDED


@pytest.mark.django_db
def test_a_dry_run_of_several_groups_writes_nothing_and_counts_them_all(shop_a, requests_file):
    result = import_refunds(shop=shop_a, path_or_file=requests_file(), dry_run=True)

    assert (result.imported, result.rejected) == (ROWS, 0)
    assert not Case.objects.exists() and not ImportRun.objects.exists()


@pytest.mark.django_db
def test_only_a_row_whose_order_holds_a_desk_case_looks_for_one_to_link(shop_a, requests_file,
                                                                        orders):
    from refunds.models import CaseKind, CaseReason
    from refunds.services import cases as svc

    # the buyer of one order phoned first: an agent opened a refund-only case by hand
    desk = svc.case_create(shop=shop_a, order=orders[120], kind=CaseKind.REFUND_ONLY,
                           reason=CaseReason.QUALITY, requested_amount="50.00", actor=None)
    looked = []
    link = imports.case_link_desk_case

    def spy(**kwargs):
        looked.append(kwargs["order"].pk)
        return link(**kwargs)

    path = requests_file()
    with mock.patch.object(imports, "case_link_desk_case", side_effect=spy):
        result = import_refunds(shop=shop_a, path_or_file=path)

    assert looked == [orders[120].pk]
    assert (result.imported, result.updated, result.rejected) == (ROWS - 1, 1, 0)
    desk.refresh_from_db()
    assert desk.platform_refund_id == "180000007700120"
