"""The queue, the detail page and acting through the pages' forms."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds.models import (
    Case,
    CaseEvent,
    CaseKind,
    CaseReason,
    CaseState,
    ContactLog,
    EventKind,
    OrderLine,
    Refund,
    RefundStatus,
)
from refunds.services import cases as services
from tests.factories import BuyerFactory, OrderFactory, ShopFactory, make_case, make_staff

from .helpers import (
    action_buttons,
    alert_texts,
    event_count,
    row_ids,
    rows,
    text,
    transition_events,
)

REFUSAL = "凭证不足 / Insufficient evidence"


@pytest.fixture
def case(order):
    """A requested refund-only case for the whole ¥188.00 of a shipped order."""
    return make_case(order=order)


def _state(case) -> str:
    return Case.objects.values_list("state", flat=True).get(pk=case.pk)


# --- the queue --------------------------------------------------------------------------------


def test_queue_shows_own_shops_cases_nearest_deadline_first(login, agent, shop, other_shop):
    now = timezone.now()
    later = make_case(shop=shop, now=now - timedelta(days=1))  # due in 4 days
    overdue = make_case(shop=shop, now=now - timedelta(days=6))  # overdue by 1 day
    soon = make_case(shop=shop, now=now - timedelta(days=3))  # due in 2 days
    finished = services.case_close(case=make_case(shop=shop), actor=None, reason="withdrawn")
    make_case(shop=other_shop)

    response = login(agent).get("/cases/")

    assert response.status_code == 200
    assert row_ids(response) == [overdue.pk, soon.pk, later.pk, finished.pk]
    page_rows = rows(response)
    assert "overdue by 1d" in page_rows[overdue.pk]
    assert re.search(r"1d 23h left|2d 0h left", page_rows[soon.pk])
    assert " left" in page_rows[later.pk] and "overdue" not in page_rows[later.pk]
    assert "left" not in page_rows[finished.pk] and "overdue" not in page_rows[finished.pk]
    assert "4 cases" in text(response)


@pytest.fixture
def multi(roles, shop, other_shop):
    """An agent serving both shops (so the shop filter has something to choose)."""
    return make_staff("multi", "agent", shop, other_shop, staff_number="A1777")


@pytest.fixture
def queue(shop, other_shop, agent, multi):
    now = timezone.now()
    cases = {
        "overdue": make_case(shop=shop, now=now - timedelta(days=6)),
        "due_soon": make_case(shop=shop, now=now - timedelta(days=5) + timedelta(hours=6)),
        "later_return": make_case(shop=shop, kind=CaseKind.RETURN, reason=CaseReason.SIZE),
        "refused": services.case_refuse(case=make_case(shop=shop), actor=None, reason=REFUSAL),
        "colleague": make_case(shop=shop),
        "mine": make_case(shop=shop),
        "elsewhere": make_case(shop=other_shop),
    }
    services.case_assign(case=cases["colleague"], actor=agent, assignee=agent)
    services.case_assign(case=cases["mine"], actor=multi, assignee=multi)
    # a shop nobody here serves: never listed
    make_case(shop=ShopFactory(code="shop-c"))
    return cases


@pytest.mark.parametrize(("query", "expected"), [
    ({}, {"overdue", "due_soon", "later_return", "refused", "colleague", "mine", "elsewhere"}),
    ({"state": "refused"}, {"refused"}),
    ({"state": ["refused", "requested"]},
     {"overdue", "due_soon", "later_return", "refused", "colleague", "mine", "elsewhere"}),
    ({"kind": "return"}, {"later_return"}),
    ({"shop": "OTHER"}, {"elsewhere"}),
    ({"reason": "size"}, {"later_return"}),
    ({"assignee": "AGENT"}, {"colleague"}),
    ({"due": "overdue"}, {"overdue"}),
    ({"due": "24h"}, {"due_soon"}),
    ({"mine": "true"}, {"mine"}),
    ({"kind": "refund_only", "due": "overdue"}, {"overdue"}),
])
def test_queue_filters(login, multi, agent, other_shop, queue, query, expected):
    query = dict(query)
    if query.get("shop") == "OTHER":
        query["shop"] = other_shop.pk
    if query.get("assignee") == "AGENT":
        query["assignee"] = agent.pk
    response = login(multi).get("/cases/", query)
    assert response.status_code == 200
    names = {case.pk: name for name, case in queue.items()}
    assert {names.get(pk, pk) for pk in row_ids(response)} == expected


def test_queue_filters_the_requests_waiting_for_quality_photos(login, agent, shop):
    """"Awaited": asked for and not come, the request still undecided; "not received in
    time": past the buyer's time too, the ones the shop may refuse (凭证不足)."""
    asked_at = timezone.now() - timedelta(hours=30)
    late = make_case(shop=shop)
    services.case_request_photos(case=late, actor=agent, now=asked_at)
    waiting = make_case(shop=shop)
    services.case_request_photos(case=waiting, actor=agent)
    came = make_case(shop=shop)
    services.case_request_photos(case=came, actor=agent, now=asked_at)
    services.case_photos_received(case=came, actor=agent)
    decided = make_case(shop=shop)
    services.case_request_photos(case=decided, actor=agent, now=asked_at)
    services.case_agree(case=decided, actor=agent)
    make_case(shop=shop)  # never asked
    client = login(agent)
    assert set(row_ids(client.get("/cases/", {"photos": "awaited"}))) == {late.pk, waiting.pk}
    assert row_ids(client.get("/cases/", {"photos": "late"})) == [late.pk]
    assert len(row_ids(client.get("/cases/", {"photos": ""}))) == 5


