"""The after-sales case (售后单) and its state machine.

Transitions here only change the state (and say whether they may run); they never save,
lock or write the timeline: `refunds.services.cases` does that around them.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition
from django_fsm_log.decorators import fsm_log_by, fsm_log_description

from ..permissions import user_serves_shop
from .orders import Order, OrderLine
from .shops import Shop


class CaseKind(models.TextChoices):
    REFUND_ONLY = "refund_only", _("Refund only (仅退款)")
    RETURN = "return", _("Return and refund (退货退款)")
    EXCHANGE = "exchange", _("Exchange (换货)")


class CaseReason(models.TextChoices):
    NO_REASON = "no_reason", _("7 days no reason (七天无理由)")
    QUALITY = "quality", _("Quality problem (质量问题)")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described (描述不符)")
    WRONG_ITEM = "wrong_item", _("Wrong or missing item (错发/漏发)")
    DAMAGED = "damaged", _("Damaged in transit (运输破损)")
    NOT_RECEIVED = "not_received", _("Not received (未收到货)")
    SIZE = "size", _("Size or colour (尺码/颜色不合适)")
    OUT_OF_STOCK = "out_of_stock", _("Out of stock (缺货)")
    OTHER = "other", _("Other (其他)")


class GoodsStatus(models.TextChoices):
    NOT_RECEIVED = "buyer_not_received", _("Buyer has not received (买家未收到货)")
    RECEIVED = "buyer_received", _("Buyer received (买家已收到货)")
    RETURNED = "buyer_returned", _("Buyer returned (买家已退货)")
    SELLER_RECEIVED = "seller_received", _("Seller received the return (卖家已收到退货)")


class CaseState(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    REFUSED = "refused", _("Refused")
    AWAITING_RETURN = "awaiting_return", _("Awaiting return")
    RETURN_IN_TRANSIT = "return_in_transit", _("Return in transit")
    RECEIVED = "received", _("Received")
    REFUND_PENDING = "refund_pending", _("Refund pending")
    REFUND_FAILED = "refund_failed", _("Refund failed")
    REFUNDED = "refunded", _("Refunded")
    CLOSED = "closed", _("Closed")
    REPLACEMENT_SHIPPED = "replacement_shipped", _("Replacement shipped")
    COMPLETED = "completed", _("Exchange completed")
    IN_DISPUTE = "in_dispute", _("In dispute (平台介入)")


OPEN_STATES = [
    CaseState.REQUESTED,
    CaseState.REFUSED,
    CaseState.AWAITING_RETURN,
    CaseState.RETURN_IN_TRANSIT,
    CaseState.RECEIVED,
    CaseState.REFUND_PENDING,
    CaseState.REFUND_FAILED,
    CaseState.REPLACEMENT_SHIPPED,
    CaseState.IN_DISPUTE,
]

# Where a buyer can ask the platform to step in (平台介入): any open state before the money is
# approved — typically after a refusal, or over a returned parcel's condition.
DISPUTABLE_STATES = [
    CaseState.REQUESTED,
    CaseState.REFUSED,
    CaseState.AWAITING_RETURN,
    CaseState.RETURN_IN_TRANSIT,
    CaseState.RECEIVED,
]


class DeadlineOwner(models.TextChoices):
    SHOP = "shop", _("Shop (after-sales)")
    BUYER = "buyer", _("Buyer")
    WAREHOUSE = "warehouse", _("Warehouse")
    FINANCE = "finance", _("Finance")


class CloseReason(models.TextChoices):
    WITHDRAWN = "withdrawn", _("Buyer withdrew the request")
    TIMEOUT = "timeout", _("Timed out")
    PLATFORM_RULING = "platform_ruling", _("Platform ruled against the buyer")
    DUPLICATE = "duplicate", _("Duplicate request")
    OTHER = "other", _("Other")


# --- transition permissions: role permission + the user serves the case's shop -------------


def _role(codename: str):
    def check(case: Case, user) -> bool:
        return user.has_perm(f"refunds.{codename}") and user_serves_shop(user, case.shop_id)

    check.__name__ = f"can_{codename}"
    return check


def can_approve_amount(case: Case, user) -> bool:
    """Agents approve up to the shop's limit; above it only a supervisor (approve_over_limit)."""
    if not user_serves_shop(user, case.shop_id):
        return False
    if not (user.has_perm("refunds.agree_case") or user.has_perm("refunds.approve_refund")):
        return False
    if case.amount_for_approval() <= case.shop.policy.agent_approval_limit:
        return True
    return user.has_perm("refunds.approve_over_limit")


