"""The money rule: nothing may take the total past what the buyer paid.

refundable = paid − refunds approved (pending, failed or paid) − compensation.
Call `ensure_refundable` only with the order row locked (see `refunds.locks`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from ..exceptions import AmountError
from ..models import Order, Refund, RefundStatus

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


def money_summary(order: Order) -> dict[str, Decimal]:
    """Paid, refunded (paid out), approved but not yet paid, and what is still refundable.

    Every approved refund counts from approval, paid or not: two approvals can never spend
    the same money.
    """
    totals = Refund.objects.filter(order=order).aggregate(
        paid_out=Coalesce(Sum("amount", filter=Q(status=RefundStatus.PAID)), ZERO),
        committed=Coalesce(Sum("amount"), ZERO),
    )
    # SQLite sums decimals without their scale (188 for 188.00): put the fen back.
    paid_out, committed = (Decimal(totals[key]).quantize(CENT) for key in ("paid_out", "committed"))
    return {
        "paid": order.paid_amount,
        "refunded": paid_out,
        "pending": committed - paid_out,
        "refundable": max(order.paid_amount - committed, ZERO),
    }


def refundable_amount(order: Order) -> Decimal:
    return money_summary(order)["refundable"]


def ensure_refundable(order: Order, amount: Decimal) -> None:
    """Raise AmountError when `amount` is more than what is still refundable on `order`."""
    available = refundable_amount(order)
    if amount > available:
        raise AmountError(
            _(
                "¥%(amount)s is more than the ¥%(available)s still refundable on order "
                "%(order)s (paid ¥%(paid)s)."
            )
            % {"amount": amount, "available": available, "order": order.platform_order_id,
               "paid": order.paid_amount}
        )
