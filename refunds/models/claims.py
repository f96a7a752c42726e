"""Carrier claims (报损报失): a parcel damaged or lost in transit, claimed from the carrier.

DOMAIN.md: a claim needs the trade details, the waybill, the sender's ID, photos of the
damaged goods, the ship date, the region, the tracking number, the result and the quantity;
the damage register (报损登记) records the report date, tracking number, parcel status, the
checking staff number, the item's price and model and the handling staff. States: draft →
submitted → accepted / rejected → compensated → closed.

The carrier's money comes to the shop, not from it: a claim never counts against what the
buyer paid. Transitions only change the state and say whether they may run;
`refunds.services.claims` locks, saves and writes the timeline around them.
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


class ClaimKind(models.TextChoices):
    DAMAGED = "damaged", _("Damaged (报损)")
    LOST = "lost", _("Lost (报失)")


class ClaimDirection(models.TextChoices):
    OUTBOUND = "outbound", _("Shipped to the buyer")
    RETURN = "return", _("Returned by the buyer")


class ClaimState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted to the carrier")
    ACCEPTED = "accepted", _("Accepted by the carrier")
    REJECTED = "rejected", _("Rejected by the carrier")
    COMPENSATED = "compensated", _("Compensated")
    CLOSED = "closed", _("Closed")


# Waiting for someone of ours: what the register lists first.
OPEN_CLAIM_STATES = [ClaimState.DRAFT, ClaimState.SUBMITTED, ClaimState.ACCEPTED,
                     ClaimState.REJECTED]


def mask_id_number(value: str) -> str:
    """An ID as pages show it: its first three and last four characters (an 18-character
    身份证 shows 110***********1234); a short one only its last four."""
    if len(value) <= 4:
        return "*" * len(value)
    head = value[:3] if len(value) > 10 else ""
    return head + "*" * (len(value) - len(head) - 4) + value[-4:]


def _role(codename: str):
    def check(claim: CarrierClaim, user) -> bool:
        return user.has_perm(f"refunds.{codename}") and user_serves_shop(user, claim.shop_id)

    check.__name__ = f"can_{codename}"
    return check


can_handle = _role("handle_claim")
can_record_compensation = _role("record_claim_compensation")


class CarrierClaim(ConcurrentTransitionMixin, models.Model):
    """One claim from a carrier for one parcel (报损报失), and its line in the damage
    register (报损登记)."""

    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT,
                             related_name="carrier_claims", verbose_name=_("shop"))
    order = models.ForeignKey("refunds.Order", on_delete=models.PROTECT,
                              related_name="carrier_claims", verbose_name=_("order"),
                              help_text=_("The trade whose parcel was damaged or lost."))
    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="carrier_claims", verbose_name=_("case"),
                             help_text=_("The after-sales case of the parcel, if any."))
    kind = models.CharField(_("damaged or lost"), max_length=8, choices=ClaimKind.choices)
    direction = models.CharField(_("parcel"), max_length=8, choices=ClaimDirection.choices,
                                 default=ClaimDirection.OUTBOUND)
    carrier = models.CharField(_("carrier"), max_length=40, blank=True)
    tracking_no = models.CharField(_("tracking number (waybill)"), max_length=64)
    ship_date = models.DateField(_("ship date"), null=True, blank=True)
    region = models.CharField(_("region"), max_length=80, blank=True,
                              help_text=_("Where the parcel went (province, city)."))
    sender_id_number = models.CharField(
        _("sender's ID number"), max_length=32, blank=True,
        help_text=_("The carrier asks for the sender's ID (身份证) with the claim."))
    parcel_status = models.CharField(
        _("parcel status"), max_length=200,
        help_text=_("What the parcel looked like: outer box crushed, item broken, never "
                    "arrived, …"))
    item_model = models.CharField(_("item model"), max_length=200)
    item_price = models.DecimalField(_("item price (¥)"), max_digits=12, decimal_places=2)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    claimed_amount = models.DecimalField(
        _("amount claimed (¥)"), max_digits=12, decimal_places=2,
        help_text=_("What the shop asks the carrier for."))
    compensated_amount = models.DecimalField(
        _("amount received (¥)"), max_digits=12, decimal_places=2, null=True, blank=True,
        editable=False, help_text=_("What the carrier paid."))
    carrier_reference = models.CharField(
        _("carrier's claim number"), max_length=60, blank=True,
        help_text=_("The number the carrier gave the claim when it was submitted."))
    result = models.TextField(_("result"), blank=True, editable=False,
                              help_text=_("The carrier's answer."))
    details = models.TextField(_("details"), blank=True)
    reported_on = models.DateField(_("report date"), default=timezone.localdate)
    checked_staff_number = models.CharField(
        _("checked by (staff number)"), max_length=20,
        help_text=_("Who checked the parcel (工号)."))
    handler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                related_name="handled_claims", verbose_name=_("handled by"))
    handler_staff_number = models.CharField(_("handler's staff number"), max_length=20,
                                            editable=False)
    state = FSMField(_("state"), max_length=12, choices=ClaimState.choices,
                     default=ClaimState.DRAFT, protected=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True, editable=False)
    decided_at = models.DateTimeField(_("carrier's answer"), null=True, blank=True,
                                      editable=False)
    compensated_at = models.DateTimeField(_("compensation received"), null=True, blank=True,
                                          editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("carrier claim (报损报失)")
        verbose_name_plural = _("carrier claims (报损报失)")
        ordering = ["-reported_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(item_price__gte=0), name="claim_price_not_negative"),
            models.CheckConstraint(condition=Q(claimed_amount__gt=0), name="claim_amount_positive"),
            models.CheckConstraint(
                condition=Q(compensated_amount__isnull=True)
                | Q(compensated_amount__gt=0, compensated_amount__lte=models.F("claimed_amount")),
                name="claim_compensation_within_claim",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "state", "reported_on"], name="claim_shop_state_idx"),
            models.Index(fields=["tracking_no"], name="claim_tracking_idx"),
            models.Index(fields=["order"], name="claim_order_idx"),
        ]
        permissions = [
            ("handle_claim", _("Can register carrier claims and record the carrier's answer")),
            ("record_claim_compensation",
             _("Can record the compensation a carrier paid on a claim")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.tracking_no}"

    def get_absolute_url(self) -> str:
        return reverse("refunds:claim_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_CLAIM_STATES

    @property
    def goods_value(self):
        return self.item_price * self.quantity

    @property
    def masked_sender_id(self) -> str:
        return mask_id_number(self.sender_id_number)

    # --- transitions ---------------------------------------------------------------------

    @transition(field=state, source=ClaimState.DRAFT, target=ClaimState.SUBMITTED,
                permission=can_handle, custom={"label": _("Submitted to the carrier")})
    def submit(self):
        """The claim went to the carrier (`services.claims.claim_missing` said it is
        complete)."""

    @transition(field=state, source=ClaimState.REJECTED, target=ClaimState.SUBMITTED,
                permission=can_handle, custom={"label": _("Submitted again")})
    def resubmit(self):
        """The shop answered the carrier's refusal with more evidence."""

    @transition(field=state, source=ClaimState.SUBMITTED, target=ClaimState.ACCEPTED,
                permission=can_handle, custom={"label": _("The carrier accepted")})
    def accept(self):
        pass

    @transition(field=state, source=ClaimState.SUBMITTED, target=ClaimState.REJECTED,
                permission=can_handle, custom={"label": _("The carrier rejected")})
    def reject(self):
        pass

    @transition(field=state, source=ClaimState.ACCEPTED, target=ClaimState.COMPENSATED,
                permission=can_record_compensation,
                custom={"label": _("Compensation received")})
    def record_compensation(self):
        pass

    @transition(field=state,
                source=[ClaimState.DRAFT, ClaimState.SUBMITTED, ClaimState.ACCEPTED,
                        ClaimState.REJECTED, ClaimState.COMPENSATED],
                target=ClaimState.CLOSED, permission=can_handle,
                custom={"label": _("Close")})
    def close(self):
        """Filed away: paid, refused for good, never answered, accepted but never paid, or a
        draft never sent (all but the paid one with why)."""


