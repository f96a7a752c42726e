"""The buyer's confirm-receipt window (延长收货) in a real browser: an agent working a return
sees on the case page that the order confirms receipt by itself in a day, follows *Extend*,
records the extension done in the seller centre and finds it on the case's timeline; the
list of windows shows the new date; a colleague's tab that still shows the old date is told
the date changed and changes nothing."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from refunds.models import CaseKind, Order, ReceiptWindowChange
from tests.browser.test_returns_journey import log_in
from tests.factories import OrderFactory, make_case


@pytest.mark.browser
def test_an_agent_extends_the_window_from_the_case(transactional_db, live_server, page,
                                                   chromium, agent, supervisor, shop):
    shop.policy.receipt_extension_limit = 2
    shop.policy.save()
    order = OrderFactory(shop=shop)
    order.confirm_receipt_by = timezone.now() + timedelta(hours=30)
    order.save(update_fields=["confirm_receipt_by"])
    case = make_case(order=order, kind=CaseKind.RETURN, amount="60.00")
    before = order.confirm_receipt_by

    # A supervisor opens the window page in another browser and leaves it open.
    context = chromium.new_context(locale="en-US", base_url=live_server.url)
    other = context.new_page()
    log_in(other, supervisor)
    other.goto(f"/orders/{order.pk}/receipt/")
    expect(other.locator("#receipt-extend")).to_be_visible()

    log_in(page, agent)
    page.goto(f"/cases/{case.pk}/")
    expect(page.locator("#confirm-by")).to_contain_text("left")
    page.locator("#confirm-by").get_by_role(
        "link", name="Extend or read the date (延长收货)").click()
    expect(page).to_have_url(re.compile(rf"/orders/{order.pk}/receipt/\?case={case.pk}$"))
    expect(page.locator("#receipt-window")).to_contain_text("0 of 2 allowed")
    page.locator("#receipt-extend select[name=extend-days]").select_option("7")
    page.locator("#receipt-extend textarea[name=extend-note]").fill("换货处理中，已延长")
    page.locator("#receipt-extend [type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("Recorded: the order confirms receipt")
    expect(page.locator("#receipt-window")).to_contain_text("1 of 2 allowed")
    expect(page.locator("#receipt-changes")).to_contain_text("换货处理中，已延长")

    order.refresh_from_db()
    assert order.confirm_receipt_by == before + timedelta(days=7)
    shown = timezone.localtime(order.confirm_receipt_by).strftime("%Y-%m-%d %H:%M")
    expect(page.locator("#confirm-by")).to_contain_text(shown)

    page.goto(f"/cases/{case.pk}/")
    expect(page.locator(".timeline")).to_contain_text("extended by 7 days")
    page.get_by_role("link", name="Receipt windows").click()
    expect(page.locator(f'tr[data-order="{order.pk}"]')).to_contain_text(shown)

    # The supervisor's tab still shows the old date: told, nothing changed.
    other.locator("#receipt-extend select[name=extend-days]").select_option("3")
    other.locator("#receipt-extend [type=submit]").click()
    expect(other.locator(".alert-danger")).to_contain_text("changed while you were looking")
    assert ReceiptWindowChange.objects.count() == 1
    assert Order.objects.get(pk=order.pk).receipt_extensions == 1
    context.close()
