"""A refund export's 退款成功 for a case whose refund finance has already exported in a bank
batch: the import settles it as paid by the platform (`case_platform_refund`), flags the
payout, leaves it out of the batch's file and tells the shop's finance — end to end."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from refunds.exports import payout_batch_sheet
from refunds.models import (
    Case,
    CaseState,
    Notification,
    NotificationKind,
    Payout,
    PayoutState,
)
from refunds.services import cases as svc
from refunds.services.imports import import_refunds
from refunds.services.payouts import payout_batch_export
from tests.factories import OrderFactory
from tests.imports.conftest import REFUND_HEADER, STATUS, refund_row


@pytest.fixture
def paid_order(shop_a):
    return OrderFactory(shop=shop_a, platform_order_id="3900000000088000002",
                        paid_amount=Decimal("188.00"))


def _file(export, order, status: str, modified: str):
    return export(REFUND_HEADER, [refund_row(**{
        "订单编号": order.platform_order_id, "退款状态": STATUS[status], "修改时间": modified,
        "退款金额": "60.00", "是否需要退货": "否"})])


def test_an_imported_platform_success_of_an_exported_refund_is_flagged_and_told(
        shop_a, export, paid_order, agent, finance, django_capture_on_commit_callbacks):
    finance.email = "finance@example.com"
    finance.save(update_fields=["email"])
    import_refunds(shop=shop_a, path_or_file=_file(export, paid_order, "WAIT_SELLER_AGREE",
                                                   "2026-11-05 09:00:00"))
    svc.case_agree(case=Case.objects.get(), actor=agent)  # ¥60.00 waits for finance
    batch = payout_batch_export(shop=shop_a, actor=finance)
    payout = Payout.objects.get()
    assert payout.state == PayoutState.EXPORTED and payout.batch_id == batch.pk

    with django_capture_on_commit_callbacks(execute=True):
        result = import_refunds(shop=shop_a, path_or_file=_file(
            export, paid_order, "SUCCESS", "2026-11-07 10:00:00"))

    assert result.updated == 1 and not result.conflicts
    assert Case.objects.get().state == CaseState.REFUNDED
    payout.refresh_from_db()
    assert (payout.state, payout.batch_id, payout.paid_by_platform_in_batch) == (
        PayoutState.PAID, batch.pk, True)
    [notification] = Notification.objects.filter(kind=NotificationKind.PAID_BY_PLATFORM_IN_BATCH)
    assert notification.user == finance
    assert f"bank batch #{batch.pk}" in notification.message
    assert [m.to for m in mail.outbox] == [["finance@example.com"]]
    _headers, rows = payout_batch_sheet(batch)
    assert rows == []

    # the same export again changes nothing and tells nobody twice
    with django_capture_on_commit_callbacks(execute=True):
        import_refunds(shop=shop_a, path_or_file=_file(
            export, paid_order, "SUCCESS", "2026-11-07 10:00:00"))
    assert Notification.objects.filter(kind=NotificationKind.PAID_BY_PLATFORM_IN_BATCH
                                       ).count() == 1
    assert len(mail.outbox) == 1


def test_a_platform_success_of_a_refund_not_exported_yet_tells_nobody(
        shop_a, export, paid_order, agent, finance):
    import_refunds(shop=shop_a, path_or_file=_file(export, paid_order, "WAIT_SELLER_AGREE",
                                                   "2026-11-05 09:00:00"))
    svc.case_agree(case=Case.objects.get(), actor=agent)
    import_refunds(shop=shop_a, path_or_file=_file(export, paid_order, "SUCCESS",
                                                   "2026-11-07 10:00:00"))
    payout = Payout.objects.get()
    assert payout.state == PayoutState.PAID and not payout.paid_by_platform_in_batch
    assert not Notification.objects.filter(
        kind=NotificationKind.PAID_BY_PLATFORM_IN_BATCH).exists()
