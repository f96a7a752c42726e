"""The review follow-up journey in a real browser: an agent opens a 差评 follow-up, logs a call
with a canned reply (one click fills the note), offers a partial refund, marks it revised."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from refunds.models import CannedReply, Case, ContactLog, Review, ReviewFollowUp
from refunds.services.followups import followup_create_for_review
from tests.factories import OrderFactory

PASSWORD = "pw-12345-test"  # what tests.factories.make_staff sets


@pytest.mark.browser
def test_agent_follows_up_a_negative_review(transactional_db, live_server, page, agent, shop):
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    review = Review.objects.create(
        shop=shop, order=order, buyer_nick=order.buyer.nick, item_title="纯棉短袖T恤",
        rating="bad", content="洗一次就掉色，差评！", posted_at=timezone.now() - timedelta(days=2))
    follow_up = followup_create_for_review(review)
    CannedReply.objects.create(
        title="致歉回访", category="review", language="zh-hans",
        text="{buyer}您好，我是{shop}的售后，订单{order}的问题非常抱歉。")

    # Log in and open the follow-up from the queue.
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(agent.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/cases/$"))
    page.get_by_role("link", name="Reviews").click()
    expect(page).to_have_url(re.compile(r"/reviews/$"))
    row = page.locator(f'tr[data-followup="{follow_up.pk}"]')
    expect(row).to_contain_text("洗一次就掉色")
    row.get_by_role("link", name=str(follow_up.pk), exact=True).click()
    expect(page).to_have_url(re.compile(rf"/reviews/{follow_up.pk}/$"))
    state = page.locator("#followup-state")
    expect(state).to_have_attribute("data-state", "new")

    # One click on the canned reply fills the note, filled in for this buyer and order.
    note = page.locator("#id_contact-note")
    expect(note).to_have_value("")
    page.locator("#canned-replies .canned-reply", has_text="致歉回访").click()
    expected = (f"{order.buyer.nick}您好，我是示例旗舰店的售后，"
                f"订单{order.platform_order_id}的问题非常抱歉。")
    expect(note).to_have_value(expected)
    expect(page).to_have_url(re.compile(rf"/reviews/{follow_up.pk}/$"))  # no reload
    page.locator("#id_contact-channel").select_option("phone")
    page.locator("#id_contact-outcome").select_option("reached")
    page.locator("#contact-form [type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("Contact logged.")
    expect(state).to_have_attribute("data-state", "contacting")
    expect(page.locator("#buyer-contacts")).to_contain_text(expected)

    # Offer a partial refund (the buyer keeps the T-shirt).
    page.locator('summary[data-action="offer_remedy"]').click()
    form = page.locator("#action-offer_remedy")
    form.locator("select[name=offer_remedy-remedy]").select_option("refund_only")
    form.locator("input[name=offer_remedy-amount]").fill("50.00")
    form.locator("[type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("Done: Offer a remedy.")
    expect(state).to_have_attribute("data-state", "remedy_offered")
    expect(page.locator("#remedy-case-state")).to_have_attribute("data-state", "requested")

    # The buyer revised the review.
    page.locator('summary[data-action="mark_revised"]').click()
    page.locator("#action-mark_revised [type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text("Done: Mark revised.")
    expect(state).to_have_attribute("data-state", "revised")

    follow_up = ReviewFollowUp.objects.get(pk=follow_up.pk)
    assert follow_up.state == "revised"
    case = Case.objects.get()
    assert (follow_up.remedy_case, case.kind, case.requested_amount, case.created_by) == (
        case, "refund_only", Decimal("50.00"), agent)
    contact = ContactLog.objects.get()
    assert (contact.channel, contact.note, contact.staff_number) == ("phone", expected, "A1001")
    assert list(follow_up.events.filter(kind="transition").values_list("to_state", flat=True)
                ) == ["contacting", "remedy_offered", "revised"]
