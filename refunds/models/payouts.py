"""Payouts (付款): what finance must pay a buyer, one row per refund, compensation or
reimbursement, and the export batches finance pays them from.

pending → exported (in a batch) → paid (payment reference) or failed (reason) → retried
(pending again, exported in a later batch). Never deleted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from ..permissions import user_serves_shop


class PayoutKind(models.TextChoices):
    REFUND = "refund", _("Refund")
    COMPENSATION = "compensation", _("Compensation")
    POSTAGE = "postage", _("Return postage reimbursement")
    EXCHANGE_DIFFERENCE = "exchange_diff", _("Exchange price difference (多退)")


# Payouts that are their own money record (no Refund or Compensation row behind them): the
# money rule counts them as "reimbursements".
REIMBURSEMENT_KINDS = (PayoutKind.POSTAGE, PayoutKind.EXCHANGE_DIFFERENCE)


class PayoutRoute(models.TextChoices):
    ORIGINAL = "original", _("Original route (原路退回)")
    ALIPAY = "alipay", _("Buyer's Alipay account")


class PayoutState(models.TextChoices):
    PENDING = "pending", _("Pending")
    EXPORTED = "exported", _("Exported")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")
    # what it was for did not happen (an exchange that ended in a refund or a refusal):
    # never paid, and no longer counted against what the buyer paid
    CANCELLED = "cancelled", _("Cancelled")


def can_pay(payout: Payout, user) -> bool:
    return user.has_perm("refunds.mark_refunded") and user_serves_shop(user, payout.shop_id)


def can_export(payout: Payout, user) -> bool:
    return user.has_perm("refunds.export_payouts") and user_serves_shop(user, payout.shop_id)


class PayoutBatch(models.Model):
    """One export of pending payouts of a shop (a file finance pays from).

    Open while any of its payouts is still exported (neither paid nor failed).
    """

    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT,
                             related_name="payout_batches", verbose_name=_("shop"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("exported by"))
    staff_number = models.CharField(_("staff number"), max_length=20)
    created_at = models.DateTimeField(_("exported"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True,
                                     help_text=_("Every payout of the batch is paid or failed."))
    payout_count = models.PositiveIntegerField(_("payouts"), default=0)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=0)
    source = models.CharField(_("source"), max_length=20, default="page",
                              help_text=_("page or command"))

    class Meta:
        verbose_name = _("payout batch")
        verbose_name_plural = _("payout batches")
        ordering = ["-created_at", "-id"]
        permissions = [("export_payouts", _("Can export payout batches"))]

    def __str__(self) -> str:
        return f"#{self.pk} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Payout(ConcurrentTransitionMixin, models.Model):
    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT, related_name="payouts",
                             verbose_name=_("shop"))
    order = models.ForeignKey("refunds.Order", on_delete=models.PROTECT,
                              related_name="payouts", verbose_name=_("order"))
    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, related_name="payouts",
                             verbose_name=_("case"))
    kind = models.CharField(_("kind"), max_length=16, choices=PayoutKind.choices)
    refund = models.OneToOneField("refunds.Refund", on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="payout", verbose_name=_("refund"))
    compensation = models.OneToOneField("refunds.Compensation", on_delete=models.PROTECT,
                                        null=True, blank=True, related_name="payout",
                                        verbose_name=_("compensation"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    # room for a compensation's whole reason (500) after its kind: nothing is cut off
    reason = models.CharField(_("reason"), max_length=600)
    route = models.CharField(_("route"), max_length=10, choices=PayoutRoute.choices,
                             default=PayoutRoute.ORIGINAL)
    account = models.CharField(_("account"), max_length=100, blank=True,
                               help_text=_("The buyer's Alipay account when paid to Alipay."))
    state = FSMField(_("state"), max_length=10, choices=PayoutState.choices,
                     default=PayoutState.PENDING, protected=True)
    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="payouts", verbose_name=_("current batch"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("approved by"))
    staff_number = models.CharField(_("staff number"), max_length=20,
                                    help_text=_("Who approved the money."))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    settled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("paid or failed by"))
    settled_staff_number = models.CharField(_("paid or failed by (staff number)"),
                                            max_length=20, blank=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    # The platform refunded the buyer itself while this payout was in the bank file of its
    # batch (`batch`, kept): the file leaves it out from then on, and if the bank paid it
    # too, the buyer was paid twice.
    paid_by_platform_in_batch = models.BooleanField(
        _("paid by the platform while in a bank batch"), default=False,
        help_text=_("Left out of its batch's bank file. If the bank paid it too, recover the "
                    "money from the buyer."))

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(
                condition=(Q(kind=PayoutKind.REFUND, refund__isnull=False,
                             compensation__isnull=True)
                           | Q(kind=PayoutKind.COMPENSATION, refund__isnull=True,
                               compensation__isnull=False)
                           | Q(kind__in=REIMBURSEMENT_KINDS, refund__isnull=True,
                               compensation__isnull=True)),
                name="payout_source_matches_kind",
            ),
            # An exported payout is in exactly one batch.
            models.CheckConstraint(
                condition=~Q(state=PayoutState.EXPORTED) | Q(batch__isnull=False),
                name="payout_exported_has_batch",
            ),
            models.CheckConstraint(
                condition=~Q(state=PayoutState.PAID) | ~Q(payment_reference=""),
                name="payout_paid_has_reference",
            ),
            models.CheckConstraint(
                condition=(Q(paid_by_platform_in_batch=False)
                           | Q(state=PayoutState.PAID, batch__isnull=False)),
                name="payout_paid_by_platform_in_batch_is_paid",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "state", "created_at"], name="payout_shop_state_idx"),
            models.Index(fields=["order", "kind"], name="payout_order_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} ¥{self.amount} ({self.get_state_display()})"

    # --- transitions (services lock, save and write the timeline) ------------------------

    @transition(field=state, source=PayoutState.PENDING, target=PayoutState.EXPORTED,
                permission=can_export, custom={"label": _("Export")})
    def export(self):
        pass

    @transition(field=state, source=[PayoutState.PENDING, PayoutState.EXPORTED],
                target=PayoutState.PAID, permission=can_pay, custom={"label": _("Mark paid")})
    def mark_paid(self):
        pass

    @transition(field=state, source=[PayoutState.PENDING, PayoutState.EXPORTED],
                target=PayoutState.FAILED, permission=can_pay,
                custom={"label": _("Mark failed")})
    def mark_failed(self):
        pass

    @transition(field=state, source=PayoutState.FAILED, target=PayoutState.PENDING,
                permission=can_pay, custom={"label": _("Retry")})
    def retry(self):
        pass

    # Only with the case transition that makes it pointless (its permission is checked
    # there), and only before the money left: an exported or paid payout cannot be undone.
    @transition(field=state, source=[PayoutState.PENDING, PayoutState.FAILED],
                target=PayoutState.CANCELLED, custom={"label": _("Cancel")})
    def cancel(self):
        pass


class PayoutBatchItem(models.Model):
    """A payout as it went out in a batch: the batch's file can be written again, unchanged,
    even after the payout failed and went out again in a later batch."""

    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="items",
                              verbose_name=_("batch"))
    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, related_name="batch_items",
                               verbose_name=_("payout"))

    class Meta:
        verbose_name = _("payout batch line")
        verbose_name_plural = _("payout batch lines")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "payout"], name="payout_once_per_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.payout_id}"
