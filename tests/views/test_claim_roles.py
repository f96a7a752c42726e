"""Who takes a case on: after-sales staff, not the warehouse or finance (who only see cases)."""

from __future__ import annotations

import pytest

from tests.factories import OrderFactory, make_case

from .helpers import text


@pytest.mark.parametrize("role", ["finance", "warehouse"])
def test_finance_and_warehouse_neither_see_nor_use_claim(request, login, shop, role):
    user = request.getfixturevalue(role)
    case = make_case(order=OrderFactory(shop=shop))
    client = login(user)
    assert f"/cases/{case.pk}/claim/" not in text(client.get("/cases/"))
    assert f"/cases/{case.pk}/claim/" not in text(client.get(f"/cases/{case.pk}/"))
    client.post(f"/cases/{case.pk}/claim/", {"expected_assignee": ""})
    case.refresh_from_db()
    assert case.assignee_id is None


def test_an_agent_claims_from_the_queue(login, agent, shop):
    case = make_case(order=OrderFactory(shop=shop))
    client = login(agent)
    assert f"/cases/{case.pk}/claim/" in text(client.get("/cases/"))
    client.post(f"/cases/{case.pk}/claim/", {"expected_assignee": ""})
    case.refresh_from_db()
    assert case.assignee_id == agent.pk
