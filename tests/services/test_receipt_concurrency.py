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
