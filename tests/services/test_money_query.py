"""The money rule's query, compiled once by the ORM and reused (`money._order_figures`): the
same figures as the ORM's own query, for every source and state, on both databases."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import DecimalField
from django.db.models.functions import Cast
from django.test.utils import CaptureQueriesContext

from refunds.models import (
    Compensation,
    CompensationKind,
    CompensationState,
    Order,
    Payout,
    PayoutBatch,
    PayoutKind,
    PayoutState,
    Refund,
    RefundStatus,
)
from refunds.services import money
from tests.factories import OrderFactory, make_case

CENT = Decimal("0.01")


def orm_figures(order_ids: list[int], *, paid_too: bool) -> dict[int, dict[str, Decimal]]:
    """The reference: the same sums through the ORM's query and its converters."""
    sums = money._sums(paid_too)
    money_field = DecimalField(max_digits=14, decimal_places=2)
    rows = Order.objects.filter(pk__in=order_ids).annotate(
        **{f"sum_{key}": Cast(value, money_field) for key, value in sums.items()}
    ).values("pk", *(f"sum_{key}" for key in sums))
    return {row["pk"]: {key: Decimal(row[f"sum_{key}"]).quantize(CENT) for key in sums}
            for row in rows}


def amount(rng: random.Random) -> Decimal:
    # fen that binary floating point cannot hold exactly (0.10, 0.20, 0.70 …)
    return Decimal(rng.randrange(1, 3000)) / 10 + Decimal(rng.choice([0, 1, 7])) / 100


@pytest.fixture
def someone(db):
    return User.objects.create_user("money-test")


@pytest.fixture
def orders_with_money(shop, someone):
    """Orders with refunds, compensation and reimbursements in every state; one with none."""
    rng = random.Random(7)
    batch = PayoutBatch.objects.create(shop=shop, created_by=someone, staff_number="F1")
    orders = []
    for n in range(6):
        order = OrderFactory(shop=shop, paid_amount=Decimal("99999.00"))
        case = make_case(order=order, amount="1.00")
        for status in [RefundStatus.PENDING, RefundStatus.FAILED, RefundStatus.PAID][: n % 4]:
            Refund.objects.create(case=case, order=order, amount=amount(rng), status=status)
        for state in list(CompensationState)[: n + 1]:
            Compensation.objects.create(shop=shop, case=case, order=order,
                                        kind=CompensationKind.POINTS, amount=amount(rng),
                                        reason="r", proposed_by=someone,
                                        proposed_staff_number="A1", state=state)
        for kind in (PayoutKind.POSTAGE, PayoutKind.EXCHANGE_DIFFERENCE, PayoutKind.REFUND):
            for state in list(PayoutState)[: n + 1]:
                refund = Refund.objects.create(case=case, order=order, amount=amount(rng)) \
                    if kind == PayoutKind.REFUND else None  # a refund's payout is not counted
                Payout.objects.create(
                    shop=shop, order=order, case=case, kind=kind, refund=refund,
                    amount=amount(rng), reason="r", created_by=someone, staff_number="A1",
                    state=state, payment_reference="BANK-1" if state == PayoutState.PAID else "",
                    batch=batch if state == PayoutState.EXPORTED else None)
        orders.append(order)
    orders.append(OrderFactory(shop=shop))  # nothing on it: zeros
    return orders


@pytest.mark.django_db
@pytest.mark.parametrize("paid_too", [False, True])
def test_the_compiled_query_gives_the_orms_figures_for_every_source_and_state(
        orders_with_money, paid_too):
    ids = [order.pk for order in orders_with_money]

    figures = money._order_figures(ids, paid_too=paid_too)

    assert figures == orm_figures(ids, paid_too=paid_too)
    assert any(value % 1 for row in figures.values() for value in row.values())  # fen summed
    assert all(value == 0 for value in figures[ids[-1]].values())


@pytest.mark.django_db
def test_each_order_gets_its_own_figures_whatever_the_order_of_the_ids(orders_with_money):
    ids = [order.pk for order in orders_with_money]
    expected = orm_figures(ids, paid_too=False)

    for chosen in (ids[::-1], ids[2:5], [ids[3], ids[1], ids[3]], [ids[0]]):
        assert money._order_figures(chosen, paid_too=False) == {
            pk: expected[pk] for pk in chosen}


@pytest.mark.django_db
def test_an_order_that_does_not_exist_has_no_figures_and_no_ids_run_no_query(
        orders_with_money):
    with CaptureQueriesContext(connection) as queries:
        assert money._order_figures([], paid_too=True) == {}
    assert not queries.captured_queries

    existing = orders_with_money[0].pk
    assert set(money._order_figures([existing, 10**9], paid_too=False)) == {existing}


@pytest.mark.django_db
def test_the_query_is_compiled_once_per_shape_and_then_only_run(orders_with_money):
    money._compiled_sums.cache_clear()
    ids = [order.pk for order in orders_with_money]

    for pk in ids:
        money.refundable_amount(Order.objects.get(pk=pk))
    money.money_breakdown(orders_with_money[0])
    money.committed_amounts(ids)

    info = money._compiled_sums.cache_info()
    assert (info.misses, info.hits) == (3, len(ids) - 1)  # one order, with paid, seven orders


@pytest.mark.django_db
def test_the_breakdown_and_the_refundable_amount_follow_a_new_refund(shop, someone):
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    case = make_case(order=order, amount="30.10")
    before = money.money_breakdown(order)

    Refund.objects.create(case=case, order=order, amount=Decimal("30.10"),
                          status=RefundStatus.PAID)
    Compensation.objects.create(shop=shop, case=case, order=order,
                                kind=CompensationKind.POINTS, amount=Decimal("0.20"),
                                reason="r", proposed_by=someone, proposed_staff_number="A1",
                                state=CompensationState.PROPOSED)
    after = money.money_breakdown(order)

    assert before["refundable"] == Decimal("188.00")
    assert (after["refunds_paid"], after["compensation"], after["pending"]) == (
        Decimal("30.10"), Decimal("0.20"), Decimal("0.20"))
    assert after["refundable"] == money.refundable_amount(order) == Decimal("157.70")