@pytest.fixture
def searchable(shop):
    buyer = BuyerFactory(nick="小王爱购物", mobile="13912345678")
    order = OrderFactory(shop=shop, buyer=buyer, platform_order_id="4100000000000000001",
                         tracking_no="YT0000000001")
    case = make_case(order=order, kind=CaseKind.RETURN, platform_refund_id="RF20240001")
    services.case_agree(case=case, actor=None)
    services.case_record_return_shipment(case=case, actor=None, carrier="顺丰",
                                         tracking_no="sf 7788 9900")
    decoys = [make_case(shop=shop, platform_refund_id=f"RF2024{n:04d}") for n in (2, 3)]
    return case, decoys


@pytest.mark.parametrize("term", [
    "4100000000000000001",  # order id
    " 4100000000000000001 ",  # pasted with spaces
    "RF20240001",  # refund id
    "小王爱购物",  # buyer nick
    "小王",  # part of the nick
    "SF77889900",  # return tracking number
    "sf 7788 9900",  # as the buyer wrote it
    "5678",  # mobile's last four digits
])
def test_queue_search(login, agent, searchable, term):
    case, decoys = searchable
    response = login(agent).get("/cases/", {"q": term})
    assert response.status_code == 200
    assert row_ids(response) == [case.pk]


def test_queue_search_without_match_shows_nothing(login, agent, searchable):
    response = login(agent).get("/cases/", {"q": "no-such-thing"})
    assert row_ids(response) == []
    assert "No cases match." in text(response)


def test_queue_paginates_25_per_page(login, agent, shop, settings):
    assert settings.CASES_PER_PAGE == 25
    now = timezone.now()
    created = [make_case(shop=shop, now=now - timedelta(minutes=n)) for n in range(30)]
    client = login(agent)

    first = client.get("/cases/")
    second = client.get("/cases/", {"page": 2})

    assert len(row_ids(first)) == 25
    assert len(row_ids(second)) == 5
    assert set(row_ids(first)) | set(row_ids(second)) == {c.pk for c in created}
    assert "Page 2 of 2" in text(second)
    assert "30 cases" in text(second)
    # the filter survives paging
    filtered = client.get("/cases/", {"state": "requested", "page": 2})
    assert len(row_ids(filtered)) == 5
    assert 'href="?state=requested&amp;page=1"' in text(filtered)


def test_queue_out_of_range_page_shows_the_last_page(login, agent, shop):
    make_case(shop=shop)
    response = login(agent).get("/cases/", {"page": "99"})
    assert response.status_code == 200
    assert len(row_ids(response)) == 1


def test_queue_ignores_a_shop_filter_for_a_shop_the_user_does_not_serve(login, agent_b,
                                                                        shop, other_shop):
    theirs = make_case(shop=shop)
    own = make_case(shop=other_shop)
    response = login(agent_b).get("/cases/", {"shop": shop.pk})
    assert response.status_code == 200
    assert theirs.pk not in row_ids(response)
    assert set(row_ids(response)) <= {own.pk}


# --- the detail page --------------------------------------------------------------------------


def test_detail_shows_order_lines_masked_mobile_money_and_timeline(login, agent, shop):
    buyer = BuyerFactory(nick="李雷", mobile="13812345678")
    order = OrderFactory(shop=shop, buyer=buyer, platform_order_id="4200000000000000042")
    OrderLine.objects.create(order=order, title="加绒卫衣 藏青", sku="WY-NAVY-L", quantity=2,
                             paid_amount=Decimal("8.00"))
    first = make_case(order=order, amount="50.00")
    services.case_agree(case=first, actor=None)
    services.case_mark_refunded(case=first, actor=None, payment_reference="PAY-001")
    case = make_case(order=order, amount="100.00")

    response = login(agent).get(f"/cases/{case.pk}/")

    assert response.status_code == 200
    body = text(response)
    assert "4200000000000000042" in body
    assert "纯棉短袖T恤" in body and "加绒卫衣 藏青" in body and "WY-NAVY-L" in body
    assert "138****5678" in body
    assert "13812345678" not in body
    assert "12345678" not in body
    assert _money(response) == {"Paid by buyer": Decimal("188.00"), "Refunded": Decimal("50"),
                                "Approved, not yet paid": Decimal("0"),
                                "Still refundable": Decimal("138.00")}
    assert body.count('<div class="event ') == 1
    assert '<div class="event created">' in body
    assert 'data-state="requested"' in body


