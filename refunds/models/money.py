"""Money rows. Never deleted: a refund that failed stays, with its reason, and is retried."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending payment")
    FAILED = "failed", _("Failed")
    PAID = "paid", _("Paid")


class Refund(models.Model):
    """One approved refund of a case: what finance must pay (or has paid) back to the buyer.

    Every row counts against the order's refundable amount from the moment it is approved,
    whatever its status, so two approvals can never both spend the same money.
    """

    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, related_name="refunds",
                             verbose_name=_("case"))
    order = models.ForeignKey("refunds.Order", on_delete=models.PROTECT, related_name="refunds",
                              verbose_name=_("order"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    status = models.CharField(_("status"), max_length=10, choices=RefundStatus.choices,
                              default=RefundStatus.PENDING)
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+",
                                    verbose_name=_("approved by"))
    approved_at = models.DateTimeField(_("approved"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["approved_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"¥{self.amount} ({self.get_status_display()})"
