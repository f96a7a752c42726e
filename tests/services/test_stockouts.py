"""Out of stock after payment (缺货): tell the buyer, never silently cancel (DOMAIN.md)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds.exceptions import ActionNotAllowed, PermissionDeniedError
from refunds.models import (
    Case,
    CaseKind,
    CaseReason,
    CaseState,
    CloseReason,
    ContactChannel,
    ContactLog,
    ContactOutcome,
    Order,
    OrderLine,
    OrderStatus,
    Refund,
    StockOut,
    StockOutEvent,
    StockOutRemedy,
    StockOutState,
    refund_closed_unpaid_q,
)
from refunds.services import stockouts as services
from refunds.services.cases import case_agree, case_close, case_reopen
from refunds.services.compensation import compensation_propose
from refunds.services.contacts import ContactBlocked
from refunds.timezones import CHINA
from tests.factories import OrderFactory, OrderLineFactory, make_case, make_staff


def _today():
    return timezone.now().astimezone(CHINA).date()


@pytest.fixture
def paid_order(shop):
    return OrderFactory(shop=shop, unshipped=True, paid_at=timezone.now() - timedelta(hours=3))


def _report(order, actor, **kwargs):
    return services.stockout_report(order=order, actor=actor, **kwargs)


def _tell(stockout, agent, outcome=ContactOutcome.REACHED):
    return services.stockout_contact(stockout=stockout, actor=agent,
                                     channel=ContactChannel.PHONE, outcome=outcome,
                                     note="告知缺货，补货约 5 天")


def test_the_warehouse_reports_and_the_timeline_says_so(paid_order, warehouse):
    line = paid_order.lines.get()
    stockout = _report(paid_order, warehouse, line=line, quantity=1,
                       restock_expected=_today() + timedelta(days=5), note="库存盘点为 0")
    assert stockout.state == StockOutState.REPORTED
    assert stockout.shop_id == paid_order.shop_id and stockout.reported_by == warehouse
    event = StockOutEvent.objects.get(stockout=stockout)
    assert (event.kind, event.staff_number, event.to_state) == ("created", "W4001", "reported")


def test_only_a_paid_order_not_shipped_yet(order, paid_order, warehouse):
    with pytest.raises(ActionNotAllowed, match="only a paid order not shipped"):
        _report(order, warehouse)  # shipped
    paid_order.status = OrderStatus.CLOSED
    paid_order.save()
    with pytest.raises(ActionNotAllowed):
        _report(paid_order, warehouse)
    assert not StockOut.objects.exists()


def test_bad_reports_change_nothing(paid_order, warehouse, shop):
    line = paid_order.lines.get()
    other_line = OrderFactory(shop=shop, unshipped=True).lines.get()
    with pytest.raises(ActionNotAllowed, match="at most 1"):
        _report(paid_order, warehouse, line=line, quantity=2)
    with pytest.raises(ActionNotAllowed, match="at least 1"):
        _report(paid_order, warehouse, line=line, quantity=0)
    with pytest.raises(ActionNotAllowed, match="must be one of order"):
        _report(paid_order, warehouse, line=other_line)
    with pytest.raises(ActionNotAllowed, match="in the past"):
        _report(paid_order, warehouse, restock_expected=_today() - timedelta(days=1))
    assert not StockOut.objects.exists() and not StockOutEvent.objects.exists()


def test_one_open_report_per_item(paid_order, warehouse, agent):
    line = paid_order.lines.get()
    first = _report(paid_order, warehouse, line=line)
    with pytest.raises(ActionNotAllowed, match=f"#{first.pk}"):
        _report(paid_order, agent, line=line)
    with pytest.raises(ActionNotAllowed, match=f"#{first.pk}"):
        _report(paid_order, agent)  # the whole order covers the item already reported
    services.stockout_withdraw(stockout=first, actor=warehouse, reason="在 B 区找到了")
    again = _report(paid_order, agent, line=line)  # the first is settled: a new one is fine
    assert again.pk != first.pk


def test_permissions_and_shops(paid_order, finance, agent_b, warehouse):
    with pytest.raises(PermissionDeniedError):
        _report(paid_order, finance)  # finance reports nothing
    with pytest.raises(PermissionDeniedError):
        _report(paid_order, agent_b)  # another shop's agent
    stockout = _report(paid_order, warehouse)
    # the warehouse reports; telling the buyer is after-sales' work
    with pytest.raises(PermissionDeniedError):
        _tell(stockout, warehouse)
    with pytest.raises(PermissionDeniedError):
        _tell(stockout, agent_b)


def test_the_buyer_is_told_before_their_choice_is_recorded(paid_order, warehouse, agent):
    stockout = _report(paid_order, warehouse)
    with pytest.raises(ActionNotAllowed, match="Tell the buyer first"):
        services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                       remedy=StockOutRemedy.WAIT,
                                       agreed_ship_by=_today() + timedelta(days=5))
    with pytest.raises(ActionNotAllowed, match="Tell the buyer first"):
        services.stockout_refund(stockout=stockout, actor=agent)
    _tell(stockout, agent, outcome=ContactOutcome.NO_ANSWER)  # an attempt is not telling
    with pytest.raises(ActionNotAllowed, match="Tell the buyer first"):
        services.stockout_refund(stockout=stockout, actor=agent)
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.REPORTED and not Case.objects.exists()


def test_wait_for_the_restock(paid_order, warehouse, agent):
    stockout = _report(paid_order, warehouse)
    contact = _tell(stockout, agent)
    assert (contact.stockout_id, contact.shop_id, contact.buyer_id) == (
        stockout.pk, paid_order.shop_id, paid_order.buyer_id)
    day = _today() + timedelta(days=5)
    agreed = services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                            remedy=StockOutRemedy.WAIT, agreed_ship_by=day,
                                            expected_state=StockOutState.REPORTED)
    assert (agreed.state, agreed.remedy, agreed.agreed_ship_by) == ("agreed", "wait", day)
    assert agreed.buyer_told_at is not None
    # the restock slips: a new date is agreed only with the buyer told again
    later = day + timedelta(days=3)
    with pytest.raises(ActionNotAllowed, match="Tell the buyer again first"):
        services.stockout_buyer_agreed(stockout=agreed, actor=agent,
                                       remedy=StockOutRemedy.WAIT, agreed_ship_by=later)
    _tell(stockout, agent)
    again = services.stockout_buyer_agreed(stockout=agreed, actor=agent,
                                           remedy=StockOutRemedy.WAIT, agreed_ship_by=later)
    assert again.agreed_ship_by == later
    kinds = list(StockOutEvent.objects.filter(stockout=stockout)
                 .values_list("kind", "to_state"))
    assert kinds == [("created", "reported"), ("contact", ""), ("transition", "agreed"),
                     ("contact", ""), ("transition", "agreed")]


def test_the_agreed_date_and_choice_are_checked(paid_order, warehouse, agent):
    stockout = _report(paid_order, warehouse)
    _tell(stockout, agent)
    for remedy, day, message in [
        (StockOutRemedy.WAIT, _today() - timedelta(days=1), "in the past"),
        (StockOutRemedy.WAIT, _today() + timedelta(days=61), "more than 60 days"),
        ("cancel", _today(), "Choose what the buyer agreed"),
        (StockOutRemedy.SWAP, _today(), "which item or colour"),  # a swap says which
    ]:
        with pytest.raises(ActionNotAllowed, match=message):
            services.stockout_buyer_agreed(stockout=stockout, actor=agent, remedy=remedy,
                                           agreed_ship_by=day)
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.REPORTED and stockout.remedy == ""
    swapped = services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                             remedy=StockOutRemedy.SWAP, agreed_ship_by=_today(),
                                             note="换成白色 L 码")
    assert swapped.remedy == "swap"


def test_a_refund_opens_a_refund_only_case_for_the_whole_payment(paid_order, warehouse, agent,
                                                                  shop):
    shop.policy.instant_refund_limit = Decimal("0")  # no 极速退款: the case waits for a decision
    shop.policy.save()
    stockout = _report(paid_order, warehouse, line=paid_order.lines.get())
    _tell(stockout, agent, outcome=ContactOutcome.BUYER_AGREED)
    refunded = services.stockout_refund(stockout=stockout, actor=agent, note="买家选择退款")
    case = refunded.case
    assert refunded.state == StockOutState.REFUND and refunded.resolved_at is not None
    assert (case.kind, case.reason, case.state) == (
        CaseKind.REFUND_ONLY, CaseReason.OUT_OF_STOCK, CaseState.REQUESTED)
    # its only item, all of it: everything the buyer paid, postage too
    assert case.requested_amount == paid_order.paid_amount == Decimal("188.00")
    assert list(case.lines.all()) == [stockout.line]
    assert case.events.filter(kind="created").exists()


def test_a_refund_for_part_of_an_item_is_its_share(paid_order, warehouse, agent):
    line = paid_order.lines.get()
    OrderLine.objects.filter(pk=line.pk).update(quantity=3, paid_amount=Decimal("100.00"))
    OrderLineFactory(order=paid_order, title="袜子", paid_amount=Decimal("80.00"))
    line.refresh_from_db()
    stockout = _report(paid_order, warehouse, line=line, quantity=1)
    _tell(stockout, agent)
    case = services.stockout_refund(stockout=stockout, actor=agent).case
    assert case.requested_amount == Decimal("33.33")


def test_a_refund_takes_the_platforms_request_instead_of_a_second_case(paid_order, warehouse,
                                                                       agent):
    platform_case = make_case(order=paid_order, amount="188.00", reason=CaseReason.OTHER,
                              platform_refund_id="R-1")
    stockout = _report(paid_order, warehouse)
    _tell(stockout, agent)
    refunded = services.stockout_refund(stockout=stockout, actor=agent)
    assert refunded.case == platform_case
    assert Case.objects.count() == 1


def test_a_refund_never_passes_what_the_buyer_paid(paid_order, warehouse, agent, shop):
    # ¥150 already promised to the buyer on this order: ¥38 is left, not the ¥188 paid
    compensation_propose(case=make_case(order=paid_order, amount="150.00"), actor=agent,
                         kind="partial_refund", amount=Decimal("150.00"),
                         reason="Late delivery")
    Case.objects.update(state=CaseState.CLOSED)  # the case is over; its money is committed
    stockout = _report(paid_order, warehouse)
    _tell(stockout, agent)
    case = services.stockout_refund(stockout=stockout, actor=agent).case
    assert case.requested_amount == Decimal("38.00")


def test_nothing_left_to_refund_is_refused(paid_order, warehouse, agent):
    stockout = _report(paid_order, warehouse)
    _tell(stockout, agent)
    case = make_case(order=paid_order, amount="188.00")
    Refund.objects.create(case=case, order=paid_order, amount=Decimal("188.00"))
    Case.objects.update(state=CaseState.CLOSED)  # refunded in full meanwhile, and over
    with pytest.raises(ActionNotAllowed, match="Nothing is left to refund"):
        services.stockout_refund(stockout=stockout, actor=agent)
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.REPORTED and Case.objects.count() == 1
    # and an order refunded in full is not reported out of stock at all
    StockOut.objects.filter(pk=stockout.pk).update(state=StockOutState.WITHDRAWN)
    with pytest.raises(ActionNotAllowed, match="nothing to ship"):
        _report(paid_order, warehouse)
    assert StockOut.objects.count() == 1


def test_a_stale_page_is_refused(paid_order, warehouse, agent):
    stockout = _report(paid_order, warehouse)
    _tell(stockout, agent)
    services.stockout_ship(stockout=stockout, actor=warehouse)
    with pytest.raises(services.StockOutChanged):
        services.stockout_refund(stockout=stockout, actor=agent,
                                 expected_state=StockOutState.REPORTED)
    with pytest.raises(ActionNotAllowed, match="now “Shipped”"):
        services.stockout_refund(stockout=stockout, actor=agent)
    with pytest.raises(ActionNotAllowed, match="nothing to tell"):
        _tell(stockout, agent)


def test_withdraw_only_before_the_buyer_was_told_and_with_a_reason(paid_order, warehouse,
                                                                    agent):
    stockout = _report(paid_order, warehouse)
    with pytest.raises(ActionNotAllowed, match="where the stock was found"):
        services.stockout_withdraw(stockout=stockout, actor=warehouse, reason=" ")
    _tell(stockout, agent, outcome=ContactOutcome.NO_ANSWER)  # not told yet: still possible
    _tell(stockout, agent)
    with pytest.raises(ActionNotAllowed, match="has been told the goods are missing"):
        services.stockout_withdraw(stockout=stockout, actor=warehouse, reason="找到了")
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.REPORTED
    assert not StockOutEvent.objects.filter(stockout=stockout, kind="transition").exists()
    services.stockout_buyer_agreed(stockout=stockout, actor=agent, remedy=StockOutRemedy.WAIT,
                                   agreed_ship_by=_today())
    with pytest.raises(ActionNotAllowed, match="not possible"):
        services.stockout_withdraw(stockout=stockout, actor=warehouse, reason="找到了")


def test_the_harassment_guard_applies(paid_order, warehouse, agent, shop):
    shop.policy.max_calls_per_day = 0
    shop.policy.save()
    stockout = _report(paid_order, warehouse)
    with pytest.raises(ContactBlocked):
        _tell(stockout, agent)
    assert not ContactLog.objects.exists()
    assert not StockOutEvent.objects.filter(kind="contact").exists()


def test_a_supervisor_may_override_the_guard_with_a_reason(paid_order, warehouse, supervisor,
                                                           shop):
    shop.policy.max_calls_per_day = 0
    shop.policy.save()
    stockout = _report(paid_order, warehouse)
    contact = services.stockout_contact(stockout=stockout, actor=supervisor,
                                        channel=ContactChannel.PHONE,
                                        outcome=ContactOutcome.REACHED, override=True,
                                        override_reason="买家要求今天回电")
    assert contact.overridden_rule == "calls"


def test_the_order_import_settles_open_stockouts(paid_order, warehouse, agent, shop):
    shipped = _report(paid_order, warehouse)
    closed_order = OrderFactory(shop=shop, unshipped=True)
    closed = _report(closed_order, warehouse)
    waiting_order = OrderFactory(shop=shop, unshipped=True)
    waiting = _report(waiting_order, warehouse)
    paid_order.status, paid_order.shipped_at = OrderStatus.SHIPPED, timezone.now()
    paid_order.save()
    closed_order.status = OrderStatus.CLOSED
    closed_order.save()
    moved = services.stockouts_follow_orders([paid_order.pk, closed_order.pk,
                                              waiting_order.pk])
    assert moved == 2
    states = dict(StockOut.objects.values_list("pk", "state"))
    assert states == {shipped.pk: "shipped", closed.pk: "order_closed",
                      waiting.pk: "reported"}
    event = StockOutEvent.objects.get(stockout=shipped, kind="transition")
    assert event.staff_number == "SYSTEM" and event.actor is None
    assert event.data["text"]["code"] == "stockout_order_shipped"


def test_roles(roles, shop):
    clerk = make_staff("clerk", "warehouse", shop)
    assert clerk.has_perm("refunds.report_stockout")
    assert not clerk.has_perm("refunds.handle_stockout")


def test_withdrawn_before_the_buyer_was_reached(paid_order, warehouse, agent):
    stockout = _report(paid_order, warehouse)
    _tell(stockout, agent, outcome=ContactOutcome.NO_ANSWER)
    withdrawn = services.stockout_withdraw(stockout=stockout, actor=warehouse, reason="B 区找到")
    assert withdrawn.state == StockOutState.WITHDRAWN and withdrawn.resolved_at is not None


def test_a_refund_stockout_stands_against_a_second_report_closed_unpaid_too(
        paid_order, warehouse, agent):
    """One item, one story: a refund closed unpaid is not reported again, it goes back to
    the buyer's choice (where their contacts are)."""
    stockout = _report(paid_order, warehouse, line=paid_order.lines.get())
    _tell(stockout, agent)
    case = services.stockout_refund(stockout=stockout, actor=agent).case
    with pytest.raises(ActionNotAllowed, match=f"stock-out #{stockout.pk}"):
        _report(paid_order, warehouse, line=paid_order.lines.get())
    Case.objects.filter(pk=case.pk).update(state=CaseState.CLOSED)  # the buyer withdrew it
    with pytest.raises(ActionNotAllowed, match=f"stock-out #{stockout.pk}, whose refund was "
                                               "closed without paying"):
        _report(paid_order, warehouse, line=paid_order.lines.get())
    back = services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    assert back.state == StockOutState.REPORTED
    with pytest.raises(ActionNotAllowed, match=f"stock-out #{stockout.pk}"):
        _report(paid_order, warehouse, line=paid_order.lines.get())
    assert StockOut.objects.count() == 1