def _money_text(response) -> dict[str, str]:
    return dict(re.findall(r'<dt class="col-7">([^<]+)</dt><dd class="col-5 text-end"[^>]*>'
                           r"¥([^<]+)</dd>", text(response)))


def _money(response) -> dict[str, Decimal]:
    return {label: Decimal(value) for label, value in _money_text(response).items()}


def test_detail_money_amounts_are_shown_in_yuan_and_fen(login, agent, order):
    """Every amount of the money card reads like ¥50.00, never ¥50 or ¥0."""
    first = make_case(order=order, amount="50.00")
    services.case_agree(case=first, actor=None)
    services.case_mark_refunded(case=first, actor=None, payment_reference="PAY-001")
    second = make_case(order=order, amount="30.00")
    services.case_agree(case=second, actor=None)
    case = make_case(order=order, amount="20.00")

    response = login(agent).get(f"/cases/{case.pk}/")

    assert _money_text(response) == {"Paid by buyer": "188.00", "Refunded": "50.00",
                                     "Approved, not yet paid": "30.00",
                                     "Still refundable": "108.00"}


def test_detail_money_of_a_fresh_case_shows_zero_as_0_00(login, agent, case):
    response = login(agent).get(f"/cases/{case.pk}/")
    assert _money_text(response) == {"Paid by buyer": "188.00", "Refunded": "0.00",
                                     "Approved, not yet paid": "0.00",
                                     "Still refundable": "188.00"}


def test_detail_timeline_grows_with_each_step(login, agent, case):
    services.case_agree(case=case, actor=agent)
    response = login(agent).get(f"/cases/{case.pk}/")
    body = text(response)
    assert body.count('<div class="event ') == 2
    assert "Requested → Refund pending" in body
    assert "A1001" in body  # the 工号 of who did it


def test_agent_sees_agree_refuse_close_on_a_requested_refund_under_the_limit(login, agent,
                                                                            case):
    response = login(agent).get(f"/cases/{case.pk}/")
    assert action_buttons(response) == {"agree", "refuse", "close", "open_dispute"}
    assert "supervisor must approve" not in text(response)


def test_refund_above_the_agent_limit_is_not_agreeable_by_the_agent(login, agent, supervisor,
                                                                     shop):
    order = OrderFactory(shop=shop, paid_amount=Decimal("800.00"))
    case = make_case(order=order, amount="600.00")

    agent_page = login(agent).get(f"/cases/{case.pk}/")
    assert action_buttons(agent_page) == {"refuse", "close", "open_dispute"}
    assert "supervisor must approve" in text(agent_page)
    assert "500.00" in text(agent_page)

    supervisor_page = login(supervisor).get(f"/cases/{case.pk}/")
    assert action_buttons(supervisor_page) == {"agree", "refuse", "close", "open_dispute"}
    assert "supervisor must approve" not in text(supervisor_page)


def test_agent_posting_agree_above_the_limit_is_refused(login, agent, supervisor, shop):
    order = OrderFactory(shop=shop, paid_amount=Decimal("800.00"))
    case = make_case(order=order, amount="600.00")
    response = login(agent).post(f"/cases/{case.pk}/actions/agree/",
                                 {"agree-expected_state": "requested"}, follow=True)
    assert ("¥600.00 is above your approval limit of ¥500.00: a supervisor must approve it."
            in alert_texts(response, "danger"))  # why, not a bare "no permission"
    assert _state(case) == CaseState.REQUESTED
    assert not Refund.objects.filter(case=case).exists()

    response = login(supervisor).post(f"/cases/{case.pk}/actions/agree/",
                                      {"agree-expected_state": "requested"}, follow=True)
    assert alert_texts(response, "danger") == ""
    assert _state(case) == CaseState.REFUND_PENDING
    assert Refund.objects.get(case=case).amount == Decimal("600.00")


def test_warehouse_sees_no_actions_on_a_requested_case(login, warehouse, case):
    response = login(warehouse).get(f"/cases/{case.pk}/")
    assert action_buttons(response) == set()
    assert "Nothing for you to do on this case now." in text(response)
    assert "supervisor must approve" not in text(response)


# --- acting through the pages -----------------------------------------------------------------


