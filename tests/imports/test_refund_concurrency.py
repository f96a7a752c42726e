"""Two imports of the same refund export at once (PostgreSQL only): each in its own thread,
with its own connection and transactions, like an upload meeting the nightly command."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from refunds.models import Case, CaseEvent
from refunds.services.imports import REFUND_GROUP, import_refunds
from tests.factories import OrderFactory
from tests.imports.conftest import REFUND_HEADER, refund_row

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROWS = REFUND_GROUP + REFUND_GROUP // 2
JOIN_TIMEOUT = 60  # seconds: an import still running after this is a hang (a deadlock)


def test_two_imports_of_one_file_at_once_open_each_refund_once(shop_a, export):
    orders = [OrderFactory(shop=shop_a, platform_order_id=f"39000000000660{n:05d}",
                           paid_amount=Decimal("188.00")) for n in range(ROWS)]
    path = export(REFUND_HEADER, [
        refund_row(**{"退款编号": f"1800000066{n:05d}", "订单编号": order.platform_order_id,
                      "退款金额": "50.00", "是否需要退货": "否"})
        for n, order in enumerate(orders)])
    start = threading.Barrier(2)
    results: list = [None, None]

    def run(index: int) -> None:
        try:
            start.wait(timeout=JOIN_TIMEOUT)
            results[index] = import_refunds(shop=shop_a, path_or_file=path)
        except BaseException as error:  # noqa: BLE001 - asserted below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)

    assert not any(thread.is_alive() for thread in threads), "an import hung"
    first, second = results
    assert not isinstance(first, BaseException), first
    assert not isinstance(second, BaseException), second
    # every refund opened exactly once; the import that lost a row says so, per row
    assert Case.objects.filter(shop=shop_a).count() == ROWS
    assert CaseEvent.objects.filter(case__shop=shop_a).count() == ROWS
    assert first.imported + second.imported == ROWS
    assert first.rejected + second.rejected + first.unchanged + second.unchanged == ROWS
    assert all("at the same time" in reason
               for result in results for _line, reason in result.errors)