def can_agree(case: Case, user) -> bool:
    if not (user.has_perm("refunds.agree_case") and user_serves_shop(user, case.shop_id)):
        return False
    if case.kind == CaseKind.REFUND_ONLY:  # agreeing a refund-only request commits money
        return can_approve_amount(case, user)
    return True


def can_approve_refund(case: Case, user) -> bool:
    return user.has_perm("refunds.approve_refund") and can_approve_amount(case, user)


def platform_only(case: Case, user) -> bool:
    """Only the platform's own rules (services called with actor=None) take this transition."""
    return False


# --- transition conditions (side-effect free) ---------------------------------------------


def refusal_allowed(case: Case) -> bool:
    """七天无理由: a resellable return inside the window may not be refused."""
    return not case.no_reason_protected()


def is_return_kind(case: Case) -> bool:
    return case.kind in (CaseKind.RETURN, CaseKind.EXCHANGE)


def refund_after_return(case: Case) -> bool:
    """Exchanges stop at `received` (the replacement flow is separate)."""
    return case.kind == CaseKind.RETURN


def is_exchange(case: Case) -> bool:
    return case.kind == CaseKind.EXCHANGE


class Case(ConcurrentTransitionMixin, models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="cases",
                             verbose_name=_("shop"))
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="cases",
                              verbose_name=_("order"))
    lines = models.ManyToManyField(OrderLine, blank=True, related_name="cases",
                                   verbose_name=_("order lines"))
    platform_refund_id = models.CharField(_("refund id (退款编号)"), max_length=64, blank=True)

    kind = models.CharField(_("kind"), max_length=16, choices=CaseKind.choices)
    reason = models.CharField(_("reason"), max_length=20, choices=CaseReason.choices)
    description = models.TextField(_("buyer's description"), blank=True)
    requested_amount = models.DecimalField(_("requested amount"), max_digits=12,
                                           decimal_places=2)
    goods_status = models.CharField(_("goods status"), max_length=20,
                                    choices=GoodsStatus.choices,
                                    default=GoodsStatus.NOT_RECEIVED)
    resellable = models.BooleanField(
        _("resellable (不影响二次销售)"), null=True, blank=True,
        help_text=_("Unknown until the goods are inspected."),
    )
    return_address = models.TextField(_("return address"), blank=True)
    return_carrier = models.CharField(_("return carrier"), max_length=50, blank=True)
    return_tracking_no = models.CharField(_("return tracking number"), max_length=64,
                                          blank=True)
    return_shipped_at = models.DateTimeField(_("return shipped"), null=True, blank=True)
    refusal_reason = models.CharField(_("refusal reason"), max_length=200, blank=True)
    close_reason = models.CharField(_("close reason"), max_length=20,
                                    choices=CloseReason.choices, blank=True)

    state = FSMField(_("state"), max_length=20, choices=CaseState.choices,
                     default=CaseState.REQUESTED, protected=True)
    deadline_at = models.DateTimeField(_("next deadline"), null=True, blank=True)
    deadline_owner = models.CharField(_("deadline owner"), max_length=12,
                                      choices=DeadlineOwner.choices, blank=True)
    deadline_rule = models.CharField(_("deadline rule"), max_length=40, blank=True,
                                     help_text=_("Which policy rule set the current deadline."))

    platform_status = models.CharField(
        _("platform status"), max_length=40, blank=True,
        help_text=_("The platform's refund status at the last import (e.g. WAIT_SELLER_AGREE)."),
    )
    platform_modified_at = models.DateTimeField(_("platform modified"), null=True, blank=True)
    warned_deadline_at = models.DateTimeField(
        _("warned for deadline"), null=True, blank=True, editable=False,
        help_text=_("The deadline the last warning was sent for (the sweep warns once)."),
    )
    dispute_opened_at = models.DateTimeField(
        _("dispute opened"), null=True, blank=True, editable=False,
        help_text=_("When the platform stepped in (平台介入): the evidence deadline counts "
                    "from here."))
    dispute_evidence_at = models.DateTimeField(
        _("dispute evidence submitted"), null=True, blank=True, editable=False,
        help_text=_("When the shop first submitted its evidence to the platform."))
    photos_requested_at = models.DateTimeField(
        _("quality photos asked for"), null=True, blank=True, editable=False)
    photos_due_at = models.DateTimeField(
        _("quality photos due"), null=True, blank=True, editable=False,
        help_text=_("The buyer's time to send photos of the problem (the policy's hours); "
                    "without them the request may be refused."))
    photos_received_at = models.DateTimeField(
        _("quality photos received"), null=True, blank=True, editable=False)
    photos_reminded_at = models.DateTimeField(
        _("missing photos notified"), null=True, blank=True, editable=False,
        help_text=_("When the sweep told the case's people the photos did not come in time."))
    escalated_deadline_at = models.DateTimeField(
        _("escalated for deadline"), null=True, blank=True, editable=False,
        help_text=_("The passed deadline the platform escalated the case for (Kuaishou's "
                    "review): the sweep records an escalation once."),
    )

    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 null=True, blank=True, related_name="assigned_cases",
                                 verbose_name=_("assignee"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="created_cases",
                                   verbose_name=_("created by"))
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["deadline_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(requested_amount__gt=0),
                                   name="case_requested_amount_positive"),
            models.UniqueConstraint(fields=["shop", "platform_refund_id"],
                                    condition=~Q(platform_refund_id=""),
                                    name="case_unique_refund_id_per_shop"),
        ]
        indexes = [
            models.Index(fields=["state", "deadline_at"], name="case_state_deadline_idx"),
            models.Index(fields=["shop", "state", "deadline_at"], name="case_shop_state_dl_idx"),
            models.Index(fields=["return_tracking_no"], name="case_return_tracking_idx"),
            models.Index(fields=["platform_refund_id"], name="case_refund_id_idx"),
            models.Index(fields=["assignee", "state"], name="case_assignee_state_idx"),
            # The queue's default order (deadline, nulls last, then id) read straight from an
            # index, for one shop's agents and for those who see every shop (docs/PERFORMANCE.md).
            models.Index(fields=["shop", "deadline_at", "id"], name="case_shop_deadline_idx"),
            models.Index(fields=["deadline_at", "id"], name="case_deadline_idx"),
            # "My cases" / one assignee's, in the same order; the shop second so that SQLite,
            # which keeps no statistics, prefers it to the shop's index (two equalities).
            models.Index(fields=["assignee", "shop", "deadline_at", "id"],
                         name="case_assignee_dl_idx"),
            # the queue's other sorts (newest request, largest amount), id last as the sort is
            models.Index(fields=["shop", "requested_at", "id"], name="case_shop_requested_idx"),
            models.Index(fields=["shop", "requested_amount", "id"], name="case_shop_amount_idx"),
        ]
        permissions = [
            ("agree_case", _("Can agree to a request")),
            ("refuse_case", _("Can refuse a request")),
            ("modify_request", _("Can record the buyer's modified request")),
            ("record_return_shipment", _("Can record the buyer's return shipment")),
            ("receive_return", _("Can receive returned goods")),
            ("approve_refund", _("Can approve a refund after the return")),
            ("approve_over_limit", _("Can approve refunds above the agent limit")),
            ("mark_refunded", _("Can mark refunds paid or failed")),
            ("close_case", _("Can close a case")),
            ("reopen_case", _("Can reopen a case for review")),
            ("assign_case", _("Can assign cases to colleagues")),
            ("log_contact", _("Can log contacts and notes")),
            ("ship_replacement", _("Can record an exchange's replacement shipment")),
            ("complete_exchange", _("Can complete an exchange")),
            ("handle_dispute", _("Can record a platform dispute and the evidence submitted")),
            ("record_dispute_ruling", _("Can record the platform's ruling on a dispute")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.order.platform_order_id}"

    def get_absolute_url(self) -> str:
        return reverse("refunds:case_detail", args=[self.pk])

    # --- read-side helpers used by conditions and permissions -----------------------------

    def amount_for_approval(self) -> Decimal:
        """The request plus every refund already on the order (its other cases', and this
        case's own from before a 复核): one order's refunds split over cases or reviews, each
        below the agent's limit, add up to what a supervisor must approve. The services read
        it with the order row locked; the case page's query brings `refunds_on_order`."""
        before = getattr(self, "refunds_on_order", None)
        if before is None:
            from .money import Refund

            before = Refund.objects.filter(order_id=self.order_id).aggregate(
                total=models.Sum("amount"))["total"]
        return self.requested_amount + (before or Decimal("0.00"))

    def no_reason_protected(self) -> bool:
        """七天无理由: a no-reason request asked inside the window may not be refused unless
        the goods came back not resellable. The window is judged when the buyer asked, not
        when someone refuses: waiting, or the days the parcel travels back, must not take
        the buyer's right away."""
        if self.reason != CaseReason.NO_REASON or self.resellable is False:
            return False
        order = self.order
        start = order.delivered_at or order.shipped_at
        if start is None:  # not shipped yet: the window has not even started
            return True
        window = self.shop.policy.no_reason_return_days
        return self.requested_at <= start + timezone.timedelta(days=window)

    @property
    def is_escalated(self) -> bool:
        """Kuaishou escalated the request when its review deadline passed (the sweep noted
        it), and nobody has decided it since (a new state clears it; the platform re-dating
        the deadline does not)."""
        return self.state == CaseState.REQUESTED and self.escalated_deadline_at is not None

    @property
    def photos_pending(self) -> bool:
        """Quality photos were asked for and have not come yet."""
        return self.photos_requested_at is not None and self.photos_received_at is None

    @property
    def photos_awaited(self) -> bool:
        """… and the request still waits for the shop's decision on them. Once the case is
        decided, photos that never came are history, not a warning."""
        return self.state == CaseState.REQUESTED and self.photos_pending

    @property
    def photos_overdue(self) -> bool:
        """… and the buyer's time is up: the request may be refused (凭证不足). The sweep's
        `photos_missing` uses the same boundary (strictly past the due time)."""
        return (self.photos_awaited and self.photos_due_at is not None
                and self.photos_due_at < timezone.now())

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # --- transitions ---------------------------------------------------------------------

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.REQUESTED,
                target=RETURN_VALUE(CaseState.REFUND_PENDING, CaseState.AWAITING_RETURN),
                permission=can_agree, custom={"label": _("Agree")})
    def agree(self, by=None, description=None):
        if self.kind == CaseKind.REFUND_ONLY:
            return CaseState.REFUND_PENDING
        return CaseState.AWAITING_RETURN

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=[CaseState.REQUESTED, CaseState.RECEIVED],
                target=CaseState.REFUSED, conditions=[refusal_allowed],
                permission=_role("refuse_case"), custom={"label": _("Refuse")})
    def refuse(self, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.REFUSED, target=CaseState.REQUESTED,
                permission=_role("modify_request"),
                custom={"label": _("Buyer modified the request")})
    def buyer_modify(self, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.AWAITING_RETURN,
                target=CaseState.RETURN_IN_TRANSIT, conditions=[is_return_kind],
                permission=_role("record_return_shipment"),
                custom={"label": _("Record return shipment")})
    def record_return_shipment(self, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=[CaseState.AWAITING_RETURN, CaseState.RETURN_IN_TRANSIT],
                target=CaseState.RECEIVED, conditions=[is_return_kind],
                permission=_role("receive_return"), custom={"label": _("Receive return")})
    def receive(self, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.RECEIVED, target=CaseState.REFUND_PENDING,
                conditions=[refund_after_return], permission=can_approve_refund,
                custom={"label": _("Approve refund")})
    def approve_refund(self, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.RECEIVED, target=CaseState.REPLACEMENT_SHIPPED,
                conditions=[is_exchange], permission=_role("ship_replacement"),
                custom={"label": _("Replacement shipped")})
    def ship_replacement(self, by=None, description=None):
        """换货: the replacement left with its own carrier and tracking number."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.REPLACEMENT_SHIPPED, target=CaseState.COMPLETED,
                conditions=[is_exchange], permission=_role("complete_exchange"),
                custom={"label": _("Complete exchange")})
    def complete_exchange(self, by=None, description=None):
        """The buyer has the replacement and nothing is owed either way."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.REFUND_PENDING, target=CaseState.REFUNDED,
                permission=_role("mark_refunded"), custom={"label": _("Mark refunded")})
    def mark_refunded(self, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.REFUND_PENDING, target=CaseState.REFUND_FAILED,
                permission=_role("mark_refunded"), custom={"label": _("Refund failed")})
    def mark_refund_failed(self, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.REFUND_FAILED, target=CaseState.REFUND_PENDING,
                permission=_role("mark_refunded"), custom={"label": _("Retry refund")})
    def retry_refund(self, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=DISPUTABLE_STATES, target=CaseState.IN_DISPUTE,
                permission=_role("handle_dispute"),
                custom={"label": _("The platform stepped in (平台介入)")})
    def open_dispute(self, by=None, description=None):
        """The buyer asked the platform to arbitrate; the shop must submit its evidence."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.IN_DISPUTE, target=CaseState.IN_DISPUTE,
                permission=_role("handle_dispute"),
                custom={"label": _("Evidence submitted to the platform")})
    def submit_dispute_evidence(self, by=None, description=None):
        """The shop's evidence is with the platform: the platform rules, no deadline of ours."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.IN_DISPUTE, target=CaseState.REFUNDED,
                permission=_role("record_dispute_ruling"),
                custom={"label": _("Ruled for the buyer: the platform refunded")})
    def dispute_for_buyer(self, by=None, description=None):
        """The ruling binds: the platform refunded the buyer from the shop's account."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.IN_DISPUTE,
                target=RETURN_VALUE(CaseState.AWAITING_RETURN, CaseState.RETURN_IN_TRANSIT),
                conditions=[is_return_kind], permission=_role("record_dispute_ruling"),
                custom={"label": _("Ruled: the buyer returns the goods first")})
    def dispute_return_first(self, by=None, description=None):
        """The platform ruled 退货退款: the buyer sends the goods back, the refund follows
        their receipt as for any return. A parcel already on its way (shipped before the
        dispute) is awaited by the warehouse; otherwise the buyer's time to ship runs."""
        if self.return_shipped_at is not None and self.return_tracking_no:
            return CaseState.RETURN_IN_TRANSIT
        return CaseState.AWAITING_RETURN

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=CaseState.IN_DISPUTE, target=CaseState.CLOSED,
                permission=_role("record_dispute_ruling"),
                custom={"label": _("Ruled for the shop: the request is closed")})
    def dispute_for_shop(self, by=None, description=None):
        """The platform ruled against the buyer: the request closes."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state,
                source=[CaseState.REQUESTED, CaseState.REFUSED, CaseState.AWAITING_RETURN,
                        CaseState.RETURN_IN_TRANSIT, CaseState.IN_DISPUTE],
                target=CaseState.CLOSED, permission=_role("close_case"),
                custom={"label": _("Close")})
    def close(self, by=None, description=None):
        pass

    @fsm_log_by
    @fsm_log_description
    @transition(field=state,
                source=[CaseState.REQUESTED, CaseState.AWAITING_RETURN,
                        CaseState.RETURN_IN_TRANSIT, CaseState.RECEIVED,
                        CaseState.REFUND_PENDING, CaseState.REFUND_FAILED,
                        CaseState.IN_DISPUTE],
                target=CaseState.REFUNDED, permission=platform_only,
                custom={"label": _("Refunded by the platform")})
    def platform_refund(self, by=None, description=None):
        """The platform paid the buyer itself (auto-refund at a deadline, or a ruling)."""

    @fsm_log_by
    @fsm_log_description
    @transition(field=state, source=[CaseState.REFUNDED, CaseState.CLOSED],
                target=CaseState.REQUESTED, permission=_role("reopen_case"),
                custom={"label": _("Reopen for review (复核)")})
    def reopen(self, by=None, description=None):
        pass
