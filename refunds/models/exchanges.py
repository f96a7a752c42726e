"""After inspection: exchanges (换货) and the deduction lines of a refund (扣款)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Exchange(models.Model):
    """The replacement of an exchange case and how the price difference is settled (多退少补).

    difference = replacement price − value of the returned goods. Below zero the shop owes
    the buyer: a payout (kind exchange difference) is made, checked against the money rule.
    Above zero the buyer owes it: recorded here, shown until settled, and the replacement
    does not ship before.
    """

    case = models.OneToOneField("refunds.Case", on_delete=models.PROTECT,
                                related_name="exchange", verbose_name=_("case"))
    replacement_title = models.CharField(_("replacement item"), max_length=200)
    replacement_sku = models.CharField(_("replacement SKU"), max_length=100, blank=True)
    replacement_price = models.DecimalField(_("replacement price"), max_digits=12,
                                            decimal_places=2)
    returned_value = models.DecimalField(_("value of the returned goods"), max_digits=12,
                                         decimal_places=2)
    payout = models.OneToOneField("refunds.Payout", on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="exchange",
                                  verbose_name=_("payout of the difference"))
    buyer_owes = models.DecimalField(_("buyer owes"), max_digits=12, decimal_places=2,
                                     default=0)
    buyer_settled_at = models.DateTimeField(_("buyer paid the difference"), null=True,
                                            blank=True)
    buyer_settled_reference = models.CharField(_("buyer's payment reference"), max_length=100,
                                               blank=True)
    buyer_settled_staff_number = models.CharField(_("recorded by (staff number)"),
                                                  max_length=20, blank=True)
    chosen_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  null=True, blank=True, related_name="+",
                                  verbose_name=_("chosen by"))
    chosen_staff_number = models.CharField(_("chosen by (staff number)"), max_length=20)
    chosen_at = models.DateTimeField(_("chosen"), default=timezone.now)
    carrier = models.CharField(_("replacement carrier"), max_length=50, blank=True)
    tracking_no = models.CharField(_("replacement tracking number"), max_length=64,
                                   blank=True)
    shipped_at = models.DateTimeField(_("replacement shipped"), null=True, blank=True)

    class Meta:
        verbose_name = _("exchange")
        verbose_name_plural = _("exchanges")
        constraints = [
            models.CheckConstraint(condition=Q(replacement_price__gte=0),
                                   name="exchange_price_not_negative"),
            models.CheckConstraint(condition=Q(returned_value__gte=0),
                                   name="exchange_returned_value_not_negative"),
            models.CheckConstraint(condition=Q(buyer_owes__gte=0),
                                   name="exchange_buyer_owes_not_negative"),
        ]
        permissions = [("choose_replacement", _("Can choose an exchange's replacement"))]

    def __str__(self) -> str:
        return f"{self.replacement_title} ¥{self.replacement_price}"

    @property
    def difference(self):
        return self.replacement_price - self.returned_value

    @property
    def buyer_outstanding(self):
        """What the buyer still owes (0 once settled)."""
        return self.buyer_owes if self.buyer_settled_at is None else Decimal("0.00")


class RefundDeduction(models.Model):
    """Money kept from a refund, with its reason (e.g. 天猫 5% fee, tax points when the invoice
    is not returned): the refund is the approved amount minus these, never a silent
    difference."""

    refund = models.ForeignKey("refunds.Refund", on_delete=models.PROTECT,
                               related_name="deductions", verbose_name=_("refund"))
    reason = models.CharField(_("reason"), max_length=200)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("refund deduction")
        verbose_name_plural = _("refund deductions")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="deduction_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} ¥{self.amount}"
