"""The agent's journey in a real browser: log in, open the queue, open a case, agree, see it."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from refunds.models import Case, CaseEvent
from tests.factories import OrderFactory, make_case

PASSWORD = "pw-12345-test"  # what tests.factories.make_staff sets


@pytest.mark.browser
def test_agent_agrees_a_refund_only_case(transactional_db, live_server, page, agent, shop):
    # Shipped order, ¥188: above the instant-refund limit (100), within the agent's (500).
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    case = make_case(order=order, amount=Decimal("188.00"))
    assert case.state == "requested"

    # Log in.
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(agent.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/cases/$"))

    # The queue shows the case; open it from its link.
    page.goto("/cases/")
    row = page.locator(f'tr[data-case="{case.pk}"]')
    expect(row).to_be_visible()
    row.get_by_role("link", name=str(case.pk), exact=True).click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.pk}/$"))
    state = page.locator("#case-state")
    expect(state).to_have_attribute("data-state", "requested")

    # Open the "Agree" action and submit it as it is (refund what the buyer asked for).
    form = page.locator("#action-agree")
    expect(form).to_be_hidden()  # inside a closed <details>
    page.locator('summary[data-action="agree"]').click()
    expect(form).to_be_visible()
    form.locator('[type="submit"]').click()

    # Back on the detail page: new state and a success message.
    expect(page).to_have_url(re.compile(rf"/cases/{case.pk}/$"))
    expect(state).to_have_attribute("data-state", "refund_pending")
    expect(page.locator(".alert-success")).to_contain_text("Done: Agree")
    expect(page.locator("#action-agree")).to_have_count(0)

    # And in the database.
    case = Case.objects.get(pk=case.pk)
    assert case.state == "refund_pending"
    agreed = CaseEvent.objects.filter(case=case, kind="transition", transition="agree")
    assert agreed.count() == 1
    event = agreed.get()
    assert (event.from_state, event.to_state, event.actor_id) == (
        "requested", "refund_pending", agent.pk)
    assert event.data == {"amount": "188.00"}
    assert [r.amount for r in case.refunds.all()] == [Decimal("188.00")]