def _refunded_then_closed(paid_order, warehouse, agent):
    stockout = _report(paid_order, warehouse, line=paid_order.lines.get())
    _tell(stockout, agent)
    stockout = services.stockout_refund(stockout=stockout, actor=agent)
    Case.objects.filter(pk=stockout.case_id).update(state=CaseState.CLOSED)
    return StockOut.objects.get(pk=stockout.pk), stockout.case


def test_a_refund_closed_unpaid_goes_back_to_the_buyers_choice(paid_order, warehouse, agent):
    stockout, case = _refunded_then_closed(paid_order, warehouse, agent)
    assert stockout.refund_closed_unpaid
    back = services.stockout_refund_fell_through(stockout=stockout, actor=agent,
                                                 note="买家撤销了退款申请")
    assert back.state == StockOutState.REPORTED and back.is_open
    assert back.case == case and back.resolved_at is None  # the case stays linked
    event = back.events.latest("id")
    assert (event.transition, event.from_state, event.to_state) == (
        "refund_fell_through", "refund", "reported")
    assert event.data == {"case": case.pk, "amount": str(case.requested_amount)}
    assert event.note == "买家撤销了退款申请" and event.staff_number == "A1001"
    assert Case.objects.filter(pk=case.pk, state=CaseState.CLOSED).exists()  # left alone


