"""Review of the stock-out feature (缺货), commits 44619bf..76cbd2a.

Each failing test names one defect in its docstring and says what should happen instead. The
tests marked "holds" in a comment checked something important that turned out right.
"""

from __future__ import annotations

import datetime as dt
import io
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from refunds.exceptions import DomainError
from refunds.models import (
    Case,
    CaseReason,
    CaseState,
    ContactChannel,
    ContactOutcome,
    OrderLine,
    OrderStatus,
    Refund,
    RefundStatus,
    StockOut,
    StockOutEvent,
    StockOutRemedy,
    StockOutState,
)
from refunds.services import stockouts as services
from refunds.services.cases import case_refuse
from refunds.services.imports import import_orders
from refunds.timezones import CHINA
from tests.factories import OrderFactory, OrderLineFactory, make_case
from tests.imports.conftest import ORDER_HEADER, csv_text, order_row


def _today():
    return timezone.now().astimezone(CHINA).date()


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def paid_order(shop):
    return OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now() - timedelta(hours=3))


@pytest.fixture
def two_line_order(shop):
    """Paid ¥188: T恤 ¥100 (the factory's line), 袜子 ¥80, postage ¥8; not shipped."""
    order = OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now() - timedelta(hours=3))
    OrderLine.objects.filter(order=order).update(paid_amount=Decimal("100.00"))
    OrderLineFactory(order=order, title="袜子", paid_amount=Decimal("80.00"))
    return order


def _lines(order):
    return list(order.lines.order_by("id"))


def _report(order, actor, **kwargs):
    return services.stockout_report(order=order, actor=actor, **kwargs)


def _tell(stockout, agent, outcome=ContactOutcome.REACHED):
    return services.stockout_contact(stockout=stockout, actor=agent,
                                     channel=ContactChannel.PHONE, outcome=outcome,
                                     note="告知缺货")


def _no_instant_refunds(shop):
    shop.policy.instant_refund_limit = Decimal("0")
    shop.policy.save()


# --- money: which case a refund takes, and refunding the same goods twice -------------------


def test_a_second_stockout_refund_does_not_take_the_first_stockouts_case(
        two_line_order, warehouse, agent, shop):
    """Defect: `stockout_refund` takes *any* open refund-only case of the order. When two items
    of one order are out of stock and the buyer takes a refund for both, the second stock-out
    is linked to the case the first one opened (¥100 for the T恤), so the socks (¥80) are
    never refunded although the stock-out says "refund". Expected: the second stock-out gets a
    case for its own share (¥80) — only the platform's own request is to be taken instead."""
    _no_instant_refunds(shop)
    shirt, socks = _lines(two_line_order)
    first = _report(two_line_order, warehouse, line=shirt)
    second = _report(two_line_order, warehouse, line=socks)
    _tell(first, agent)
    first = services.stockout_refund(stockout=first, actor=agent)
    assert first.case.requested_amount == Decimal("100.00")

    _tell(second, agent)
    second = services.stockout_refund(stockout=second, actor=agent)
    assert second.case_id != first.case_id, "the socks' refund was folded into the T恤's case"
    assert second.case.requested_amount == Decimal("80.00")


def test_a_refund_does_not_take_a_case_the_desk_already_refused(paid_order, warehouse, agent,
                                                                shop, supervisor):
    """Defect: the case taken may be in any OPEN_STATES, `refused` included. The buyer asked
    for a refund earlier, the desk refused it (we meant to ship); now the goods are out of
    stock and the buyer takes a refund: the stock-out moves to "refund" and links the refused
    case — nobody will pay, and the stock-out has left the orders to ship. Expected: a clear
    refusal (reopen/modify that request) or a case that will actually refund, never a link to
    a refused case."""
    _no_instant_refunds(shop)
    platform_case = make_case(order=paid_order, reason=CaseReason.OTHER,
                              platform_refund_id="R-9")
    case_refuse(case=platform_case, actor=supervisor, reason="已安排发货")
    platform_case.refresh_from_db()
    assert platform_case.state == CaseState.REFUSED
    stockout = _report(paid_order, warehouse)
    _tell(stockout, agent)
    try:
        refunded = services.stockout_refund(stockout=stockout, actor=agent)
    except DomainError:
        return  # a clear message is acceptable
    assert refunded.case.state != CaseState.REFUSED


