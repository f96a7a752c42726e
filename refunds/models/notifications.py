from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    DEADLINE_WARNING = "deadline_warning", _("Deadline approaching")
    DEADLINE_ACTION = "deadline_action", _("Deadline passed: the platform rule was applied")
    ESCALATED = "escalated", _("Deadline passed: the platform escalated the request")
    PHOTOS_MISSING = "photos_missing", _("Quality photos not received in time")
    SWEEP_FAILURE = "sweep_failure", _("Nightly sweep could not handle a case")
    REVIEW_WARNING = "review_warning", _("Review revision window closing")
    COMPLAINT_WARNING = "complaint_warning", _("Complaint evidence due soon")
    COMPLAINT_RULED = "complaint_ruled", _("Complaint ruled by the platform (no evidence)")
    COMPLAINT_UNRECORDED = "complaint_unrecord", _(
        "Complaint ruled by the platform: not recorded (money rule)")
    PAID_BY_PLATFORM_IN_BATCH = "platform_paid_batch", _(
        "Refunded by the platform while in a bank batch")
    STOCKOUT_DUE = "stockout_due", _("Out of stock: the buyer's choice is not recorded")
    STOCKOUT_LATE = "stockout_late", _("Out of stock: the date agreed with the buyer passed")
    STOCKOUT_UNPAID = "stockout_unpaid", _("Out of stock: the buyer's refund was closed unpaid")
    RECEIPT_DUE = "receipt_due", _("The order confirms receipt by itself soon (延长收货)")
    INQUIRY_DUE = "inquiry_due", _("Parcel inquiry: the buyer's answer is due")
    INQUIRY_CALLBACK = "inquiry_callback", _("Parcel inquiry: the carrier has not called back")


class Notification(models.Model):
    """An in-app message to a staff member (shown on the queue page; also emailed)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notifications", verbose_name=_("user"))
    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="notifications", verbose_name=_("case"))
    follow_up = models.ForeignKey("refunds.ReviewFollowUp", on_delete=models.PROTECT,
                                  null=True, blank=True, related_name="notifications",
                                  verbose_name=_("review follow-up"))
    complaint = models.ForeignKey("refunds.Complaint", on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="notifications",
                                  verbose_name=_("complaint"))
    stockout = models.ForeignKey("refunds.StockOut", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="notifications",
                                 verbose_name=_("stock-out"))
    inquiry = models.ForeignKey("refunds.ParcelInquiry", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="notifications",
                                verbose_name=_("parcel inquiry"))
    kind = models.CharField(_("kind"), max_length=20, choices=NotificationKind.choices)
    message = models.TextField(_("message"))
    # the message as code + parameters, put into words in the reader's language
    # (refunds/texts.py); `message` keeps the words of the moment it was written
    data = models.JSONField(_("data"), default=dict, blank=True)
    deadline_at = models.DateTimeField(_("deadline"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One warning per person, case and deadline: a second sweep adds nothing.
            models.UniqueConstraint(fields=["user", "case", "kind", "deadline_at"],
                                    name="notification_once_per_deadline"),
            models.UniqueConstraint(fields=["user", "follow_up", "kind", "deadline_at"],
                                    condition=models.Q(follow_up__isnull=False),
                                    name="notification_once_per_followup_deadline"),
            models.UniqueConstraint(fields=["user", "complaint", "kind", "deadline_at"],
                                    condition=models.Q(complaint__isnull=False),
                                    name="notification_once_per_complaint_deadline"),
            models.UniqueConstraint(fields=["user", "stockout", "kind", "deadline_at"],
                                    condition=models.Q(stockout__isnull=False),
                                    name="notification_once_per_stockout_deadline"),
            models.UniqueConstraint(fields=["user", "inquiry", "kind", "deadline_at"],
                                    condition=models.Q(inquiry__isnull=False),
                                    name="notification_once_per_inquiry_deadline"),
        ]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread_idx")]

    def __str__(self) -> str:
        return self.message[:60]
