"""Out of stock after payment (缺货): the buyer paid for goods the warehouse cannot ship.

DOMAIN.md: out-of-stock after payment — tell the buyer, never silently cancel. The material
(seeds/004): when the warehouse finds a paid item out of stock it tells customer service at
once, and customer service talks to the buyer — not a bare "we have none", but a choice.

So a stock-out is reported on an order to ship (the warehouse or an agent), and stays on the
orders-to-ship page until the buyer has been told and has chosen:
- to wait for the restock, or to take another item or colour, by a date agreed with them
  (the buyer's agreement is the shop's answer to a late-shipment complaint);
- a refund: a refund-only case on the order (the platform's own refund request, when it has
  come in, is taken instead of opening a second one).
Telling the buyer is a contact, logged through the harassment guard like every other.

States: reported → agreed (again, when a new date is agreed) → shipped; reported or agreed →
refund (the case takes over) → reported again when that case closed without paying the
buyer (they are told again and choose again) → refund again when a supervisor reopens that
case for review (复核) first; reported → withdrawn (the stock was found before the buyer was
told). The order import moves an open stock-out to shipped when the
platform shows the order shipped, and to order closed when the platform closed it.
Transitions only change the state and say whether they may run; `refunds.services.stockouts`
locks, saves and writes the timeline around them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from ..permissions import user_serves_shop
from .timeline import TimelineEvent


class StockOutState(models.TextChoices):
    REPORTED = "reported", _("Out of stock: tell the buyer")
    AGREED = "agreed", _("Buyer agreed to a later shipment")
    REFUND = "refund", _("Buyer takes a refund")
    SHIPPED = "shipped", _("Shipped")
    WITHDRAWN = "withdrawn", _("Withdrawn: stock found")
    ORDER_CLOSED = "order_closed", _("Order closed on the platform")


OPEN_STOCKOUT_STATES = [StockOutState.REPORTED, StockOutState.AGREED]
# What an unshipped order still carries: an open stock-out, or one the buyer takes a refund
# for — pending, paid, or closed unpaid (the goods are missing all the same). The orders to
# ship show these, and a second report of the same item is refused while one stands.
OUTSTANDING_STOCKOUT = Q(state__in=[*OPEN_STOCKOUT_STATES, StockOutState.REFUND])


def refund_gave_nothing_q() -> Q:
    """The buyer took a refund whose case closed without giving them anything back (no refund
    but a failed one, no partial refund, no complaint ruling that paid — what the money rule
    counts as given back). A case that paid and then closed on a further request (复核) did
    give something back."""
    from .compensation import COUNTED_STATES, Compensation, CompensationKind
    from .complaints import Complaint
    from .money import Refund, RefundStatus

    case = OuterRef("case_id")
    gave_back = (Exists(Refund.objects.filter(case=case).exclude(status=RefundStatus.FAILED))
                 | Exists(Compensation.objects.filter(case=case, state__in=COUNTED_STATES,
                                                      kind=CompensationKind.PARTIAL_REFUND))
                 | Exists(Complaint.objects.filter(case=case, refund_amount__isnull=False)))
    return Q(state=StockOutState.REFUND, case__state="closed") & ~gave_back


def refund_closed_unpaid_q() -> Q:
    """`refund_gave_nothing_q`, the order still to ship: the goods are still missing, the
    stock-out waits to go back to the buyer's choice (`StockOut.refund_fell_through`) or to
    be shipped when the goods come in. Once the platform shows the order shipped or closed,
    the order import settles it."""
    return refund_gave_nothing_q() & Q(order__status="paid", order__shipped_at__isnull=True)


def with_refund_closed_unpaid(queryset):
    """Stock-outs annotated with `closed_unpaid` (what `StockOut.refund_closed_unpaid`
    reads): one expression in the page's query, not a query per row."""
    return queryset.annotate(closed_unpaid=ExpressionWrapper(refund_closed_unpaid_q(),
                                                             output_field=BooleanField()))


class StockOutRemedy(models.TextChoices):
    WAIT = "wait", _("Waits for the restock (等待补货)")
    SWAP = "swap", _("Takes another item or colour (换款)")


def _role(codename: str):
    def check(stockout: StockOut, user) -> bool:
        return user.has_perm(f"refunds.{codename}") and user_serves_shop(user, stockout.shop_id)

    check.__name__ = f"can_{codename}"
    return check


can_report = _role("report_stockout")
can_handle = _role("handle_stockout")


def can_report_or_handle(stockout: StockOut, user) -> bool:
    """Whoever ships the order records that it shipped: the warehouse or after-sales."""
    return can_report(stockout, user) or can_handle(stockout, user)


def _open_or_refund_case_closed(stockout: StockOut) -> bool:
    """Shipped or order closed: from an open stock-out, or from a refund whose case closed
    (the service, and the import's query, check that it gave nothing back)."""
    return stockout.state in OPEN_STOCKOUT_STATES or _refund_case_closed(stockout)


def _has_case(stockout: StockOut) -> bool:
    return stockout.case_id is not None


def _refund_case_closed(stockout: StockOut) -> bool:
    """The transition's cheap condition; the service tells, with the rows locked, why one
    whose case gave money back or whose order shipped since cannot go back (the page offers
    it only for `refund_closed_unpaid`)."""
    return stockout.case_id is not None and stockout.case.state == "closed"


