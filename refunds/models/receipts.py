"""The buyer's confirm-receipt window (确认收货时间) and the shop's extensions (延长收货).

Once an order is shipped, the platform completes the trade by itself when the buyer has not
confirmed receipt within the window (自动确认收货: ten days on Taobao by default). A completed
trade pays the shop; a return or exchange still being sorted out then turns into an
after-sale claim the buyer must start again. The material (seeds/004): when a buyer asks to
return or exchange, look at when the order will confirm itself, and if that is soon, extend
it (延长收货) so the order does not complete meanwhile.

The platform is where the window is extended; the desk records it (no platform API here), so
that everyone sees the date the order really completes and the nightly `sweep_receipts` warns
before it. Each record is a `ReceiptWindowChange`, never edited or deleted:
- *extended*: the shop extended the window in the seller centre by some days;
- *read*: the date as the seller centre shows it, entered by an agent (the classic order
  export has no ship time, so the desk starts from an estimate, see `Order.
  confirm_receipt_estimated`).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The lengths the seller centre offers for one extension (淘宝 延长收货: 3, 5, 7 or 10 days).
EXTENSION_DAYS = (3, 5, 7, 10)


class ReceiptChangeKind(models.TextChoices):
    EXTENDED = "extended", _("Extended in the seller centre (延长收货)")
    READ = "read", _("Date read from the seller centre")


class ReceiptWindowChange(models.Model):
    """One change of an order's confirm-receipt date, made by a person (import estimates are
    not changes: they are where the window starts)."""

    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("shop"))
    order = models.ForeignKey("refunds.Order", on_delete=models.PROTECT,
                              related_name="receipt_changes", verbose_name=_("order"))
    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+", verbose_name=_("case"),
                             help_text=_("The case the agent was working on, if any."))
    kind = models.CharField(_("kind"), max_length=10, choices=ReceiptChangeKind.choices)
    days = models.PositiveSmallIntegerField(_("days added"), null=True, blank=True)
    previous_confirm_by = models.DateTimeField(_("auto-confirmed before"), null=True,
                                               blank=True)
    previous_estimated = models.BooleanField(_("that date was an estimate"), default=False)
    confirm_by = models.DateTimeField(_("auto-confirms after the change"))
    note = models.TextField(_("note"), blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("by"))
    staff_number = models.CharField(_("staff number"), max_length=20)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("confirm-receipt change (延长收货)")
        verbose_name_plural = _("confirm-receipt changes (延长收货)")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="extended", days__gte=1) | Q(kind="read", days__isnull=True)),
                name="receiptchange_days_by_kind"),
        ]
        indexes = [models.Index(fields=["order", "created_at"], name="receiptchange_order_idx")]
        permissions = [
            ("extend_receipt", _("Can record a confirm-receipt extension (延长收货)")),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.get_kind_display()} {self.confirm_by:%Y-%m-%d %H:%M}"
