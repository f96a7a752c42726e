"""Complaints after the trade (维权 / 投诉): the buyer complains to the platform about an
order, and the platform rules.

DOMAIN.md: kinds — refund dispute, goods not received, late shipment, breach of promise,
malicious harassment, malicious review; window — 0 to 15 days after the trade succeeded; the
platform gives the shop a few working days to answer with evidence (chat screenshots, call
logs, SMS, waybills); outcomes — for the buyer (the refund is paid, the shop may be penalised)
or for the shop; an appeal needs evidence.

A complaint belongs to an order, not to a case: it comes after the after-sales case ended, or
without any. (A dispute raised while a case is open stays on the case: `Case.open_dispute`.)

States: open → evidence submitted → for the shop / for the buyer; open or evidence submitted
→ withdrawn (the buyer withdrew it); for the buyer → appealed (once, with new evidence) →
for the shop (appeal upheld) / for the buyer (appeal rejected). The nightly sweep rules for
the buyer when the evidence deadline passes with no evidence submitted, as the platform does.

Money: what the platform's ruling pays the buyer (`refund_amount`) counts in the money rule
(`refunds.services.money`) from the ruling on, paid — the platform takes it from the shop's
account. Transitions only change the state and say whether they may run;
`refunds.services.complaints` locks, saves and writes the timeline around them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from ..permissions import user_serves_shop
from ..storage import private_storage
from .photos import StoredPhoto, random_photo_name
from .timeline import TimelineEvent


class ComplaintKind(models.TextChoices):
    REFUND = "refund", _("Refund dispute (售后维权)")
    NOT_RECEIVED = "not_received", _("Goods not received (未收到货)")
    LATE_SHIPMENT = "late_shipment", _("Late shipment (延迟发货)")
    BREACH_OF_PROMISE = "breach", _("Breach of promise (违背承诺)")
    HARASSMENT = "harassment", _("Malicious harassment (恶意骚扰)")
    MALICIOUS_REVIEW = "review", _("Malicious review (恶意评价)")


class ComplaintState(models.TextChoices):
    OPEN = "open", _("Open: evidence due")
    EVIDENCE_SUBMITTED = "evidence", _("Evidence submitted")
    FOR_SHOP = "for_shop", _("Ruled for the shop")
    FOR_BUYER = "for_buyer", _("Ruled for the buyer")
    APPEALED = "appealed", _("Appealed")
    WITHDRAWN = "withdrawn", _("Withdrawn by the buyer")


# Waiting for the shop or the platform: what the register lists first.
OPEN_COMPLAINT_STATES = [ComplaintState.OPEN, ComplaintState.EVIDENCE_SUBMITTED,
                         ComplaintState.APPEALED]
RULING_STATES = [ComplaintState.OPEN, ComplaintState.EVIDENCE_SUBMITTED]


class EvidenceKind(models.TextChoices):
    CHAT = "chat", _("Chat screenshot (聊天记录)")
    CALL_LOG = "call_log", _("Call log (通话记录)")
    SMS = "sms", _("SMS")
    WAYBILL = "waybill", _("Waybill or tracking (物流凭证)")
    OTHER = "other", _("Other")


def _role(codename: str):
    """The complaint permissions are the dispute permissions: whoever answers a platform
    dispute on a case answers a complaint about the trade."""
    def check(complaint: Complaint, user) -> bool:
        return user.has_perm(f"refunds.{codename}") and user_serves_shop(user, complaint.shop_id)

    check.__name__ = f"can_{codename}"
    return check


can_handle = _role("handle_dispute")
can_rule = _role("record_dispute_ruling")


def never_appealed(complaint: Complaint) -> bool:
    return complaint.appealed_at is None


class Complaint(ConcurrentTransitionMixin, models.Model):
    """One complaint the buyer filed with the platform about an order (维权 / 投诉)."""

    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT,
                             related_name="complaints", verbose_name=_("shop"))
    order = models.ForeignKey("refunds.Order", on_delete=models.PROTECT,
                              related_name="complaints", verbose_name=_("order"))
    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="complaints", verbose_name=_("case"),
                             help_text=_("The after-sales case the complaint is about, if any."))
    follow_up = models.ForeignKey(
        "refunds.ReviewFollowUp", on_delete=models.PROTECT, null=True, blank=True,
        related_name="complaints", verbose_name=_("review follow-up"),
        help_text=_("The review follow-up the complaint is about (harassment, review), if any."))
    kind = models.CharField(_("kind"), max_length=16, choices=ComplaintKind.choices)
    platform_reference = models.CharField(
        _("platform's complaint number"), max_length=64, blank=True,
        help_text=_("The number the seller centre gives the complaint (投诉编号)."))
    buyer_claim = models.TextField(_("what the buyer says"))
    amount_claimed = models.DecimalField(
        _("amount the buyer asks (¥)"), max_digits=12, decimal_places=2, null=True, blank=True)
    trade_succeeded_on = models.DateField(
        _("trade succeeded on"), null=True, blank=True,
        help_text=_("交易成功: complaints are accepted for the shop policy's days after it."))
    opened_at = models.DateTimeField(_("opened by the platform"))
    evidence_due_at = models.DateTimeField(_("evidence due"))
    warned_due_at = models.DateTimeField(
        _("warned of the deadline"), null=True, blank=True, editable=False,
        help_text=_("The evidence deadline the nightly sweep last warned of (once each)."))
    handler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                related_name="handled_complaints", verbose_name=_("handled by"))
    state = FSMField(_("state"), max_length=12, choices=ComplaintState.choices,
                     default=ComplaintState.OPEN, protected=True)
    evidence_submitted_at = models.DateTimeField(_("evidence submitted"), null=True,
                                                 blank=True, editable=False)
    ruled_at = models.DateTimeField(_("ruled"), null=True, blank=True, editable=False)
    ruling = models.TextField(_("the platform's ruling"), blank=True, editable=False)
    # the ruling the nightly sweep recorded, as code + parameters (refunds/texts.py), so that
    # every reader sees it in their language; `ruling` keeps the words of the moment
    ruling_data = models.JSONField(_("ruling (as text code)"), default=dict, blank=True,
                                   editable=False)
    refund_amount = models.DecimalField(
        _("paid to the buyer by the ruling (¥)"), max_digits=12, decimal_places=2, null=True,
        blank=True, editable=False,
        help_text=_("Counts against what the buyer paid, like a refund."))
    penalty_points = models.PositiveIntegerField(
        _("penalty points (扣分)"), null=True, blank=True, editable=False)
    appealed_at = models.DateTimeField(_("appealed"), null=True, blank=True, editable=False)
    appeal_reason = models.TextField(_("appeal"), blank=True, editable=False)
    appeal_decided_at = models.DateTimeField(_("appeal decided"), null=True, blank=True,
                                             editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("complaint (维权/投诉)")
        verbose_name_plural = _("complaints (维权/投诉)")
        ordering = ["evidence_due_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_claimed__isnull=True) | Q(amount_claimed__gt=0),
                name="complaint_claim_positive"),
            models.CheckConstraint(
                condition=Q(refund_amount__isnull=True) | Q(refund_amount__gt=0),
                name="complaint_refund_positive"),
            models.UniqueConstraint(fields=["shop", "platform_reference"],
                                    condition=~Q(platform_reference=""),
                                    name="complaint_unique_reference"),
        ]
        indexes = [
            models.Index(fields=["shop", "state", "evidence_due_at"],
                         name="complaint_shop_state_idx"),
            models.Index(fields=["state", "evidence_due_at"], name="complaint_due_idx"),
            models.Index(fields=["order"], name="complaint_order_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"

    def get_absolute_url(self) -> str:
        return reverse("refunds:complaint_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_COMPLAINT_STATES

    @property
    def evidence_awaited(self) -> bool:
        """The shop's answer is due: nothing submitted yet."""
        return self.state == ComplaintState.OPEN

    @property
    def evidence_overdue(self) -> bool:
        return self.evidence_awaited and self.evidence_due_at < timezone.now()

    # --- transitions ---------------------------------------------------------------------

    @transition(field=state, source=ComplaintState.OPEN,
                target=ComplaintState.EVIDENCE_SUBMITTED, permission=can_handle,
                custom={"label": _("Evidence submitted to the platform")})
    def submit_evidence(self):
        """The shop answered with its evidence (the service checks there is some)."""

    @transition(field=state, source=RULING_STATES, target=ComplaintState.FOR_SHOP,
                permission=can_rule, custom={"label": _("Ruled for the shop")})
    def rule_for_shop(self):
        pass

    @transition(field=state, source=RULING_STATES, target=ComplaintState.FOR_BUYER,
                permission=can_rule, custom={"label": _("Ruled for the buyer")})
    def rule_for_buyer(self):
        """Also what the platform does when the evidence deadline passes with none."""

    @transition(field=state, source=RULING_STATES, target=ComplaintState.WITHDRAWN,
                permission=can_handle, custom={"label": _("The buyer withdrew it")})
    def withdraw(self):
        pass

    @transition(field=state, source=ComplaintState.FOR_BUYER, target=ComplaintState.APPEALED,
                permission=can_handle, conditions=[never_appealed],
                custom={"label": _("Appeal (申诉)")})
    def appeal(self):
        """Once, with evidence added after the ruling (the service checks it)."""

    @transition(field=state, source=ComplaintState.APPEALED, target=ComplaintState.FOR_SHOP,
                permission=can_rule, custom={"label": _("Appeal upheld")})
    def uphold_appeal(self):
        """The penalty is lifted. What the buyer was paid stays paid."""

    @transition(field=state, source=ComplaintState.APPEALED, target=ComplaintState.FOR_BUYER,
                permission=can_rule, custom={"label": _("Appeal rejected")})
    def reject_appeal(self):
        pass


