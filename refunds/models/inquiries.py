"""Parcel inquiries (快递查询) and address changes (改地址): a buyer asks where the parcel is,
says it shows delivered but never came, or asks for it to go to another address.

The material (seeds/004, 快递查询): call the carrier's inquiry line with the tracking number,
note the carrier's service-staff number (快递客服号); once checked, answer the buyer promptly
and leave a memo in the seller centre (卖家备注) with the date checked, the carrier's staff
number, the result and our staff number — "6-28 联系851号工人更改地址, 客人已更改" — so that
a colleague the buyer asks next sees it.

So an inquiry is opened on an order with what the buyer asked and the time they are to get
an answer by (the shop policy's `inquiry_reply_hours`); states:

    open (ask the carrier) → waiting (the carrier calls back by a time; again, when called
    again) → answered (the carrier's staff number, answer and outcome: tell the buyer) →
    closed (the buyer was told: a contact that reached them, logged on the inquiry);
    open or waiting → withdrawn (the buyer no longer needs it).

An address change on an order not shipped yet needs no carrier: the warehouse ships to the new
address, so it is "answered" by whoever changed it in the seller centre, and the orders to
ship show it until then. Transitions only change the state and say whether they may run;
`refunds.services.inquiries` locks, saves and writes the timeline around them.
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
from .timeline import TimelineEvent


class InquiryKind(models.TextChoices):
    WHERE = "where", _("Where is the parcel (查件)")
    NOT_RECEIVED = "not_received", _("Shown delivered, not received (签收未收到)")
    ADDRESS = "address", _("Change of address (改地址)")


class InquiryState(models.TextChoices):
    OPEN = "open", _("Ask the carrier")
    WAITING = "waiting", _("Waiting for the carrier")
    ANSWERED = "answered", _("Answered: tell the buyer")
    CLOSED = "closed", _("Buyer told")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# someone of ours still owes the buyer an answer
OPEN_INQUIRY_STATES = [InquiryState.OPEN, InquiryState.WAITING, InquiryState.ANSWERED]


class InquiryOutcome(models.TextChoices):
    ON_THE_WAY = "on_the_way", _("On its way (在途)")
    DELIVERED = "delivered", _("Delivered: signed for (已签收)")
    AT_STATION = "at_station", _("Waiting at a station or locker (待取件)")
    RETURNING = "returning", _("Coming back to the shop (退回)")
    LOST = "lost", _("Lost by the carrier (丢件)")
    DAMAGED = "damaged", _("Damaged in transit (破损)")
    ADDRESS_CHANGED = "address_changed", _("Address changed (已改地址)")
    ADDRESS_NOT_CHANGED = "address_unchanged", _("Address could not be changed")


# what fits each kind: an address change is changed or not; a parcel is somewhere
ADDRESS_OUTCOMES = [InquiryOutcome.ADDRESS_CHANGED, InquiryOutcome.ADDRESS_NOT_CHANGED]
PARCEL_OUTCOMES = [outcome for outcome in InquiryOutcome if outcome not in ADDRESS_OUTCOMES]
# the carrier lost or damaged it: a carrier claim (报损报失) is the next step
CLAIM_OUTCOMES = {InquiryOutcome.LOST: "lost", InquiryOutcome.DAMAGED: "damaged"}


def can_handle(inquiry: ParcelInquiry, user) -> bool:
    return (user.has_perm("refunds.handle_inquiry")
            and user_serves_shop(user, inquiry.shop_id))


class ParcelInquiry(ConcurrentTransitionMixin, models.Model):
    """One question of a buyer about a parcel, checked with the carrier (快递查询 / 改地址)."""

    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT,
                             related_name="inquiries", verbose_name=_("shop"))
    order = models.ForeignKey("refunds.Order", on_delete=models.PROTECT,
                              related_name="inquiries", verbose_name=_("order"))
    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="inquiries", verbose_name=_("case"),
                             help_text=_("The after-sales case the parcel belongs to, if any."))
    kind = models.CharField(_("the buyer asks"), max_length=12, choices=InquiryKind.choices)
    carrier = models.CharField(_("carrier"), max_length=50, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=64, blank=True)
    question = models.TextField(_("what the buyer said"))
    new_address = models.TextField(
        _("new address"), blank=True,
        help_text=_("An address change: name, phone and the full address the buyer gave."))
    reply_by = models.DateTimeField(_("answer the buyer by"))
    state = FSMField(_("state"), max_length=10, choices=InquiryState.choices,
                     default=InquiryState.OPEN, protected=True)
    carrier_staff = models.CharField(
        _("carrier's staff number"), max_length=40, blank=True, editable=False,
        help_text=_("Who at the carrier answered (快递客服号 / 工号)."))
    callback_by = models.DateTimeField(_("carrier calls back by"), null=True, blank=True,
                                       editable=False)
    outcome = models.CharField(_("outcome"), max_length=20, blank=True,
                               choices=InquiryOutcome.choices, editable=False)
    answer = models.TextField(_("carrier's answer"), blank=True, editable=False)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True, editable=False)
    answered_staff = models.CharField(_("answer recorded by (staff number)"), max_length=20,
                                      blank=True, editable=False)
    buyer_told_at = models.DateTimeField(_("buyer told"), null=True, blank=True,
                                         editable=False)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("opened by"))
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("parcel inquiry (快递查询)")
        verbose_name_plural = _("parcel inquiries (快递查询)")
        ordering = ["reply_by", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(kind="address") | ~Q(new_address=""),
                                   name="inquiry_address_change_has_address"),
        ]
        indexes = [
            models.Index(fields=["shop", "state", "reply_by"], name="inquiry_shop_state_idx"),
            models.Index(fields=["order", "state"], name="inquiry_order_state_idx"),
        ]
        permissions = [
            ("handle_inquiry",
             _("Can check a parcel with the carrier and answer the buyer (快递查询)")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.order.platform_order_id}"

    def get_absolute_url(self) -> str:
        return reverse("refunds:inquiry_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_INQUIRY_STATES

    @property
    def parcel_tracking_no(self) -> str:
        """The parcel asked about: an address change opened before the order shipped has no
        tracking number of its own, and reads the order's once it has shipped."""
        return self.tracking_no or (self.order.tracking_no if self.order.is_shipped else "")

    @property
    def parcel_carrier(self) -> str:
        return self.carrier or (self.order.carrier if self.order.is_shipped else "")

    @property
    def claim_kind(self) -> str:
        """"lost" or "damaged" when the carrier said so: what a carrier claim would be."""
        return CLAIM_OUTCOMES.get(self.outcome, "")

    # --- transitions ---------------------------------------------------------------------

    @transition(field=state, source=[InquiryState.OPEN, InquiryState.WAITING],
                target=InquiryState.WAITING, permission=can_handle,
                custom={"label": _("Asked the carrier: waiting for their answer")})
    def ask_carrier(self):
        """Again from waiting: the carrier was called again, with a new time."""

    @transition(field=state, source=[InquiryState.OPEN, InquiryState.WAITING],
                target=InquiryState.ANSWERED, permission=can_handle,
                custom={"label": _("Record the answer")})
    def record_answer(self):
        """The carrier's answer (or, for an order not shipped, the address changed)."""

    @transition(field=state, source=InquiryState.ANSWERED, target=InquiryState.CLOSED,
                permission=can_handle, custom={"label": _("The buyer was told")})
    def tell_buyer(self):
        """Only after a contact that reached the buyer, logged since the answer."""

    @transition(field=state, source=[InquiryState.OPEN, InquiryState.WAITING],
                target=InquiryState.WITHDRAWN, permission=can_handle,
                custom={"label": _("Withdraw: the buyer no longer needs it")})
    def withdraw(self):
        """The parcel arrived meanwhile, or the buyer took it back."""


class InquiryEventKind(models.TextChoices):
    CREATED = "created", _("Opened")
    TRANSITION = "transition", _("State change")
    CONTACT = "contact", _("Contact")


class InquiryEvent(TimelineEvent):
    """The inquiry's timeline, like CaseEvent: written by `refunds.services.inquiries`,
    never edited."""

    inquiry = models.ForeignKey(ParcelInquiry, on_delete=models.PROTECT, related_name="events",
                                verbose_name=_("parcel inquiry"))
    kind = models.CharField(_("kind"), max_length=12, choices=InquiryEventKind.choices)

    class Meta(TimelineEvent.Meta):
        verbose_name = _("parcel inquiry event")
        verbose_name_plural = _("parcel inquiry events")
        indexes = [models.Index(fields=["inquiry", "created_at"],
                                name="inquiryevent_time_idx")]