def test_after_a_refund_closed_unpaid_the_buyer_is_told_again_before_a_choice(
        paid_order, warehouse, agent):
    stockout, _case = _refunded_then_closed(paid_order, warehouse, agent)
    stockout = services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    restock = _today() + timedelta(days=3)
    with pytest.raises(ActionNotAllowed, match="refund was closed without paying"):
        services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                       remedy=StockOutRemedy.WAIT, agreed_ship_by=restock)
    assert StockOut.objects.get(pk=stockout.pk).state == StockOutState.REPORTED
    _tell(stockout, agent)
    agreed = services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                            remedy=StockOutRemedy.WAIT, agreed_ship_by=restock)
    assert agreed.state == StockOutState.AGREED and agreed.agreed_ship_by == restock


def test_a_refund_chosen_again_opens_a_new_case_never_paying_twice(paid_order, warehouse,
                                                                   agent):
    stockout, first = _refunded_then_closed(paid_order, warehouse, agent)
    stockout = services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    _tell(stockout, agent)
    again = services.stockout_refund(stockout=stockout, actor=agent)
    assert again.state == StockOutState.REFUND and again.case_id != first.pk
    assert again.case.requested_amount <= paid_order.paid_amount
    assert Case.objects.filter(order=paid_order).exclude(state=CaseState.CLOSED).count() == 1