def test_agent_agrees_through_the_page(login, agent, case):
    client = login(agent)
    response = client.post(f"/cases/{case.pk}/actions/agree/",
                           {"agree-expected_state": "requested"})
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.pk}/"

    page = client.get(response["Location"])
    assert "Done: Agree." in alert_texts(page, "success")
    case.refresh_from_db()
    assert case.state == CaseState.REFUND_PENDING
    assert transition_events(case) == 1
    event = CaseEvent.objects.get(case=case, kind=EventKind.TRANSITION)
    assert (event.transition, event.from_state, event.to_state, event.actor) == (
        "agree", "requested", "refund_pending", agent)
    assert event.staff_number == "A1001"
    refund = Refund.objects.get(case=case)
    assert (refund.amount, refund.status, refund.approved_by) == (
        Decimal("188.00"), RefundStatus.PENDING, agent)
    assert 'data-state="refund_pending"' in text(page)


def test_agent_agrees_a_partial_amount(login, agent, case):
    response = login(agent).post(f"/cases/{case.pk}/actions/agree/", {
        "agree-expected_state": "requested", "agree-amount": "50.5", "agree-note": "部分退款",
    }, follow=True)
    assert "Done: Agree." in alert_texts(response, "success")
    assert Refund.objects.get(case=case).amount == Decimal("50.50")
    assert "部分退款" in text(response)


def test_agent_refuses_with_a_reason(login, agent, case):
    response = login(agent).post(f"/cases/{case.pk}/actions/refuse/", {
        "refuse-expected_state": "requested", "refuse-reason": REFUSAL,
    }, follow=True)
    assert "Done: Refuse." in alert_texts(response, "success")
    case.refresh_from_db()
    assert case.state == CaseState.REFUSED
    assert case.refusal_reason == REFUSAL


@pytest.mark.parametrize(("amount", "status", "message"), [
    ("-1", 400, "greater than or equal to 0.01"),
    ("0", 400, "greater than or equal to 0.01"),
    ("0.001", 400, "decimal places"),
    ("NaN", 400, "Enter a number"),
    ("Infinity", 400, "Enter a number"),
    ("1e309", 400, "digits"),
    ("12.345", 400, "decimal places"),
    ("abc", 400, "Enter a number"),
    ("1,000", 400, "Enter a number"),
    ("200.00", 302, "the buyer asked for"),  # more than requested (188.00)
])
def test_agree_with_a_bad_amount_changes_nothing(login, agent, case, amount, status, message):
    client = login(agent)
    response = client.post(f"/cases/{case.pk}/actions/agree/", {
        "agree-expected_state": "requested", "agree-amount": amount,
    })
    assert response.status_code == status
    if status == 302:
        response = client.get(response["Location"])
        assert message in alert_texts(response, "danger")
    else:
        assert "Please correct the errors below." in alert_texts(response, "danger")
        assert message in text(response)
        assert re.search(r"<details[^>]*open>\s*<summary[^>]*data-action=\"agree\"",
                         text(response))
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED
    assert event_count(case) == 1
    assert not Refund.objects.exists()


def test_agree_above_what_is_still_refundable_fails(login, agent, order):
    taken = make_case(order=order, amount="100.00")
    case = make_case(order=order, amount="150.00")
    services.case_agree(case=taken, actor=None)  # ¥88.00 left of ¥188.00

    response = login(agent).post(f"/cases/{case.pk}/actions/agree/", {
        "agree-expected_state": "requested", "agree-amount": "150.00",
    }, follow=True)

    message = alert_texts(response, "danger")
    assert "refundable" in message and "88.00" in message
    case.refresh_from_db()
    assert case.state == CaseState.REQUESTED
    assert event_count(case) == 1
    assert list(Refund.objects.values_list("case_id", "amount")) == [
        (taken.pk, Decimal("100.00"))]
    # and leaving the amount empty (= the 150 asked for) fails the same way
    response = login(agent).post(f"/cases/{case.pk}/actions/agree/",
                                 {"agree-expected_state": "requested"}, follow=True)
    assert "refundable" in alert_texts(response, "danger")
    assert _state(case) == CaseState.REQUESTED


def test_refuse_without_a_reason_changes_nothing(login, agent, case):
    response = login(agent).post(f"/cases/{case.pk}/actions/refuse/", {
        "refuse-expected_state": "requested", "refuse-reason": "",
    })
    assert response.status_code == 400
    assert "Please correct the errors below." in alert_texts(response, "danger")
    assert "This field is required." in text(response)
    assert _state(case) == CaseState.REQUESTED
    assert event_count(case) == 1


