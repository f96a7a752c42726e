"""The money rule: nothing may take the total past what the buyer paid.

refundable = paid − refunds approved (pending, failed or paid)
                  − compensation proposed, approved or paid (declined frees it)
                  − reimbursements owed by the shop (return postage, exchange difference),
                    from the moment their payout exists, whatever its state
                  − what a complaint's ruling (维权/投诉) paid the buyer: the platform takes
                    it from the shop's account when it rules, so it counts as paid.
Every amount counts from the moment it is promised, paid or not: two promises can never spend
the same money. Call `ensure_refundable` only with the order row locked (see `refunds.locks`).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.db import connections, router
from django.db.models import DecimalField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from ..exceptions import AmountError
from ..models import (
    Compensation,
    CompensationKind,
    Complaint,
    Order,
    Payout,
    Refund,
    RefundStatus,
)
from ..models.compensation import COUNTED_STATES, CompensationState
from ..models.payouts import REIMBURSEMENT_KINDS, PayoutState

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("9999999999.99")  # max_digits=12, decimal_places=2


def clean_amount(value) -> Decimal:
    """A positive amount of yuan with at most two decimals, or AmountError."""
    if isinstance(value, float):
        raise AmountError(_("Amounts must be exact decimals, not floating point numbers."))
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise AmountError(_("Enter an amount such as 12.50.")) from None
    if not amount.is_finite():
        raise AmountError(_("Enter an amount such as 12.50."))
    if amount <= 0:
        raise AmountError(_("The amount must be more than zero."))
    if amount > MAX_AMOUNT:
        raise AmountError(_("The amount is too large."))
    if amount != amount.quantize(CENT):
        raise AmountError(_("Amounts have at most two decimal places (fen)."))
    return amount.quantize(CENT)


def given_back(cases) -> Decimal:
    """What the cases (a queryset of them) gave the buyer back for the goods, or committed
    to: their refunds (a failed one gave nothing) and their partial-refund compensations
    (部分退款, the item kept) from the proposal on. Postage and non-cash compensation are not
    for the goods. A complaint about one of the cases (售后维权) whose ruling paid the buyer
    gave that back too. Three queries."""
    refunds = (Refund.objects.filter(case__in=cases).exclude(status=RefundStatus.FAILED)
               .aggregate(total=Sum("amount"))["total"] or ZERO)
    partial = (Compensation.objects.filter(case__in=cases, state__in=COUNTED_STATES,
                                           kind=CompensationKind.PARTIAL_REFUND)
               .aggregate(total=Sum("amount"))["total"] or ZERO)
    rulings = (Complaint.objects.filter(case__in=cases, refund_amount__isnull=False)
               .aggregate(total=Sum("refund_amount"))["total"] or ZERO)
    return _money(refunds) + _money(partial) + _money(rulings)


def _order_sum(queryset, paid: Q | None = None, field: str = "amount") -> Coalesce:
    """Sum of `field` of the order's rows in `queryset` (optionally only the paid ones)."""
    rows = queryset.filter(order=OuterRef("pk"))
    if paid is not None:
        rows = rows.filter(paid)
    total = rows.order_by().values("order").annotate(total=Sum(field)).values("total")
    money = DecimalField(max_digits=14, decimal_places=2)
    return Coalesce(Subquery(total, output_field=money), ZERO, output_field=money)


def _sums(paid_too: bool) -> dict[str, Coalesce]:
    """The money rule's sums per order: committed per source, and what of it is paid."""
    compensation = Compensation.objects.filter(state__in=COUNTED_STATES)
    reimbursements = Payout.objects.filter(kind__in=REIMBURSEMENT_KINDS).exclude(
        state=PayoutState.CANCELLED)
    rulings = Complaint.objects.filter(refund_amount__isnull=False)
    sums = {
        "refunds": _order_sum(Refund.objects.all()),
        "compensation": _order_sum(compensation),
        "reimbursements": _order_sum(reimbursements),
        "complaints": _order_sum(rulings, field="refund_amount"),
    }
    if paid_too:
        sums |= {
            "refunds_paid": _order_sum(Refund.objects.all(), Q(status=RefundStatus.PAID)),
            "compensation_paid": _order_sum(compensation, Q(state=CompensationState.PAID)),
            "reimbursements_paid": _order_sum(reimbursements, Q(state=PayoutState.PAID)),
            "complaints_paid": _order_sum(rulings, field="refund_amount"),
        }
    return sums


def _money(value) -> Decimal:
    """A sum as the driver returns it, in yuan and fen: PostgreSQL gives a Decimal; SQLite,
    which sums decimals without their scale, an int (188 for 188.00) or a float (its repr is
    the shortest that reads back, so 0.1 + 0.2 is 0.30, as Django's own converter does)."""
    if isinstance(value, float):
        value = repr(value)
    return Decimal(value).quantize(CENT)


