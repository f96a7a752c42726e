"""Every change to a parcel inquiry (快递查询 / 改地址) goes through one of these functions.

Like the case services: one transaction that locks the order and then the inquiry
(`refunds.locks.lock_inquiry`), re-checks on the locked row that the state is the one the user
saw, that the transition is allowed and that the actor holds its permission (which includes
serving the inquiry's shop), changes the state through django-fsm, saves with update_fields
and writes the inquiry's timeline row.

Rules (seeds/004, 快递查询):
- an inquiry is opened on an order of the user's shops, one of each kind per order at a time:
  "where is it" and "delivered, not received" on a shipped parcel (its tracking number),
  an address change on an order the platform has not completed or closed, with the new
  address; the buyer is to be answered within the shop policy's `inquiry_reply_hours`;
- asking the carrier records who was asked (快递客服号) and when they call back: a time from
  now to `MAX_CALLBACK_DAYS` ahead;
- the answer names who at the carrier gave it — except for an address changed before the
  order shipped, which no carrier has seen — and an outcome that fits the kind;
- the buyer is told through a contact logged on the inquiry after the answer that reached
  them or left the answer in a message (the harassment guard decides, as for every
  contact); only then is it closed;
- withdrawn only before the answer, with the reason.
`seller_memo` is the line the material asks for in the seller centre (卖家备注).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed, has_transition_perm

from ..exceptions import ActionNotAllowed, CaseChanged, PermissionDeniedError
from ..locks import lock_inquiry, lock_order
from ..models import (
    ADDRESS_OUTCOMES,
    OPEN_INQUIRY_STATES,
    PARCEL_OUTCOMES,
    Case,
    ContactLog,
    ContactOutcome,
    InquiryEvent,
    InquiryEventKind,
    InquiryKind,
    InquiryOutcome,
    InquiryState,
    Order,
    OrderStatus,
    ParcelInquiry,
)
from ..permissions import staff_number_of, user_serves_shop
from ..timezones import CHINA
from .cases import normalize_tracking_no
from .contacts import contact_log_record
from .stockouts import REACHED_OUTCOMES
from .text import column_text

# a contact that gave the buyer the answer: unlike a stock-out's choice, an answer left in a
# message (旺旺, SMS) is told — the buyer reads it; a call nobody answered is not
TOLD_OUTCOMES = REACHED_OUTCOMES | {ContactOutcome.LEFT_MESSAGE}
MAX_CALLBACK_DAYS = 7  # a carrier promising a call back later than this is not waited for
# the platform has finished with these orders: no address to change
FINISHED_ORDER_STATUSES = (OrderStatus.COMPLETED, OrderStatus.CLOSED)
SELLER_CENTRE_LANGUAGE = "zh-hans"


class InquiryChanged(CaseChanged):
    default_message = gettext_lazy("This inquiry changed while you were looking at it. "
                                   "Reload and try again.")


def action_label(name: str) -> str:
    for transition in getattr(ParcelInquiry, name)._django_fsm.transitions.values():
        return str(transition.custom.get("label", name))
    return name


def can_handle_inquiries(user, shop_id: int) -> bool:
    return user.has_perm("refunds.handle_inquiry") and user_serves_shop(user, shop_id)


def outcomes_for(kind: str) -> list[InquiryOutcome]:
    return list(ADDRESS_OUTCOMES if kind == InquiryKind.ADDRESS else PARCEL_OUTCOMES)


def needs_carrier(inquiry: ParcelInquiry) -> bool:
    """Whether the answer comes from the carrier: everything but an address changed before
    the order shipped (the warehouse ships to the new address)."""
    return not (inquiry.kind == InquiryKind.ADDRESS and not inquiry.order.is_shipped)


def buyer_told_since(inquiry: ParcelInquiry, since: datetime | None) -> bool:
    """A contact that gave the buyer the answer is logged on the inquiry (after `since`)."""
    reached = ContactLog.objects.filter(inquiry=inquiry, outcome__in=TOLD_OUTCOMES)
    if since is not None:
        reached = reached.filter(created_at__gte=since)
    return reached.exists()


def _event(inquiry: ParcelInquiry, kind: str, actor: User | None, *, at: datetime,
           note: str = "", data: dict | None = None, **fields) -> InquiryEvent:
    return InquiryEvent.objects.create(inquiry=inquiry, kind=kind, actor=actor,
                                       staff_number=staff_number_of(actor), note=note,
                                       data=data or {}, created_at=at, **fields)


# --- opening ----------------------------------------------------------------------------------


def _check_order(order: Order, kind: str, tracking_no: str) -> None:
    if kind == InquiryKind.ADDRESS:
        if order.status in FINISHED_ORDER_STATUSES:
            raise ActionNotAllowed(
                _("Order %(order)s is “%(status)s”: there is no parcel left to send to "
                  "another address.") % {"order": order.platform_order_id,
                                         "status": order.get_status_display()})
        if order.delivered_at is not None:
            raise ActionNotAllowed(
                _("Order %(order)s's parcel was signed for on %(date)s: it can no longer go "
                  "to another address. If the buyer did not get it, open “Shown delivered, "
                  "not received”.") % {"order": order.platform_order_id,
                                        "date": timezone.localtime(order.delivered_at)
                                        .strftime("%Y-%m-%d %H:%M")})
        return
    if not order.is_shipped:
        raise ActionNotAllowed(
            _("Order %(order)s has not shipped: there is no parcel to ask the carrier about "
              "yet. For a late shipment, see the orders to ship.")
            % {"order": order.platform_order_id})
    if not tracking_no:
        raise ActionNotAllowed(_("Enter the parcel's tracking number: the carrier asks for "
                                 "it."))


def inquiry_open(*, order: Order, actor: User, kind: str, question: str,
                 tracking_no: str = "", carrier: str = "", new_address: str = "",
                 case: Case | None = None, now: datetime | None = None) -> ParcelInquiry:
    """Open an inquiry for what the buyer asked about the order's parcel."""
    now = now or timezone.now()
    if not can_handle_inquiries(actor, order.shop_id):
        raise PermissionDeniedError()
    if kind not in InquiryKind.values:
        raise ActionNotAllowed(_("Choose what the buyer asks."))
    question = column_text(question, ParcelInquiry, "question",
                           required=_("Write down what the buyer asked."))
    tracking_no = column_text(normalize_tracking_no(tracking_no), ParcelInquiry, "tracking_no")
    carrier = column_text(carrier, ParcelInquiry, "carrier")
    new_address = column_text(new_address, ParcelInquiry, "new_address")
    if kind == InquiryKind.ADDRESS and not new_address:
        raise ActionNotAllowed(_("Enter the new address the buyer gave: name, phone and the "
                                 "full address."))
    if kind != InquiryKind.ADDRESS:
        new_address = ""
    if case is not None and case.order_id != order.pk:
        raise ActionNotAllowed(_("The case must be one of order %(order)s.")
                               % {"order": order.platform_order_id})
    with transaction.atomic():
        order = lock_order(order.pk)
        if not tracking_no and order.is_shipped:
            tracking_no = order.tracking_no
        _check_order(order, kind, tracking_no)
        earlier = (ParcelInquiry.objects.filter(order=order, kind=kind,
                                                state__in=OPEN_INQUIRY_STATES)
                   .order_by("id").first())
        if earlier is not None:
            raise ActionNotAllowed(
                _("The buyer's question is already being checked: inquiry #%(id)s. Add to it "
                  "there.") % {"id": earlier.pk})
        inquiry = ParcelInquiry.objects.create(
            shop_id=order.shop_id, order=order, case=case, kind=kind,
            carrier=carrier or order.carrier, tracking_no=tracking_no, question=question,
            new_address=new_address, opened_by=actor, opened_at=now,
            reply_by=now + timedelta(hours=order.shop.policy.inquiry_reply_hours))
        _event(inquiry, InquiryEventKind.CREATED, actor, at=now, to_state=inquiry.state,
               note=question, data={"kind": kind, "tracking_no": tracking_no,
                                    "reply_by": inquiry.reply_by.isoformat()})
    return inquiry