def test_refuse_with_a_reason_not_offered_by_the_shop_changes_nothing(login, agent, case):
    response = login(agent).post(f"/cases/{case.pk}/actions/refuse/", {
        "refuse-expected_state": "requested", "refuse-reason": "because I say so",
    })
    assert response.status_code == 400
    assert "Select a valid choice" in text(response)
    assert _state(case) == CaseState.REQUESTED


def test_close_without_a_reason_changes_nothing(login, agent, case):
    response = login(agent).post(f"/cases/{case.pk}/actions/close/",
                                 {"close-expected_state": "requested"})
    assert response.status_code == 400
    assert _state(case) == CaseState.REQUESTED
    assert event_count(case) == 1


@pytest.mark.parametrize(("action", "data", "message"), [
    ("agree", {"agree-expected_state": "refused"}, "This case changed"),
    ("agree", {}, "This case changed"),  # truncated post: no expected_state at all
    ("refuse", {"refuse-expected_state": "closed", "refuse-reason": REFUSAL},
     "This case changed"),
])
def test_stale_or_truncated_post_changes_nothing(login, agent, case, action, data, message):
    response = login(agent).post(f"/cases/{case.pk}/actions/{action}/", data, follow=True)
    assert response.status_code == 200
    assert message in alert_texts(response, "danger")
    assert _state(case) == CaseState.REQUESTED
    assert event_count(case) == 1
    assert not Refund.objects.exists()


def test_agree_after_a_colleague_already_agreed_changes_nothing(login, agent, supervisor, case):
    services.case_agree(case=case, actor=supervisor, expected_state="requested")
    events_before = event_count(case)

    response = login(agent).post(f"/cases/{case.pk}/actions/agree/",
                                 {"agree-expected_state": "requested"}, follow=True)

    assert "This case changed" in alert_texts(response, "danger")
    assert _state(case) == CaseState.REFUND_PENDING
    assert event_count(case) == events_before
    assert Refund.objects.filter(case=case).count() == 1


def test_action_not_possible_in_the_current_state_says_so(login, agent, case):
    services.case_agree(case=case, actor=None)
    response = login(agent).post(f"/cases/{case.pk}/actions/refuse/", {
        "refuse-expected_state": "refund_pending", "refuse-reason": REFUSAL,
    }, follow=True)
    message = alert_texts(response, "danger")
    assert "is not possible" in message and "Refund pending" in message
    assert _state(case) == CaseState.REFUND_PENDING
    assert transition_events(case) == 1


# --- the new case form ------------------------------------------------------------------------


def _new_case_data(order, **overrides):
    data = {
        "shop": order.shop_id, "order_id": order.platform_order_id, "kind": "refund_only",
        "reason": "quality", "requested_amount": "50.00", "goods_status": "buyer_received",
        "description": "买家说衣服开线了",
    }
    data.update(overrides)
    return data


def test_new_case_form_renders(login, agent, shop):
    response = login(agent).get("/cases/new/")
    assert response.status_code == 200
    assert 'name="order_id"' in text(response)
    assert 'name="requested_amount"' in text(response)


def test_new_case_form_opens_a_case_and_redirects_to_it(login, agent, order):
    client = login(agent)
    response = client.post("/cases/new/", _new_case_data(order))
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.pk}/"
    assert (case.order, case.requested_amount, case.state, case.created_by) == (
        order, Decimal("50.00"), CaseState.REQUESTED, agent)
    page = client.get(response["Location"])
    assert f"Case #{case.pk} opened." in alert_texts(page, "success")


def test_new_case_accepts_an_order_id_pasted_from_a_spreadsheet(login, agent, order):
    response = login(agent).post("/cases/new/", _new_case_data(
        order, order_id=f'="{order.platform_order_id}"'))
    assert response.status_code == 302
    assert Case.objects.get().order == order


@pytest.mark.parametrize(("amount", "message"), [
    ("-1", "greater than or equal to 0.01"),
    ("0", "greater than or equal to 0.01"),
    ("NaN", "Enter a number"),
    ("1e309", "digits"),
    ("12.345", "decimal places"),
    ("abc", "Enter a number"),
    ("", "This field is required"),
])
def test_new_case_with_a_bad_amount_is_rejected(login, agent, order, amount, message):
    response = login(agent).post("/cases/new/", _new_case_data(order, requested_amount=amount))
    assert response.status_code == 400
    assert message in text(response)
    assert not Case.objects.exists()


def test_new_case_with_another_shops_order_id_is_rejected(login, agent, other_shop):
    foreign = OrderFactory(shop=other_shop)
    own_shop = agent.staff_profile.shops.get()
    response = login(agent).post("/cases/new/", _new_case_data(foreign, shop=own_shop.pk))
    assert response.status_code == 400
    assert f"No order {foreign.platform_order_id}" in text(response)
    assert not Case.objects.exists()


