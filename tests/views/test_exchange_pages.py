"""After inspection on the case page: refund with the policy's deduction lines, the exchange
card (replacement, difference, shipped, completed), return postage and the quality options."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds.models import (
    Case,
    CaseKind,
    CaseReason,
    CaseState,
    Compensation,
    Exchange,
    Payout,
    PayoutKind,
    Refund,
)
from refunds.services import cases as case_services
from refunds.services import exchanges as exchange_services
from tests.factories import OrderFactory, make_case

from .helpers import action_buttons, alert_texts, text


def received(shop, kind=CaseKind.EXCHANGE, reason=CaseReason.SIZE) -> Case:
    case = make_case(order=OrderFactory(shop=shop), kind=kind, reason=reason)
    case = case_services.case_agree(case=case, actor=None)
    return case_services.case_receive(case=case, actor=None, resellable=True)


def test_approve_refund_offers_the_policys_deductions(login, agent, shop):
    shop.policy.refund_deductions = [{"reason": "天猫技术服务费", "percent": "5"}]
    shop.policy.save()
    case = received(shop, kind=CaseKind.RETURN)
    page = text(login(agent).get(f"/cases/{case.pk}/"))
    assert 'value="天猫技术服务费"' in page and 'value="9.40"' in page
    response = login(agent).post(f"/cases/{case.pk}/actions/approve_refund/", {
        "approve_refund-expected_state": "received",
        "approve_refund-deduction_1_reason": "天猫技术服务费",
        "approve_refund-deduction_1_amount": "9.40"}, follow=True)
    assert "Done" in alert_texts(response, "success")
    refund = Refund.objects.get(case=case)
    assert refund.amount == Decimal("178.60") and refund.deductions.count() == 1
    assert "before deductions" in text(response)


def test_deduction_without_a_reason_is_refused_on_the_page(login, agent, shop):
    case = received(shop, kind=CaseKind.RETURN)
    response = login(agent).post(f"/cases/{case.pk}/actions/approve_refund/", {
        "approve_refund-expected_state": "received",
        "approve_refund-deduction_1_amount": "5.00"})
    assert response.status_code == 400
    assert not Refund.objects.filter(case=case).exists()


def test_exchange_through_the_page(login, agent, warehouse, finance, shop):
    case = received(shop)
    client = login(agent)
    page = text(client.get(f"/cases/{case.pk}/"))
    assert 'id="exchange_choose"' in page
    assert "ship_replacement" in action_buttons(client.get(f"/cases/{case.pk}/"))
    response = client.post(f"/cases/{case.pk}/exchange/", {
        "exchange-title": "同款 XL", "exchange-sku": "XL", "exchange-price": "200.00"},
        follow=True)
    assert "Replacement chosen." in alert_texts(response, "success")
    assert 'id="exchange-buyer-owes"' in text(response)
    # shipping before the buyer paid is refused with the reason
    response = login(warehouse).post(f"/cases/{case.pk}/actions/ship_replacement/", {
        "ship_replacement-expected_state": "received", "ship_replacement-carrier": "顺丰",
        "ship_replacement-tracking_no": "SF1"}, follow=True)
    assert "still owes ¥12.00" in alert_texts(response, "danger")
    client.post(f"/cases/{case.pk}/exchange/buyer-paid/", {"buyer_paid-reference": "X1"})
    login(warehouse).post(f"/cases/{case.pk}/actions/ship_replacement/", {
        "ship_replacement-expected_state": "received", "ship_replacement-carrier": "顺丰",
        "ship_replacement-tracking_no": "SF1"})
    assert Case.objects.get(pk=case.pk).state == CaseState.REPLACEMENT_SHIPPED
    client.post(f"/cases/{case.pk}/actions/complete_exchange/",
                {"complete_exchange-expected_state": "replacement_shipped"})
    assert Case.objects.get(pk=case.pk).state == CaseState.COMPLETED


def test_bad_replacement_input_changes_nothing(login, agent, warehouse, shop, agent_b):
    case = received(shop)
    response = login(agent).post(f"/cases/{case.pk}/exchange/", {"exchange-title": "",
                                                                  "exchange-price": "-1"})
    assert response.status_code == 400
    assert login(warehouse).post(f"/cases/{case.pk}/exchange/", {
        "exchange-title": "x", "exchange-price": "1"}, follow=True).status_code == 200
    assert login(agent_b).post(f"/cases/{case.pk}/exchange/", {
        "exchange-title": "x", "exchange-price": "1"}).status_code == 404
    assert not Exchange.objects.exists()


def test_return_postage_through_the_page(login, agent, shop):
    case = received(shop, kind=CaseKind.RETURN, reason=CaseReason.QUALITY)
    client = login(agent)
    assert 'id="return_postage"' in text(client.get(f"/cases/{case.pk}/"))
    response = client.post(f"/cases/{case.pk}/return-postage/", {"postage-amount": "12.00"},
                           follow=True)
    assert "finance will pay ¥12.00" in alert_texts(response, "success")
    assert Payout.objects.filter(case=case, kind=PayoutKind.POSTAGE).count() == 1
    assert 'id="return_postage"' not in text(response)  # settled once


def test_return_postage_the_buyer_pays_is_decided_once_too(login, agent, shop):
    case = received(shop, kind=CaseKind.RETURN, reason=CaseReason.NO_REASON)
    client = login(agent)
    response = client.post(f"/cases/{case.pk}/return-postage/", {}, follow=True)
    assert 'id="return_postage"' not in text(response)  # decided: the form is gone
    events = case.events.count()
    # a second decision (an old tab): refused, the first one stands
    response = client.post(f"/cases/{case.pk}/return-postage/",
                           {"postage-freight_insurance": "on"}, follow=True)
    assert "already settled" in alert_texts(response)
    assert case.events.count() == events
    assert not Payout.objects.filter(case=case).exists()


def test_quality_problem_offers_keep_the_item_with_a_partial_refund(login, agent, agent2,
                                                                    shop):
    case = make_case(order=OrderFactory(shop=shop), reason=CaseReason.QUALITY, amount="100.00")
    page = text(login(agent).get(f"/cases/{case.pk}/"))
    assert 'id="quality-options"' in page and "¥50.00" in page
    login(agent).post(f"/cases/{case.pk}/compensation/", {
        "compensation-kind": "partial_refund", "compensation-amount": "50.00",
        "compensation-reason": "Quality problem: the buyer keeps the item, 50% refunded"})
    assert Compensation.objects.get(case=case).amount == Decimal("50.00")


@pytest.fixture
def agent2(roles, shop):
    from tests.factories import make_staff

    return make_staff("agent2", "agent", shop, staff_number="A1002")


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_exchange_card_costs_no_extra_query(login, agent, shop):
    client = login(agent)
    bare = received(shop)
    chosen = received(shop)
    exchange_services.exchange_choose_replacement(case=chosen, actor=agent, title="x",
                                                  price="150")
    assert _count(client, f"/cases/{bare.pk}/") == _count(client, f"/cases/{chosen.pk}/")