def test_an_item_refunded_once_is_not_refunded_again_through_a_new_stockout(
        two_line_order, warehouse, agent, shop):
    """Defect: once a stock-out is in "refund" it is no longer open, so the same item can be
    reported out of stock again, and its refund opens a second case for the same goods
    (min(share, refundable) = ¥88 here, instantly agreed under the ¥100 极速退款 limit): the
    buyer is paid ¥188 for a ¥100 T恤 while the socks still ship. Expected: the second report
    (or its refund) is refused with a message; the T恤 is refunded at most once."""
    shirt, _socks = _lines(two_line_order)
    first = _report(two_line_order, warehouse, line=shirt)
    _tell(first, agent)
    first = services.stockout_refund(stockout=first, actor=agent)
    # the 极速退款 agreed it; finance paid it
    Refund.objects.filter(case=first.case).update(status=RefundStatus.PAID)
    Case.objects.filter(pk=first.case_id).update(state=CaseState.REFUNDED)

    try:
        again = _report(two_line_order, agent, line=shirt)
        _tell(again, agent)
        services.stockout_refund(stockout=again, actor=agent)
    except DomainError:
        pass
    shirt_refunds = Refund.objects.filter(order=two_line_order).exclude(
        status=RefundStatus.FAILED)
    assert sum(r.amount for r in shirt_refunds) <= Decimal("100.00")
    assert Case.objects.filter(order=two_line_order).count() == 1


def test_a_stockout_cannot_be_reported_on_an_order_already_refunded_in_full(
        paid_order, warehouse, agent):
    """Defect: the report checks only the order's status, which lags until the next order
    import. An unshipped order whose refund-only case the platform already refunded in full
    is put on the queue as "tell the buyer", and the buyer can even be recorded as agreeing
    to wait for goods they were refunded for. Expected: the report is refused (the money is
    back: nothing is to be shipped)."""
    case = make_case(order=paid_order, amount="188.00")  # 极速退款? no: above the ¥100 limit
    Refund.objects.create(case=case, order=paid_order, amount=Decimal("188.00"),
                          status=RefundStatus.PAID)
    Case.objects.filter(pk=case.pk).update(state=CaseState.REFUNDED)
    with pytest.raises(DomainError):
        _report(paid_order, warehouse)
    assert not StockOut.objects.exists()


def test_the_page_shows_a_refund_no_larger_than_what_is_still_refundable(
        paid_order, warehouse, agent):
    """Defect: the stock-out page says "A refund would be ¥188.00" (`refund_share`) although
    ¥150 is already refunded on the order and the service would open a case for ¥38 only.
    Expected: the page shows what the refund would really be, capped by what is refundable."""
    case = make_case(order=paid_order, amount="150.00")
    Refund.objects.create(case=case, order=paid_order, amount=Decimal("150.00"),
                          status=RefundStatus.PAID)
    Case.objects.filter(pk=case.pk).update(state=CaseState.REFUNDED)
    stockout = _report(paid_order, warehouse)
    page = _login(agent).get(f"/stock-outs/{stockout.pk}/").content.decode()
    assert 'id="stockout-share">¥38.00<' in page, page.split('id="stockout-share">')[1][:20]


# --- the buyer's choice -------------------------------------------------------------------


def test_a_new_agreed_date_needs_the_buyer_told_again(paid_order, warehouse, agent):
    """Defect: README: "Told again later, a new date can be recorded" and the buyer's
    agreement is the shop's answer to a late-shipment complaint. `_require_told` accepts any
    contact ever logged, so after the first agreement a later date (or a refund) can be
    recorded without a word to the buyer. Expected: a new choice on an agreed stock-out needs
    a contact that reached the buyer logged after the last one recorded."""
    stockout = _report(paid_order, warehouse)
    with time_machine.travel(timezone.now() - timedelta(minutes=10)):
        _tell(stockout, agent)
    day = _today() + timedelta(days=3)
    with time_machine.travel(timezone.now() - timedelta(minutes=5)):
        services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                       remedy=StockOutRemedy.WAIT, agreed_ship_by=day)
    with pytest.raises(DomainError):
        services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                       remedy=StockOutRemedy.WAIT,
                                       agreed_ship_by=day + timedelta(days=20))
    stockout.refresh_from_db()
    assert stockout.agreed_ship_by == day


def test_withdraw_is_refused_once_the_buyer_was_told(paid_order, warehouse, agent):
    """Defect: the `withdraw` transition's and `stockout_withdraw`'s docstrings (and the
    model's) say "only before the buyer was told: after that, the order ships or is
    refunded", but nothing checks it: a buyer reached about the stock-out can have the
    stock-out withdrawn silently (the README says "before a choice is recorded", so the
    rule is stated two ways). Expected: withdrawing after a contact that reached the buyer is
    refused (or the docs agree on one rule)."""
    stockout = _report(paid_order, warehouse)
    _tell(stockout, agent)
    with pytest.raises(DomainError):
        services.stockout_withdraw(stockout=stockout, actor=warehouse, reason="在 B 区找到了")
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.REPORTED