def test_new_case_for_a_shop_the_user_does_not_serve_is_rejected(login, agent, other_shop):
    foreign = OrderFactory(shop=other_shop)
    response = login(agent).post("/cases/new/", _new_case_data(foreign))
    assert response.status_code in (400, 404)
    assert not Case.objects.exists()


def test_new_case_above_the_paid_amount_is_rejected(login, agent, order):
    response = login(agent).post("/cases/new/", _new_case_data(order, requested_amount="188.01"))
    assert response.status_code == 400
    assert "refundable" in text(response)
    assert not Case.objects.exists()


def test_new_case_above_what_is_left_after_another_refund_is_rejected(login, agent, order):
    services.case_agree(case=make_case(order=order, amount="100.00"), actor=None)
    response = login(agent).post("/cases/new/", _new_case_data(order, requested_amount="90.00"))
    assert response.status_code == 400
    assert "refundable" in text(response) and "88.00" in text(response)
    assert Case.objects.count() == 1


# --- contacts, notes, claim and assign ------------------------------------------------------


def test_contact_log_adds_a_timeline_row(login, agent, case):
    client = login(agent)
    response = client.post(f"/cases/{case.pk}/contact/", {
        "contact-channel": "phone", "contact-outcome": "buyer_agreed",
        "contact-note": "买家同意部分退款",
    }, follow=True)
    assert "Contact logged." in alert_texts(response, "success")
    contact = ContactLog.objects.get(case=case)
    assert (contact.channel, contact.outcome, contact.actor, contact.staff_number) == (
        "phone", "buyer_agreed", agent, "A1001")
    assert contact.buyer == case.order.buyer
    event = CaseEvent.objects.get(case=case, kind=EventKind.CONTACT)
    assert event.data["contact_id"] == contact.pk
    assert "买家同意部分退款" in text(response)
    assert '<div class="event contact">' in text(response)


def test_contact_log_with_a_bad_channel_is_rejected(login, agent, case):
    response = login(agent).post(f"/cases/{case.pk}/contact/", {
        "contact-channel": "pigeon", "contact-outcome": "reached"})
    assert response.status_code == 400
    assert not ContactLog.objects.exists()
    assert event_count(case) == 1


def test_note_adds_a_timeline_row(login, agent, case):
    response = login(agent).post(f"/cases/{case.pk}/note/",
                                 {"note-note": "等仓库确认"}, follow=True)
    assert "Note added." in alert_texts(response, "success")
    event = CaseEvent.objects.get(case=case, kind=EventKind.NOTE)
    assert (event.note, event.actor) == ("等仓库确认", agent)
    assert '<div class="event note">' in text(response)


def test_empty_note_is_rejected(login, agent, case):
    response = login(agent).post(f"/cases/{case.pk}/note/", {"note-note": "   "})
    assert response.status_code == 400
    assert event_count(case) == 1


def test_claim_sets_the_assignee(login, agent, case):
    response = login(agent).post(f"/cases/{case.pk}/claim/", {"expected_assignee": ""},
                                 follow=True)
    assert "The case is yours." in alert_texts(response, "success")
    case.refresh_from_db()
    assert case.assignee == agent
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNED).count() == 1
    # the queue's "mine" now has it
    assert row_ids(login(agent).get("/cases/", {"mine": "true"})) == [case.pk]


@pytest.mark.parametrize("seen", ["before", "after"])
def test_second_agent_cannot_claim_a_claimed_case(login, roles, shop, agent, case, seen):
    colleague = make_staff("agent2", "agent", shop, staff_number="A1002")
    login(agent).post(f"/cases/{case.pk}/claim/", {"expected_assignee": ""})
    # "before": the colleague's page still showed the case unassigned
    expected = "" if seen == "before" else str(agent.pk)
    response = login(colleague).post(f"/cases/{case.pk}/claim/",
                                     {"expected_assignee": expected}, follow=True)
    message = alert_texts(response, "danger")
    assert ("already being handled by agent" in message) or ("This case changed" in message)
    case.refresh_from_db()
    assert case.assignee == agent
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNED).count() == 1


def test_claim_button_not_offered_on_a_colleagues_case(login, roles, shop, agent, case):
    colleague = make_staff("agent2", "agent", shop, staff_number="A1002")
    services.case_assign(case=case, actor=agent, assignee=agent)
    page = login(colleague).get(f"/cases/{case.pk}/")
    assert f"/cases/{case.pk}/claim/" not in text(page)


def test_supervisor_assigns_to_staff_of_the_shop(login, supervisor, agent, case):
    response = login(supervisor).post(f"/cases/{case.pk}/assign/",
                                      {"assign-assignee": str(agent.pk)}, follow=True)
    assert "Case assigned." in alert_texts(response, "success")
    case.refresh_from_db()
    assert case.assignee == agent
    event = CaseEvent.objects.get(case=case, kind=EventKind.ASSIGNED)
    assert event.actor == supervisor and event.data["assignee"] == "agent"