def inquiry_contact(*, inquiry: ParcelInquiry, actor: User, channel: str, outcome: str,
                    note: str = "", override: bool = False, override_reason: str = "",
                    now: datetime | None = None) -> ContactLog:
    """Log a contact with the buyer about the inquiry (the guard decides), on its timeline
    too. Only while the inquiry is open."""
    now = now or timezone.now()
    if not can_handle_inquiries(actor, inquiry.shop_id):
        raise PermissionDeniedError()
    with transaction.atomic():
        locked = lock_inquiry(inquiry.pk)
        if not locked.is_open:
            raise ActionNotAllowed(_("Inquiry #%(id)s is “%(state)s”: nothing to tell the buyer "
                                     "about it now.")
                                   % {"id": locked.pk, "state": locked.get_state_display()})
        contact = contact_log_record(shop=locked.shop, buyer=locked.order.buyer, actor=actor,
                                     channel=channel, outcome=outcome, note=note,
                                     inquiry=locked, case=locked.case, override=override,
                                     override_reason=override_reason, now=now)
        _event(locked, InquiryEventKind.CONTACT, actor, at=now, note=contact.note,
               data={"channel": contact.channel, "outcome": contact.outcome})
    return contact


# --- transitions ------------------------------------------------------------------------------

Prepare = Callable[[ParcelInquiry], tuple[list[str], dict[str, Any]]]