def test_only_a_refund_closed_unpaid_goes_back(paid_order, warehouse, agent, supervisor):
    stockout = _report(paid_order, warehouse, line=paid_order.lines.get())
    _tell(stockout, agent)
    stockout = services.stockout_refund(stockout=stockout, actor=agent)
    # the case may still pay the buyer
    with pytest.raises(ActionNotAllowed, match="is not possible"):
        services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    Case.objects.filter(pk=stockout.case_id).update(state=CaseState.CLOSED)
    # the warehouse reports; after-sales talks to the buyer
    with pytest.raises(PermissionDeniedError):
        services.stockout_refund_fell_through(stockout=stockout, actor=warehouse)
    # shipped meanwhile: nothing is left to choose, and it is no longer "closed unpaid"
    paid_order.status, paid_order.shipped_at = OrderStatus.SHIPPED, timezone.now()
    paid_order.save()
    assert not StockOut.objects.get(pk=stockout.pk).refund_closed_unpaid
    with pytest.raises(ActionNotAllowed, match="nothing is left to ship or to choose"):
        services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    assert StockOut.objects.get(pk=stockout.pk).state == StockOutState.REFUND


def test_a_case_that_paid_and_then_closed_on_a_review_is_not_unpaid(paid_order, warehouse,
                                                                    agent, supervisor, finance):
    """Refunded, reopened for a further amount (复核), closed: the goods were refunded."""
    paid_order.shop.policy.instant_refund_limit = Decimal("0")
    paid_order.shop.policy.save()
    stockout = _report(paid_order, warehouse, line=paid_order.lines.get())
    _tell(stockout, agent)
    stockout = services.stockout_refund(stockout=stockout, actor=agent)
    case = case_agree(case=stockout.case, actor=supervisor)
    assert Refund.objects.filter(case=case).exists()
    Case.objects.filter(pk=case.pk).update(state=CaseState.CLOSED)  # after a review, closed
    stockout = StockOut.objects.get(pk=stockout.pk)
    assert not stockout.refund_closed_unpaid
    assert not StockOut.objects.filter(refund_closed_unpaid_q()).exists()
    with pytest.raises(ActionNotAllowed, match=f"gave the buyer ¥{case.requested_amount} back"):
        services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    assert StockOut.objects.get(pk=stockout.pk).state == StockOutState.REFUND