def test_a_refund_after_an_agreed_wait_no_longer_shows_the_wait(paid_order, warehouse, agent,
                                                                shop):
    """Defect (minor): the buyer first agreed to wait, then took a refund. `stockout_refund`
    leaves `remedy` and `agreed_ship_by` set, so the refunded stock-out's page still says
    "The buyer: Waits for the restock · ship by <date>" next to the refund case. Expected: the
    page (and the row) no longer present a shipment date once the buyer takes a refund."""
    _no_instant_refunds(shop)
    stockout = _report(paid_order, warehouse)
    _tell(stockout, agent)
    services.stockout_buyer_agreed(stockout=stockout, actor=agent, remedy=StockOutRemedy.WAIT,
                                   agreed_ship_by=_today() + timedelta(days=3))
    _tell(stockout, agent)  # the buyer changes their mind: told again (the rule since)
    services.stockout_refund(stockout=stockout, actor=agent)
    page = _login(agent).get(f"/stock-outs/{stockout.pk}/").content.decode()
    assert 'id="stockout-remedy"' not in page


# --- admin ------------------------------------------------------------------------------------


def test_the_admin_list_query_count_does_not_grow_with_rows(manager, shop, warehouse, agent):
    """Defect: the admin's StockOut list shows the "case" column, but `list_select_related`
    has no "case" (nor "case__order", which `Case.__str__` reads): two queries per row with a
    refund case. Expected: the list's query count does not grow with its rows."""
    _no_instant_refunds(shop)
    client = _login(manager)

    def add(count):
        for _ in range(count):
            order = OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now())
            stockout = _report(order, warehouse, line=order.lines.get())
            _tell(stockout, agent)
            services.stockout_refund(stockout=stockout, actor=agent)

    add(1)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/admin/refunds/stockout/").status_code == 200
    add(4)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/admin/refunds/stockout/").status_code == 200
    assert len(many) == len(few)


def test_a_stockout_is_named_by_its_platform_order_number(paid_order, warehouse):
    """Defect: `StockOut.__str__` is f"#{pk} {order_id}": the order's database id, which no
    member of staff knows (the admin's title, breadcrumbs and the events inline show it).
    Expected: the platform's order number (订单编号)."""
    stockout = _report(paid_order, warehouse)
    assert paid_order.platform_order_id in str(stockout)


# --- holds ------------------------------------------------------------------------------------


# holds
def test_holds_the_money_rule_caps_the_refund_under_the_lock(paid_order, warehouse, agent):
    """Checked: the refund is min(share, refundable), computed after lock_stockout locked the
    order row; a partial refund already paid leaves only the rest."""
    case = make_case(order=paid_order, amount="150.00")
    Refund.objects.create(case=case, order=paid_order, amount=Decimal("150.00"),
                          status=RefundStatus.PAID)
    Case.objects.filter(pk=case.pk).update(state=CaseState.REFUNDED)
    stockout = _report(paid_order, warehouse)
    _tell(stockout, agent)
    refunded = services.stockout_refund(stockout=stockout, actor=agent)
    assert refunded.case.requested_amount == Decimal("38.00")
    assert isinstance(refunded.case.requested_amount, Decimal)


# holds
def test_holds_the_share_of_part_of_a_line_on_a_multi_line_order(two_line_order, warehouse):
    shirt, _socks = _lines(two_line_order)
    OrderLine.objects.filter(pk=shirt.pk).update(quantity=3)
    shirt.refresh_from_db()
    stockout = _report(two_line_order, warehouse, line=shirt, quantity=2)
    assert services.refund_share(stockout, two_line_order) == Decimal("66.67")


# holds
def test_holds_an_order_shipped_while_the_page_is_open(roles, shop, warehouse, agent):
    """The import ships the order (and settles the stock-out) while an agent has the page
    open: their POST gets "changed", not a second action; the report form open on the order
    meanwhile gets the status message, nothing is created."""
    shop.platform_shop_id = "SHOP-A"
    shop.name = "示例旗舰店"
    shop.save()
    order_id = "3900000000099000777"
    waiting = order_row(**{"订单编号": order_id, "订单状态": "买家已付款，等待卖家发货",
                           "物流单号": "", "物流公司": ""})
    import_orders(shop=shop, path_or_file=_csv([waiting]))
    order = shop.orders.get(platform_order_id=order_id)
    stockout = _report(order, warehouse, line=order.lines.get())
    client = _login(agent)
    assert client.get(f"/stock-outs/{stockout.pk}/").status_code == 200
    import_orders(shop=shop, path_or_file=_csv([order_row(**{"订单编号": order_id})]))
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.SHIPPED
    response = client.post(f"/stock-outs/{stockout.pk}/actions/withdraw/", {
        "withdraw-expected_state": "reported", "withdraw-reason": "找到了"})
    assert response.status_code == 302
    assert "changed" in client.get(response["Location"]).content.decode()
    contact = client.post(f"/stock-outs/{stockout.pk}/contact/", {
        "contact-channel": "phone", "contact-outcome": "reached", "contact-note": "x"})
    assert contact.status_code == 302
    report = _login(warehouse).post(f"/orders/{order.pk}/stock-out/",
                                    {"line": "", "quantity": "1"})
    assert report.status_code == 400 and "only a paid order not shipped" in \
        report.content.decode()
    assert StockOut.objects.count() == 1


