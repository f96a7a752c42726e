"""A remedy is real: it opens a case (refund, return, exchange) or proposes a compensation, and
the follow-up links to it and shows how it is going."""

from __future__ import annotations

from decimal import Decimal

import pytest

from refunds.exceptions import ActionNotAllowed, AmountError, PermissionDeniedError
from refunds.models import Case, CaseEvent, Compensation, ReviewFollowUp
from refunds.services import followups as svc
from refunds.services.cases import case_agree
from tests.factories import OrderFactory, make_case

from .conftest import make_follow_up


@pytest.fixture
def contacting(shop):
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    follow_up = make_follow_up(order=order, state="contacting")
    ReviewFollowUp.objects.filter(pk=follow_up.pk).update(category="quality")
    follow_up.refresh_from_db()
    return follow_up


def test_a_partial_refund_opens_a_refund_only_case_for_the_agent(contacting, agent):
    svc.followup_offer_remedy(follow_up=contacting, actor=agent, remedy="refund_only",
                              amount="50.00", note="买家同意部分退款50元")
    contacting.refresh_from_db()
    case = contacting.remedy_case
    assert contacting.state == "remedy_offered" and contacting.remedy_kind == "refund_only"
    assert (case.kind, case.reason, case.requested_amount, case.order, case.created_by) == (
        "refund_only", "quality", Decimal("50.00"), contacting.order, agent)
    assert case.state == "requested"  # shipped order: the case's own flow decides
    assert f"review follow-up #{contacting.pk}" in case.description
    created = CaseEvent.objects.get(case=case, kind="created")
    assert (created.staff_number, created.data["source"]) == ("A1001", "review_follow_up")
    event = contacting.events.latest("id")
    assert event.data == {"remedy": "refund_only", "case_id": case.pk, "amount": "50.00"}
    assert event.note == "买家同意部分退款50元"


@pytest.mark.parametrize("remedy", ["return", "exchange"])
def test_a_free_return_or_exchange_opens_that_case(contacting, agent, remedy):
    svc.followup_offer_remedy(follow_up=contacting, actor=agent, remedy=remedy,
                              amount="188.00")
    contacting.refresh_from_db()
    assert contacting.remedy_case.kind == remedy


def test_more_than_refundable_is_refused_and_nothing_changes(contacting, agent):
    with pytest.raises(AmountError, match="still refundable"):
        svc.followup_offer_remedy(follow_up=contacting, actor=agent, remedy="refund_only",
                                  amount="200.00")
    contacting.refresh_from_db()
    assert contacting.state == "contacting" and contacting.remedy_case is None
    assert not Case.objects.exists()


def test_a_compensation_needs_a_case_on_the_order(contacting, agent):
    with pytest.raises(ActionNotAllowed, match="has none"):
        svc.followup_offer_remedy(follow_up=contacting, actor=agent, remedy="coupon",
                                  amount="10.00")
    assert not Compensation.objects.exists()


def test_a_coupon_is_proposed_on_the_orders_case_and_linked(contacting, agent):
    case = make_case(order=contacting.order, amount="20.00")
    svc.followup_offer_remedy(follow_up=contacting, actor=agent, remedy="coupon",
                              amount="10.00")
    contacting.refresh_from_db()
    compensation = contacting.remedy_compensation
    assert (compensation.kind, compensation.amount, compensation.state, compensation.case) == (
        "coupon", Decimal("10.00"), "proposed", case)
    assert contacting.remedy_case == case
    assert CaseEvent.objects.filter(case=case, kind="compensation").exists()


def test_another_shops_agent_cannot_offer_a_remedy(contacting, agent_b):
    with pytest.raises(PermissionDeniedError):
        svc.followup_offer_remedy(follow_up=contacting, actor=agent_b, remedy="refund_only",
                                  amount="10.00")
    assert not Case.objects.exists()


def test_the_follow_up_page_shows_the_remedy_cases_progress(login, contacting, agent):
    client = login(agent)
    response = client.post(f"/reviews/{contacting.pk}/actions/offer_remedy/", {
        "offer_remedy-expected_state": "contacting", "offer_remedy-remedy": "refund_only",
        "offer_remedy-amount": "50.00", "offer_remedy-note": "部分退款",
    }, follow=True)
    page = response.content.decode()
    assert "Done: Offer a remedy." in page
    case = Case.objects.get()
    assert f'href="/cases/{case.pk}/" id="remedy-case"' in page
    assert 'id="remedy-case-state" data-state="requested"' in page

    case_agree(case=case, actor=agent)  # the case moves on in its own flow
    page = client.get(f"/reviews/{contacting.pk}/").content.decode()
    assert 'id="remedy-case-state" data-state="refund_pending"' in page
    assert "Refund pending" in page
    queue = client.get("/reviews/").content.decode()
    assert f'<a href="/cases/{case.pk}/">#{case.pk}</a> Refund pending' in queue


def test_the_remedy_form_needs_an_amount(login, contacting, agent):
    response = login(agent).post(f"/reviews/{contacting.pk}/actions/offer_remedy/", {
        "offer_remedy-expected_state": "contacting", "offer_remedy-remedy": "refund_only",
    })
    assert response.status_code == 400
    assert not Case.objects.exists()