def test_the_reopened_case_takes_the_stockout_back_to_the_refund(paid_order, warehouse,
                                                                   agent, supervisor):
    """Sent back, then the closed case reopened for review (复核) before the buyer chose
    again: the buyer's refund stands again at once — the stock-out is no longer "tell the
    buyer", and the goods cannot be agreed or shipped while that case may pay."""
    stockout, case = _refunded_then_closed(paid_order, warehouse, agent)
    stockout = services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    case_reopen(case=case, actor=supervisor, reason="买家申请复核")
    stockout = StockOut.objects.get(pk=stockout.pk)
    assert stockout.state == StockOutState.REFUND and stockout.case_id == case.pk
    assert stockout.resolved_at is not None and not stockout.refund_closed_unpaid
    event = stockout.events.latest("id")
    assert (event.transition, event.from_state, event.to_state, event.staff_number) == (
        "refund_reopened", "reported", "refund", "S3001")
    assert f"Refund case #{case.pk} was reopened for review" in event.note
    assert event.data["case"] == case.pk
    with pytest.raises(ActionNotAllowed, match="is not possible"):
        services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                       remedy=StockOutRemedy.WAIT,
                                       agreed_ship_by=_today() + timedelta(days=2))
    with pytest.raises(ActionNotAllowed, match="“Shipped” is not possible"):
        services.stockout_ship(stockout=stockout, actor=warehouse)
    assert StockOut.objects.get(pk=stockout.pk).state == StockOutState.REFUND
    assert Case.objects.filter(order=paid_order).count() == 1