def test_supervisor_cannot_assign_to_staff_of_another_shop(login, supervisor, agent_b, case):
    page = login(supervisor).get(f"/cases/{case.pk}/")
    assert f'value="{agent_b.pk}"' not in re.search(
        r'<select name="assign-assignee".*?</select>', text(page), re.S).group(0)

    response = login(supervisor).post(f"/cases/{case.pk}/assign/",
                                      {"assign-assignee": str(agent_b.pk)}, follow=True)
    assert "Choose a colleague who serves this shop." in alert_texts(response, "danger")
    case.refresh_from_db()
    assert case.assignee_id is None
    assert event_count(case) == 1


def test_supervisor_can_unassign(login, supervisor, agent, case):
    services.case_assign(case=case, actor=agent, assignee=agent)
    response = login(supervisor).post(f"/cases/{case.pk}/assign/", {"assign-assignee": ""},
                                      follow=True)
    assert "Case assigned." in alert_texts(response, "success")
    case.refresh_from_db()
    assert case.assignee_id is None


# --- language ---------------------------------------------------------------------------------


def test_queue_renders_in_simplified_chinese(login, agent, case):
    response = login(agent).get("/cases/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in text(response)


def test_detail_renders_in_simplified_chinese(login, agent, case):
    response = login(agent).get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in text(response)


def test_language_switcher_posts_to_set_language(login, agent, case):
    client = login(agent)
    response = client.get("/cases/")
    assert re.search(r'<form action="/i18n/setlang/" method="post"', text(response))
    assert '<option value="zh-hans"' in text(response)

    switched = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/cases/"})
    assert switched.status_code == 302
    assert switched["Location"] == "/cases/"
    assert '<html lang="zh-hans">' in text(client.get("/cases/"))


def test_language_switcher_works_before_login(client, db):
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert '<html lang="zh-hans">' in text(client.get("/accounts/login/"))


# --- robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    {"state": "bogus"},
    {"kind": "bogus", "reason": "bogus"},
    {"shop": "999999"},
    {"shop": "abc", "assignee": "abc"},
    {"due": "never"},
    {"photos": "never"},
    {"mine": "maybe"},
    {"sort": "bogus"},
    {"sort": "-amount"},
    {"page": "abc"},
    {"page": "0"},
    {"page": "-1"},
    {"q": "x" * 5000},
    {"q": "a\x00b"},
    {"q": "'; DROP TABLE refunds_case; --"},
])
def test_queue_never_fails_on_odd_query_parameters(login, agent, case, query):
    response = login(agent).get("/cases/", query)
    assert response.status_code == 200
    assert Case.objects.filter(pk=case.pk).exists()


def test_buyer_text_is_escaped_on_the_pages(login, agent, shop):
    buyer = BuyerFactory(nick="<script>alert('nick')</script>")
    order = OrderFactory(shop=shop, buyer=buyer)
    case = make_case(order=order, description="<img src=x onerror=alert(1)>")
    client = login(agent)
    services.case_add_note(case=case, actor=agent, note="<b>bold</b>")
    for url in ("/cases/", f"/cases/{case.pk}/"):
        body = text(client.get(url))
        assert "<script>alert(" not in body
        assert "&lt;script&gt;" in body
    body = text(client.get(f"/cases/{case.pk}/"))
    assert "<img src=x" not in body and "&lt;img src=x" in body
    assert "<b>bold</b>" not in body and "&lt;b&gt;bold&lt;/b&gt;" in body


# --- every action form through the pages ------------------------------------------------------


def _act(client, case, action, **fields):
    data = {f"{action}-{key}": value for key, value in fields.items()}
    data[f"{action}-expected_state"] = Case.objects.values_list("state", flat=True).get(
        pk=case.pk)
    response = client.post(f"/cases/{case.pk}/actions/{action}/", data, follow=True)
    assert response.status_code == 200, text(response)[:2000]
    assert alert_texts(response, "danger") == "", alert_texts(response)
    assert alert_texts(response, "success").startswith("Done: ")
    return response


