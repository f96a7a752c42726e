"""复核 of a case that already refunded: the reopen must say the further amount the buyer asks
for. Without it the case asked again for what it had refunded, and the agent's one click on
Agree ("leave empty to refund what the buyer asked for") paid the same refund twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from refunds.models import Case, CaseState, Refund
from refunds.services import cases as services
from tests.factories import OrderFactory, make_case

from .helpers import alert_texts, event_count


@pytest.fixture
def refunded(shop, agent, finance):
    order = OrderFactory(shop=shop, paid_amount=Decimal("500.00"), goods_amount=Decimal("492"))
    case = services.case_agree(case=make_case(order=order, amount="100.00"), actor=agent)
    return services.case_mark_refunded(case=case, actor=finance, payment_reference="ALI-1")


def _reopen(client, case, amount):
    return client.post(f"/cases/{case.pk}/actions/reopen/", {
        "reopen-expected_state": "refunded", "reopen-reason": "买家申请复核：质疑扣款",
        "reopen-requested_amount": amount}, follow=True)


def test_reopening_a_refunded_case_without_a_further_amount_changes_nothing(
        login, supervisor, refunded):
    events = event_count(refunded)

    response = _reopen(login(supervisor), refunded, "")

    assert response.status_code == 200
    assert ("This case has already refunded ¥100.00: say the further amount the buyer asks "
            "for in this review.") in alert_texts(response, "danger")
    assert Case.objects.get(pk=refunded.pk).state == CaseState.REFUNDED
    assert event_count(refunded) == events


def test_the_further_amount_is_what_agreeing_refunds_next(login, supervisor, agent, refunded):
    _reopen(login(supervisor), refunded, "30.00")
    assert Case.objects.get(pk=refunded.pk).state == CaseState.REQUESTED

    login(agent).post(f"/cases/{refunded.pk}/actions/agree/", {
        "agree-expected_state": "requested", "agree-amount": "", "agree-note": ""},
        follow=True)

    assert sorted(Refund.objects.filter(case=refunded).values_list("amount", flat=True)) == [
        Decimal("30.00"), Decimal("100.00")]


def test_the_admins_bulk_reopen_reopens_a_closed_case_and_refuses_a_refunded_one(
        client, shop, supervisor, refunded):
    supervisor.is_staff = True
    supervisor.save(update_fields=["is_staff"])
    closed = services.case_close(case=make_case(order=OrderFactory(shop=shop)), actor=None,
                                 reason="withdrawn")
    client.force_login(supervisor)

    response = client.post("/admin/refunds/case/", {
        "action": "reopen_cases", "_selected_action": [refunded.pk, closed.pk], "note": "复核",
    }, follow=True)

    assert Case.objects.get(pk=closed.pk).state == CaseState.REQUESTED
    assert Case.objects.get(pk=refunded.pk).state == CaseState.REFUNDED
    assert "already refunded ¥100.00" in response.content.decode()


def test_a_case_paid_by_a_partial_refund_compensation_needs_a_further_amount(
        shop, agent, supervisor, finance):
    """Its money went out as 部分退款 (item kept), not as a refund row: it counts the same."""
    from refunds.exceptions import AmountError
    from refunds.models import CaseReason, CloseReason, CompensationKind
    from refunds.services import compensation as compensation_services
    from refunds.services import payouts as payout_services

    case = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("188.00")),
                     reason=CaseReason.QUALITY, amount="94.00")
    compensation = compensation_services.compensation_propose(
        case=case, actor=agent, kind=CompensationKind.PARTIAL_REFUND, amount="94.00",
        reason="质量问题 保留商品 退一半")
    compensation = compensation_services.compensation_approve(compensation=compensation,
                                                              actor=supervisor)
    payout_services.payout_mark_paid(payout=compensation.payout, actor=finance,
                                     payment_reference="ALI-94")
    case = services.case_close(case=case, actor=agent, reason=CloseReason.WITHDRAWN)

    with pytest.raises(AmountError, match="already refunded ¥94.00"):
        services.case_reopen(case=case, actor=supervisor, reason="买家申请复核")

    case = services.case_reopen(case=case, actor=supervisor, reason="买家申请复核",
                                requested_amount="20.00")
    assert case.requested_amount == Decimal("20.00")