def test_a_wait_agreed_after_the_send_back_is_off_when_the_case_reopens(
        paid_order, warehouse, agent, supervisor):
    stockout, case = _refunded_then_closed(paid_order, warehouse, agent)
    stockout = services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    _tell(stockout, agent)
    day = _today() + timedelta(days=4)
    stockout = services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                              remedy=StockOutRemedy.WAIT, agreed_ship_by=day)
    case_reopen(case=case, actor=supervisor, reason="买家又要求退款")
    stockout = StockOut.objects.get(pk=stockout.pk)
    assert stockout.state == StockOutState.REFUND
    assert (stockout.remedy, stockout.agreed_ship_by) == ("", None)
    event = stockout.events.latest("id")
    assert (event.transition, event.from_state) == ("refund_reopened", "agreed")
    assert f"the shipment agreed for {day.isoformat()} is off" in event.note
    # the agreed wait stays on the timeline
    assert stockout.events.filter(transition="buyer_agreed",
                                  data__agreed_ship_by=day.isoformat()).exists()


def test_a_reopened_case_that_closes_unpaid_again_goes_back_again(paid_order, warehouse,
                                                                  agent, supervisor):
    stockout, case = _refunded_then_closed(paid_order, warehouse, agent)
    stockout = services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    case = case_reopen(case=case, actor=supervisor, reason="买家申请复核")
    case_close(case=case, actor=agent, reason=CloseReason.WITHDRAWN)
    stockout = StockOut.objects.get(pk=stockout.pk)
    assert stockout.refund_closed_unpaid
    stockout = services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    assert stockout.state == StockOutState.REPORTED
    with pytest.raises(ActionNotAllowed, match="refund was closed without paying"):
        services.stockout_buyer_agreed(stockout=stockout, actor=agent,
                                       remedy=StockOutRemedy.WAIT,
                                       agreed_ship_by=_today() + timedelta(days=2))


