"""Who may reach which page: login, shop scoping (404), CSRF and the role checks on POST."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from refunds.forms import ACTION_FORMS
from refunds.models import Case, CaseEvent, CaseKind, CaseState, Refund
from refunds.services import cases as services
from tests.factories import BuyerFactory, OrderFactory, make_case

from .helpers import alert_texts, event_count, row_ids, text, transition_events

CASE_GETS = ["/cases/{pk}/"]
CASE_POSTS = [
    "/cases/{pk}/actions/agree/",
    "/cases/{pk}/contact/",
    "/cases/{pk}/note/",
    "/cases/{pk}/assign/",
    "/cases/{pk}/claim/",
]


@pytest.fixture
def case(order):
    """A requested refund-only case of `shop` (shipped order: no instant refund)."""
    return make_case(order=order, platform_refund_id="RF-A-0001")


# --- anonymous ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/"), ("get", "/cases/"), ("get", "/cases/new/")]
    + [("get", url) for url in CASE_GETS]
    + [("post", url) for url in CASE_POSTS],
)
def test_anonymous_is_redirected_to_login_on_every_page(client, case, method, url):
    url = url.format(pk=case.pk)
    response = getattr(client, method)(url, {"agree-expected_state": "requested"}
                                        if method == "post" else None)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED
    assert case.assignee_id is None
    assert event_count(case) == 1  # only "created"


def test_anonymous_admin_redirects_to_admin_login(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"


def test_anonymous_login_page_renders(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200


def test_healthz_is_public_and_reports_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"


# --- another shop's case: 404 everywhere -----------------------------------------------------


def test_agent_cannot_see_another_shops_case(login, agent_b, case):
    response = login(agent_b).get(f"/cases/{case.pk}/")
    assert response.status_code == 404
    assert case.order.platform_order_id not in text(response)


@pytest.mark.parametrize("action", sorted(ACTION_FORMS))
def test_agent_cannot_act_on_another_shops_case(login, agent_b, case, action):
    response = login(agent_b).post(f"/cases/{case.pk}/actions/{action}/", {
        f"{action}-expected_state": case.state,
        f"{action}-reason": "other",
        f"{action}-amount": "1.00",
    })
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED
    assert event_count(case) == 1
    assert not Refund.objects.filter(case=case).exists()


@pytest.mark.parametrize(("url", "data"), [
    ("/cases/{pk}/contact/", {"contact-channel": "phone", "contact-outcome": "reached",
                              "contact-note": "hello"}),
    ("/cases/{pk}/note/", {"note-note": "a note"}),
    ("/cases/{pk}/assign/", {"assign-assignee": ""}),
    ("/cases/{pk}/claim/", {"expected_assignee": ""}),
])
def test_agent_cannot_log_note_assign_or_claim_another_shops_case(login, agent_b, case, url,
                                                                    data):
    if "assign-assignee" in data:
        data = {"assign-assignee": str(agent_b.pk)}
    response = login(agent_b).post(url.format(pk=case.pk), data)
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.assignee_id is None
    assert event_count(case) == 1
    assert not case.contacts.exists()


def test_another_shops_case_is_absent_from_the_queue(login, agent_b, other_shop, case):
    own = make_case(shop=other_shop)
    response = login(agent_b).get("/cases/")
    assert response.status_code == 200
    assert row_ids(response) == [own.pk]
    assert case.order.platform_order_id not in text(response)
    assert case.order.buyer.nick not in text(response)


@pytest.mark.parametrize("term", ["order_id", "refund_id", "nick", "mobile_last4"])
def test_another_shops_case_is_absent_from_search_results(login, agent_b, other_shop, case,
                                                          term):
    make_case(shop=other_shop)
    value = {
        "order_id": case.order.platform_order_id,
        "refund_id": case.platform_refund_id,
        "nick": case.order.buyer.nick,
        "mobile_last4": case.order.buyer.mobile_last4,
    }[term]
    response = login(agent_b).get("/cases/", {"q": value})
    assert response.status_code == 200
    assert row_ids(response) == []


@pytest.mark.parametrize("term", ["order_id", "refund_id", "nick", "mobile_last4"])
def test_own_shop_search_finds_the_case_the_other_shop_cannot(login, agent, case, term):
    value = {
        "order_id": case.order.platform_order_id,
        "refund_id": case.platform_refund_id,
        "nick": case.order.buyer.nick,
        "mobile_last4": case.order.buyer.mobile_last4,
    }[term]
    response = login(agent).get("/cases/", {"q": value})
    assert row_ids(response) == [case.pk]


def alert_or_messages(response) -> str:
    """The admin renders messages its own way: read them from the template context."""
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


def test_manager_cannot_open_another_shops_case_in_admin(login, manager, other_shop):
    foreign = make_case(order=OrderFactory(shop=other_shop,
                                           buyer=BuyerFactory(nick="别家买家甲")))
    client = login(manager)
    url = reverse("admin:refunds_case_change", args=[foreign.pk])
    response = client.get(url)
    # Django admin answers a missing (here: out-of-scope) object with a redirect + warning.
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert response["Location"] == reverse("admin:index")
        response = client.get(response["Location"])
        assert re.search(r"doesn.t exist", alert_or_messages(response))
    body = text(response)
    assert foreign.order.platform_order_id not in body
    assert "别家买家甲" not in body


def test_manager_admin_changelist_lists_only_own_shops_cases(login, manager, shop, other_shop):
    own = make_case(shop=shop)
    foreign = make_case(shop=other_shop)
    client = login(manager)
    response = client.get(reverse("admin:refunds_case_changelist"))
    assert response.status_code == 200
    body = text(response)
    assert own.order.platform_order_id in body
    assert foreign.order.platform_order_id not in body
    # nor through the admin search
    response = client.get(reverse("admin:refunds_case_changelist"),
                          {"q": foreign.order.platform_order_id})
    assert response.context["cl"].result_count == 0
    assert foreign.pk not in [c.pk for c in response.context["cl"].result_list]
    assert f'/admin/refunds/case/{foreign.pk}/change/' not in text(response)


def test_manager_admin_change_page_of_own_case_renders(login, manager, case):
    response = login(manager).get(reverse("admin:refunds_case_change", args=[case.pk]))
    assert response.status_code == 200
    assert case.order.platform_order_id in text(response)


def test_unknown_case_id_is_404(login, agent, case):
    client = login(agent)
    missing = Case.objects.order_by("-pk").first().pk + 1000
    assert client.get(f"/cases/{missing}/").status_code == 404
    assert client.post(f"/cases/{missing}/actions/agree/",
                       {"agree-expected_state": "requested"}).status_code == 404
    for url in CASE_POSTS[1:]:
        assert client.post(url.format(pk=missing), {}).status_code == 404


def test_unknown_action_name_is_404(login, agent, case):
    response = login(agent).post(f"/cases/{case.pk}/actions/delete/",
                                 {"delete-expected_state": "requested"})
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED


def test_actions_only_accept_post(login, agent, case):
    response = login(agent).get(f"/cases/{case.pk}/actions/agree/")
    assert response.status_code == 405
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED


# --- CSRF -------------------------------------------------------------------------------------


def test_post_without_csrf_token_is_403(agent, case):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    response = client.post(f"/cases/{case.pk}/actions/agree/",
                           {"agree-expected_state": "requested"})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED
    assert transition_events(case) == 0


def test_post_with_the_pages_csrf_token_is_accepted(agent, case):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    page = client.get(f"/cases/{case.pk}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text(page)).group(1)
    response = client.post(f"/cases/{case.pk}/actions/agree/",
                           {"agree-expected_state": "requested", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.REFUND_PENDING


# --- role checks on the server ---------------------------------------------------------------


def _requested(order):
    return make_case(order=order)


def _closed(order):
    case = make_case(order=order)
    return services.case_close(case=case, actor=None, reason="withdrawn")


def _awaiting_return(order):
    case = make_case(order=order, kind=CaseKind.RETURN)
    return services.case_agree(case=case, actor=None)


def _refund_pending(order):
    case = make_case(order=order)
    return services.case_agree(case=case, actor=None)


REFUSAL = "凭证不足 / Insufficient evidence"


def _refused(order):
    case = make_case(order=order)
    return services.case_refuse(case=case, actor=None, reason=REFUSAL)


@pytest.mark.parametrize(("role", "setup", "action", "data"), [
    ("warehouse", _requested, "agree", {}),
    ("finance", _requested, "agree", {}),
    ("finance", _requested, "refuse", {"reason": REFUSAL}),
    ("warehouse", _requested, "close", {"reason": "withdrawn"}),
    ("agent", _closed, "reopen", {"reason": "buyer asked for a review"}),
    ("agent", _awaiting_return, "receive", {"resellable": "yes"}),
    ("agent", _refund_pending, "mark_refunded", {"payment_reference": "PAY-1"}),
    ("agent", _refund_pending, "mark_refund_failed", {"reason": "bank said no"}),
    ("warehouse", _refused, "buyer_modify", {}),
    ("finance", _awaiting_return, "record_return_shipment",
     {"carrier": "SF", "tracking_no": "SF123"}),
])
def test_role_without_the_permission_cannot_act(request, login, order, role, setup, action,
                                                data):
    user = request.getfixturevalue(role)
    case = setup(order)
    before_state, before_events = case.state, event_count(case)
    before_refunds = list(Refund.objects.filter(case=case).values_list("status", flat=True))
    post = {f"{action}-{key}": value for key, value in data.items()}
    post[f"{action}-expected_state"] = before_state
    response = login(user).post(f"/cases/{case.pk}/actions/{action}/", post, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == f"/cases/{case.pk}/"
    assert "permission" in alert_texts(response, "danger")
    case.refresh_from_db()
    assert case.state == before_state
    assert event_count(case) == before_events
    assert not CaseEvent.objects.filter(case=case, transition=action).exists()
    assert list(Refund.objects.filter(case=case).values_list("status", flat=True)) == (
        before_refunds)
    # and the page did not offer the button in the first place
    page = login(user).get(f"/cases/{case.pk}/")
    assert f'data-action="{action}"' not in text(page)


def test_agent_cannot_reopen_but_supervisor_can(login, agent, supervisor, order):
    case = _closed(order)
    data = {"reopen-expected_state": "closed", "reopen-reason": "buyer asked for 复核"}
    response = login(agent).post(f"/cases/{case.pk}/actions/reopen/", data, follow=True)
    assert "permission" in alert_texts(response, "danger")
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED
    response = login(supervisor).post(f"/cases/{case.pk}/actions/reopen/", data, follow=True)
    assert alert_texts(response, "danger") == ""
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED


def test_warehouse_cannot_open_a_case(login, warehouse, order):
    client = login(warehouse)
    assert client.get("/cases/new/").status_code == 403
    response = client.post("/cases/new/", {
        "shop": order.shop_id, "order_id": order.platform_order_id, "kind": "refund_only",
        "reason": "quality", "requested_amount": "10.00", "goods_status": "buyer_received",
    })
    assert response.status_code == 403
    assert not Case.objects.exists()


def test_agent_cannot_assign_to_a_colleague(login, agent, supervisor, case):
    response = login(agent).post(f"/cases/{case.pk}/assign/",
                                 {"assign-assignee": str(supervisor.pk)}, follow=True)
    assert "permission" in alert_texts(response, "danger")
    case.refresh_from_db()
    assert case.assignee_id is None


def test_manager_admin_action_cannot_touch_another_shops_case(login, manager, shop, other_shop):
    own = make_case(shop=shop)
    foreign = make_case(shop=other_shop)
    response = login(manager).post(reverse("admin:refunds_case_changelist"), {
        "action": "agree_cases", "_selected_action": [str(foreign.pk), str(own.pk)],
        "note": "", "close_reason": "",
    }, follow=True)
    assert response.status_code == 200
    foreign.refresh_from_db()
    own.refresh_from_db()
    assert foreign.state == CaseState.REQUESTED
    assert transition_events(foreign) == 0
    assert not Refund.objects.filter(case=foreign).exists()
    assert own.state == CaseState.REFUND_PENDING  # the one of the manager's shop was agreed


def test_staff_without_admin_access_is_sent_to_the_admin_login(login, agent):
    response = login(agent).get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_another_shops_action_url_reveals_nothing_on_get(login, agent_b, case):
    response = login(agent_b).get(f"/cases/{case.pk}/actions/agree/")
    assert response.status_code in (404, 405)
    assert case.order.platform_order_id not in text(response)