class StockOut(ConcurrentTransitionMixin, models.Model):
    """One item of a paid order the warehouse cannot ship (缺货登记)."""

    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT,
                             related_name="stockouts", verbose_name=_("shop"))
    order = models.ForeignKey("refunds.Order", on_delete=models.PROTECT,
                              related_name="stockouts", verbose_name=_("order"))
    line = models.ForeignKey("refunds.OrderLine", on_delete=models.PROTECT, null=True,
                             blank=True, related_name="+", verbose_name=_("item"),
                             help_text=_("Empty: the whole order is out of stock."))
    quantity = models.PositiveIntegerField(_("quantity out of stock"), default=1)
    restock_expected = models.DateField(
        _("restock expected"), null=True, blank=True,
        help_text=_("When the warehouse expects the goods (a China date), if it knows."))
    note = models.TextField(_("warehouse note"), blank=True)
    state = FSMField(_("state"), max_length=12, choices=StockOutState.choices,
                     default=StockOutState.REPORTED, protected=True)
    remedy = models.CharField(_("buyer's choice"), max_length=8, blank=True,
                              choices=StockOutRemedy.choices, editable=False)
    agreed_ship_by = models.DateField(
        _("ship by (agreed with the buyer)"), null=True, blank=True, editable=False)
    buyer_told_at = models.DateTimeField(_("buyer told"), null=True, blank=True,
                                         editable=False)
    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="stockouts", verbose_name=_("refund case"),
                             editable=False)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("reported by"))
    reported_at = models.DateTimeField(_("reported"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("stock-out (缺货)")
        verbose_name_plural = _("stock-outs (缺货)")
        ordering = ["reported_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="stockout_quantity_min"),
        ]
        indexes = [
            models.Index(fields=["order", "state"], name="stockout_order_state_idx"),
            models.Index(fields=["shop", "state"], name="stockout_shop_state_idx"),
        ]
        permissions = [
            ("report_stockout", _("Can report a paid order out of stock")),
            ("handle_stockout", _("Can tell the buyer of a stock-out and record their choice")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.order.platform_order_id}"

    def get_absolute_url(self) -> str:
        return reverse("refunds:stockout_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STOCKOUT_STATES

    # --- transitions ---------------------------------------------------------------------

    @transition(field=state, source=OPEN_STOCKOUT_STATES, target=StockOutState.AGREED,
                permission=can_handle,
                custom={"label": _("The buyer agreed to a later shipment")})
    def buyer_agreed(self):
        """Again from agreed: a new date, when the restock is later than promised."""

    @transition(field=state, source=OPEN_STOCKOUT_STATES, target=StockOutState.REFUND,
                permission=can_handle, custom={"label": _("The buyer takes a refund")})
    def refund(self):
        """The service opens (or takes) the refund-only case."""

    @property
    def refund_closed_unpaid(self) -> bool:
        """The buyer took a refund, but its case closed without paying them (cancelled, or
        refused and ruled for the shop), the order still to ship: the goods are still missing
        (`refund_closed_unpaid_q`). Read from the `closed_unpaid` annotation when the page's
        query has it, else one query."""
        if self.state != StockOutState.REFUND or self.case_id is None:
            return False
        annotated = getattr(self, "closed_unpaid", None)
        if annotated is not None:
            return bool(annotated)
        return StockOut.objects.filter(refund_closed_unpaid_q(), pk=self.pk).exists()

    @transition(field=state, source=StockOutState.REFUND, target=StockOutState.REPORTED,
                conditions=[_refund_case_closed],
                permission=can_handle,
                custom={"label": _("The refund was closed unpaid: tell the buyer again")})
    def refund_fell_through(self):
        """Back to the buyer's choice: the service checks the case under its lock."""

    @transition(field=state, source=OPEN_STOCKOUT_STATES, target=StockOutState.REFUND,
                conditions=[_has_case],
                custom={"label": _("The refund case was reopened for review (复核)")})
    def refund_reopened(self):
        """The refund case that closed unpaid (and sent the stock-out back) is reopened for
        review: the buyer's refund stands again, and the goods must not ship while it may
        pay. Only the case's reopening runs this (it checks the reopener's permission)."""

    @transition(field=state, source=[*OPEN_STOCKOUT_STATES, StockOutState.REFUND],
                target=StockOutState.SHIPPED, conditions=[_open_or_refund_case_closed],
                permission=can_report_or_handle, custom={"label": _("Shipped")})
    def ship(self):
        """Also what the order import does when the platform shows the order shipped."""

    @transition(field=state, source=StockOutState.REPORTED, target=StockOutState.WITHDRAWN,
                permission=can_report_or_handle,
                custom={"label": _("Withdraw: the stock was found")})
    def withdraw(self):
        """Only before the buyer was told: after that, the order ships or is refunded."""

    @transition(field=state, source=[*OPEN_STOCKOUT_STATES, StockOutState.REFUND],
                target=StockOutState.ORDER_CLOSED, conditions=[_open_or_refund_case_closed],
                custom={"label": _("Order closed on the platform")})
    def order_closed(self):
        """The order import, when the platform closed the order (no user runs this)."""


class StockOutEventKind(models.TextChoices):
    CREATED = "created", _("Reported")
    TRANSITION = "transition", _("State change")
    CONTACT = "contact", _("Contact")


class StockOutEvent(TimelineEvent):
    """The stock-out's timeline, like CaseEvent: written by `refunds.services.stockouts`,
    never edited. `actor` is empty for what the order import did (staff number SYSTEM)."""

    stockout = models.ForeignKey(StockOut, on_delete=models.PROTECT, related_name="events",
                                 verbose_name=_("stock-out"))
    kind = models.CharField(_("kind"), max_length=12, choices=StockOutEventKind.choices)

    class Meta(TimelineEvent.Meta):
        verbose_name = _("stock-out event")
        verbose_name_plural = _("stock-out events")
        indexes = [models.Index(fields=["stockout", "created_at"],
                                name="stockoutevent_time_idx")]
