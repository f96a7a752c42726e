"""The stock-out pages (缺货): reporting from the orders to ship, the stock-out page, its
actions and contacts; every page behind a login, the user's shops and the role's permission."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from refunds.models import (
    CannedReply,
    Case,
    CaseReason,
    CloseReason,
    ContactLog,
    StockOut,
    StockOutEvent,
    StockOutRemedy,
    StockOutState,
)
from refunds.services import stockouts as services
from refunds.services.cases import case_close, case_refuse
from refunds.timezones import CHINA
from tests.factories import OrderFactory, OrderLineFactory, make_case, make_staff

from .helpers import alert_texts, text


def _today():
    return timezone.now().astimezone(CHINA).date()


@pytest.fixture
def paid_order(shop):
    return OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now() - timedelta(hours=3))


@pytest.fixture
def stockout(paid_order, warehouse):
    return services.stockout_report(order=paid_order, actor=warehouse,
                                    line=paid_order.lines.get(), quantity=1,
                                    restock_expected=_today() + timedelta(days=4))


def _contact(client, stockout, outcome="reached"):
    return client.post(f"/stock-outs/{stockout.pk}/contact/", {
        "contact-channel": "phone", "contact-outcome": outcome,
        "contact-note": "告知缺货，可等 4 天或退款"})


def _refund_from_page(client, stockout):
    """The buyer was told and took the refund: the case it opened."""
    _contact(client, stockout)
    _act(client, stockout, "refund")
    return Case.objects.get(stockouts=stockout)


def _act(client, stockout, action, state=None, **fields):
    data = {f"{action}-expected_state": state or stockout.state}
    data.update({f"{action}-{name}": value for name, value in fields.items()})
    return client.post(f"/stock-outs/{stockout.pk}/actions/{action}/", data)


def test_every_page_needs_a_login(client, stockout, paid_order):
    for url in [f"/orders/{paid_order.pk}/stock-out/", f"/stock-outs/{stockout.pk}/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    response = client.post(f"/stock-outs/{stockout.pk}/actions/withdraw/",
                           {"withdraw-expected_state": "reported", "withdraw-reason": "x"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.REPORTED


def test_another_shops_stockout_and_order_are_not_found(login, stockout, paid_order, other_shop):
    stranger = login(make_staff("agent_b2", "agent", other_shop))
    assert stranger.get(f"/stock-outs/{stockout.pk}/").status_code == 404
    assert stranger.get(f"/orders/{paid_order.pk}/stock-out/").status_code == 404
    assert _act(stranger, stockout, "withdraw", reason="找到了").status_code == 404
    assert _contact(stranger, stockout).status_code == 404
    assert not ContactLog.objects.exists()
    assert StockOut.objects.get().state == StockOutState.REPORTED


def test_the_warehouse_reports_from_the_orders_to_ship(login, warehouse, paid_order):
    client = login(warehouse)
    listing = text(client.get("/orders/unshipped/"))
    assert f"/orders/{paid_order.pk}/stock-out/" in listing
    form = text(client.get(f"/orders/{paid_order.pk}/stock-out/"))
    line = paid_order.lines.get()
    assert f'<option value="{line.pk}" selected>' in form  # the only item, chosen for them

    response = client.post(f"/orders/{paid_order.pk}/stock-out/", {
        "line": line.pk, "quantity": "1",
        "restock_expected": (_today() + timedelta(days=3)).isoformat(), "note": "盘点为 0"})
    stockout = StockOut.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/stock-outs/{stockout.pk}/"
    assert (stockout.line, stockout.quantity, stockout.note) == (line, 1, "盘点为 0")
    page = client.get(response["Location"])
    assert "now tell the buyer" in alert_texts(page, "success")
    listed = text(client.get("/orders/unshipped/", {"due": "stockout"}))
    assert f'data-stockout="{stockout.pk}"' in listed and "tell the buyer" in listed


def test_a_bad_report_says_why_and_changes_nothing(login, warehouse, paid_order, order):
    client = login(warehouse)
    line = paid_order.lines.get()
    response = client.post(f"/orders/{paid_order.pk}/stock-out/",
                           {"line": line.pk, "quantity": "0", "note": ""})
    assert response.status_code == 400
    assert "greater than or equal to 1" in text(response)
    response = client.post(f"/orders/{paid_order.pk}/stock-out/",
                           {"line": line.pk, "quantity": str(line.quantity + 1), "note": ""})
    assert response.status_code == 400 and f"at most {line.quantity}" in text(response)
    shipped = client.post(f"/orders/{order.pk}/stock-out/", {"line": "", "quantity": "1"})
    assert shipped.status_code == 400 and "only a paid order not shipped" in text(shipped)
    empty = client.post(f"/orders/{paid_order.pk}/stock-out/", {})
    assert empty.status_code == 400 and "This field is required" in text(empty)  # how many
    assert not StockOut.objects.exists() and not StockOutEvent.objects.exists()


def test_the_whole_order_out_of_stock(login, warehouse, shop):
    order = OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now() - timedelta(hours=1))
    OrderLineFactory(order=order)
    response = login(warehouse).post(f"/orders/{order.pk}/stock-out/",
                                     {"line": "", "quantity": "1", "note": "整单缺货"})
    assert response.status_code == 302
    stockout = StockOut.objects.get()
    assert stockout.line is None and stockout.order == order
    page = text(login(warehouse).get(f"/stock-outs/{stockout.pk}/"))
    assert 'id="stockout-item">The whole order<' in page
    assert f'id="stockout-share">¥{order.paid_amount}<' in page


def test_roles_without_the_permission_are_refused(login, finance, stockout, paid_order):
    client = login(finance)
    assert client.get(f"/orders/{paid_order.pk}/stock-out/").status_code == 403
    assert client.post(f"/orders/{paid_order.pk}/stock-out/",
                       {"line": "", "quantity": "1"}).status_code == 403
    assert client.get(f"/stock-outs/{stockout.pk}/").status_code == 200  # finance may read
    response = _act(client, stockout, "withdraw", reason="找到了")
    assert response.status_code == 302
    assert "permission" in alert_texts(client.get(response["Location"]), "danger")
    assert _contact(client, stockout).status_code == 302
    assert StockOut.objects.get().state == StockOutState.REPORTED
    assert StockOut.objects.count() == 1 and not ContactLog.objects.exists()


def test_the_agent_tells_the_buyer_then_records_the_wait(login, agent, stockout):
    client = login(agent)
    page = text(client.get(f"/stock-outs/{stockout.pk}/"))
    assert "Tell the buyer now" in page and 'id="action-buyer_agreed"' in page

    too_early = _act(client, stockout, "buyer_agreed", remedy="wait",
                     agreed_ship_by=(_today() + timedelta(days=4)).isoformat())
    assert "log" in alert_texts(client.get(too_early["Location"]), "danger").lower()
    assert StockOut.objects.get().state == StockOutState.REPORTED

    assert _contact(client, stockout).status_code == 302
    assert ContactLog.objects.get().stockout_id == stockout.pk
    page = text(client.get(f"/stock-outs/{stockout.pk}/"))
    assert "The buyer has been told" in page and "告知缺货" in page

    day = _today() + timedelta(days=4)
    response = _act(client, stockout, "buyer_agreed", remedy="wait",
                    agreed_ship_by=day.isoformat(), note="买家愿意等")
    assert response.status_code == 302
    stockout.refresh_from_db()
    assert (stockout.state, stockout.remedy, stockout.agreed_ship_by) == (
        StockOutState.AGREED, StockOutRemedy.WAIT, day)
    page = text(client.get(f"/stock-outs/{stockout.pk}/"))
    assert f"The buyer agreed to a shipment by {day:%Y-%m-%d}" in page
    listed = text(client.get("/orders/unshipped/", {"due": "stockout"}))
    assert f"agreed by {day:%m-%d}" in listed


def test_an_invalid_action_form_is_shown_again_with_its_errors(login, agent, stockout):
    client = login(agent)
    _contact(client, stockout)
    response = _act(client, stockout, "buyer_agreed", remedy="wait", agreed_ship_by="tomorrow")
    assert response.status_code == 400
    assert "Enter a valid date" in text(response)
    assert 'id="action-buyer_agreed"' in text(response)
    assert StockOut.objects.get().state == StockOutState.REPORTED


def test_a_stale_page_gets_a_message_not_a_second_action(login, agent, stockout):
    client = login(agent)
    _contact(client, stockout)
    first = _act(client, stockout, "refund", state="reported", note="买家要退款")
    assert first.status_code == 302
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.REFUND
    again = _act(client, stockout, "refund", state="reported", note="买家要退款")
    assert again.status_code == 302
    assert "changed" in alert_texts(client.get(again["Location"]), "danger").lower()
    assert Case.objects.count() == 1
    assert StockOutEvent.objects.filter(stockout=stockout, kind="transition").count() == 1


def test_the_refund_opens_a_case_the_stockout_links_to(login, agent, stockout, paid_order):
    client = login(agent)
    _contact(client, stockout)
    _act(client, stockout, "refund", note="买家要退款")
    case = Case.objects.get()
    assert (case.order, case.reason, case.requested_amount) == (
        paid_order, CaseReason.OUT_OF_STOCK, paid_order.paid_amount)
    page = text(client.get(f"/stock-outs/{stockout.pk}/"))
    assert f'href="/cases/{case.pk}/" id="stockout-case">#{case.pk}</a>' in page
    assert f"¥{case.requested_amount}" in page


def test_a_whole_order_share_and_a_partial_share_are_shown(login, agent, warehouse, shop):
    order = OrderFactory(shop=shop, unshipped=True, paid_amount=Decimal("300.00"),
                         paid_at=timezone.now() - timedelta(hours=1))
    OrderLineFactory(order=order, quantity=2, paid_amount=Decimal("100.00"))
    line = order.lines.order_by("-id").first()
    stockout = services.stockout_report(order=order, actor=warehouse, line=line, quantity=1)
    page = text(login(agent).get(f"/stock-outs/{stockout.pk}/"))
    assert 'id="stockout-share">¥50.00<' in page


def test_the_warehouse_marks_it_shipped(login, warehouse, stockout):
    client = login(warehouse)
    page = text(client.get(f"/stock-outs/{stockout.pk}/"))
    assert 'id="action-ship"' in page and 'id="action-refund"' not in page
    assert "Tell the buyer" not in page.split('id="actions"')[1].split("Timeline")[0] \
        or 'id="contact-' not in page
    response = _act(client, stockout, "ship", note="到货已发")
    assert response.status_code == 302
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.SHIPPED and stockout.resolved_at is not None
    assert f'data-stockout="{stockout.pk}"' not in text(client.get("/orders/unshipped/"))


def test_an_unknown_action_is_not_found(login, agent, stockout):
    assert _act(login(agent), stockout, "cancel_order").status_code == 404
    assert login(agent).get(f"/stock-outs/{stockout.pk}/actions/ship/").status_code == 405


def test_the_orders_to_ship_query_count_does_not_grow_with_stockouts(login, agent, warehouse,
                                                                     shop):
    client = login(agent)

    def add(count):
        for _ in range(count):
            order = OrderFactory(shop=shop, unshipped=True,
                                 paid_at=timezone.now() - timedelta(hours=2))
            services.stockout_report(order=order, actor=warehouse,
                                     line=order.lines.get(), quantity=1)

    add(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/orders/unshipped/", {"due": "stockout"}).status_code == 200
    add(8)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/orders/unshipped/", {"due": "stockout"})
    assert text(response).count("data-stockout=") == 10
    assert len(many) == len(few)


def test_the_stockout_page_query_count_does_not_grow_with_its_timeline(login, agent,
                                                                       stockout):
    client = login(agent)
    _contact(client, stockout)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/stock-outs/{stockout.pk}/")
    for _ in range(5):
        _contact(client, stockout, outcome="no_answer")
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/stock-outs/{stockout.pk}/")
    assert text(response).count("data-contact=") == 6
    assert len(many) == len(few)


def test_the_buyers_contacts_elsewhere_link_to_the_stockout(login, agent, stockout, paid_order):
    client = login(agent)
    _contact(client, stockout)
    page = text(client.get(f"/buyers/{paid_order.buyer_id}/"))
    assert f'href="/stock-outs/{stockout.pk}/">stock-out #{stockout.pk}</a>' in page


def test_once_the_buyer_was_told_withdraw_is_not_offered(login, warehouse, agent, stockout):
    assert 'id="action-withdraw"' in text(login(warehouse).get(f"/stock-outs/{stockout.pk}/"))
    _contact(login(agent), stockout)
    page = text(login(warehouse).get(f"/stock-outs/{stockout.pk}/"))
    assert 'id="action-withdraw"' not in page and 'id="action-ship"' in page
    client = login(warehouse)
    response = _act(client, stockout, "withdraw", reason="找到了")
    assert "has been told the goods are missing" in alert_texts(
        client.get(response["Location"]), "danger")
    assert StockOut.objects.get().state == StockOutState.REPORTED


def test_a_refund_shows_on_the_orders_to_ship_closed_unpaid_too(login, agent, stockout):
    """The goods are missing whatever became of the refund: a case closed without paying
    the buyer leaves the order out of stock, saying the buyer is to be told again."""
    client = login(agent)
    case = _refund_from_page(client, stockout)
    row = text(client.get("/orders/unshipped/", {"due": "stockout"}))
    assert f'data-stockout="{stockout.pk}"' in row
    assert f"refund: case #{case.pk} Requested" in row
    Case.objects.filter(pk=case.pk).update(state="closed")  # the buyer withdrew the request
    row = text(client.get("/orders/unshipped/", {"due": "stockout"}))
    assert f'data-stockout="{stockout.pk}"' in row
    assert f"refund closed unpaid (case #{case.pk}): tell the buyer again" in row


def test_the_refund_shown_is_the_buyers_open_request_when_there_is_one(login, agent, stockout,
                                                                       paid_order):
    request = make_case(order=paid_order, amount="50.00", platform_refund_id="R-9")
    page = text(login(agent).get(f"/stock-outs/{stockout.pk}/"))
    share = page.split('id="stockout-share">')[1].split("</dd>")[0]
    assert f'href="/cases/{request.pk}/">#{request.pk}</a> for ¥50.00' in share
    assert str(paid_order.paid_amount) not in share


def test_a_passed_restock_date_is_not_offered_as_the_agreed_day(login, agent, stockout):
    client = login(agent)
    _contact(client, stockout)
    restock = stockout.restock_expected
    form = text(client.get(f"/stock-outs/{stockout.pk}/"))
    assert f'value="{restock.isoformat()}"' in form
    StockOut.objects.filter(pk=stockout.pk).update(restock_expected=_today() - timedelta(days=1))
    form = text(client.get(f"/stock-outs/{stockout.pk}/"))
    assert f'value="{(_today() - timedelta(days=1)).isoformat()}"' not in form


def test_a_refused_request_on_the_order_is_named_instead_of_a_refund(login, agent, supervisor,
                                                                     stockout, paid_order):
    paid_order.shop.policy.instant_refund_limit = Decimal("0")
    paid_order.shop.policy.save()
    request = make_case(order=paid_order, platform_refund_id="R-7")
    case_refuse(case=request, actor=supervisor, reason="已安排发货")
    client = login(agent)
    page = text(client.get(f"/stock-outs/{stockout.pk}/"))
    share = page.split('id="stockout-share">')[1].split("</dd>")[0]
    assert f"refund request #{request.pk}" in share and "settle it on its case page" in share
    _contact(client, stockout)
    response = _act(client, stockout, "refund")
    assert "settle it on its case page" in alert_texts(client.get(response["Location"]))
    assert StockOut.objects.get().state == StockOutState.REPORTED


def test_the_buyer_page_lists_the_orders_stockouts(login, agent, stockout, paid_order):
    page = text(login(agent).get(f"/buyers/{paid_order.buyer_id}/"))
    row = page.split(f'<tr data-order="{paid_order.pk}">')[1].split("</tr>")[0]
    assert f'href="/stock-outs/{stockout.pk}/" data-stockout="{stockout.pk}">stock-out ' \
        f'#{stockout.pk}</a>' in row
    assert "Out of stock: tell the buyer" in row


def test_the_buyer_page_query_count_does_not_grow_with_stockouts(login, agent, warehouse,
                                                                  paid_order):
    client = login(agent)

    def add(count):
        for _ in range(count):
            order = OrderFactory(shop=paid_order.shop, buyer=paid_order.buyer, unshipped=True,
                                 paid_at=timezone.now() - timedelta(hours=1))
            services.stockout_report(order=order, actor=warehouse, line=order.lines.get())

    add(1)
    url = f"/buyers/{paid_order.buyer_id}/"
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    add(5)
    with CaptureQueriesContext(connection) as many:
        page = text(client.get(url))
    assert page.count("data-stockout=") == 6
    assert len(many) == len(few)


def test_the_contact_card_offers_the_stockout_canned_replies_filled_in(login, agent, stockout,
                                                                       paid_order):
    reply = CannedReply.objects.create(
        title="缺货通知", category="stockout", language="zh-hans",
        text="亲，您的订单 {order} 暂时缺货，预计 {deadline} 到货，也可退款 ¥{amount}。")
    CannedReply.objects.create(title="好评返现", category="review", language="zh-hans",
                               text="感谢您的评价")
    client = login(agent)
    page = text(client.get(f"/stock-outs/{stockout.pk}/"))
    card = page.split('id="canned-replies"')[1].split("<form")[0]
    assert "缺货通知" in card and "好评返现" not in card
    filled = (f"亲，您的订单 {paid_order.platform_order_id} 暂时缺货，预计 "
              f"{stockout.restock_expected.isoformat()} 到货，也可退款 ¥{paid_order.paid_amount}。")
    assert f'data-text="{filled}"' in card
    prefilled = text(client.get(f"/stock-outs/{stockout.pk}/", {"reply": reply.pk}))
    assert f'id="id_contact-note">\n{filled}</textarea>' in prefilled


def test_a_buyer_who_asked_not_to_be_contacted_is_flagged_and_not_contacted(login, agent,
                                                                            stockout,
                                                                            paid_order):
    buyer = paid_order.buyer
    buyer.do_not_contact, buyer.do_not_contact_reason = True, "投诉骚扰"
    buyer.save()
    client = login(agent)
    assert 'id="do-not-contact"' in text(client.get(f"/stock-outs/{stockout.pk}/"))
    response = _contact(client, stockout)
    assert response.status_code == 302
    assert "asked not to be contacted" in alert_texts(client.get(response["Location"]))
    assert not ContactLog.objects.exists()


def test_a_refund_closed_unpaid_goes_back_to_the_buyers_choice_from_its_page(
        login, agent, warehouse, stockout):
    """The buyer withdrew the refund (closed on the case page): the stock-out page and the
    list say so, and one button sends it back to telling the buyer and their choice."""
    client = login(agent)
    case = _refund_from_page(client, stockout)
    case_close(case=case, actor=agent, reason=CloseReason.WITHDRAWN)

    listed = text(client.get("/stock-outs/", {"refund_closed": "on"}))
    assert f'data-stockout="{stockout.pk}"' in listed and "data-refund-closed" in listed
    assert f'data-stockout="{stockout.pk}"' in text(client.get("/stock-outs/"))
    other = services.stockout_report(order=OrderFactory(shop=stockout.shop, unshipped=True),
                                     actor=warehouse)
    assert f'data-stockout="{other.pk}"' not in text(
        client.get("/stock-outs/", {"refund_closed": "on"}))

    page = text(client.get(f"/stock-outs/{stockout.pk}/"))
    assert f"The refund (case #{case.pk}) was closed without paying the buyer" in page
    assert 'id="action-refund_fell_through"' in page
    # the warehouse sees it, but talking to the buyer is after-sales'
    assert 'id="action-refund_fell_through"' not in text(
        login(warehouse).get(f"/stock-outs/{stockout.pk}/"))

    response = _act(client, stockout, "refund_fell_through", state="refund",
                    note="买家撤销了退款申请")
    assert response.status_code == 302
    assert StockOut.objects.get(pk=stockout.pk).state == StockOutState.REPORTED
    page = text(client.get(f"/stock-outs/{stockout.pk}/"))
    # told before the refund, not since: the page asks to tell them again
    assert "Tell the buyer now and offer a choice" in page
    assert 'id="action-withdraw"' not in page  # the buyer was told the goods are missing
    # the closed case is the earlier one; what a refund would be now is shown again
    assert f'Earlier refund case</dt><dd class="col-sm-8"><a href="/cases/{case.pk}/"' in page
    share = page.split('id="stockout-share">')[1].split("</dd>")[0]
    assert share == f"¥{case.requested_amount}"
    _contact(client, stockout)
    assert "The buyer has been told: record what they chose." in text(
        client.get(f"/stock-outs/{stockout.pk}/"))


def test_a_second_click_on_the_refund_closed_action_gets_a_message(login, agent, stockout):
    client = login(agent)
    _contact(client, stockout)
    _act(client, stockout, "refund")
    Case.objects.filter(pk=Case.objects.get().pk).update(state="closed")
    assert _act(client, stockout, "refund_fell_through", state="refund").status_code == 302
    response = _act(client, stockout, "refund_fell_through", state="refund")
    assert response.status_code == 302
    assert "This stock-out changed while you were looking at it" in alert_texts(
        client.get(response["Location"]), "danger")
    assert StockOutEvent.objects.filter(transition="refund_fell_through").count() == 1


def test_the_send_back_is_offered_only_for_a_refund_closed_unpaid(login, agent, stockout,
                                                                  paid_order):
    client = login(agent)
    case = _refund_from_page(client, stockout)
    Case.objects.filter(pk=case.pk).update(state="closed")
    assert 'id="action-refund_fell_through"' in text(client.get(f"/stock-outs/{stockout.pk}/"))
    # the order shipped since: no longer missing goods, nothing to send back
    paid_order.status, paid_order.shipped_at = "shipped", timezone.now()
    paid_order.save()
    page = text(client.get(f"/stock-outs/{stockout.pk}/"))
    assert 'id="action-refund_fell_through"' not in page
    assert "was closed without paying the buyer" not in page
    # posted anyway (a stale page): the reason is said, nothing changes
    response = _act(client, stockout, "refund_fell_through", state="refund")
    assert "nothing is left to ship or to choose" in alert_texts(
        client.get(response["Location"]), "danger")
    assert StockOut.objects.get(pk=stockout.pk).state == StockOutState.REFUND


def test_a_refund_closed_unpaid_may_be_marked_shipped_from_its_page(login, agent, warehouse,
                                                                     stockout):
    """The buyer withdrew the refund to wait: when the goods come in, the warehouse ships."""
    client = login(agent)
    case = _refund_from_page(client, stockout)
    warehouse_client = login(warehouse)
    assert 'id="action-ship"' not in text(warehouse_client.get(f"/stock-outs/{stockout.pk}/"))
    case_close(case=case, actor=agent, reason=CloseReason.WITHDRAWN)
    assert 'id="action-ship"' in text(warehouse_client.get(f"/stock-outs/{stockout.pk}/"))
    response = _act(warehouse_client, stockout, "ship", state="refund", note="到货已发")
    assert response.status_code == 302
    assert StockOut.objects.get(pk=stockout.pk).state == StockOutState.SHIPPED


def test_a_case_reopened_from_its_page_takes_the_stockout_back_to_the_refund(
        login, agent, supervisor, stockout):
    """The agent sent the stock-out back after the buyer withdrew the refund; the buyer asks
    for a review (复核) and a supervisor reopens the case on its page: the stock-out page says
    so, in the reader's language, and offers neither a choice nor shipping."""
    client = login(agent)
    case = _refund_from_page(client, stockout)
    Case.objects.filter(pk=case.pk).update(state="closed")
    _act(client, stockout, "refund_fell_through", state="refund")
    response = login(supervisor).post(f"/cases/{case.pk}/actions/reopen/", {
        "reopen-expected_state": "closed", "reopen-reason": "买家申请复核"})
    assert response.status_code == 302
    assert StockOut.objects.get(pk=stockout.pk).state == StockOutState.REFUND
    page = text(client.get(f"/stock-outs/{stockout.pk}/"))
    assert f"Refund case #{case.pk} was reopened for review (复核)" in page
    for action in ("buyer_agreed", "refund", "ship", "refund_fell_through", "refund_reopened"):
        assert f'id="action-{action}"' not in page
    client.cookies["django_language"] = "zh-hans"
    assert f"退款售后单 #{case.pk}" in text(client.get(f"/stock-outs/{stockout.pk}/"))
