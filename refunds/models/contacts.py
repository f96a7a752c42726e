"""What a buyer asked of the shop about being contacted (the do-not-contact flag's history)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BuyerEventKind(models.TextChoices):
    DO_NOT_CONTACT = "do_not_contact", _("Buyer asked not to be contacted")
    CONTACT_ALLOWED = "contact_allowed", _("Do-not-contact lifted")


class BuyerEvent(models.Model):
    """The buyer's timeline: written by `refunds.events`, never edited or deleted."""

    buyer = models.ForeignKey("refunds.Buyer", on_delete=models.PROTECT, related_name="events",
                              verbose_name=_("buyer"))
    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("shop"),
                             help_text=_("The shop whose staff recorded it."))
    kind = models.CharField(_("kind"), max_length=20, choices=BuyerEventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("by"))
    staff_number = models.CharField(_("staff number"), max_length=20)
    note = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("buyer event")
        verbose_name_plural = _("buyer events")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["buyer", "created_at"], name="buyerevent_time_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.staff_number} {self.get_kind_display()}"