@lru_cache(maxsize=64)
def _compiled_sums(alias: str, vendor: str, paid_too: bool, count: int,
                   ) -> tuple[str, tuple, tuple[int, ...], tuple[str, ...]]:
    """The money rule's query for `count` orders as SQL, compiled by the ORM once per shape.

    Building and compiling its correlated sums costs the ORM ~1.4 ms, the statement itself
    0.02 ms (docs/PERFORMANCE.md), and every service, the case page and the imports check
    money. The ORM compiles it here for `count` order ids no row has (-1, -2, …); the
    positions of those ids among the parameters are where a call's real ids go. Returns
    (sql, parameters, positions of the order ids, names of the sums)."""
    sums = _sums(paid_too)
    marks = [-n for n in range(1, count + 1)]
    queryset = Order.objects.using(alias).filter(pk__in=marks).annotate(
        **{f"sum_{key}": value for key, value in sums.items()}
    ).values_list("pk", *(f"sum_{key}" for key in sums))
    sql, params = queryset.query.get_compiler(using=alias).as_sql()
    slots = tuple(n for n, param in enumerate(params) if type(param) is int and param < 0)
    if sorted(params[n] for n in slots) != sorted(marks):  # pragma: no cover - Django changed
        raise RuntimeError("the money query's order ids are not where they were expected")
    return sql, tuple(params), slots, tuple(sums)


def _order_figures(order_ids: Iterable[int], *, paid_too: bool) -> dict[int, dict[str, Decimal]]:
    """{order id: {sum name: amount}} for the money rule's sums (`_sums`), in one query."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    connection = connections[router.db_for_write(Order)]  # where the order row is locked
    sql, template, slots, names = _compiled_sums(connection.alias, connection.vendor,
                                                 paid_too, len(ids))
    params = list(template)
    for slot, order_id in zip(slots, ids, strict=True):  # each slot is one id of `IN (…)`
        params[slot] = order_id
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {pk: {name: _money(value) for name, value in zip(names, values, strict=True)}
            for pk, *values in rows}


def money_breakdown(order: Order) -> dict[str, Decimal]:
    """The money rule's figures for one order, from one query.

    Per source (refunds, compensation, reimbursements, complaints): `<source>` committed and
    `<source>_paid`; then the totals `refunded` (paid out), `pending` (committed, not paid
    yet) and `refundable` (what may still be promised).
    """
    figures = _order_figures([order.pk], paid_too=True)[order.pk]
    committed = (figures["refunds"] + figures["compensation"] + figures["reimbursements"]
                 + figures["complaints"])
    paid_out = (figures["refunds_paid"] + figures["compensation_paid"]
                + figures["reimbursements_paid"] + figures["complaints_paid"])
    return {
        "paid": order.paid_amount,
        **figures,
        "refunded": paid_out,
        "pending": committed - paid_out,
        "refundable": max(order.paid_amount - committed, ZERO),
    }


def money_summary(order: Order) -> dict[str, Decimal]:
    """Paid, paid out, promised but not yet paid, and what is still refundable."""
    figures = money_breakdown(order)
    return {key: figures[key] for key in ("paid", "refunded", "pending", "refundable")}


def refundable_amount(order: Order) -> Decimal:
    return refundable_amounts([order])[order.pk]


def refundable_amounts(orders: Iterable[Order]) -> dict[int, Decimal]:
    """`refundable_amount` of many orders in one query: {order id: still refundable}.

    For the set-based services (the nightly sweep), which hold every one of these order rows
    locked and then spend from the figures in memory, case after case, exactly as
    `ensure_refundable` would one at a time."""
    paid = {order.pk: order.paid_amount for order in orders}
    committed = committed_amounts(paid)
    return {pk: max(paid[pk] - committed[pk], ZERO) for pk in committed}


def committed_amounts(order_ids: Iterable[int]) -> dict[int, Decimal]:
    """{order id: what is committed on it}: refunds, counted compensation, reimbursements and
    complaint rulings, paid or not — the part of the paid amount that is no longer free. One
    query."""
    return {pk: sum(figures.values(), ZERO)
            for pk, figures in _order_figures(order_ids, paid_too=False).items()}


def ensure_refundable(order: Order, amount: Decimal) -> None:
    """Raise AmountError when `amount` is more than what is still refundable on `order`."""
    ensure_within(order, amount, refundable_amount(order))


def ensure_within(order: Order, amount: Decimal, available: Decimal) -> None:
    """Raise AmountError when `amount` is more than `available`, what the caller read as
    still refundable on `order` (row locked) minus what it has spent since."""
    if amount > available:
        raise AmountError(
            _(
                "¥%(amount)s is more than the ¥%(available)s still refundable on order "
                "%(order)s (paid ¥%(paid)s)."
            )
            % {"amount": amount, "available": available, "order": order.platform_order_id,
               "paid": order.paid_amount}
        )
