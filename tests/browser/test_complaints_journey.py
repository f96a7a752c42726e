"""A complaint after the trade (维权/投诉) in a real browser: an agent records it from the case
page, adds a chat screenshot and submits the evidence; a supervisor records the platform's
ruling for the buyer, which the case's money card then counts."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from refunds.models import Complaint
from tests.browser.test_returns_journey import log_in
from tests.factories import OrderFactory, make_case
from tests.services.test_warehouse import image_upload


@pytest.mark.browser
def test_a_complaint_is_answered_with_evidence_and_ruled(transactional_db, live_server, page,
                                                         settings, tmp_path, agent,
                                                         supervisor, shop):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    case = make_case(order=order, amount="50.00")
    screenshot = tmp_path / "chat.jpg"
    screenshot.write_bytes(image_upload().read())

    # From the case page: the order and the kind are filled in.
    log_in(page, agent)
    page.goto(f"/cases/{case.pk}/")
    page.get_by_role("link", name=re.compile("complained to the platform")).click()
    expect(page.get_by_label("Order id (订单编号)")).to_have_value(order.platform_order_id)
    page.get_by_label("What the buyer says").fill("客服答应补偿10元，一直没给")
    page.get_by_label("Amount the buyer asks (¥)").fill("10.00")
    page.get_by_label("Complaint number (投诉编号)").fill("TS-2026-001")
    page.get_by_role("button", name="Record the complaint").click()
    expect(page.locator(".alert-success")).to_contain_text("recorded")
    complaint = Complaint.objects.get()
    expect(page.locator("#complaint-state")).to_have_attribute("data-state", "open")
    expect(page.locator("#complaint-deadline")).to_contain_text("evidence is due by")

    # The evidence: a chat screenshot, then the answer goes to the platform.
    page.locator("#id_evidence-photos").set_input_files(str(screenshot))
    page.locator("#complaint-evidence-form").get_by_role("button", name="Add evidence").click()
    expect(page.locator(".alert-success")).to_contain_text("1 screenshot added.")
    page.locator('summary[data-action="submit_evidence"]').click()
    page.locator("#action-submit_evidence").get_by_label("What the shop answered").fill(
        "聊天记录显示补偿已通过优惠券发放")
    page.locator("#action-submit_evidence").get_by_role("button").click()
    expect(page.locator("#complaint-state")).to_have_attribute("data-state", "evidence")

    # The supervisor records the platform's ruling; the case's money card counts it.
    log_in(page, supervisor)
    page.get_by_role("link", name="Complaints").click()
    page.locator(f'tr[data-complaint="{complaint.pk}"] a').first.click()
    page.locator('summary[data-action="rule_for_buyer"]').click()
    form = page.locator("#action-rule_for_buyer")
    form.get_by_label("What the platform ruled").fill("优惠券不等于现金补偿，支持买家")
    form.get_by_label("Paid to the buyer (¥)").fill("10.00")
    form.get_by_role("button").click()
    expect(page.locator("#complaint-state")).to_have_attribute("data-state", "for_buyer")
    expect(page.locator("#complaint-paid")).to_contain_text("¥10.00")
    page.locator("#complaint-case").click()
    expect(page.locator("#refundable")).to_contain_text("¥178.00")
