"""The managers' admin: scoped to their shops, state read-only, actions through the services."""

from __future__ import annotations

from decimal import Decimal

import pytest

from refunds.models import Case, CaseEvent, Refund
from refunds.services import cases as svc
from tests.factories import OrderFactory, make_case, make_staff


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_manager_sees_only_their_shops_cases(manager_client, shop, other_shop):
    mine = make_case(order=OrderFactory(shop=shop))
    theirs = make_case(order=OrderFactory(shop=other_shop))
    page = manager_client.get("/admin/refunds/case/").content.decode()
    assert f"/admin/refunds/case/{mine.pk}/change/" in page
    assert f"/admin/refunds/case/{theirs.pk}/change/" not in page
    response = manager_client.get(f"/admin/refunds/case/{theirs.pk}/change/")
    assert response.status_code == 302  # Django admin: "doesn't exist", back to the index
    assert manager_client.get(f"/admin/refunds/case/{mine.pk}/change/").status_code == 200


def test_case_state_is_read_only_in_the_admin(manager_client, shop):
    case = make_case(order=OrderFactory(shop=shop))
    page = manager_client.get(f"/admin/refunds/case/{case.pk}/change/").content.decode()
    assert 'name="state"' not in page
    manager_client.post(f"/admin/refunds/case/{case.pk}/change/", {"state": "refunded"})
    assert Case.objects.get(pk=case.pk).state == "requested"


@pytest.mark.parametrize("url", ["/admin/refunds/case/{case}/delete/",
                                 "/admin/refunds/caseevent/{event}/delete/",
                                 "/admin/refunds/refund/{refund}/delete/"])
def test_cases_timeline_and_money_cannot_be_deleted(manager_client, shop, url):
    case = make_case(order=OrderFactory(shop=shop, unshipped=True, paid_amount=Decimal("50")),
                     amount="50.00")  # 极速退款 makes a refund row
    event = CaseEvent.objects.filter(case=case).first()
    refund = Refund.objects.get(case=case)
    response = manager_client.post(url.format(case=case.pk, event=event.pk, refund=refund.pk),
                                   {"post": "yes"})
    assert response.status_code == 403
    assert Case.objects.filter(pk=case.pk).exists()
    assert CaseEvent.objects.filter(pk=event.pk).exists() and Refund.objects.exists()


def test_admin_action_goes_through_the_service(manager_client, shop):
    case = make_case(order=OrderFactory(shop=shop))
    response = manager_client.post("/admin/refunds/case/", {
        "action": "close_cases", "_selected_action": [case.pk], "close_reason": "withdrawn",
        "note": "买家撤销",
    }, follow=True)
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.state == "closed" and case.close_reason == "withdrawn"
    event = CaseEvent.objects.get(case=case, transition="close")
    assert event.staff_number == "M6001" and event.note == "买家撤销"


def test_admin_action_checks_the_transition_permission(client, roles, shop):
    """A staff agent (no reopen_case) is neither offered nor allowed to reopen in the admin."""
    clerk = make_staff("clerk", "agent", shop, is_staff=True)
    case = make_case(order=OrderFactory(shop=shop))
    svc.case_close(case=case, actor=None, reason="withdrawn")
    client.force_login(clerk)
    page = client.get("/admin/refunds/case/").content.decode()
    assert "close_cases" in page and "reopen_cases" not in page
    client.post("/admin/refunds/case/", {
        "action": "reopen_cases", "_selected_action": [case.pk], "note": "复核",
    })
    assert Case.objects.get(pk=case.pk).state == "closed"
    assert not CaseEvent.objects.filter(case=case, transition="reopen").exists()


def test_admin_action_refuses_a_case_the_state_no_longer_allows(manager_client, shop):
    case = make_case(order=OrderFactory(shop=shop))
    svc.case_close(case=case, actor=None, reason="withdrawn")
    response = manager_client.post("/admin/refunds/case/", {
        "action": "agree_cases", "_selected_action": [case.pk],
    }, follow=True)
    assert "not possible" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == "closed"


def test_admin_action_without_required_reason_changes_nothing(manager_client, shop):
    case = make_case(order=OrderFactory(shop=shop))
    manager_client.post("/admin/refunds/case/", {
        "action": "close_cases", "_selected_action": [case.pk], "close_reason": "",
    })
    assert Case.objects.get(pk=case.pk).state == "requested"
    assert not CaseEvent.objects.filter(case=case, kind="transition").exists()