def test_reopening_a_case_moves_only_the_stockouts_it_sent_back(paid_order, warehouse, agent,
                                                                 supervisor):
    """A refund chosen again opened a new case: the first one reopened is a matter of its own
    (the money rule caps both); a stock-out shipped since is left shipped."""
    stockout, first = _refunded_then_closed(paid_order, warehouse, agent)
    stockout = services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    _tell(stockout, agent)
    stockout = services.stockout_refund(stockout=stockout, actor=agent)
    second = stockout.case
    case_reopen(case=first, actor=supervisor, reason="买家申请复核")
    stockout = StockOut.objects.get(pk=stockout.pk)
    assert (stockout.state, stockout.case_id) == (StockOutState.REFUND, second.pk)
    assert not stockout.events.filter(transition="refund_reopened").exists()

    other = OrderFactory(shop=paid_order.shop, unshipped=True,
                         paid_at=timezone.now() - timedelta(hours=3))
    shipped, case = _refunded_then_closed(other, warehouse, agent)
    shipped = services.stockout_ship(stockout=shipped, actor=warehouse)
    case_reopen(case=case, actor=supervisor, reason="买家申请复核")
    assert StockOut.objects.get(pk=shipped.pk).state == StockOutState.SHIPPED


def test_a_case_reopened_meanwhile_is_not_sent_back(paid_order, warehouse, agent):
    """The page was read while the case was closed; a supervisor reopened it since (复核)."""
    stockout, case = _refunded_then_closed(paid_order, warehouse, agent)
    assert stockout.refund_closed_unpaid  # what the page showed
    Case.objects.filter(pk=case.pk).update(state=CaseState.REQUESTED)
    with pytest.raises(ActionNotAllowed):
        services.stockout_refund_fell_through(stockout=stockout, actor=agent,
                                              expected_state=StockOutState.REFUND)
    assert StockOut.objects.get(pk=stockout.pk).case_id == case.pk


def test_two_items_refunded_one_after_the_other_ask_no_more_than_was_paid(shop, warehouse,
                                                                          agent):
    """¥150 paid for two ¥100 items (a discount): the second refund asks what is left."""
    shop.policy.instant_refund_limit = Decimal("0")
    shop.policy.save()
    order = OrderFactory(shop=shop, unshipped=True, paid_amount=Decimal("150.00"),
                         goods_amount=Decimal("150.00"), postage=Decimal("0.00"))
    order.lines.update(paid_amount=Decimal("100.00"), quantity=1)
    OrderLineFactory(order=order, quantity=1, paid_amount=Decimal("100.00"))
    cases = []
    for line in order.lines.order_by("id"):
        stockout = _report(order, warehouse, line=line)
        _tell(stockout, agent)
        cases.append(services.stockout_refund(stockout=stockout, actor=agent).case)
    assert [case.requested_amount for case in cases] == [Decimal("100.00"), Decimal("50.00")]
    assert cases[0] != cases[1]


