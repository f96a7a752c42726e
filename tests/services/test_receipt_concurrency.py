"""Two people record the same order's window at once (PostgreSQL's row locks): one wins, the
other is told the date changed; the policy's limit holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from refunds.models import Order, ReceiptWindowChange
from refunds.services import receipts as services
from tests.factories import OrderFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks"),
    pytest.mark.django_db(transaction=True),
]


def test_two_extensions_at_once_one_wins_the_other_is_told(shop, agent, supervisor):
    from tests.services.race import describe, race

    shop.policy.receipt_extension_limit = 5  # the limit is not what stops the second
    shop.policy.save()
    order = OrderFactory(shop=shop)
    order.confirm_receipt_by = timezone.now() + timedelta(days=1)
    order.save(update_fields=["confirm_receipt_by"])
    seen = order.confirm_receipt_by
    outcomes = race([
        lambda: services.receipt_extend(order=Order.objects.get(pk=order.pk), actor=agent,
                                        days=5, expected_confirm_by=seen),
        lambda: services.receipt_extend(order=Order.objects.get(pk=order.pk), actor=supervisor,
                                        days=7, expected_confirm_by=seen),
    ])
    assert sum(o.ok for o in outcomes) == 1, describe(outcomes)
    assert isinstance(next(o.error for o in outcomes if not o.ok), services.ReceiptChanged)
    order.refresh_from_db()
    change = ReceiptWindowChange.objects.get()
    assert order.receipt_extensions == 1
    assert order.confirm_receipt_by == seen + timedelta(days=change.days)


def test_an_import_and_a_date_read_at_once_never_lose_the_date_read(shop, agent, tmp_path):
    """The import locks the orders whose window it moves and reads it again under the lock:
    whichever commits first, a date read from the seller centre that succeeded is the
    order's date afterwards (never written over from what the import read before)."""
    from datetime import datetime

    from refunds.services.imports import import_orders
    from refunds.timezones import CHINA
    from tests.imports.conftest import ORDER_HEADER, csv_text, order_row
    from tests.services.race import describe, race

    shop.platform_shop_id = "SHOP-A"
    shop.save(update_fields=["platform_shop_id"])
    classic = tmp_path / "classic.csv"
    classic.write_bytes(csv_text(ORDER_HEADER, [order_row()]).encode("gbk"))
    import_orders(shop=shop, path_or_file=classic)
    order = Order.objects.get(platform_order_id="3900000000099000001")
    with_ship_time = tmp_path / "shipped.csv"
    with_ship_time.write_bytes(csv_text([*ORDER_HEADER, "发货时间"], [
        [*order_row(), "2026-11-02 09:00:00"]]).encode("gbk"))
    read = datetime(2026, 11, 20, 10, 0, tzinfo=CHINA)
    ran_at = datetime(2026, 11, 5, 10, 0, tzinfo=CHINA)

    outcomes = race([
        lambda: import_orders(shop=shop, path_or_file=with_ship_time),
        lambda: services.receipt_read(order=Order.objects.get(pk=order.pk), actor=agent,
                                      confirm_by=read, now=ran_at,
                                      expected_confirm_by=order.confirm_receipt_by),
    ])
    assert outcomes[0].ok, describe(outcomes)
    order.refresh_from_db()
    if outcomes[1].ok:
        assert (order.confirm_receipt_by, order.confirm_receipt_estimated) == (read, False)
    else:  # the import moved the date first: the page's date was no longer the order's
        assert isinstance(outcomes[1].error, services.ReceiptChanged), describe(outcomes)
        assert not ReceiptWindowChange.objects.exists()
        assert order.confirm_receipt_by == datetime(2026, 11, 12, 9, 0, tzinfo=CHINA)
