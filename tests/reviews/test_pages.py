"""The follow-up queue and page, the buyer page: login, shop scope, filters, fixed queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds.models import CannedReply, ContactLog, ReviewFollowUp
from refunds.services import followups as svc
from refunds.services.contacts import buyer_set_do_not_contact
from tests.factories import BuyerFactory, OrderFactory, make_case, make_staff

from .conftest import T0, make_follow_up

_ROW = re.compile(r'<tr data-followup="(\d+)">')


def row_ids(response) -> list[int]:
    return [int(pk) for pk in _ROW.findall(response.content.decode())]


def _queries(client, url) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return response, len(captured)


# --- login, permission, shop scope --------------------------------------------------------------


@pytest.mark.parametrize("url", ["/reviews/", "/reviews/new/", "/reviews/{pk}/",
                                 "/buyers/{buyer}/"])
def test_pages_need_a_login(client, follow_up, url):
    response = client.get(url.format(pk=follow_up.pk, buyer=follow_up.buyer_id))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_another_shops_follow_up_and_buyer_are_404(login, follow_up, agent_b, other_shop):
    client = login(agent_b)
    assert client.get(f"/reviews/{follow_up.pk}/").status_code == 404
    assert client.get(f"/buyers/{follow_up.buyer_id}/").status_code == 404
    for url in ("actions/mark_revised/", "contact/", "details/", "assign/", "claim/"):
        assert client.post(f"/reviews/{follow_up.pk}/{url}", {}).status_code == 404
    for url in ("contact/", "do-not-contact/", "allow-contact/"):
        assert client.post(f"/buyers/{follow_up.buyer_id}/{url}", {}).status_code == 404
    assert row_ids(client.get("/reviews/")) == []
    # once the buyer also ordered from shop B, shop B sees the buyer, not shop A's follow-up
    OrderFactory(shop=other_shop, buyer=follow_up.buyer)
    page = client.get(f"/buyers/{follow_up.buyer_id}/").content.decode()
    assert f"/reviews/{follow_up.pk}/" not in page


def test_warehouse_has_no_review_pages(login, warehouse, follow_up):
    client = login(warehouse)
    assert client.get("/reviews/").status_code == 403
    assert client.get(f"/reviews/{follow_up.pk}/").status_code == 403
    assert "/reviews/" not in client.get("/cases/").content.decode()


def test_the_navbar_links_the_queue(login, agent):
    assert 'href="/reviews/"' in login(agent).get("/cases/").content.decode()


# --- the queue ------------------------------------------------------------------------------


def test_due_soon_comes_first_and_finished_last(login, agent, shop):
    late = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=1))
    soon = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=28))
    middle = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=10))
    done = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=29), state="revised")
    response = login(agent).get("/reviews/")
    assert row_ids(response) == [soon.pk, middle.pk, late.pk, done.pk]
    page = response.content.decode()
    assert "2 days left" in page and "29 days left" in page


def test_the_queue_filters(login, agent, supervisor, shop, roles):
    other = make_staff("agent2", "agent", shop, staff_number="A1002")
    quality = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=27))
    svc.followup_update_details(follow_up=quality, actor=agent, category="quality",
                                flag="purple")
    svc.followup_assign(follow_up=quality, actor=agent, assignee=agent)
    size = make_follow_up(shop=shop, state="contacting", rating="neutral")
    svc.followup_update_details(follow_up=size, actor=agent, category="size", flag="red")
    svc.followup_assign(follow_up=size, actor=supervisor, assignee=other)
    closed = make_follow_up(shop=shop, state="closed")
    client = login(agent)

    def ids(**params):
        return set(row_ids(client.get("/reviews/", params)))

    assert ids() == {quality.pk, size.pk, closed.pk}
    assert ids(state=["contacting"]) == {size.pk}
    assert ids(state=["new", "closed"]) == {quality.pk, closed.pk}
    assert ids(category="quality") == {quality.pk}
    assert ids(rating="neutral") == {size.pk}
    assert ids(assignee=other.pk) == {size.pk}
    assert ids(mine="true") == {quality.pk}
    assert ids(days_left=3) == {quality.pk}  # 3 days left; the other has 28
    assert ids(days_left=30) == {quality.pk, size.pk}  # open ones only
    assert ids(shop=shop.pk) == {quality.pk, size.pk, closed.pk}


def test_the_queue_runs_the_same_queries_for_few_and_many_rows(login, agent, supervisor, shop):
    client = login(agent)

    def add(count):
        for n in range(count):
            case_order = OrderFactory(shop=shop, buyer=BuyerFactory(is_vip=n % 2 == 0))
            follow_up = make_follow_up(order=case_order, state="contacting")
            svc.followup_assign(follow_up=follow_up, actor=supervisor,
                                assignee=agent if n % 2 else supervisor)
            if n % 3 == 0:
                svc.followup_offer_remedy(follow_up=follow_up, actor=agent,
                                          remedy="refund_only", amount="20.00")

    add(2)
    _page, few = _queries(client, "/reviews/")
    add(20)
    response, many = _queries(client, "/reviews/")
    assert len(row_ids(response)) == 22
    assert few == many


def test_the_follow_up_page_runs_the_same_queries_however_busy(login, agent, supervisor, shop):
    CannedReply.objects.create(title="邀评", category="review", text="{buyer}您好")
    quiet = make_follow_up(shop=shop)
    busy = make_follow_up(shop=shop)
    case = make_case(order=busy.order, amount="20.00")
    for n in range(2):
        svc.followup_contact_log_create(follow_up=busy, actor=agent, channel="phone",
                                        outcome="no_answer", note=f"第{n}次")
    for channel in ("im", "sms", "email"):
        svc.followup_contact_log_create(follow_up=busy, actor=agent, channel=channel,
                                        outcome="left_message")
    svc.followup_offer_remedy(follow_up=busy, actor=agent, remedy="coupon", amount="5.00")
    svc.followup_assign(follow_up=busy, actor=supervisor, assignee=agent)
    svc.followup_update_details(follow_up=busy, actor=agent, category="quality", flag="red")
    assert ReviewFollowUp.objects.get(pk=busy.pk).remedy_case == case
    client = login(agent)
    _page, quiet_count = _queries(client, f"/reviews/{quiet.pk}/")
    response, busy_count = _queries(client, f"/reviews/{busy.pk}/")
    assert response.content.decode().count('<li class="list-group-item small" data-contact') == 5
    assert quiet_count == busy_count


def test_the_buyer_page_runs_the_same_queries_however_busy(login, agent, shop):
    quiet_buyer, busy_buyer = BuyerFactory(), BuyerFactory()
    OrderFactory(shop=shop, buyer=quiet_buyer)
    for _n in range(4):
        order = OrderFactory(shop=shop, buyer=busy_buyer)
        make_case(order=order, amount="10.00")
        follow_up = make_follow_up(order=order)
        if _n < 3:
            svc.followup_contact_log_create(follow_up=follow_up, actor=agent, channel="im",
                                            outcome="reached")
    client = login(agent)
    _page, quiet = _queries(client, f"/buyers/{quiet_buyer.pk}/")
    _page, busy = _queries(client, f"/buyers/{busy_buyer.pk}/")
    assert quiet == busy


# --- the follow-up page ----------------------------------------------------------------------


def test_a_contact_from_the_follow_up_page_starts_contacting_and_counts_failures(
        login, agent, follow_up):
    client = login(agent)
    response = client.post(f"/reviews/{follow_up.pk}/contact/", {
        "contact-channel": "phone", "contact-outcome": "no_answer", "contact-note": "无人接听",
    }, follow=True)
    page = response.content.decode()
    assert "Contact logged." in page
    assert 'id="followup-state" data-state="contacting"' in page
    follow_up.refresh_from_db()
    assert follow_up.failed_attempts == 1
    contact = ContactLog.objects.get()
    assert (contact.follow_up, contact.case, contact.shop, contact.staff_number) == (
        follow_up, None, follow_up.shop, "A1001")
    kinds = list(follow_up.events.values_list("kind", "to_state"))
    assert kinds == [("created", "new"), ("contact", ""), ("transition", "contacting")]


def test_the_page_offers_only_the_users_actions(login, agent, supervisor, shop):
    follow_up = make_follow_up(shop=shop, state="buyer_refused")
    agent_page = login(agent).get(f"/reviews/{follow_up.pk}/").content.decode()
    boss_page = login(supervisor).get(f"/reviews/{follow_up.pk}/").content.decode()
    actions = re.compile(r'<summary[^>]*data-action="([a-z_]+)"')
    assert set(actions.findall(agent_page)) == {"close"}
    assert set(actions.findall(boss_page)) == {"close", "appeal"}


def test_a_stale_action_is_refused_with_a_message(login, agent, shop):
    follow_up = make_follow_up(shop=shop, state="contacting")
    response = login(agent).post(f"/reviews/{follow_up.pk}/actions/mark_revised/", {
        "mark_revised-expected_state": "new"}, follow=True)
    assert "changed while you were looking at it" in response.content.decode()
    follow_up.refresh_from_db()
    assert follow_up.state == "contacting"


def test_the_buyers_contacts_show_on_the_case_follow_up_and_buyer_pages(login, agent, shop):
    order = OrderFactory(shop=shop)
    case = make_case(order=order, amount="20.00")
    follow_up = make_follow_up(order=order)
    from refunds.services.cases import contact_log_create

    contact_log_create(case=case, actor=agent, channel="phone", outcome="reached",
                       note="案件电话")
    svc.followup_contact_log_create(follow_up=follow_up, actor=agent, channel="im",
                                    outcome="reached", note="评价旺旺")
    client = login(agent)
    client.post(f"/buyers/{order.buyer_id}/contact/", {
        "contact-shop": shop.pk, "contact-channel": "email", "contact-outcome": "left_message",
        "contact-note": "买家页邮件"})
    assert ContactLog.objects.count() == 3
    for url in (f"/cases/{case.pk}/", f"/reviews/{follow_up.pk}/", f"/buyers/{order.buyer_id}/"):
        page = client.get(url).content.decode()
        for note in ("案件电话", "评价旺旺", "买家页邮件"):
            assert note in page, (url, note)


# --- the buyer page ------------------------------------------------------------------------


def test_the_buyer_page_sets_and_lifts_do_not_contact(login, agent, supervisor, follow_up):
    buyer = follow_up.buyer
    client = login(agent)
    page = client.get(f"/buyers/{buyer.pk}/").content.decode()
    assert 'id="dnc-form"' in page
    response = client.post(f"/buyers/{buyer.pk}/do-not-contact/", {"dnc-reason": ""})
    assert response.status_code == 400
    response = client.post(f"/buyers/{buyer.pk}/do-not-contact/",
                           {"dnc-shop": follow_up.shop_id, "dnc-reason": "买家说再打就投诉"},
                           follow=True)
    page = response.content.decode()
    assert "The buyer will not be contacted any more." in page
    assert 'id="dnc-badge"' in page and "买家说再打就投诉" in page
    assert "Only a supervisor can lift this request." in page
    # the follow-up page warns before anyone dials
    page = client.get(f"/reviews/{follow_up.pk}/").content.decode()
    assert 'id="do-not-contact"' in page
    response = client.post(f"/reviews/{follow_up.pk}/contact/", {
        "contact-channel": "phone", "contact-outcome": "reached"}, follow=True)
    assert "asked not to be contacted" in response.content.decode()
    assert not ContactLog.objects.exists()
    # an agent cannot lift it; a supervisor can, with a reason
    client.post(f"/buyers/{buyer.pk}/allow-contact/", {"lift-shop": follow_up.shop_id,
                                                        "lift-reason": "x"})
    buyer.refresh_from_db()
    assert buyer.do_not_contact
    response = login(supervisor).post(f"/buyers/{buyer.pk}/allow-contact/", {
        "lift-shop": follow_up.shop_id, "lift-reason": "买家来电要求处理"}, follow=True)
    assert "Contact is allowed again." in response.content.decode()
    buyer.refresh_from_db()
    assert not buyer.do_not_contact
    assert list(buyer.events.values_list("kind", "staff_number")) == [
        ("do_not_contact", "A1001"), ("contact_allowed", "S3001")]


def test_the_buyer_page_lists_orders_cases_and_follow_ups_of_the_users_shops(
        login, agent, shop, other_shop):
    order = OrderFactory(shop=shop)
    case = make_case(order=order, amount="20.00")
    follow_up = make_follow_up(order=order)
    order_b = OrderFactory(shop=other_shop, buyer=order.buyer)
    page = login(agent).get(f"/buyers/{order.buyer_id}/").content.decode()
    assert f'href="/cases/{case.pk}/"' in page and f'href="/reviews/{follow_up.pk}/"' in page
    assert order.platform_order_id in page and order_b.platform_order_id not in page


def test_a_buyer_marked_do_not_contact_is_flagged_in_the_queue(login, agent, follow_up):
    buyer_set_do_not_contact(buyer=follow_up.buyer, shop=follow_up.shop, actor=agent,
                             reason="骚扰投诉")
    page = login(agent).get("/reviews/").content.decode()
    assert "Do not contact" in page


@pytest.mark.parametrize("days", ["3000000", "99999999999999999999", "3651"])
def test_a_days_left_filter_past_ten_years_is_refused_on_the_page(login, agent, follow_up, days):
    client = login(agent)
    client.raise_request_exception = False
    response = client.get("/reviews/", {"days_left": days})
    assert response.status_code == 200
    assert "days_left" in response.context["filter"].form.errors