def _run(*, inquiry: ParcelInquiry, actor: User, name: str, expected_state: str | None,
         note: str = "", prepare: Prepare | None = None,
         now: datetime | None = None) -> ParcelInquiry:
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_inquiry(inquiry.pk)
        if expected_state and locked.state != expected_state:
            raise InquiryChanged()
        method = getattr(locked, name)
        if not can_proceed(method):
            raise ActionNotAllowed(
                _("“%(action)s” is not possible: the inquiry is now “%(state)s”.")
                % {"action": action_label(name), "state": locked.get_state_display()})
        if not has_transition_perm(method, actor):
            raise PermissionDeniedError()
        from_state = locked.state
        fields, data = prepare(locked) if prepare else ([], {})
        method()
        if locked.state not in OPEN_INQUIRY_STATES:
            locked.closed_at = now
            fields = [*fields, "closed_at"]
        locked.save(update_fields=["state", *fields, "updated_at"])
        _event(locked, InquiryEventKind.TRANSITION, actor, at=now, note=note,
               transition=name, from_state=from_state, to_state=locked.state, data=data)
    return locked


def inquiry_ask_carrier(*, inquiry: ParcelInquiry, actor: User, carrier_staff: str,
                        callback_by: datetime, note: str = "",
                        expected_state: str | None = None,
                        now: datetime | None = None) -> ParcelInquiry:
    """The carrier was asked (快递客服号 `carrier_staff`) and calls back by `callback_by`."""
    now = now or timezone.now()
    carrier_staff = column_text(carrier_staff, ParcelInquiry, "carrier_staff",
                                required=_("Note who at the carrier you spoke to (their staff "
                                           "number, 快递客服号)."))
    if not isinstance(callback_by, datetime):
        raise ActionNotAllowed(_("Enter when the carrier calls back, as a date and time."))
    if callback_by <= now:
        raise ActionNotAllowed(_("The carrier's call back is in the past."))
    if callback_by > now + timedelta(days=MAX_CALLBACK_DAYS):
        raise ActionNotAllowed(
            _("A call back more than %(days)s days away is not an answer to wait for: tell "
              "the buyer where it stands and ask the carrier again.")
            % {"days": MAX_CALLBACK_DAYS})
    note = (note or "").strip()

    def prepare(locked: ParcelInquiry):
        locked.carrier_staff, locked.callback_by = carrier_staff, callback_by
        return (["carrier_staff", "callback_by"],
                {"carrier_staff": carrier_staff, "callback_by": callback_by.isoformat()})

    return _run(inquiry=inquiry, actor=actor, name="ask_carrier", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


def inquiry_record_answer(*, inquiry: ParcelInquiry, actor: User, outcome: str, answer: str,
                          carrier_staff: str = "", expected_state: str | None = None,
                          now: datetime | None = None) -> ParcelInquiry:
    """What the carrier found (or, an address changed before shipping, what was done)."""
    now = now or timezone.now()
    answer = column_text(answer, ParcelInquiry, "answer",
                         required=_("Write down the answer: what was found, or what was "
                                    "done."))
    carrier_staff = column_text(carrier_staff, ParcelInquiry, "carrier_staff")

    def prepare(locked: ParcelInquiry):
        if outcome not in outcomes_for(locked.kind):
            raise ActionNotAllowed(_("Choose an outcome that fits: %(choices)s.") % {
                "choices": ", ".join(str(choice.label)
                                     for choice in outcomes_for(locked.kind))})
        staff = carrier_staff or locked.carrier_staff
        if needs_carrier(locked) and not staff:
            raise ActionNotAllowed(_("Note who at the carrier answered (their staff number, "
                                     "快递客服号): the seller-centre memo names them."))
        locked.outcome, locked.answer, locked.carrier_staff = outcome, answer, staff
        locked.answered_at, locked.answered_staff = now, staff_number_of(actor)
        return (["outcome", "answer", "carrier_staff", "answered_at", "answered_staff"],
                {"outcome": outcome, "carrier_staff": staff})

    return _run(inquiry=inquiry, actor=actor, name="record_answer",
                expected_state=expected_state, note=answer, prepare=prepare, now=now)


def inquiry_tell_buyer(*, inquiry: ParcelInquiry, actor: User, note: str = "",
                       expected_state: str | None = None,
                       now: datetime | None = None) -> ParcelInquiry:
    """The buyer has the answer: closes the inquiry."""
    now = now or timezone.now()

    def prepare(locked: ParcelInquiry):
        if not buyer_told_since(locked, locked.answered_at):
            raise ActionNotAllowed(
                _("Tell the buyer first: log the contact that gave them the answer — you "
                  "reached them, or left it in a message — after the answer was recorded."))
        locked.buyer_told_at = now
        return ["buyer_told_at"], {}

    return _run(inquiry=inquiry, actor=actor, name="tell_buyer", expected_state=expected_state,
                note=(note or "").strip(), prepare=prepare, now=now)


def inquiry_withdraw(*, inquiry: ParcelInquiry, actor: User, reason: str,
                     expected_state: str | None = None,
                     now: datetime | None = None) -> ParcelInquiry:
    """The buyer no longer needs the answer (the parcel came, they took the question back)."""
    reason = (reason or "").strip()
    if not reason:
        raise ActionNotAllowed(_("Say why the buyer no longer needs the answer."))
    return _run(inquiry=inquiry, actor=actor, name="withdraw", expected_state=expected_state,
                note=reason, now=now)


# --- the seller-centre memo -------------------------------------------------------------------


def seller_memo(inquiry: ParcelInquiry) -> str:
    """The memo to leave on the order in the seller centre (卖家备注), as the material asks:
    the day checked, the carrier's staff number, the result and our staff number — e.g.
    "06-28 改地址: 中通 851号: 已改地址 (客人已更改). 客服 A012".

    Always in Chinese, whatever the staff member's own language: it is read in the seller
    centre, by the whole team and the platform."""
    if not inquiry.answered_at:
        return ""
    day = inquiry.answered_at.astimezone(CHINA)
    carrier = " ".join(part for part in (inquiry.parcel_carrier, inquiry.carrier_staff) if part)
    with translation.override(SELLER_CENTRE_LANGUAGE):
        return _("%(day)s %(kind)s: %(carrier)s: %(outcome)s (%(answer)s). Staff %(staff)s") % {
            "day": f"{day:%m-%d}", "kind": inquiry.get_kind_display(),
            "carrier": carrier or "—", "outcome": inquiry.get_outcome_display(),
            "answer": inquiry.answer, "staff": inquiry.answered_staff or "—"}


def is_late(inquiry: ParcelInquiry, now: datetime) -> bool:
    return inquiry.is_open and inquiry.reply_by <= now


def callback_missed(inquiry: ParcelInquiry, now: datetime) -> bool:
    return (inquiry.state == InquiryState.WAITING and inquiry.callback_by is not None
            and inquiry.callback_by <= now)
