"""The parcel-inquiry pages (快递查询 / 改地址): the list, opening one on an order, the inquiry
page and its action and contact POSTs; and where the other pages show inquiries — the orders
to ship (a new address), the buyer page, the case page, the carrier-claim form, the
notifications. Behind a login, the user's shops and the role's permission."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from refunds.models import (
    Case,
    CaseState,
    ContactChannel,
    ContactLog,
    ContactOutcome,
    InquiryEvent,
    InquiryEventKind,
    InquiryKind,
    InquiryOutcome,
    InquiryState,
    Notification,
    NotificationKind,
    ParcelInquiry,
)
from refunds.services import inquiries as services
from refunds.services.inquiry_sweep import sweep_inquiries
from refunds.timezones import CHINA
from tests.factories import OrderFactory, make_case
from tests.formparse import form_fields

from .helpers import action_buttons, alert_texts, text

pytestmark = pytest.mark.django_db

LIST = "/inquiries/"
_ROW = re.compile(r'<tr data-inquiry="(\d+)">')
NEW_ADDRESS = "张三 13800000000 浙江省杭州市西湖区文三路 1 号"


def _open(order, actor, kind=InquiryKind.WHERE, **kwargs) -> ParcelInquiry:
    kwargs.setdefault("question", "物流三天没更新了")
    if kind == InquiryKind.ADDRESS:
        kwargs.setdefault("new_address", NEW_ADDRESS)
    return services.inquiry_open(order=order, actor=actor, kind=kind, **kwargs)


def _fresh(inquiry) -> ParcelInquiry:
    return ParcelInquiry.objects.get(pk=inquiry.pk)


def _rows(response) -> list[int]:
    return [int(pk) for pk in _ROW.findall(text(response))]


def _china_input(moment: datetime) -> str:
    """A time as typed in a datetime-local input, China time."""
    return f"{moment.astimezone(CHINA):%Y-%m-%dT%H:%M}"


def _in_a_day() -> datetime:
    """Tomorrow, to the minute (what a datetime-local input can carry), in China time."""
    return (timezone.now() + timedelta(days=1)).astimezone(CHINA).replace(second=0,
                                                                         microsecond=0)


def _action(client, inquiry, action, expected_state=None, **data):
    payload = {"expected_state": expected_state or _fresh(inquiry).state, **data}
    return client.post(f"/inquiries/{inquiry.pk}/actions/{action}/",
                       {f"{action}-{name}": value for name, value in payload.items()})


def _ask(client, inquiry, staff="851", callback=None, **data):
    return _action(client, inquiry, "ask_carrier", carrier_staff=staff,
                   callback_by=_china_input(callback or _in_a_day()), note="请核实", **data)


def _answer(client, inquiry, outcome=InquiryOutcome.ON_THE_WAY, answer="中转站滞留，今天派送",
            **data):
    return _action(client, inquiry, "record_answer", outcome=outcome, answer=answer, **data)


def _contact(client, inquiry, outcome=ContactOutcome.REACHED, note="已告知买家物流情况"):
    return client.post(f"/inquiries/{inquiry.pk}/contact/", {
        "contact-channel": ContactChannel.IM, "contact-outcome": outcome,
        "contact-note": note})


def _open_post(client, order, **data):
    payload = {"kind": InquiryKind.WHERE, "question": "快递三天没动了", "tracking_no": "",
               "carrier": "", "new_address": "", "case": ""}
    payload.update(data)
    return client.post(f"/orders/{order.pk}/inquiry/", payload)


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [LIST, "/inquiries/{pk}/", "/orders/{order}/inquiry/"])
def test_every_page_needs_a_login(client, order, agent, path):
    inquiry = _open(order, agent)
    response = client.get(path.format(pk=inquiry.pk, order=order.pk))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_posts_need_a_login_and_change_nothing(client, order, agent):
    inquiry = _open(order, agent)
    for response in (_ask(client, inquiry), _contact(client, inquiry),
                     _open_post(client, OrderFactory(shop=order.shop))):
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert _fresh(inquiry).state == InquiryState.OPEN
    assert ParcelInquiry.objects.count() == 1
    assert not ContactLog.objects.exists()
    assert InquiryEvent.objects.filter(inquiry=inquiry).count() == 1  # its opening only


def test_another_shops_inquiry_is_a_404_everywhere(login, agent, agent_b, order):
    inquiry = _open(order, agent)
    client = login(agent_b)
    assert client.get(f"/inquiries/{inquiry.pk}/").status_code == 404
    assert _ask(client, inquiry).status_code == 404
    assert _action(client, inquiry, "withdraw", reason="买家收到了").status_code == 404
    assert _contact(client, inquiry).status_code == 404
    other_order = OrderFactory(shop=order.shop)
    assert client.get(f"/orders/{other_order.pk}/inquiry/").status_code == 404
    assert _open_post(client, other_order).status_code == 404
    inquiry = _fresh(inquiry)
    assert inquiry.state == InquiryState.OPEN and inquiry.carrier_staff == ""
    assert not ContactLog.objects.exists()
    assert list(ParcelInquiry.objects.values_list("pk", flat=True)) == [inquiry.pk]
    assert InquiryEvent.objects.filter(inquiry=inquiry).count() == 1


def test_the_list_shows_only_the_users_shops(login, agent, agent_b, shop, other_shop):
    ours = _open(OrderFactory(shop=shop), agent)
    theirs = _open(OrderFactory(shop=other_shop), agent_b)
    assert _rows(login(agent).get(LIST)) == [ours.pk]
    assert _rows(login(agent_b).get(LIST)) == [theirs.pk]
    # the shop filter cannot reach into another shop either: not a choice, said so
    page = login(agent).get(LIST, {"shop": other_shop.pk})
    assert theirs.pk not in _rows(page) and "Select a valid choice" in text(page)


def test_finance_reads_an_inquiry_but_cannot_open_or_work_one(login, finance, agent, order):
    inquiry = _open(order, agent)
    client = login(finance)
    assert client.get(f"/orders/{order.pk}/inquiry/").status_code == 403
    assert _open_post(client, OrderFactory(shop=order.shop)).status_code == 403
    assert ParcelInquiry.objects.count() == 1

    page = client.get(f"/inquiries/{inquiry.pk}/")
    assert page.status_code == 200 and inquiry.question in text(page)
    assert action_buttons(page) == set()
    assert "Nothing for you to do on this inquiry now." in text(page)
    assert 'id="contact-form"' not in text(page)
    assert _rows(client.get(LIST)) == [inquiry.pk]

    # a forged POST is refused by the service: a message, nothing changed
    response = _ask(client, inquiry)
    assert response.status_code == 302
    assert "permission" in alert_texts(client.get(response["Location"]), "danger").lower()
    assert _fresh(inquiry).state == InquiryState.OPEN
    _contact(client, inquiry)
    assert not ContactLog.objects.exists()


# --- opening ----------------------------------------------------------------------------------


def test_the_open_form_is_filled_in_from_the_order(login, agent, shop, unshipped_order):
    order = OrderFactory(shop=shop, carrier="中通快递", tracking_no="ZT7788990011")
    client = login(agent)
    page = client.get(f"/orders/{order.pk}/inquiry/")
    assert page.status_code == 200
    fields = form_fields(text(page), "inquiry-open")
    assert fields["tracking_no"] == "ZT7788990011"
    assert fields["carrier"] == "中通快递"
    assert fields["kind"] == InquiryKind.WHERE
    # an order not shipped: there is no parcel, the buyer can only want another address
    fields = form_fields(text(client.get(f"/orders/{unshipped_order.pk}/inquiry/")),
                         "inquiry-open")
    assert fields["kind"] == InquiryKind.ADDRESS and fields["tracking_no"] == ""


def test_opening_creates_the_inquiry_and_says_when_to_answer(login, agent, order):
    order.shop.policy.inquiry_reply_hours = 6
    order.shop.policy.save()
    client = login(agent)
    before = timezone.now()
    response = _open_post(client, order, kind=InquiryKind.NOT_RECEIVED,
                          question="显示签收了但没收到", tracking_no=" sf 1234 5678 ",
                          carrier="顺丰速运")
    inquiry = ParcelInquiry.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/inquiries/{inquiry.pk}/"
    assert inquiry.kind == InquiryKind.NOT_RECEIVED and inquiry.state == InquiryState.OPEN
    assert inquiry.order == order and inquiry.opened_by == agent and inquiry.case is None
    assert inquiry.tracking_no == "SF12345678" and inquiry.question == "显示签收了但没收到"
    assert before + timedelta(hours=6) <= inquiry.reply_by <= timezone.now() + timedelta(hours=6)
    event = InquiryEvent.objects.get(inquiry=inquiry)
    assert event.kind == InquiryEventKind.CREATED and event.staff_number == "A1001"
    page = client.get(response["Location"])
    due = f"{timezone.localtime(inquiry.reply_by):%Y-%m-%d %H:%M}"
    assert f"Inquiry #{inquiry.pk} opened: answer the buyer by {due}." in alert_texts(
        page, "success")
    assert "显示签收了但没收到" in text(page) and "SF12345678" in text(page)


def test_an_address_change_on_an_order_not_shipped(login, agent, unshipped_order):
    client = login(agent)
    response = _open_post(client, unshipped_order, kind=InquiryKind.ADDRESS,
                          question="地址写错了", new_address=NEW_ADDRESS)
    inquiry = ParcelInquiry.objects.get()
    assert response.status_code == 302
    assert inquiry.kind == InquiryKind.ADDRESS and inquiry.new_address == NEW_ADDRESS
    assert inquiry.tracking_no == ""
    page = text(client.get(response["Location"]))
    assert NEW_ADDRESS in page.split('id="inquiry-address"')[1].split("</dd>")[0]


def test_an_address_change_without_the_new_address_is_refused(login, agent, unshipped_order):
    response = _open_post(login(agent), unshipped_order, kind=InquiryKind.ADDRESS,
                          question="地址写错了", new_address="   ")
    assert response.status_code == 400
    assert "Enter the new address the buyer gave." in text(response)
    assert not ParcelInquiry.objects.exists()
    assert not InquiryEvent.objects.exists()


def test_where_is_it_on_an_order_not_shipped_is_refused(login, agent, unshipped_order):
    response = _open_post(login(agent), unshipped_order, kind=InquiryKind.WHERE,
                          tracking_no="SF0001112223")
    assert response.status_code == 400
    assert "has not shipped: there is no parcel to ask the carrier about" in text(response)
    assert not ParcelInquiry.objects.exists()


def test_a_second_open_inquiry_of_the_same_kind_is_refused_and_linked(login, agent, order):
    first = _open(order, agent)
    client = login(agent)
    page = client.get(f"/orders/{order.pk}/inquiry/")
    assert f'href="/inquiries/{first.pk}/"' in text(page).split('id="open-inquiries"')[1]
    response = _open_post(client, order)
    assert response.status_code == 400
    assert f"already being checked: inquiry #{first.pk}" in text(response)
    assert ParcelInquiry.objects.count() == 1


def test_the_case_in_the_query_string_is_preselected_and_kept(login, agent, order):
    case = make_case(order=order)
    elsewhere = make_case(shop=order.shop)
    client = login(agent)
    fields = form_fields(text(client.get(f"/orders/{order.pk}/inquiry/?case={case.pk}")),
                         "inquiry-open")
    assert fields["case"] == str(case.pk)
    # without it, or with another order's case, nothing is chosen
    assert form_fields(text(client.get(f"/orders/{order.pk}/inquiry/")),
                       "inquiry-open")["case"] == ""
    assert form_fields(text(client.get(f"/orders/{order.pk}/inquiry/?case={elsewhere.pk}")),
                       "inquiry-open")["case"] == ""

    response = _open_post(client, order, case=str(case.pk))
    inquiry = ParcelInquiry.objects.get()
    assert response.status_code == 302 and inquiry.case == case
    page = text(client.get(response["Location"]))
    assert f'href="/cases/{case.pk}/" id="inquiry-case"' in page
    # a posted case of another order is not taken
    assert _open_post(client, order, kind=InquiryKind.NOT_RECEIVED,
                      case=str(elsewhere.pk)).status_code == 400
    assert ParcelInquiry.objects.count() == 1


def test_a_closed_case_in_the_query_string_is_said_not_dropped(login, agent, order):
    """The case page of a closed case links here too: the form says the case is not taken."""
    case = make_case(order=order)
    Case.objects.filter(pk=case.pk).update(state=CaseState.CLOSED)  # closed, as after a refund
    response = login(agent).get(f"/orders/{order.pk}/inquiry/?case={case.pk}")
    assert response.status_code == 200
    assert form_fields(text(response), "inquiry-open")["case"] == ""
    assert f"Case #{case.pk} is “Closed”: the inquiry is opened on the order alone." in (
        alert_texts(response, "info"))


# --- the journey ------------------------------------------------------------------------------


def test_the_whole_journey_through_the_pages(login, agent, order):
    client = login(agent)
    inquiry = _open(order, agent)
    page = client.get(f"/inquiries/{inquiry.pk}/")
    assert action_buttons(page) == {"ask_carrier", "record_answer", "withdraw"}
    assert 'id="inquiry-memo"' not in text(page)
    assert 'id="contact-form"' in text(page)

    # 1. the carrier is asked and calls back tomorrow (typed in China time)
    callback = _in_a_day()
    response = _ask(client, inquiry, staff="851", callback=callback)
    assert response.status_code == 302 and response["Location"] == f"/inquiries/{inquiry.pk}/"
    inquiry = _fresh(inquiry)
    assert inquiry.state == InquiryState.WAITING
    assert inquiry.carrier_staff == "851" and inquiry.callback_by == callback
    page = client.get(response["Location"])
    assert "Done: Asked the carrier: waiting for their answer." in alert_texts(page, "success")
    assert (f"Waiting for the carrier (851) to call back by "
            f"{timezone.localtime(callback):%Y-%m-%d %H:%M}") in text(page)
    assert 'id="inquiry-memo"' not in text(page)
    # the answer form remembers who at the carrier was asked
    assert form_fields(text(page), "action-record_answer")["record_answer-carrier_staff"] == "851"

    # 2. the carrier's answer: the staff number is the one asked
    response = _answer(client, inquiry, carrier_staff="")
    inquiry = _fresh(inquiry)
    assert inquiry.state == InquiryState.ANSWERED
    assert inquiry.outcome == InquiryOutcome.ON_THE_WAY and inquiry.carrier_staff == "851"
    assert inquiry.answered_staff == "A1001" and inquiry.answered_at is not None
    page = client.get(response["Location"])
    assert action_buttons(page) == {"tell_buyer"}
    memo = text(page).split('id="inquiry-memo"')[1].split("</textarea>")[0]
    assert "851" in memo and "A1001" in memo and "中转站滞留，今天派送" in memo
    assert services.seller_memo(inquiry) in memo

    # 3. the buyer cannot be marked told before a contact that reached them
    response = _action(client, inquiry, "tell_buyer", note="")
    assert "Tell the buyer first" in alert_texts(client.get(response["Location"]), "danger")
    inquiry = _fresh(inquiry)
    assert inquiry.state == InquiryState.ANSWERED and inquiry.buyer_told_at is None
    # ... nor after one that did not reach them
    _contact(client, inquiry, outcome=ContactOutcome.NO_ANSWER, note="没接")
    _action(client, inquiry, "tell_buyer", note="")
    assert _fresh(inquiry).state == InquiryState.ANSWERED

    # 4. the contact that reached them, logged on the inquiry
    response = _contact(client, inquiry)
    assert response.status_code == 302 and response["Location"] == f"/inquiries/{inquiry.pk}/"
    assert "Contact logged." in alert_texts(client.get(response["Location"]), "success")
    reached = ContactLog.objects.get(inquiry=inquiry, outcome=ContactOutcome.REACHED)
    assert reached.channel == ContactChannel.IM and reached.note == "已告知买家物流情况"
    assert reached.buyer_id == order.buyer_id and reached.staff_number == "A1001"
    assert InquiryEvent.objects.filter(inquiry=inquiry,
                                       kind=InquiryEventKind.CONTACT).count() == 2

    # 5. now the buyer is told: closed
    response = _action(client, inquiry, "tell_buyer", note="买家知道了")
    inquiry = _fresh(inquiry)
    assert inquiry.state == InquiryState.CLOSED
    assert inquiry.buyer_told_at is not None and inquiry.closed_at is not None
    page = client.get(response["Location"])
    assert "Done: The buyer was told." in alert_texts(page, "success")
    assert action_buttons(page) == set() and 'id="contact-form"' not in text(page)
    assert 'id="inquiry-memo"' in text(page)  # the memo stays for a colleague asked next
    transitions = list(InquiryEvent.objects.filter(inquiry=inquiry,
                                                   kind=InquiryEventKind.TRANSITION)
                       .values_list("transition", "from_state", "to_state"))
    assert transitions == [("ask_carrier", "open", "waiting"),
                           ("record_answer", "waiting", "answered"),
                           ("tell_buyer", "answered", "closed")]
    # a contact on a closed inquiry is refused
    response = _contact(client, inquiry)
    assert "nothing to tell the buyer about it now" in alert_texts(
        client.get(response["Location"]), "danger")
    assert ContactLog.objects.filter(inquiry=inquiry).count() == 2


def test_an_answer_left_in_a_message_also_tells_the_buyer(login, agent, order):
    inquiry = _open(order, agent)
    services.inquiry_record_answer(inquiry=inquiry, actor=agent,
                                   outcome=InquiryOutcome.AT_STATION, answer="在驿站待取",
                                   carrier_staff="851")
    client = login(agent)
    _contact(client, inquiry, outcome=ContactOutcome.LEFT_MESSAGE, note="留言：在驿站待取")
    _action(client, inquiry, "tell_buyer", note="")
    assert _fresh(inquiry).state == InquiryState.CLOSED


def test_an_invalid_contact_shows_its_errors_and_logs_nothing(login, agent, order):
    inquiry = _open(order, agent)
    response = login(agent).post(f"/inquiries/{inquiry.pk}/contact/", {
        "contact-channel": "pigeon", "contact-outcome": ContactOutcome.REACHED,
        "contact-note": "飞鸽传书"})
    assert response.status_code == 400
    assert "Please correct the errors below." in alert_texts(response, "danger")
    assert "Select a valid choice." in text(response).split('id="contact-form"')[1]
    assert not ContactLog.objects.exists()
    assert not InquiryEvent.objects.filter(inquiry=inquiry,
                                           kind=InquiryEventKind.CONTACT).exists()


def test_the_call_back_time_is_china_time_on_a_server_at_utc(settings, login, agent, order):
    settings.TIME_ZONE = "UTC"
    inquiry = _open(order, agent)
    tomorrow = (timezone.now() + timedelta(days=1)).astimezone(CHINA)
    typed = f"{tomorrow:%Y-%m-%d}T10:30"
    _action(login(agent), inquiry, "ask_carrier", carrier_staff="851", callback_by=typed,
            note="")
    expected = datetime.strptime(typed, "%Y-%m-%dT%H:%M").replace(tzinfo=CHINA)
    assert _fresh(inquiry).callback_by == expected  # 02:30 UTC, not 10:30 UTC


def test_a_call_back_in_the_past_is_refused_with_its_reason(login, agent, order):
    inquiry = _open(order, agent)
    client = login(agent)
    response = _ask(client, inquiry, callback=_in_a_day() - timedelta(days=2))
    assert "The carrier's call back is in the past." in alert_texts(
        client.get(response["Location"]), "danger")
    inquiry = _fresh(inquiry)
    assert inquiry.state == InquiryState.OPEN and inquiry.callback_by is None


def test_an_invalid_action_form_shows_its_errors_and_changes_nothing(login, agent, order):
    inquiry = _open(order, agent)
    response = _action(login(agent), inquiry, "ask_carrier", carrier_staff="851",
                       callback_by="tomorrow", note="")
    assert response.status_code == 400
    assert "Please correct the errors below." in alert_texts(response, "danger")
    assert "Enter a valid date/time." in text(response)
    assert re.search(r'<details class="[^"]*" open>\s*<summary[^>]*data-action="ask_carrier"',
                     text(response))
    inquiry = _fresh(inquiry)
    assert inquiry.state == InquiryState.OPEN and inquiry.carrier_staff == ""
    assert InquiryEvent.objects.filter(inquiry=inquiry).count() == 1


def test_an_address_change_before_shipping_needs_no_carrier(login, agent, unshipped_order):
    inquiry = _open(unshipped_order, agent, kind=InquiryKind.ADDRESS)
    client = login(agent)
    page = client.get(f"/inquiries/{inquiry.pk}/")
    assert "change the address in the seller centre" in text(page)
    # a parcel's outcomes are not offered for an address change
    assert 'value="on_the_way"' not in text(page).split('id="action-record_answer"')[1]
    _answer(client, inquiry, outcome=InquiryOutcome.ADDRESS_CHANGED, answer="卖家中心已改地址",
            carrier_staff="")
    inquiry = _fresh(inquiry)
    assert inquiry.state == InquiryState.ANSWERED and inquiry.carrier_staff == ""
    assert inquiry.outcome == InquiryOutcome.ADDRESS_CHANGED


def test_withdrawing_needs_a_reason(login, agent, order):
    inquiry = _open(order, agent)
    client = login(agent)
    assert _action(client, inquiry, "withdraw", reason="").status_code == 400
    assert _fresh(inquiry).state == InquiryState.OPEN
    _action(client, inquiry, "withdraw", reason="买家说收到了")
    inquiry = _fresh(inquiry)
    assert inquiry.state == InquiryState.WITHDRAWN and inquiry.closed_at is not None


# --- a page left open, an action that is not one ----------------------------------------------


def test_a_stale_page_says_so_and_changes_nothing(login, agent, supervisor, order):
    inquiry = _open(order, agent)
    client = login(agent)
    seen = form_fields(text(client.get(f"/inquiries/{inquiry.pk}/")), "action-withdraw")
    assert seen["withdraw-expected_state"] == InquiryState.OPEN
    # meanwhile a colleague asked the carrier
    services.inquiry_ask_carrier(inquiry=inquiry, actor=supervisor, carrier_staff="851",
                                 callback_by=timezone.now() + timedelta(hours=3))
    events = InquiryEvent.objects.filter(inquiry=inquiry).count()

    # withdrawing is allowed from "waiting" too: only the page's state stops it
    response = client.post(f"/inquiries/{inquiry.pk}/actions/withdraw/",
                           {**seen, "withdraw-reason": "买家收到了"})
    assert response.status_code == 302 and response["Location"] == f"/inquiries/{inquiry.pk}/"
    assert "This inquiry changed while you were looking at it." in alert_texts(
        client.get(response["Location"]), "danger")
    response = _answer(client, inquiry, expected_state=InquiryState.OPEN, carrier_staff="851")
    assert "changed while you were looking at it" in alert_texts(
        client.get(response["Location"]), "danger")
    inquiry = _fresh(inquiry)
    assert inquiry.state == InquiryState.WAITING and inquiry.outcome == ""
    assert inquiry.closed_at is None
    assert InquiryEvent.objects.filter(inquiry=inquiry).count() == events


def test_an_unknown_action_is_a_404(login, agent, order):
    inquiry = _open(order, agent)
    client = login(agent)
    assert _action(client, inquiry, "close_everything").status_code == 404
    assert _action(client, inquiry, "delete").status_code == 404
    assert client.get(f"/inquiries/{inquiry.pk}/actions/withdraw/").status_code == 405
    assert _fresh(inquiry).state == InquiryState.OPEN
    assert InquiryEvent.objects.filter(inquiry=inquiry).count() == 1


# --- the list ---------------------------------------------------------------------------------


@pytest.fixture
def listed(shop, agent, unshipped_order):
    """Open "where" (due in 24h), waiting "not received", an address change, a withdrawn one,
    and an overdue open one."""
    where = _open(OrderFactory(shop=shop, tracking_no="YT1234567890"), agent)
    waiting = _open(OrderFactory(shop=shop), agent, kind=InquiryKind.NOT_RECEIVED)
    services.inquiry_ask_carrier(inquiry=waiting, actor=agent, carrier_staff="9527",
                                 callback_by=timezone.now() + timedelta(hours=2))
    address = _open(unshipped_order, agent, kind=InquiryKind.ADDRESS)
    withdrawn = _open(OrderFactory(shop=shop), agent)
    services.inquiry_withdraw(inquiry=withdrawn, actor=agent, reason="到了")
    overdue = _open(OrderFactory(shop=shop), agent, now=timezone.now() - timedelta(days=3))
    return {"where": where, "waiting": waiting, "address": address, "withdrawn": withdrawn,
            "overdue": overdue}


def test_the_list_open_ones_first_soonest_due_first(login, agent, listed):
    page = login(agent).get(LIST)
    assert _rows(page) == [listed["overdue"].pk, listed["where"].pk, listed["waiting"].pk,
                           listed["address"].pk, listed["withdrawn"].pk]
    row = text(page).split(f'<tr data-inquiry="{listed["overdue"].pk}">')[1].split("</tr>")[0]
    assert "data-late" in row
    assert "5 inquiries" in text(page)


def test_the_list_filters(login, agent, listed):
    client = login(agent)
    assert _rows(client.get(LIST, {"state": "waiting"})) == [listed["waiting"].pk]
    assert _rows(client.get(LIST, {"state": ["waiting", "withdrawn"]})) == [
        listed["waiting"].pk, listed["withdrawn"].pk]
    assert _rows(client.get(LIST, {"kind": "address"})) == [listed["address"].pk]
    assert _rows(client.get(LIST, {"kind": "not_received"})) == [listed["waiting"].pk]
    order_id = listed["withdrawn"].order.platform_order_id
    assert _rows(client.get(LIST, {"q": order_id})) == [listed["withdrawn"].pk]
    assert _rows(client.get(LIST, {"q": f'="{order_id}"'})) == [listed["withdrawn"].pk]
    # a tracking number as a buyer writes it
    assert _rows(client.get(LIST, {"q": " yt 1234 5678 90 "})) == [listed["where"].pk]
    assert _rows(client.get(LIST, {"q": "NOSUCH999"})) == []
    assert _rows(client.get(LIST, {"late": "on"})) == [listed["overdue"].pk]
    assert _rows(client.get(LIST, {"late": "on", "kind": "where"})) == [listed["overdue"].pk]


def test_late_leaves_out_a_closed_inquiry_past_its_time(login, agent, listed):
    overdue = listed["overdue"]
    services.inquiry_withdraw(inquiry=overdue, actor=agent, reason="买家不需要了")
    assert _rows(login(agent).get(LIST, {"late": "on"})) == []


def test_the_list_query_count_does_not_grow_with_its_rows(login, agent, shop):
    client = login(agent)
    _open(OrderFactory(shop=shop), agent)
    with CaptureQueriesContext(connection) as few:
        assert len(_rows(client.get(LIST))) == 1
    for index in range(5):
        inquiry = _open(OrderFactory(shop=shop), agent)
        if index % 2:
            services.inquiry_ask_carrier(inquiry=inquiry, actor=agent, carrier_staff="851",
                                         callback_by=timezone.now() + timedelta(hours=2))
    with CaptureQueriesContext(connection) as many:
        assert len(_rows(client.get(LIST))) == 6
    assert len(many) == len(few)


def test_the_detail_query_count_does_not_grow_with_its_timeline(login, agent, supervisor,
                                                                 order):
    client = login(agent)
    inquiry = _open(order, agent)
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"/inquiries/{inquiry.pk}/").status_code == 200
    for hours in (2, 3, 4):
        services.inquiry_ask_carrier(inquiry=inquiry, actor=supervisor, carrier_staff="851",
                                     callback_by=timezone.now() + timedelta(hours=hours))
        services.inquiry_contact(inquiry=inquiry, actor=agent, channel=ContactChannel.IM,
                                 outcome=ContactOutcome.LEFT_MESSAGE, note="在查")
    assert InquiryEvent.objects.filter(inquiry=inquiry).count() == 7
    with CaptureQueriesContext(connection) as many:
        page = client.get(f"/inquiries/{inquiry.pk}/")
    assert text(page).count('class="event ') == 7
    assert len(many) == len(few)


# --- the other pages --------------------------------------------------------------------------


def test_the_orders_to_ship_show_an_open_address_change_only(login, agent, warehouse, shop):
    pending = OrderFactory(shop=shop, unshipped=True)
    withdrawn_order = OrderFactory(shop=shop, unshipped=True)
    told_order = OrderFactory(shop=shop, unshipped=True)
    open_change = _open(pending, agent, kind=InquiryKind.ADDRESS)
    withdrawn = _open(withdrawn_order, agent, kind=InquiryKind.ADDRESS)
    services.inquiry_withdraw(inquiry=withdrawn, actor=agent, reason="买家不改了")
    told = _open(told_order, agent, kind=InquiryKind.ADDRESS)
    services.inquiry_record_answer(inquiry=told, actor=agent,
                                   outcome=InquiryOutcome.ADDRESS_CHANGED, answer="已改")
    services.inquiry_contact(inquiry=told, actor=agent, channel=ContactChannel.IM,
                             outcome=ContactOutcome.REACHED, note="已改好")
    services.inquiry_tell_buyer(inquiry=told, actor=agent)

    page = text(login(warehouse).get("/orders/unshipped/"))
    badges = [int(pk) for pk in re.findall(r'data-address-change="(\d+)"', page)]
    assert badges == [open_change.pk]
    badge = page.split(f'data-address-change="{open_change.pk}"')[0].rsplit("<a ", 1)[1]
    assert f'href="/inquiries/{open_change.pk}/"' in badge
    # the warehouse sees the badge but may not open an inquiry
    assert f'href="/orders/{pending.pk}/inquiry/"' not in page
    assert f'href="/orders/{pending.pk}/inquiry/"' in text(login(agent).get("/orders/unshipped/"))


def test_the_buyer_page_lists_the_orders_inquiries(login, agent, finance, order):
    inquiry = _open(order, agent)
    page = text(login(agent).get(f"/buyers/{order.buyer_id}/"))
    link = page.split(f'data-inquiry="{inquiry.pk}"')[0].rsplit("<a ", 1)[1]
    assert f'href="/inquiries/{inquiry.pk}/"' in link
    assert f'data-open-inquiry="{order.pk}"' in page
    page = text(login(finance).get(f"/buyers/{order.buyer_id}/"))
    assert f'data-inquiry="{inquiry.pk}"' in page and "data-open-inquiry" not in page


def test_the_case_page_links_the_inquiries(login, agent, finance, order):
    case = make_case(order=order)
    page = text(login(agent).get(f"/cases/{case.pk}/"))
    links = page.split('id="inquiry-links"')[1].split("</p>")[0]
    assert f'href="/orders/{order.pk}/inquiry/?case={case.pk}"' in links
    assert f'href="/inquiries/?q={order.platform_order_id}"' in links
    # one who may only read sees this order's inquiries, not how to open one
    links = text(login(finance).get(f"/cases/{case.pk}/")).split('id="inquiry-links"')[1]
    links = links.split("</p>")[0]
    assert "/inquiry/?case=" not in links and f"?q={order.platform_order_id}" in links


def test_a_lost_parcel_prefills_the_carrier_claim(login, agent, agent_b, shop):
    order = OrderFactory(shop=shop, carrier="中通快递", tracking_no="ZT5550001")
    case = make_case(order=order)
    inquiry = _open(order, agent, kind=InquiryKind.NOT_RECEIVED, case=case)
    services.inquiry_record_answer(inquiry=inquiry, actor=agent, outcome=InquiryOutcome.LOST,
                                   answer="网点丢件，可以理赔", carrier_staff="851")
    client = login(agent)
    page = text(client.get(f"/inquiries/{inquiry.pk}/"))
    assert f'href="/carrier-claims/new/?inquiry={inquiry.pk}"' in page.split(
        'id="inquiry-claim"')[1]

    response = client.get(f"/carrier-claims/new/?inquiry={inquiry.pk}")
    assert response.status_code == 200
    fields = form_fields(text(response), "claim-create-form")
    assert fields["kind"] == "lost"
    assert fields["tracking_no"] == "ZT5550001" and fields["carrier"] == "中通快递"
    assert fields["order_id"] == order.platform_order_id
    assert fields["direction"] == "outbound" and fields["case"] == str(case.pk)
    assert fields["parcel_status"] == "网点丢件，可以理赔"
    # another shop's inquiry is not theirs to see
    assert login(agent_b).get(f"/carrier-claims/new/?inquiry={inquiry.pk}").status_code == 404


def test_a_parcel_on_its_way_prefills_no_claim_kind(login, agent, order):
    inquiry = _open(order, agent)
    services.inquiry_record_answer(inquiry=inquiry, actor=agent,
                                   outcome=InquiryOutcome.ON_THE_WAY, answer="在途",
                                   carrier_staff="851")
    client = login(agent)
    assert 'id="inquiry-claim"' not in text(client.get(f"/inquiries/{inquiry.pk}/"))
    fields = form_fields(text(client.get(f"/carrier-claims/new/?inquiry={inquiry.pk}")),
                         "claim-create-form")
    assert fields["kind"] == "" and fields["tracking_no"] == order.tracking_no


def test_the_sweeps_warning_links_the_inquiry_on_the_queue(login, agent, order):
    inquiry = _open(order, agent, now=timezone.now() - timedelta(days=2))
    sweep_inquiries()
    notification = Notification.objects.get(user=agent, inquiry=inquiry)
    assert notification.kind == NotificationKind.INQUIRY_DUE
    page = text(login(agent).get("/cases/"))
    item = page.split(f'data-notification="{notification.pk}"')[1].split("</li>")[0]
    assert "Parcel inquiry: answer due" in item
    assert f'href="/inquiries/{inquiry.pk}/">parcel inquiry #{inquiry.pk}</a>' in item
