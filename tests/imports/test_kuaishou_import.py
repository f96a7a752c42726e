"""The refund import on a Kuaishou shop: owner, deadline, and one escalation per request."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from refunds import events
from refunds.models import Case, CaseEvent, CaseState, Notification, NotificationKind, Platform
from refunds.services.imports import import_refunds
from tests.factories import OrderFactory, make_staff
from tests.imports.conftest import REFUND_HEADER, STATUS, refund_row

CHINA = ZoneInfo("Asia/Shanghai")


def china(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA)


@pytest.fixture
def ks_shop(shop_a, roles):
    shop_a.platform = Platform.KUAISHOU
    shop_a.save(update_fields=["platform"])
    make_staff("ks_sup", "supervisor", shop_a, email="ks_sup@example.com")
    return shop_a


@pytest.fixture
def ks_order(ks_shop):
    return OrderFactory(shop=ks_shop, platform_order_id="3900000000088000001",
                        paid_amount=Decimal("188.00"))


@pytest.fixture
def refunds_file(export, ks_order):
    def _file(*rows):
        return export(REFUND_HEADER, [
            refund_row(**{"订单编号": ks_order.platform_order_id, **values}) for values in rows])
    return _file


def sweep_at(moment):
    out = StringIO()
    with time_machine.travel(moment, tick=False):
        call_command("sweep_deadlines", stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def test_an_escalated_kuaishou_request_is_escalated_once_across_imports(ks_shop, refunds_file):
    # imported without the platform's 超时时间: our 7 working days from Thursday 5th 09:00
    with time_machine.travel(china("2026-11-05 10:00:00"), tick=False):
        import_refunds(shop=ks_shop, path_or_file=refunds_file({
            "退款状态": STATUS["WAIT_SELLER_AGREE"], "超时时间": ""}))
    case = Case.objects.get()
    assert case.deadline_at == china("2026-11-16 09:00:00")
    assert "escalated 1," in sweep_at(china("2026-11-16 09:30:00"))
    # the next export carries the platform's 超时时间 for the same review (passed too)
    with time_machine.travel(china("2026-11-16 12:00:00"), tick=False):
        result = import_refunds(shop=ks_shop, path_or_file=refunds_file({
            "退款状态": STATUS["WAIT_SELLER_AGREE"], "修改时间": "2026-11-16 09:00:00",
            "超时时间": "2026-11-16 00:00:00"}))
    assert result.updated == 1
    sweep_at(china("2026-11-16 12:30:00"))
    notes = CaseEvent.objects.filter(case=case, data__has_key=events.ESCALATED)
    assert notes.count() == 1
    assert Notification.objects.filter(case=case, kind=NotificationKind.ESCALATED).count() == 1


def test_an_imported_kuaishou_request_keeps_the_shop_as_owner(ks_shop, refunds_file):
    with time_machine.travel(china("2026-11-05 10:00:00"), tick=False):
        dry = import_refunds(shop=ks_shop, path_or_file=refunds_file({
            "退款状态": STATUS["WAIT_SELLER_AGREE"]}), dry_run=True)
        real = import_refunds(shop=ks_shop, path_or_file=refunds_file({
            "退款状态": STATUS["WAIT_SELLER_AGREE"]}))
    assert (dry.imported, dry.rejected) == (real.imported, real.rejected) == (1, 0)
    case = Case.objects.get()
    assert (case.state, case.deadline_owner, case.deadline_rule, case.deadline_at) == (
        CaseState.REQUESTED, "shop", "platform", china("2026-11-10 09:00:00"))