def test_the_order_import_settles_a_refund_closed_unpaid_not_a_paid_one(paid_order, warehouse,
                                                                        agent, supervisor,
                                                                        shop):
    """The platform shows the order shipped: goods the buyer withdrew the refund for went
    out (shipped); an item whose refund paid stays refunded."""
    unpaid, _case = _refunded_then_closed(paid_order, warehouse, agent)
    other = OrderFactory(shop=shop, unshipped=True)
    paid = _report(other, warehouse, line=other.lines.get())
    _tell(paid, agent)
    paid = services.stockout_refund(stockout=paid, actor=agent)
    case_agree(case=paid.case, actor=supervisor)
    Case.objects.filter(pk=paid.case_id).update(state=CaseState.CLOSED)
    for order in (paid_order, other):
        order.status, order.shipped_at = OrderStatus.SHIPPED, timezone.now()
        order.save()
    assert services.stockouts_follow_orders([paid_order.pk, other.pk]) == 1
    states = dict(StockOut.objects.values_list("pk", "state"))
    assert states == {unpaid.pk: StockOutState.SHIPPED, paid.pk: StockOutState.REFUND}
    event = StockOutEvent.objects.get(stockout=unpaid, transition="ship")
    assert (event.from_state, event.staff_number) == ("refund", "SYSTEM")


def test_a_refund_closed_unpaid_may_be_marked_shipped_a_paid_one_not(paid_order, warehouse,
                                                                     agent, supervisor):
    stockout, case = _refunded_then_closed(paid_order, warehouse, agent)
    shipped = services.stockout_ship(stockout=stockout, actor=warehouse, note="到货已发")
    assert shipped.state == StockOutState.SHIPPED and shipped.resolved_at is not None
    other = OrderFactory(shop=paid_order.shop, unshipped=True)
    paid = _report(other, warehouse, line=other.lines.get())
    _tell(paid, agent)
    paid = services.stockout_refund(stockout=paid, actor=agent)
    case_agree(case=paid.case, actor=supervisor)
    Case.objects.filter(pk=paid.case_id).update(state=CaseState.CLOSED)
    with pytest.raises(ActionNotAllowed, match="it is not shipped"):
        services.stockout_ship(stockout=StockOut.objects.get(pk=paid.pk), actor=warehouse)
    # a refund still pending cannot be marked shipped at all
    pending_order = OrderFactory(shop=paid_order.shop, unshipped=True)
    pending = _report(pending_order, warehouse, line=pending_order.lines.get())
    _tell(pending, agent)
    pending = services.stockout_refund(stockout=pending, actor=agent)
    with pytest.raises(ActionNotAllowed, match="is not possible"):
        services.stockout_ship(stockout=pending, actor=warehouse)
    assert StockOut.objects.get(pk=pending.pk).state == StockOutState.REFUND


def test_a_refund_closing_after_the_order_shipped_settles_its_stockout(paid_order, warehouse,
                                                                       agent):
    """The platform shipped the order while the refund was pending (the import left the
    stock-out alone); the refund then closes unpaid: the stock-out settles as shipped."""
    stockout = _report(paid_order, warehouse, line=paid_order.lines.get())
    _tell(stockout, agent)
    stockout = services.stockout_refund(stockout=stockout, actor=agent)
    paid_order.status, paid_order.shipped_at = OrderStatus.SHIPPED, timezone.now()
    paid_order.save()
    assert services.stockouts_follow_orders([paid_order.pk]) == 0  # the refund is pending
    case_close(case=stockout.case, actor=agent, reason=CloseReason.WITHDRAWN)
    settled = StockOut.objects.get(pk=stockout.pk)
    assert settled.state == StockOutState.SHIPPED and settled.resolved_at is not None
    event = settled.events.latest("id")
    assert (event.transition, event.from_state, event.staff_number) == (
        "ship", "refund", "SYSTEM")


def test_a_closed_order_is_not_marked_shipped(paid_order, warehouse, agent):
    stockout, case = _refunded_then_closed(paid_order, warehouse, agent)
    Order.objects.filter(pk=paid_order.pk).update(status=OrderStatus.CLOSED)  # not imported
    with pytest.raises(ActionNotAllowed, match="closed on the platform: it is not shipped"):
        services.stockout_ship(stockout=stockout, actor=warehouse)
    assert StockOut.objects.get(pk=stockout.pk).state == StockOutState.REFUND