def claim_photo_path(photo: ClaimPhoto, filename: str) -> str:
    return random_photo_name("claims", photo.claim.shop_id)


class ClaimPhoto(StoredPhoto):
    """A photo of the damaged goods or packaging."""

    claim = models.ForeignKey(CarrierClaim, on_delete=models.PROTECT, related_name="photos",
                              verbose_name=_("claim"))
    image = models.FileField(_("photo"), storage=private_storage, upload_to=claim_photo_path,
                             max_length=200)

    class Meta(StoredPhoto.Meta):
        verbose_name = _("claim photo")
        verbose_name_plural = _("claim photos")

    def __str__(self) -> str:
        return f"{self.claim_id}/{self.pk}"


class ClaimEventKind(models.TextChoices):
    CREATED = "created", _("Registered")
    TRANSITION = "transition", _("State change")
    DETAILS = "details", _("Details changed")
    PHOTOS = "photos", _("Photos added")


class ClaimEvent(TimelineEvent):
    """The claim's timeline, like CaseEvent: written by `refunds.services.claims`, never
    edited."""

    claim = models.ForeignKey(CarrierClaim, on_delete=models.PROTECT, related_name="events",
                              verbose_name=_("claim"))
    kind = models.CharField(_("kind"), max_length=12, choices=ClaimEventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("by"))  # always a person

    class Meta(TimelineEvent.Meta):
        verbose_name = _("claim event")
        verbose_name_plural = _("claim events")
        indexes = [models.Index(fields=["claim", "created_at"], name="claimevent_time_idx")]