def test_return_journey_through_the_pages(login, agent, warehouse, finance, order):
    case = make_case(order=order, kind=CaseKind.RETURN, amount="120.00")
    agent_client, warehouse_client, finance_client = (
        login(agent), login(warehouse), login(finance))

    page = _act(agent_client, case, "agree")
    assert _state(case) == CaseState.AWAITING_RETURN
    assert "文一西路 998 号" in text(page)  # the return address given to the buyer
    assert not Refund.objects.exists()  # no money on agreeing a return

    _act(agent_client, case, "record_return_shipment", carrier="顺丰", tracking_no="No: sf 123 456")
    case.refresh_from_db()
    assert (case.state, case.return_tracking_no) == (CaseState.RETURN_IN_TRANSIT, "SF123456")

    page = warehouse_client.get(f"/cases/{case.pk}/")
    assert "receive" in action_buttons(page)
    _act(warehouse_client, case, "receive", resellable="no", note="吊牌已剪")
    case.refresh_from_db()
    assert (case.state, case.resellable) == (CaseState.RECEIVED, False)

    page = agent_client.get(f"/cases/{case.pk}/")
    assert "approve_refund" in action_buttons(page)
    _act(agent_client, case, "approve_refund", amount="100.00")
    assert _state(case) == CaseState.REFUND_PENDING
    assert Refund.objects.get(case=case).amount == Decimal("100.00")

    _act(finance_client, case, "mark_refund_failed", reason="账户异常")
    assert _state(case) == CaseState.REFUND_FAILED
    _act(finance_client, case, "retry_refund")
    assert _state(case) == CaseState.REFUND_PENDING
    page = _act(finance_client, case, "mark_refunded", payment_reference="ALIPAY-0001")
    assert _state(case) == CaseState.REFUNDED
    refund = Refund.objects.get(case=case)
    assert (refund.status, refund.payment_reference) == (RefundStatus.PAID, "ALIPAY-0001")
    assert _money(page)["Refunded"] == Decimal("100.00")
    assert _money(page)["Still refundable"] == Decimal("88.00")
    assert transition_events(case) == 7


def test_refuse_modify_agree_close_reopen_through_the_pages(login, agent, supervisor, order):
    case = make_case(order=order, amount="80.00")
    agent_client = login(agent)

    _act(agent_client, case, "refuse", reason=REFUSAL)
    assert _state(case) == CaseState.REFUSED
    _act(agent_client, case, "buyer_modify", requested_amount="60.00")
    case.refresh_from_db()
    assert (case.state, case.requested_amount) == (CaseState.REQUESTED, Decimal("60.00"))
    _act(agent_client, case, "agree")
    assert Refund.objects.get(case=case).amount == Decimal("60.00")

    closed = make_case(order=order, kind=CaseKind.RETURN, amount="20.00")
    _act(agent_client, closed, "close", reason="withdrawn")
    assert _state(closed) == CaseState.CLOSED
    _act(login(supervisor), closed, "reopen", reason="买家申请复核", requested_amount="20.00")
    closed.refresh_from_db()
    assert (closed.state, closed.close_reason) == (CaseState.REQUESTED, "")


def test_approve_refund_above_the_limit_needs_the_supervisor(login, agent, supervisor, shop):
    order = OrderFactory(shop=shop, paid_amount=Decimal("800.00"))
    case = make_case(order=order, kind=CaseKind.RETURN, amount="600.00")
    services.case_agree(case=case, actor=None)
    services.case_receive(case=case, actor=None, resellable=True)

    agent_page = login(agent).get(f"/cases/{case.pk}/")
    assert "approve_refund" not in action_buttons(agent_page)
    assert "supervisor must approve" in text(agent_page)
    response = login(agent).post(f"/cases/{case.pk}/actions/approve_refund/",
                                 {"approve_refund-expected_state": "received"}, follow=True)
    assert "above your approval limit of ¥500.00" in alert_texts(response, "danger")
    assert _state(case) == CaseState.RECEIVED
    assert not Refund.objects.exists()

    supervisor_page = login(supervisor).get(f"/cases/{case.pk}/")
    assert "approve_refund" in action_buttons(supervisor_page)
    _act(login(supervisor), case, "approve_refund")
    assert Refund.objects.get(case=case).amount == Decimal("600.00")


def test_the_case_page_offers_agree_only_within_the_orders_total(login, shop, agent):
    from refunds.models import Case, CaseKind, CaseReason
    from refunds.services import cases as case_svc

    order = OrderFactory(shop=shop, paid_amount=Decimal("2000.00"))
    first = case_svc.case_create(shop=shop, order=order, kind=CaseKind.REFUND_ONLY,
                                 reason=CaseReason.QUALITY, requested_amount="450.00",
                                 actor=agent)
    case_svc.case_agree(case=first, actor=agent)
    second = case_svc.case_create(shop=shop, order=order, kind=CaseKind.REFUND_ONLY,
                                  reason=CaseReason.QUALITY, requested_amount="100.00",
                                  actor=agent)
    page = login(agent).get(f"/cases/{second.pk}/").content.decode()
    assert f"/cases/{second.pk}/actions/agree/" not in page
    assert "a supervisor must approve" in page
    assert Case.objects.get(pk=second.pk).state == "requested"
