"""七天无理由: the window is the buyer's, judged when the buyer asked, not when staff refuse."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from refunds.exceptions import ActionNotAllowed
from refunds.models import Case, CaseKind, CaseReason, CaseState
from refunds.services import cases as svc
from tests.factories import OrderFactory, make_case

SHANGHAI = ZoneInfo("Asia/Shanghai")
DELIVERED = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)


def _request_on_day(shop, day: int) -> Case:
    order = OrderFactory(shop=shop, delivered_at=DELIVERED,
                         shipped_at=DELIVERED - timedelta(days=2))
    return make_case(order=order, kind=CaseKind.RETURN, reason=CaseReason.NO_REASON,
                     now=DELIVERED + timedelta(days=day))


def test_resellable_return_asked_inside_the_window_cannot_be_refused_once_it_arrives(
        shop, agent, warehouse):
    """DOMAIN.md: "a refund for "7 days no reason" (七天无理由) may not be refused if the
    goods are resellable (不影响二次销售) and within the window."

    The buyer asks on day 5 after delivery (inside the 7-day window), the shop agrees, the
    parcel reaches the warehouse on day 9 and is found resellable. The request was inside
    the window and the goods are resellable: refusing must be impossible. The code checks
    the window against the moment of the refusal (`Case.no_reason_protected` uses
    timezone.now()), so by the time the return has travelled back the protection is gone.
    """
    with time_machine.travel(DELIVERED + timedelta(days=5), tick=False) as clock:
        case = _request_on_day(shop, 5)
        case = svc.case_agree(case=case, actor=agent)
        clock.shift(timedelta(days=1))
        case = svc.case_record_return_shipment(case=case, actor=agent, carrier="顺丰速运",
                                               tracking_no="SF100200300")
        clock.shift(timedelta(days=3))  # day 9: the parcel is in, as new
        case = svc.case_receive(case=case, actor=warehouse, resellable=True)
        with pytest.raises(ActionNotAllowed):
            svc.case_refuse(case=case, actor=agent, reason="已超过七天无理由退货期限")
    assert Case.objects.get(pk=case.pk).state == CaseState.RECEIVED


def test_request_made_inside_the_window_cannot_be_refused_by_waiting(shop, agent):
    """DOMAIN.md: "a refund for "7 days no reason" (七天无理由) may not be refused if the
    goods are resellable (不影响二次销售) and within the window."

    The buyer asks on day 6; the shop does nothing until day 8 (its 5-day agree deadline
    has not even passed) and then refuses "outside the 7-day window". Waiting must not turn a
    protected request into a refusable one.
    """
    with time_machine.travel(DELIVERED + timedelta(days=6), tick=False) as clock:
        case = _request_on_day(shop, 6)
        clock.shift(timedelta(days=2))
        with pytest.raises(ActionNotAllowed):
            svc.case_refuse(case=case, actor=agent, reason="已超过七天无理由退货期限")
    assert Case.objects.get(pk=case.pk).state == CaseState.REQUESTED


def test_a_request_asked_after_the_window_may_be_refused(shop, agent):
    with time_machine.travel(DELIVERED + timedelta(days=8), tick=False):
        case = _request_on_day(shop, 8)
        case = svc.case_refuse(case=case, actor=agent, reason="已超过七天无理由退货期限")
    assert case.state == CaseState.REFUSED
