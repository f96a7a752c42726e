"""The refund export and a disputed case: 退款关闭 is the ruling for the shop, and the status
from before the dispute is no conflict."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from refunds.models import Case, CaseState, CloseReason
from refunds.services import cases as svc
from refunds.services.imports import import_refunds
from tests.factories import OrderFactory
from tests.imports.conftest import REFUND_HEADER, STATUS, refund_row

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_disputed_request_the_platform_closed_is_not_recorded_as_timed_out(
        shop, agent, export):
    """The export keeps the refused request's 超时时间 (2026-11-10); the platform rules on
    the dispute later and the request shows 退款关闭. `_close_reason` reads a close after the
    row's (or the case's evidence) deadline as "Timed out" — a dispute does not time out
    against the buyer (a missed evidence deadline rules against the shop): a closed dispute
    is the platform's ruling for the shop."""
    shop.platform_shop_id = "SHOP-A"
    shop.save()
    order = OrderFactory(shop=shop, platform_order_id="3900000000077000009",
                         paid_amount=Decimal("188.00"))

    def rows(status: str, modified: str):
        return export(REFUND_HEADER, [refund_row(**{
            "订单编号": order.platform_order_id, "退款状态": STATUS[status],
            "修改时间": modified, "是否需要退货": "否"})])

    import_refunds(shop=shop, path_or_file=rows("SELLER_REFUSE_BUYER", "2026-11-05 09:00:00"))
    case = Case.objects.get()
    svc.case_open_dispute(case=case, actor=agent, note="平台介入",
                          now=datetime(2026, 11, 6, 10, 0, tzinfo=SHANGHAI))

    # the shop sent its evidence; the platform ruled for the shop a week later
    case = svc.case_submit_dispute_evidence(case=Case.objects.get(pk=case.pk), actor=agent,
                                            note="聊天记录",
                                            now=datetime(2026, 11, 7, 10, 0, tzinfo=SHANGHAI))
    result = import_refunds(shop=shop, path_or_file=rows("CLOSED", "2026-11-14 09:00:00"))

    assert (result.updated, result.rejected) == (1, 0), result
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED
    assert case.close_reason != CloseReason.TIMEOUT, case.close_reason


def test_a_disputed_case_still_refused_on_the_platform_is_no_unexplained_conflict(
        shop, agent, export):
    """While the platform arbitrates, the export still shows the status the request had
    (卖家拒绝退款), with a newer 修改时间: no conflict — its facts are recorded and the case
    waits for the ruling in dispute."""
    shop.platform_shop_id = "SHOP-A"
    shop.save()
    order = OrderFactory(shop=shop, platform_order_id="3900000000077000010",
                         paid_amount=Decimal("188.00"))

    def rows(status: str, modified: str):
        return export(REFUND_HEADER, [refund_row(**{
            "订单编号": order.platform_order_id, "退款状态": STATUS[status],
            "修改时间": modified, "是否需要退货": "否"})])

    import_refunds(shop=shop, path_or_file=rows("SELLER_REFUSE_BUYER", "2026-11-05 09:00:00"))
    case = Case.objects.get()
    svc.case_open_dispute(case=case, actor=agent, note="平台介入")

    result = import_refunds(shop=shop,
                            path_or_file=rows("SELLER_REFUSE_BUYER", "2026-11-06 09:00:00"))

    assert (result.updated, result.rejected, result.conflicts) == (1, 0, []), result
    case = Case.objects.get(pk=case.pk)
    assert case.state == CaseState.IN_DISPUTE
    assert case.platform_modified_at.day == 6  # the row's facts are recorded
    assert case.deadline_rule == "dispute_evidence_working_days"  # the evidence clock stays
