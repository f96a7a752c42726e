"""A refund the platform has already paid (退款成功) comes in with its payout, paid by the
platform, as the nightly sweep's platform refund writes it: finance's paid list holds every
refund the buyer got, and there is nothing left for finance to pay."""

from __future__ import annotations

from decimal import Decimal

import pytest

from refunds.models import Case, CaseState, Payout, PayoutKind, PayoutState, Refund, RefundStatus
from refunds.services.imports import import_refunds
from refunds.services.money import refundable_amount
from tests.factories import OrderFactory
from tests.imports.conftest import REFUND_HEADER, STATUS, refund_row


@pytest.fixture
def orders(shop_a):
    return [OrderFactory(shop=shop_a, platform_order_id=f"39000000000880000{n:02}",
                         paid_amount=Decimal("188.00")) for n in range(1, 4)]


def rows(orders, *statuses):
    return [refund_row(**{"订单编号": order.platform_order_id, "退款编号": f"R{n}",
                          "退款金额": "100.00", "退款状态": STATUS[status],
                          "修改时间": "2026-11-05 09:00:00", "是否需要退货": "否"})
            for n, (order, status) in enumerate(zip(orders, statuses, strict=True), 1)]


def test_a_refund_the_platform_paid_has_its_payout_paid_by_the_platform(shop_a, export,
                                                                      orders):
    result = import_refunds(shop=shop_a, path_or_file=export(REFUND_HEADER, rows(
        orders, "SUCCESS", "WAIT_SELLER_AGREE", "SUCCESS")))
    assert result.imported == 3
    paid = Refund.objects.filter(status=RefundStatus.PAID).order_by("case__platform_refund_id")
    payouts = Payout.objects.order_by("refund__case__platform_refund_id")
    assert [(p.refund_id, p.kind, p.state, p.amount, p.payment_reference, p.paid_at,
             p.batch_id, p.shop_id) for p in payouts] == [
        (r.pk, PayoutKind.REFUND, PayoutState.PAID, Decimal("100.00"), "PLATFORM", r.paid_at,
         None, shop_a.pk) for r in paid]
    assert [p.case.platform_refund_id for p in payouts] == ["R1", "R3"]
    # a request the platform has not paid commits nothing and has no payout
    requested = Case.objects.get(platform_refund_id="R2")
    assert requested.state == CaseState.REQUESTED and not requested.payouts.exists()
    # the payout is the refund's money record, not more money
    assert [refundable_amount(order) for order in orders] == [
        Decimal("88.00"), Decimal("188.00"), Decimal("88.00")]


def test_the_same_file_again_writes_no_second_payout(shop_a, export, orders):
    path = export(REFUND_HEADER, rows(orders, "SUCCESS", "SUCCESS", "SUCCESS"))
    import_refunds(shop=shop_a, path_or_file=path)
    again = import_refunds(shop=shop_a, path_or_file=path)
    assert (again.imported, again.unchanged) == (0, 3)
    assert Payout.objects.count() == 3
