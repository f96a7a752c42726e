"""Compensation (补偿): money or value given to a buyer on top of (or instead of) a refund.

Transitions only change the state and say whether they may run; `refunds.services.compensation`
locks, checks the money rule, saves and writes the case timeline around them.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from ..permissions import user_serves_shop


class CompensationKind(models.TextChoices):
    PARTIAL_REFUND = "partial_refund", _("Partial refund, item kept (部分退款)")
    POINTS = "points", _("Points (积分)")
    POSTAGE = "postage", _("Postage reimbursement (运费补偿)")
    COUPON = "coupon", _("Coupon or gift (优惠券/赠品)")


# Kinds finance pays in money (through a payout); the others are issued on the platform.
CASH_KINDS = frozenset({CompensationKind.PARTIAL_REFUND, CompensationKind.POSTAGE})


class CompensationState(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")
    PAID = "paid", _("Paid")


# States that count against the order's refundable amount: from the proposal on, so two
# proposals can never promise the same money; a declined one frees it again.
COUNTED_STATES = (CompensationState.PROPOSED, CompensationState.APPROVED, CompensationState.PAID)
APPROVED_STATES = (CompensationState.APPROVED, CompensationState.PAID)


# --- transition permissions -------------------------------------------------------------------


def can_approve_compensation(compensation: Compensation, user) -> bool:
    """Someone other than the proposer; above the policy limit only a supervisor."""
    if not (user.has_perm("refunds.approve_compensation")
            and user_serves_shop(user, compensation.shop_id)):
        return False
    if compensation.proposed_by_id == user.pk:
        return False
    if compensation.amount_for_approval() <= compensation.approval_limit():
        return True
    return user.has_perm("refunds.approve_over_limit")


def can_decline_compensation(compensation: Compensation, user) -> bool:
    """Any approver of the shop, the proposer included (withdrawing frees the money)."""
    return (user.has_perm("refunds.approve_compensation")
            and user_serves_shop(user, compensation.shop_id))


def can_settle_compensation(compensation: Compensation, user) -> bool:
    """Money is paid by finance; points and coupons are issued by the after-sales team."""
    if not user_serves_shop(user, compensation.shop_id):
        return False
    if compensation.is_cash:
        return user.has_perm("refunds.mark_refunded")
    return user.has_perm("refunds.issue_compensation")


class Compensation(ConcurrentTransitionMixin, models.Model):
    """One compensation offered on a case: kind, amount, reason, who proposed and approved."""

    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT,
                             related_name="compensations", verbose_name=_("shop"))
    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT,
                             related_name="compensations", verbose_name=_("case"))
    order = models.ForeignKey("refunds.Order", on_delete=models.PROTECT,
                              related_name="compensations", verbose_name=_("order"))
    kind = models.CharField(_("kind"), max_length=20, choices=CompensationKind.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=500)
    state = FSMField(_("state"), max_length=12, choices=CompensationState.choices,
                     default=CompensationState.PROPOSED, protected=True)

    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("proposed by"))
    proposed_staff_number = models.CharField(_("proposed by (staff number)"), max_length=20)
    proposed_at = models.DateTimeField(_("proposed"), default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("approved or declined by"))
    decided_staff_number = models.CharField(_("decided by (staff number)"), max_length=20,
                                            blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decline_reason = models.CharField(_("decline reason"), max_length=500, blank=True)
    paid_at = models.DateTimeField(_("paid or issued"), null=True, blank=True)
    payment_reference = models.CharField(_("payment or coupon reference"), max_length=100,
                                         blank=True)

    class Meta:
        verbose_name = _("compensation")
        verbose_name_plural = _("compensations")
        ordering = ["proposed_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0),
                                   name="compensation_amount_positive"),
            # The four-eyes rule, also for rows written outside the services.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("proposed_by"))
                | Q(state=CompensationState.DECLINED),
                name="compensation_approver_not_proposer",
            ),
        ]
        indexes = [models.Index(fields=["order", "state"], name="compensation_order_state_idx")]
        permissions = [
            ("propose_compensation", _("Can propose compensation")),
            ("approve_compensation", _("Can approve or decline compensation")),
            ("issue_compensation", _("Can record points or coupons as issued")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ¥{self.amount} ({self.get_state_display()})"

    @property
    def is_cash(self) -> bool:
        return self.kind in CASH_KINDS

    def amount_for_approval(self) -> Decimal:
        """This amount plus what is already approved on the case: pieces each below the limit
        add up, and their total is what a supervisor must see. The approving service reads it
        with the order row locked; a page may set `approved_before` from the rows it has."""
        before = getattr(self, "approved_before", None)
        if before is None:
            before = Compensation.objects.filter(
                case_id=self.case_id, state__in=APPROVED_STATES).exclude(pk=self.pk).aggregate(
                total=models.Sum("amount"))["total"] or Decimal("0.00")
        return self.amount + before

    def approval_limit(self) -> Decimal:
        """Above this a supervisor approves: the policy's limit, or else the order's postage."""
        limit = self.case.shop.policy.compensation_limit
        return self.order.postage if limit is None else limit

    # --- transitions ---------------------------------------------------------------------

    @transition(field=state, source=CompensationState.PROPOSED,
                target=CompensationState.APPROVED, permission=can_approve_compensation,
                custom={"label": _("Approve")})
    def approve(self):
        pass

    @transition(field=state, source=CompensationState.PROPOSED,
                target=CompensationState.DECLINED, permission=can_decline_compensation,
                custom={"label": _("Decline")})
    def decline(self):
        pass

    @transition(field=state, source=CompensationState.APPROVED, target=CompensationState.PAID,
                permission=can_settle_compensation, custom={"label": _("Mark paid or issued")})
    def mark_paid(self):
        pass