def evidence_path(evidence: ComplaintEvidence, filename: str) -> str:
    return random_photo_name("complaints", evidence.complaint.shop_id)


class ComplaintEvidence(StoredPhoto):
    """A screenshot the shop answers with: chat, call log, SMS, waybill."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT,
                                  related_name="evidence", verbose_name=_("complaint"))
    kind = models.CharField(_("evidence"), max_length=10, choices=EvidenceKind.choices,
                            default=EvidenceKind.CHAT)
    image = models.FileField(_("screenshot"), storage=private_storage, upload_to=evidence_path,
                             max_length=200)

    class Meta(StoredPhoto.Meta):
        verbose_name = _("complaint evidence")
        verbose_name_plural = _("complaint evidence")

    def __str__(self) -> str:
        return f"{self.complaint_id}/{self.pk}"


class ComplaintEventKind(models.TextChoices):
    CREATED = "created", _("Registered")
    TRANSITION = "transition", _("State change")
    EVIDENCE = "evidence", _("Evidence added")


class ComplaintEvent(TimelineEvent):
    """The complaint's timeline, like CaseEvent: written by `refunds.services.complaints`,
    never edited. `actor` is empty for what the platform did (staff number SYSTEM)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="events",
                                  verbose_name=_("complaint"))
    kind = models.CharField(_("kind"), max_length=12, choices=ComplaintEventKind.choices)

    class Meta(TimelineEvent.Meta):
        verbose_name = _("complaint event")
        verbose_name_plural = _("complaint events")
        indexes = [models.Index(fields=["complaint", "created_at"],
                                name="complaintevent_time_idx")]
