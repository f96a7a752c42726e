"""A parcel inquiry (快递查询) in a real browser: the buyer of a return case says the parcel
shows delivered but never came; the agent opens an inquiry from the case page, records the
carrier's answer (lost, their staff number), finds the seller-centre memo and the link to a
carrier claim, tells the buyer (a contact logged on the inquiry) and closes it; the list shows
it closed. A colleague's tab that still shows the inquiry open is told it changed."""

import re

import pytest
from playwright.sync_api import expect

from refunds.models import CaseKind, ContactLog, InquiryState, ParcelInquiry
from tests.browser.test_returns_journey import log_in
from tests.factories import OrderFactory, make_case


@pytest.mark.browser
def test_an_agent_checks_a_parcel_with_the_carrier(transactional_db, live_server, page,
                                                   chromium, agent, supervisor, shop):
    order = OrderFactory(shop=shop, carrier="中通快递", tracking_no="ZT7788990011")
    case = make_case(order=order, kind=CaseKind.REFUND_ONLY, amount="50.00")

    log_in(page, agent)
    page.goto(f"/cases/{case.pk}/")
    page.locator("#inquiry-links").get_by_role(
        "link", name="The buyer asks about the parcel or a new address (快递查询 / 改地址)").click()
    expect(page).to_have_url(re.compile(rf"/orders/{order.pk}/inquiry/\?case={case.pk}$"))
    expect(page.locator("input[name=tracking_no]")).to_have_value("ZT7788990011")
    page.get_by_label("Shown delivered, not received (签收未收到)").check()
    page.locator("textarea[name=question]").fill("显示签收了，但我没收到")
    page.locator("#inquiry-open [type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("answer the buyer by")
    inquiry = ParcelInquiry.objects.get()
    assert inquiry.case_id == case.pk and inquiry.kind == "not_received"
    expect(page.locator("#inquiry-state")).to_have_attribute("data-state", "open")

    # The supervisor opens the same inquiry in another browser and leaves it open.
    context = chromium.new_context(locale="en-US", base_url=live_server.url)
    other = context.new_page()
    log_in(other, supervisor)
    other.goto(f"/inquiries/{inquiry.pk}/")

    page.locator('summary[data-action="record_answer"]').click()
    page.get_by_label("Lost by the carrier (丢件)").check()
    page.locator("textarea[name=record_answer-answer]").fill("网点确认丢件，可申请理赔")
    page.locator("input[name=record_answer-carrier_staff]").fill("851")
    page.locator("#action-record_answer [type=submit]").click()
    expect(page.locator("#inquiry-state")).to_have_attribute("data-state", "answered")
    expect(page.locator("#inquiry-memo textarea")).to_contain_text("851")
    expect(page.locator("#inquiry-memo textarea")).to_contain_text("A1001")
    expect(page.locator("#inquiry-claim")).to_be_visible()

    # Marked told before telling: refused, with the reason.
    page.locator('summary[data-action="tell_buyer"]').click()
    page.locator("#action-tell_buyer [type=submit]").click()
    expect(page.locator(".alert-danger")).to_contain_text("Tell the buyer first")
    page.locator("#contact-form select[name=contact-channel]").select_option("im")
    page.locator("#contact-form select[name=contact-outcome]").select_option("left_message")
    page.locator("#contact-form textarea[name=contact-note]").fill("已留言：快递丢件，正在理赔")
    page.locator("#contact-form [type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("Contact logged")
    page.locator('summary[data-action="tell_buyer"]').click()
    page.locator("#action-tell_buyer [type=submit]").click()
    expect(page.locator("#inquiry-state")).to_have_attribute("data-state", "closed")
    assert ContactLog.objects.get().inquiry_id == inquiry.pk

    page.get_by_role("link", name="Parcel inquiries", exact=True).click()
    expect(page.locator(f'tr[data-inquiry="{inquiry.pk}"]')).to_contain_text("Buyer told")

    # The supervisor's tab still shows it open: told it changed, nothing changes.
    other.locator('summary[data-action="withdraw"]').click()
    other.locator("textarea[name=withdraw-reason]").fill("买家说找到了")
    other.locator("#action-withdraw [type=submit]").click()
    expect(other.locator(".alert-danger")).to_contain_text("changed while you were looking")
    inquiry.refresh_from_db()
    assert inquiry.state == InquiryState.CLOSED
    context.close()
