"""Compensation (补偿) on the case page: propose, approve / decline, issue; shop scoping,
permissions on the server, bad input, and a query count that does not grow with rows."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds.models import CaseEvent, Compensation, CompensationKind, EventKind, Payout
from refunds.services import compensation as services
from tests.factories import OrderFactory, make_case, make_staff

from .helpers import alert_texts, text

_ROW = re.compile(r'data-compensation="(\d+)" data-state="(\w+)"')
_BUTTON = re.compile(r'data-compensation-action="(\w+)"')


@pytest.fixture
def agent2(roles, shop):
    return make_staff("agent2", "agent", shop, staff_number="A1002")


@pytest.fixture
def case(order):
    return make_case(order=order, amount="100.00")


def _propose(client, case, **data):
    post = {f"compensation-{key}": value for key, value in data.items()}
    return client.post(f"/cases/{case.pk}/compensation/", post, follow=True)


def _act(client, compensation, action, **data):
    post = {f"c{compensation.pk}-{action}-{key}": value for key, value in data.items()}
    post.setdefault(f"c{compensation.pk}-{action}-expected_state", compensation.state)
    return client.post(f"/compensations/{compensation.pk}/actions/{action}/", post, follow=True)


def _offer(case, actor, amount="8.00", kind=CompensationKind.POSTAGE):
    return services.compensation_propose(case=case, actor=actor, kind=kind, amount=amount,
                                         reason="运费补偿")


def test_agent_proposes_compensation_on_the_case_page(login, agent, case):
    page = login(agent).get(f"/cases/{case.pk}/")
    assert 'id="compensation-propose"' in text(page)
    response = _propose(login(agent), case, kind="postage", amount="8.00", reason="运费补偿")
    assert "Compensation proposed." in alert_texts(response, "success")
    compensation = Compensation.objects.get(case=case)
    assert (compensation.amount, compensation.proposed_by) == (Decimal("8.00"), agent)
    assert _ROW.findall(text(response)) == [(str(compensation.pk), "proposed")]
    assert "of which compensation" in text(response)


@pytest.mark.parametrize("data", [
    {"kind": "postage", "amount": "-1", "reason": "x"},
    {"kind": "postage", "amount": "abc", "reason": "x"},
    {"kind": "postage", "amount": "8.00", "reason": ""},
    {"kind": "gold", "amount": "8.00", "reason": "x"},
])
def test_bad_proposal_shows_errors_and_creates_nothing(login, agent, case, data):
    post = {f"compensation-{key}": value for key, value in data.items()}
    response = login(agent).post(f"/cases/{case.pk}/compensation/", post)
    assert response.status_code == 400
    assert "Please correct the errors below." in alert_texts(response)
    assert not Compensation.objects.exists()


def test_proposal_above_what_is_refundable_is_refused_with_the_reason(login, agent, case):
    response = _propose(login(agent), case, kind="partial_refund", amount="188.01",
                        reason="保留商品")
    assert "still refundable" in alert_texts(response, "danger")
    assert not Compensation.objects.exists()


def test_proposer_sees_no_approve_button_colleague_does(login, agent, agent2, case):
    compensation = _offer(case, agent2)
    own = login(agent2).get(f"/cases/{case.pk}/")
    assert "approve" not in _BUTTON.findall(text(own))
    assert "decline" in _BUTTON.findall(text(own))  # the proposer may withdraw
    other = login(agent).get(f"/cases/{case.pk}/")
    assert {"approve", "decline"} <= set(_BUTTON.findall(text(other)))

    # posting anyway is refused on the server
    response = _act(login(agent2), compensation, "approve")
    assert "colleague" in alert_texts(response, "danger")
    assert Compensation.objects.get(pk=compensation.pk).state == "proposed"

    response = _act(login(agent), compensation, "approve", note="OK")
    assert "Done: Approve." in alert_texts(response, "success")
    assert Compensation.objects.get(pk=compensation.pk).state == "approved"
    assert Payout.objects.filter(compensation=compensation).count() == 1


def test_above_the_limit_an_agent_is_told_a_supervisor_must_approve(login, agent, agent2,
                                                                     supervisor, case):
    compensation = _offer(case, agent2, amount="50.00", kind=CompensationKind.PARTIAL_REFUND)
    assert "approve" not in _BUTTON.findall(text(login(agent).get(f"/cases/{case.pk}/")))
    response = _act(login(agent), compensation, "approve")
    assert "supervisor" in alert_texts(response, "danger")
    assert Compensation.objects.get(pk=compensation.pk).state == "proposed"
    response = _act(login(supervisor), compensation, "approve")
    assert Compensation.objects.get(pk=compensation.pk).state == "approved"


def test_decline_needs_a_reason(login, agent, agent2, case):
    compensation = _offer(case, agent2)
    response = _act(login(agent), compensation, "decline", reason="")
    assert response.status_code == 400
    assert Compensation.objects.get(pk=compensation.pk).state == "proposed"
    _act(login(agent), compensation, "decline", reason="买家不需要")
    assert Compensation.objects.get(pk=compensation.pk).state == "declined"


def test_coupon_is_marked_issued_but_money_is_not_paid_from_the_case_page(login, agent, agent2,
                                                                         case):
    # together within the agents' limit (the order's postage, 8.00): no supervisor needed
    coupon = _offer(case, agent2, amount="3.00", kind=CompensationKind.COUPON)
    postage = _offer(case, agent2, amount="5.00", kind=CompensationKind.POSTAGE)
    services.compensation_approve(compensation=coupon, actor=agent)
    services.compensation_approve(compensation=postage, actor=agent)
    page = text(login(agent).get(f"/cases/{case.pk}/"))
    assert _BUTTON.findall(page) == ["mark_paid"]  # for the coupon only
    response = _act(login(agent), Compensation.objects.get(pk=postage.pk), "mark_paid")
    assert "payout" in alert_texts(response, "danger")
    _act(login(agent), Compensation.objects.get(pk=coupon.pk), "mark_paid", reference="C-1")
    assert Compensation.objects.get(pk=coupon.pk).state == "paid"
    assert Compensation.objects.get(pk=postage.pk).state == "approved"


def test_stale_form_is_refused(login, agent, agent2, supervisor, case):
    compensation = _offer(case, agent2)
    stale = Compensation.objects.get(pk=compensation.pk)
    services.compensation_decline(compensation=compensation, actor=agent, reason="no")
    response = _act(login(supervisor), stale, "approve")
    assert "changed while you were looking" in alert_texts(response, "danger")
    assert Compensation.objects.get(pk=compensation.pk).state == "declined"


def test_another_shops_compensation_is_404(login, agent, agent_b, agent2, case):
    compensation = _offer(case, agent2)
    assert login(agent_b).post(f"/cases/{case.pk}/compensation/",
                               {"compensation-kind": "postage", "compensation-amount": "1",
                                "compensation-reason": "x"}).status_code == 404
    response = login(agent_b).post(f"/compensations/{compensation.pk}/actions/approve/",
                                   {f"c{compensation.pk}-approve-expected_state": "proposed"})
    assert response.status_code == 404
    assert Compensation.objects.get(pk=compensation.pk).state == "proposed"


@pytest.mark.parametrize("role", ["warehouse", "finance"])
def test_roles_without_the_permission_cannot_propose_or_approve(request, login, agent, case,
                                                                role):
    user = request.getfixturevalue(role)
    page = text(login(user).get(f"/cases/{case.pk}/"))
    assert 'id="compensation-propose"' not in page
    assert login(user).post(f"/cases/{case.pk}/compensation/", {
        "compensation-kind": "postage", "compensation-amount": "1",
        "compensation-reason": "x"}).status_code == 403
    compensation = _offer(case, agent)
    response = _act(login(user), compensation, "approve")
    assert "permission" in alert_texts(response, "danger")
    assert Compensation.objects.get(pk=compensation.pk).state == "proposed"


def test_timeline_shows_compensation_rows(login, agent, agent2, case):
    compensation = _offer(case, agent2)
    services.compensation_approve(compensation=compensation, actor=agent)
    page = text(login(agent).get(f"/cases/{case.pk}/"))
    assert CaseEvent.objects.filter(case=case, kind=EventKind.COMPENSATION).count() == 2
    assert "Proposed → Approved" in page


def _measure(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_case_page_query_count_does_not_grow_with_compensations(login, agent, agent2, shop,
                                                                django_assert_max_num_queries):
    client = login(agent)
    few = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("5000.00")), amount="10")
    many = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("5000.00")), amount="10")
    for case, count in ((few, 2), (many, 20)):
        for n in range(count):
            compensation = _offer(case, agent2, amount="1.00",
                                  kind=[CompensationKind.PARTIAL_REFUND,
                                        CompensationKind.COUPON][n % 2])
            if n % 3 == 0:
                services.compensation_approve(compensation=compensation, actor=agent)
    few_count = _measure(client, f"/cases/{few.pk}/")
    with django_assert_max_num_queries(few_count):
        client.get(f"/cases/{many.pk}/")
    assert _measure(client, f"/cases/{many.pk}/") == few_count
    # and a case without compensation costs no query for the section
    bare = make_case(order=OrderFactory(shop=shop), amount="10")
    assert _measure(client, f"/cases/{bare.pk}/") == few_count - 1