def _csv(rows):
    return io.BytesIO(csv_text(ORDER_HEADER, rows).encode("gb18030"))


# holds
def test_holds_notes_and_titles_are_escaped(shop, warehouse, agent):
    order = OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now())
    OrderLine.objects.filter(order=order).update(title="<b>T恤</b><script>x()</script>")
    stockout = _report(order, warehouse, line=order.lines.get(),
                       note="<script>alert(1)</script>")
    _tell(stockout, agent)
    client = _login(agent)
    for url in [f"/stock-outs/{stockout.pk}/", "/orders/unshipped/?due=stockout",
                f"/orders/{order.pk}/stock-out/"]:
        page = client.get(url).content.decode()
        assert "<script>alert(1)" not in page and "<script>x()" not in page, url


# holds
def test_holds_dates_are_china_dates(paid_order, warehouse, agent):
    """At 00:30 in China (16:30 UTC the day before) "today" is the China date: yesterday's
    restock date is refused, today's agreed date is accepted."""
    china_midnight = dt.datetime.combine(_today() + timedelta(days=1), dt.time(0, 30),
                                         tzinfo=CHINA)
    with time_machine.travel(china_midnight, tick=False):
        china_today = china_midnight.date()
        utc_day = timezone.now().astimezone(dt.UTC).date()
        assert utc_day == china_today - timedelta(days=1)
        with pytest.raises(DomainError, match="in the past"):
            _report(paid_order, warehouse, restock_expected=utc_day)
        stockout = _report(paid_order, warehouse, restock_expected=china_today)
        _tell(stockout, agent)
        with pytest.raises(DomainError, match="in the past"):
            services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                           remedy=StockOutRemedy.WAIT, agreed_ship_by=utc_day)
        services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                       remedy=StockOutRemedy.WAIT, agreed_ship_by=china_today)


# holds
def test_holds_the_pages_render_in_chinese(paid_order, warehouse, agent):
    stockout = _report(paid_order, warehouse, line=paid_order.lines.get())
    _tell(stockout, agent)
    services.stockout_buyer_agreed(stockout=stockout, actor=agent, remedy=StockOutRemedy.WAIT,
                                   agreed_ship_by=_today() + timedelta(days=2))
    client = _login(agent)
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
    page = client.get(f"/stock-outs/{stockout.pk}/", **zh).content.decode()
    assert "缺货单" in page and "买家同意在" in page and "of 1 missing" not in page
    assert "缺 1 件" in page
    listing = client.get("/orders/unshipped/?due=stockout", **zh).content.decode()
    assert "约定" in listing and "agreed by" not in listing
    form = _login(warehouse).get(f"/orders/{paid_order.pk}/stock-out/", **zh).content.decode()
    assert "报缺货" in form and "Report out of stock" not in form
    translation.activate("en")


# holds
def test_holds_the_dry_run_import_settles_nothing_and_writes_no_timeline(roles, shop, warehouse):
    shop.platform_shop_id = "SHOP-A"
    shop.name = "示例旗舰店"
    shop.save()
    order_id = "3900000000099000778"
    import_orders(shop=shop, path_or_file=_csv([order_row(**{
        "订单编号": order_id, "订单状态": "交易关闭", "物流单号": "", "物流公司": ""})]))
    order = shop.orders.get(platform_order_id=order_id)
    order.status = OrderStatus.PAID
    order.save()
    stockout = _report(order, warehouse)
    import_orders(shop=shop, path_or_file=_csv([order_row(**{
        "订单编号": order_id, "订单状态": "交易关闭", "物流单号": "", "物流公司": ""})]),
        dry_run=True)
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.REPORTED
    assert StockOutEvent.objects.filter(stockout=stockout).count() == 1


# holds
def test_holds_another_shops_staff_cannot_act_through_the_services(paid_order, warehouse,
                                                                   agent, agent_b):
    stockout = _report(paid_order, warehouse)
    _tell(stockout, agent)
    for call in [
        lambda: services.stockout_refund(stockout=stockout, actor=agent_b),
        lambda: services.stockout_ship(stockout=stockout, actor=agent_b),
        lambda: services.stockout_buyer_agreed(stockout=stockout, actor=agent_b,
                                               remedy="wait", agreed_ship_by=_today()),
    ]:
        with pytest.raises(DomainError):
            call()
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.REPORTED and not Case.objects.exists()
