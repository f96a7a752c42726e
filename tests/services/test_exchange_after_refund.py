"""换货 多退 after an earlier refund on the same order: the returned goods are worth what the
buyer still has in the order, so the money refunded before is not paid back again inside
the exchange difference."""

from decimal import Decimal

import pytest

from refunds.models import CaseKind, CaseReason, OrderLine
from refunds.services import cases as case_svc
from refunds.services import exchanges as ex_svc
from tests.factories import OrderFactory, make_case


def _received(case):
    case = case_svc.case_agree(case=case, actor=None)
    case = case_svc.case_record_return_shipment(case=case, actor=None, carrier="中通",
                                                tracking_no="ZT9")
    return case_svc.case_receive(case=case, actor=None, resellable=True)


@pytest.mark.parametrize("with_lines", [True, False], ids=["case-with-lines", "no-lines"])
def test_exchange_difference_counts_what_was_already_refunded(shop, agent, with_lines):
    # Order 188 (one line of 180). The buyer first gets 90 back (refund-only, agreed).
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    line = OrderLine.objects.get(order=order)
    if not with_lines:
        # the exchange request is opened first, for the whole item ...
        exchange_case = make_case(order=order, kind=CaseKind.EXCHANGE, reason=CaseReason.SIZE,
                                  amount="180.00")
    case_svc.case_agree(case=make_case(order=order, amount="90.00"), actor=agent)
    if with_lines:
        exchange_case = make_case(order=order, kind=CaseKind.EXCHANGE, reason=CaseReason.SIZE,
                                  amount="90.00", lines=[line])
    exchange_case = _received(exchange_case)

    # ... then the goods come back and a ¥100 replacement is chosen.
    exchange = ex_svc.exchange_choose_replacement(case=exchange_case, actor=agent,
                                                  title="同款 M 码", price="100.00")

    # The buyer has 188 − 90 = 98 left in the order: a ¥100 replacement means the buyer owes
    # ¥2. Valued at the full price (180) the shop paid ¥80 more: 170 back and a ¥100 item.
    assert exchange.returned_value == Decimal("98.00")
    assert (exchange.buyer_owes, exchange.payout) == (Decimal("2.00"), None)


def test_on_a_two_line_order_the_other_lines_money_does_not_count_for_the_returned_one(
        shop, agent):
    """Lines A and B of ¥100 each, ¥200 paid; A was refunded ¥90 (a defect), then exchanged:
    A is worth ¥10 to the buyer, though the order still holds ¥110."""
    order = OrderFactory(shop=shop, paid_amount=Decimal("200.00"),
                         goods_amount=Decimal("200.00"), postage=Decimal("0.00"))
    line_a = OrderLine.objects.get(order=order)
    line_a.paid_amount = Decimal("100.00")
    line_a.save()
    OrderLine.objects.create(order=order, title="B", quantity=1, paid_amount=Decimal("100.00"))
    case_svc.case_agree(case=make_case(order=order, amount="90.00", lines=[line_a]),
                        actor=agent)
    exchange_case = _received(make_case(order=order, kind=CaseKind.EXCHANGE,
                                        reason=CaseReason.SIZE, amount="10.00",
                                        lines=[line_a]))

    exchange = ex_svc.exchange_choose_replacement(case=exchange_case, actor=agent,
                                                  title="A 换色", price="100.00")

    assert (exchange.returned_value, exchange.buyer_owes, exchange.payout) == (
        Decimal("10.00"), Decimal("90.00"), None)
