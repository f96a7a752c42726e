"""The refund export brings the platform's ruling on a dispute (平台介入) the desk recorded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from refunds.models import Case, CaseEvent, CaseState, EventKind, Refund, RefundStatus
from refunds.services import cases as svc
from refunds.services.imports import import_refunds
from tests.factories import OrderFactory
from tests.imports.conftest import REFUND_HEADER, STATUS, refund_row


@pytest.mark.parametrize(("status", "state"), [("SUCCESS", CaseState.REFUNDED),
                                               ("CLOSED", CaseState.CLOSED)])
def test_the_export_brings_the_platforms_ruling(shop, agent, export, status, state):
    shop.platform_shop_id = "SHOP-A"
    shop.save()
    order = OrderFactory(shop=shop, platform_order_id="3900000000077000001",
                         paid_amount=Decimal("188.00"))

    def rows(status: str, modified: str):
        return export(REFUND_HEADER, [refund_row(**{
            "订单编号": order.platform_order_id, "退款状态": STATUS[status],
            "修改时间": modified, "是否需要退货": "否"})])

    import_refunds(shop=shop, path_or_file=rows("SELLER_REFUSE_BUYER", "2026-11-05 09:00:00"))
    case = Case.objects.get()
    assert case.state == CaseState.REFUSED
    svc.case_open_dispute(case=case, actor=agent, note="平台介入")

    result = import_refunds(shop=shop, path_or_file=rows(status, "2026-11-09 09:00:00"))

    assert (result.updated, result.rejected) == (1, 0), result
    case.refresh_from_db()
    assert case.state == state
    if state == CaseState.REFUNDED:
        assert Refund.objects.get(case=case).status == RefundStatus.PAID
    last = CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).latest("id")
    assert (last.from_state, last.actor) == ("in_dispute", None)
