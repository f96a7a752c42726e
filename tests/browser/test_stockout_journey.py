"""Out of stock after payment (缺货) in a real browser: the warehouse reports a paid order's
item out of stock from the orders to ship; an agent of the shop finds it under "Out of stock",
tells the buyer (a contact through the harassment guard) and records the buyer's choice — a
later shipment, shown on the orders to ship, or a refund, which opens a refund-only case.

Independent of the wall clock: every date is computed from today in China time (the dates the
feature checks), and the shop's contact hours are set to the whole day, so the harassment
guard (09:00–21:00 China time by default) lets the contact through at any hour of the run."""

import re
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from refunds.models import (
    Case,
    CaseKind,
    CaseReason,
    ContactLog,
    StockOut,
    StockOutEvent,
    StockOutRemedy,
    StockOutState,
)
from refunds.services import stockouts as stockout_services
from refunds.timezones import CHINA
from tests.browser.test_returns_journey import log_in
from tests.factories import OrderFactory


def _china_today():
    return timezone.now().astimezone(CHINA).date()


def _contact_at_any_hour(shop):
    """The guard's hours cover the whole day (as tests.factories.PolicyFactory does), stated
    here so the journey never depends on the hour it runs at."""
    policy = shop.policy
    policy.contact_hours_start, policy.contact_hours_end = time(0, 0), time.max
    policy.save(update_fields=["contact_hours_start", "contact_hours_end"])


def _paid_order(shop, **kwargs):
    return OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now() - timedelta(hours=3),
                        **kwargs)


