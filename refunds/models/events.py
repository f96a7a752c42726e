"""The case timeline. Rows are written by `refunds.events` constructors, never edited or deleted."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    TRANSITION = "transition", _("State change")
    NOTE = "note", _("Note")
    CONTACT = "contact", _("Contact")
    ASSIGNED = "assigned", _("Assigned")
    COMPENSATION = "compensation", _("Compensation")
    PAYOUT = "payout", _("Payout")
    INSPECTION = "inspection", _("Return inspected")
    CLAIM = "claim", _("Carrier claim")
    COMPLAINT = "complaint", _("Complaint (维权/投诉)")
    RECEIPT = "receipt", _("Confirm-receipt window (延长收货)")


class CaseEvent(models.Model):
    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, related_name="events",
                             verbose_name=_("case"))
    kind = models.CharField(_("kind"), max_length=12, choices=EventKind.choices)
    transition = models.CharField(_("transition"), max_length=40, blank=True)
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                              blank=True, related_name="+", verbose_name=_("by"))
    staff_number = models.CharField(_("staff number"), max_length=20)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="caseevent_case_time_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.staff_number} {self.get_kind_display()}"


class ContactChannel(models.TextChoices):
    IM = "im", _("IM (旺旺)")
    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")


class ContactOutcome(models.TextChoices):
    REACHED = "reached", _("Reached the buyer")
    NO_ANSWER = "no_answer", _("No answer")
    LEFT_MESSAGE = "left_message", _("Left a message")
    BUYER_AGREED = "buyer_agreed", _("Buyer agreed")
    BUYER_REFUSED = "buyer_refused", _("Buyer refused")


class ContactLog(models.Model):
    """Everything said to a buyer: channel, time, staff number, outcome."""

    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="contacts", verbose_name=_("case"))
    follow_up = models.ForeignKey("refunds.ReviewFollowUp", on_delete=models.PROTECT,
                                  null=True, blank=True, related_name="contacts",
                                  verbose_name=_("review follow-up"))
    stockout = models.ForeignKey("refunds.StockOut", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="contacts",
                                 verbose_name=_("stock-out"))
    inquiry = models.ForeignKey("refunds.ParcelInquiry", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="contacts",
                                verbose_name=_("parcel inquiry"))
    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+", verbose_name=_("shop"),
                             help_text=_("In whose name the buyer was contacted (the "
                                         "harassment guard counts per buyer and shop)."))
    buyer = models.ForeignKey("refunds.Buyer", on_delete=models.PROTECT,
                              related_name="contacts", verbose_name=_("buyer"))
    channel = models.CharField(_("channel"), max_length=10, choices=ContactChannel.choices)
    outcome = models.CharField(_("outcome"), max_length=20, choices=ContactOutcome.choices)
    note = models.TextField(_("note"), blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("by"))
    staff_number = models.CharField(_("staff number"), max_length=20)
    created_at = models.DateTimeField(_("when"), default=timezone.now)
    overridden_rule = models.CharField(
        _("guard rule overridden"), max_length=20, blank=True,
        help_text=_("The harassment-guard rule a supervisor overrode for this contact."),
    )
    override_reason = models.TextField(_("override reason"), blank=True)

    class Meta:
        verbose_name = _("contact log entry")
        verbose_name_plural = _("contact log")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["buyer", "created_at"], name="contact_buyer_time_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(overridden_rule="") | ~models.Q(override_reason=""),
                name="contact_override_has_reason",
            ),
        ]
        permissions = [
            ("override_contact_guard",
             _("Can override the harassment guard with a written reason")),
            ("lift_do_not_contact", _("Can lift a buyer's do-not-contact request")),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.get_outcome_display()}"