def _log_out(page):
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def _tell_the_buyer(page, note):
    """Log, on the stock-out page, a phone call that reached the buyer."""
    page.locator("#id_contact-channel").select_option("phone")
    page.locator("#id_contact-outcome").select_option("reached")
    page.locator("#id_contact-note").fill(note)
    page.locator("#contact-form [type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("Contact logged.")
    expect(page.locator("#buyer-contacts")).to_contain_text(note)
    expect(page.locator("#stockout-next")).to_contain_text(
        "The buyer has been told: record what they chose.")


@pytest.mark.browser
def test_warehouse_reports_and_the_buyer_agrees_to_wait(transactional_db, live_server, page,
                                                        warehouse, agent, shop):
    _contact_at_any_hour(shop)
    order = _paid_order(shop, paid_amount=Decimal("188.00"))
    other = _paid_order(shop)  # also to ship, nothing missing
    today = _china_today()
    restock, agreed = today + timedelta(days=4), today + timedelta(days=6)

    # The warehouse reports the T-shirt out of stock from the orders to ship.
    log_in(page, warehouse)
    page.get_by_role("link", name="To ship").click()
    expect(page).to_have_url(re.compile(r"/orders/unshipped/$"))
    expect(page.locator(f'tr[data-order="{other.pk}"]')).to_be_visible()
    row = page.locator(f'tr[data-order="{order.pk}"]')
    row.get_by_role("link", name="Report out of stock").click()
    expect(page).to_have_url(re.compile(rf"/orders/{order.pk}/stock-out/$"))
    expect(page.locator("#stockout-order")).to_contain_text(order.platform_order_id)
    expect(page.get_by_label("Item out of stock")).to_have_value(str(order.lines.get().pk))
    page.get_by_label("Restock expected").fill(restock.isoformat())
    page.get_by_label("Warehouse note").fill("仓库白色M码缺货，供应商周五到货")
    page.locator("#stockout-report").get_by_role("button", name="Report out of stock").click()
    stockout = StockOut.objects.get()
    expect(page).to_have_url(re.compile(rf"/stock-outs/{stockout.pk}/$"))
    expect(page.locator(".alert-success")).to_contain_text(
        f"Stock-out #{stockout.pk} reported: now tell the buyer.")
    state = page.locator("#stockout-state")
    expect(state).to_have_attribute("data-state", "reported")
    expect(page.locator("#stockout-item")).to_contain_text("纯棉短袖T恤 · 1 of 1 missing")
    expect(page.get_by_text(restock.isoformat())).to_be_visible()
    # The warehouse does not talk to buyers.
    expect(page.locator("#contact-form")).to_have_count(0)
    _log_out(page)

    # An agent of the shop finds it under "Out of stock" on the orders to ship.
    log_in(page, agent)
    page.get_by_role("link", name="To ship").click()
    page.get_by_role("link", name="Out of stock", exact=True).click()
    expect(page).to_have_url(re.compile(r"/orders/unshipped/\?due=stockout$"))
    expect(page.locator(f'tr[data-order="{other.pk}"]')).to_have_count(0)
    badge = page.locator(f'tr[data-order="{order.pk}"] [data-stockout="{stockout.pk}"]')
    expect(badge).to_contain_text("tell the buyer")
    badge.click()
    expect(page).to_have_url(re.compile(rf"/stock-outs/{stockout.pk}/$"))
    expect(state).to_have_attribute("data-state", "reported")

    # The buyer is told first; then their choice: wait, shipped by the agreed day.
    _tell_the_buyer(page, "告知缺货，买家愿意等补货")
    page.locator('summary[data-action="buyer_agreed"]').click()
    form = page.locator("#action-buyer_agreed")
    expect(form.get_by_label("Ship by (agreed with the buyer)")).to_have_value(
        restock.isoformat())  # the restock date, offered
    form.get_by_label("Waits for the restock (等待补货)").check()
    form.get_by_label("Ship by (agreed with the buyer)").fill(agreed.isoformat())
    form.get_by_role("button", name="The buyer agreed to a later shipment").click()
    expect(page.locator(".alert-success")).to_contain_text(
        "Done: The buyer agreed to a later shipment.")
    expect(state).to_have_attribute("data-state", "agreed")
    expect(state).to_have_text("Buyer agreed to a later shipment")
    expect(page.locator("#stockout-remedy")).to_contain_text(f"ship by {agreed.isoformat()}")
    expect(page.locator("#stockout-next")).to_contain_text(
        f"The buyer agreed to a shipment by {agreed.isoformat()}.")

    # The orders to ship show the day agreed.
    page.get_by_role("link", name="Orders out of stock").click()
    expect(page.locator(f'tr[data-order="{order.pk}"] [data-stockout="{stockout.pk}"]')
           ).to_contain_text(f"agreed by {agreed:%m-%d}")

    stockout.refresh_from_db()
    assert (stockout.state, stockout.remedy, stockout.agreed_ship_by,
            stockout.restock_expected) == (StockOutState.AGREED, StockOutRemedy.WAIT, agreed,
                                           restock)
    assert (stockout.reported_by, stockout.note) == (warehouse, "仓库白色M码缺货，供应商周五到货")
    assert stockout.buyer_told_at is not None and stockout.case is None
    contact = ContactLog.objects.get()
    assert (contact.stockout, contact.buyer, contact.channel, contact.outcome,
            contact.staff_number, contact.overridden_rule) == (
        stockout, order.buyer, "phone", "reached", "A1001", "")
    assert list(stockout.events.values_list("kind", "to_state", "staff_number")) == [
        ("created", "reported", "W4001"), ("contact", "", "A1001"),
        ("transition", "agreed", "A1001")]
    assert not Case.objects.exists()


@pytest.mark.browser
def test_the_buyer_takes_a_refund_which_opens_a_case(transactional_db, live_server, page,
                                                     warehouse, agent, shop):
    _contact_at_any_hour(shop)
    order = _paid_order(shop, paid_amount=Decimal("188.00"))
    stockout = stockout_services.stockout_report(
        order=order, actor=warehouse, line=order.lines.get(), quantity=1,
        restock_expected=_china_today() + timedelta(days=20))

    log_in(page, agent)
    page.goto(f"/stock-outs/{stockout.pk}/")
    state = page.locator("#stockout-state")
    expect(state).to_have_attribute("data-state", "reported")
    expect(page.locator("#stockout-share")).to_have_text("¥188.00")  # the only item: all of it

    # Not before the buyer was told.
    page.locator('summary[data-action="refund"]').click()
    page.locator("#action-refund").get_by_role("button").click()
    expect(page.locator(".alert-danger")).to_contain_text("Tell the buyer first")
    expect(state).to_have_attribute("data-state", "reported")
    assert not Case.objects.exists()

    _tell_the_buyer(page, "补货要20天，买家要求退款")
    page.locator('summary[data-action="refund"]').click()
    form = page.locator("#action-refund")
    form.get_by_label("What the buyer said").fill("不等了，退款")
    form.get_by_role("button", name="The buyer takes a refund").click()
    expect(page.locator(".alert-success")).to_contain_text("Done: The buyer takes a refund.")
    expect(state).to_have_attribute("data-state", "refund")
    case = Case.objects.get()
    link = page.locator("#stockout-case")
    expect(link).to_have_text(f"#{case.pk}")

    # The new case runs as any other.
    link.click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.pk}/$"))
    expect(page.locator("#case-state")).to_have_attribute("data-state", "requested")
    expect(page.get_by_text("Out of stock (缺货)", exact=True)).to_be_visible()

    stockout.refresh_from_db()
    assert (stockout.state, stockout.case, stockout.remedy) == (StockOutState.REFUND, case, "")
    assert stockout.resolved_at is not None and stockout.buyer_told_at is not None
    assert (case.order, case.kind, case.reason, case.requested_amount, case.created_by) == (
        order, CaseKind.REFUND_ONLY, CaseReason.OUT_OF_STOCK, Decimal("188.00"), agent)
    event = StockOutEvent.objects.get(stockout=stockout, kind="transition")
    assert (event.to_state, event.note, event.data["case"]) == ("refund", "不等了，退款", case.pk)
