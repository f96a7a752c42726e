"""Every change to a carrier claim (报损报失) goes through one of these functions.

Like the case services: one transaction that locks the order and then the claim
(`refunds.locks.lock_claim`), re-checks on the locked row that the state is the one the user
saw, that the transition is allowed and that the actor holds its permission (which includes
serving the claim's shop), changes the state through django-fsm, saves with update_fields
and writes the claim's timeline row.

Rules:
- one open claim per parcel: a second claim for a tracking number whose claim is still open
  (or was compensated) is refused, so a carrier is never asked — or counted as paying —
  twice for one parcel;
- a claim goes to the carrier only when it holds what the carrier asks for (`claim_missing`):
  waybill, ship date, region, the sender's ID, and for damaged goods at least one photo;
- the carrier pays at most what was claimed; the claimed amount is the goods' value unless
  said otherwise, and never more items than the trade held;
- the carrier's answer (accepted or rejected) is recorded with what it said.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_fsm import can_proceed, has_transition_perm

from .. import events
from ..exceptions import ActionNotAllowed, CaseChanged, PermissionDeniedError
from ..locks import lock_claim, lock_order
from ..models import (
    CarrierClaim,
    Case,
    ClaimDirection,
    ClaimEvent,
    ClaimEventKind,
    ClaimKind,
    ClaimPhoto,
    ClaimState,
    Order,
    Shop,
)
from ..models.claims import mask_id_number
from ..permissions import staff_number_of, user_serves_shop
from ..photos import MAX_PHOTOS, clean_photos, delete_photo_files, save_photos
from .cases import normalize_tracking_no
from .money import clean_amount
from .text import column_text, require_text

# The fields staff may correct while the claim is a draft (or rejected, before it is sent
# again); the rest is the claim's history.
EDITABLE_FIELDS = ("kind", "direction", "carrier", "tracking_no", "ship_date", "region",
                   "sender_id_number", "parcel_status", "item_model", "item_price", "quantity",
                   "claimed_amount", "checked_staff_number", "details", "reported_on")
EDITABLE_STATES = (ClaimState.DRAFT, ClaimState.REJECTED)
# A parcel is claimed once: while a claim for it is open, or once the carrier paid (also
# after that claim was filed away). A claim closed unpaid (withdrawn, refused for good) frees it.
CLAIMING = (Q(state__in=[ClaimState.DRAFT, ClaimState.SUBMITTED, ClaimState.ACCEPTED,
                         ClaimState.REJECTED, ClaimState.COMPENSATED])
            | Q(state=ClaimState.CLOSED, compensated_amount__isnull=False))
# What the timeline keeps of a correction of these: masked, never the whole ID.
MASKED_FIELDS = {"sender_id_number": mask_id_number}


class ClaimChanged(CaseChanged):
    default_message = gettext_lazy("This claim changed while you were looking at it. Reload "
                                   "and try again.")


def action_label(name: str) -> str:
    for transition in getattr(CarrierClaim, name)._django_fsm.transitions.values():
        return str(transition.custom.get("label", name))
    return name


def can_handle_claims(user, shop_id: int) -> bool:
    return user.has_perm("refunds.handle_claim") and user_serves_shop(user, shop_id)


def _check_handler(actor: User, shop_id: int) -> None:
    if not can_handle_claims(actor, shop_id):
        raise PermissionDeniedError()


# --- what a claim needs -------------------------------------------------------------------


def claim_missing(claim: CarrierClaim, photo_count: int | None = None) -> list[str]:
    """What the carrier asks for that the claim does not hold yet (labels, in the order of
    the form); empty when it may be submitted."""
    def label(field: str) -> str:
        return str(capfirst(CarrierClaim._meta.get_field(field).verbose_name))

    missing = [label(field) for field in ("tracking_no", "ship_date", "region",
                                          "sender_id_number", "parcel_status", "item_model")
               if not getattr(claim, field)]
    if claim.kind == ClaimKind.DAMAGED:
        count = claim.photos.count() if photo_count is None else photo_count
        if not count:
            missing.append(_("photos of the damaged goods"))
    return missing


def _order_quantity(order: Order) -> int:
    return order.lines.aggregate(total=Sum("quantity"))["total"] or 0


def _cleaned_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The claim's fields from `values`, checked: ActionNotAllowed / AmountError with a
    message for the first wrong one. Text is never cut (`column_text`)."""
    cleaned: dict[str, Any] = {}
    kind = values.get("kind")
    if kind not in ClaimKind.values:
        raise ActionNotAllowed(_("Choose whether the parcel was damaged or lost."))
    cleaned["kind"] = kind
    direction = values.get("direction") or ClaimDirection.OUTBOUND
    if direction not in ClaimDirection.values:
        raise ActionNotAllowed(_("Choose which parcel this is: shipped to the buyer or "
                                 "returned by the buyer."))
    cleaned["direction"] = direction
    tracking_no = normalize_tracking_no((values.get("tracking_no") or "")
                                        .strip().removeprefix('="').removesuffix('"'))
    cleaned["tracking_no"] = column_text(
        tracking_no, CarrierClaim, "tracking_no",
        required=_("Enter the parcel's tracking number (waybill)."))
    for field in ("carrier", "region", "sender_id_number", "checked_staff_number",
                  "details"):
        cleaned[field] = column_text(values.get(field), CarrierClaim, field)
    cleaned["parcel_status"] = column_text(
        values.get("parcel_status"), CarrierClaim, "parcel_status",
        required=_("Say what the parcel looked like (its status)."))
    cleaned["item_model"] = column_text(values.get("item_model"), CarrierClaim, "item_model",
                                        required=_("Enter the item's model."))
    ship_date = values.get("ship_date")
    if ship_date is not None and not isinstance(ship_date, date):
        raise ActionNotAllowed(_("Enter the ship date as a date."))
    cleaned["ship_date"] = ship_date
    reported_on = values.get("reported_on") or timezone.localdate()
    if not isinstance(reported_on, date):
        raise ActionNotAllowed(_("Enter the report date as a date."))
    if reported_on > timezone.localdate():
        raise ActionNotAllowed(_("The report date cannot be in the future."))
    if ship_date is not None and ship_date > reported_on:
        raise ActionNotAllowed(_("The parcel cannot have been shipped after the damage or "
                                 "loss was reported."))
    cleaned["reported_on"] = reported_on
    quantity = values.get("quantity")
    quantity = 1 if quantity is None else quantity
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ActionNotAllowed(_("The quantity is a whole number, at least 1."))
    cleaned["quantity"] = quantity
    cleaned["item_price"] = clean_amount(values.get("item_price"))
    claimed = values.get("claimed_amount")
    cleaned["claimed_amount"] = clean_amount(claimed if claimed not in (None, "")
                                             else cleaned["item_price"] * quantity)
    return cleaned


def _ensure_items_in_trade(order: Order, quantity: int, direction: str,
                           exclude_pk: int | None) -> None:
    """Never more items claimed than the trade held, counting its other claims of the same
    way (split parcels to the buyer; the buyer's return parcels): goods lost on the way to
    the buyer and the buyer's return of what arrived are claimed apart. Called with the
    order locked."""
    in_order = _order_quantity(order)
    if not in_order:
        return
    others = (CarrierClaim.objects.filter(CLAIMING, order=order, direction=direction)
              .exclude(pk=exclude_pk).aggregate(total=Sum("quantity"))["total"] or 0)
    if others + quantity > in_order:
        message = ngettext(
            "Order %(order)s holds %(count)s item: a claim cannot be for %(quantity)s.",
            "Order %(order)s holds %(count)s items: a claim cannot be for %(quantity)s.",
            in_order) % {"order": order.platform_order_id, "count": in_order,
                         "quantity": quantity}
        if others:
            message += " " + ngettext(
                "Its other claims already count %(others)s item.",
                "Its other claims already count %(others)s items.",
                others) % {"others": others}
        raise ActionNotAllowed(message)


def _ensure_parcel_claimed_once(shop: Shop, tracking_no: str, exclude_pk: int | None) -> None:
    """Called with the order locked; locks the shop's row as well: a parcel shipped for two
    orders (合并发货) may be claimed from either, and two people registering it at once
    must not both find no claim for it (the warehouse's unmatched list does the same)."""
    Shop.objects.select_for_update().filter(pk=shop.pk).first()  # one parcel, two orders
    earlier = (CarrierClaim.objects.filter(CLAIMING, shop=shop, tracking_no=tracking_no)
               .exclude(pk=exclude_pk).order_by("id").first())
    if earlier is not None:
        raise ActionNotAllowed(
            _("Parcel %(tracking)s already has claim #%(claim)s (%(state)s): a parcel is "
              "claimed once.")
            % {"tracking": tracking_no, "claim": earlier.pk,
               "state": earlier.get_state_display()})


def _event(claim: CarrierClaim, kind: str, actor: User, *, note: str = "",
           data: dict | None = None, at: datetime | None = None, **fields) -> ClaimEvent:
    return ClaimEvent.objects.create(claim=claim, kind=kind, actor=actor,
                                     staff_number=staff_number_of(actor), note=note,
                                     data=data or {}, created_at=at or timezone.now(), **fields)


def _save_photos(claim: CarrierClaim, photos, actor: User, now: datetime) -> list[str]:
    return save_photos(ClaimPhoto, photos, actor=actor, now=now, claim=claim)


def _delete_files(names: list[str]) -> None:
    delete_photo_files(ClaimPhoto, names)


# --- registering and correcting --------------------------------------------------------------


def claim_create(*, shop: Shop, order: Order, actor: User, case: Case | None = None,
                 photos=(), now: datetime | None = None, **values) -> CarrierClaim:
    """Register a damaged or lost parcel (a draft in the damage register, 报损登记).

    `values`: the fields of `EDITABLE_FIELDS` (kind, tracking_no, parcel_status, item_model
    and item_price required; claimed_amount defaults to price × quantity)."""
    now = now or timezone.now()
    _check_handler(actor, shop.pk)
    if order.shop_id != shop.pk:
        raise ActionNotAllowed(_("Order %(order)s is not an order of shop %(shop)s.")
                               % {"order": order.platform_order_id, "shop": shop.name})
    if case is not None and case.order_id != order.pk:
        raise ActionNotAllowed(_("Case #%(case)s is not a case of order %(order)s.")
                               % {"case": case.pk, "order": order.platform_order_id})
    cleaned = _cleaned_fields(values)
    if not cleaned["checked_staff_number"]:
        cleaned["checked_staff_number"] = staff_number_of(actor)
    cleaned_photos = clean_photos(photos)
    written: list[str] = []
    try:
        with transaction.atomic():
            locked_order = lock_order(order.pk)
            _ensure_parcel_claimed_once(shop, cleaned["tracking_no"], None)
            _ensure_items_in_trade(locked_order, cleaned["quantity"], cleaned["direction"],
                                   None)
            claim = CarrierClaim.objects.create(
                shop=shop, order=order, case=case, handler=actor,
                handler_staff_number=staff_number_of(actor), created_by=actor, created_at=now,
                **cleaned)
            written = _save_photos(claim, cleaned_photos, actor, now)
            _event(claim, ClaimEventKind.CREATED, actor, at=now,
                   to_state=claim.state,
                   data={"claimed_amount": str(claim.claimed_amount),
                         "photos": len(written)})
            if case is not None:
                events.claim_event(case_id=case.pk, actor=actor, claim=claim, action="create",
                                   at=now)
    except BaseException:
        _delete_files(written)
        raise
    return claim


def _text_of(value) -> str:
    return "" if value is None else str(value)


def claim_version(claim: CarrierClaim) -> str:
    """What a correction form carries of the claim it showed: any save since changes it."""
    return claim.updated_at.isoformat()


def claim_update(*, claim: CarrierClaim, actor: User, expected_state: str | None = None,
                 expected_version: str | None = None, now: datetime | None = None,
                 **values) -> CarrierClaim:
    """Correct a draft (or a rejected claim before it is sent again). The timeline keeps
    each change as [before, after] (the sender's ID masked). `expected_version`: the
    claim as the form showed it — a colleague's correction since then is not undone."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_claim(claim.pk)
        _check_handler(actor, locked.shop_id)
        if expected_state and locked.state != expected_state:
            raise ClaimChanged()
        if expected_version is not None and expected_version != claim_version(locked):
            raise ClaimChanged()
        if locked.state not in EDITABLE_STATES:
            raise ActionNotAllowed(
                _("A claim is corrected while it is a draft or after the carrier rejected it; "
                  "this one is “%(state)s”.") % {"state": locked.get_state_display()})
        merged = {field: getattr(locked, field) for field in EDITABLE_FIELDS}
        merged.update({k: v for k, v in values.items() if k in EDITABLE_FIELDS})
        if not (merged.get("checked_staff_number") or "").strip():
            merged["checked_staff_number"] = locked.checked_staff_number  # emptied: kept
        cleaned = _cleaned_fields(merged)
        if cleaned["tracking_no"] != locked.tracking_no:
            _ensure_parcel_claimed_once(locked.shop, cleaned["tracking_no"], locked.pk)
        if (cleaned["quantity"], cleaned["direction"]) != (locked.quantity, locked.direction):
            _ensure_items_in_trade(locked.order, cleaned["quantity"], cleaned["direction"],
                                   locked.pk)

        def shown(field: str, value) -> str:
            text = _text_of(value)
            return MASKED_FIELDS[field](text) if field in MASKED_FIELDS else text

        changes = {field: [shown(field, getattr(locked, field)), shown(field, value)]
                   for field, value in cleaned.items() if getattr(locked, field) != value}
        if not changes:
            return locked
        for field, value in cleaned.items():
            setattr(locked, field, value)
        locked.save(update_fields=[*changes, "updated_at"])
        _event(locked, ClaimEventKind.DETAILS, actor, at=now, data=changes)
    return locked


def claim_add_photos(*, claim: CarrierClaim, actor: User, photos,
                     now: datetime | None = None) -> int:
    """Add photos of the damage while the claim is open. Returns how many were added."""
    now = now or timezone.now()
    cleaned = clean_photos(photos)
    if not cleaned:
        raise ActionNotAllowed(_("Choose at least one photo."))
    written: list[str] = []
    try:
        with transaction.atomic():
            locked = lock_claim(claim.pk)
            _check_handler(actor, locked.shop_id)
            if not locked.is_open:
                raise ActionNotAllowed(_("Claim #%(claim)s is “%(state)s”: no more photos.")
                                       % {"claim": locked.pk,
                                          "state": locked.get_state_display()})
            held = locked.photos.count()
            if held + len(cleaned) > MAX_PHOTOS:
                raise ActionNotAllowed(
                    _("A claim holds at most %(limit)s photos; this one has %(held)s.")
                    % {"limit": MAX_PHOTOS, "held": held})
            written = _save_photos(locked, cleaned, actor, now)
            _event(locked, ClaimEventKind.PHOTOS, actor, at=now, data={"photos": len(written)})
    except BaseException:
        _delete_files(written)
        raise
    return len(written)


# --- transitions ------------------------------------------------------------------------------

Prepare = Callable[[CarrierClaim], tuple[list[str], dict[str, Any]]]


def _run(*, claim: CarrierClaim, actor: User, name: str, expected_state: str | None,
         note: str = "", prepare: Prepare | None = None,
         now: datetime | None = None) -> CarrierClaim:
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_claim(claim.pk)
        if expected_state and locked.state != expected_state:
            raise ClaimChanged()
        method = getattr(locked, name)
        if not can_proceed(method):
            raise ActionNotAllowed(
                _("“%(action)s” is not possible: the claim is now “%(state)s”.")
                % {"action": action_label(name), "state": locked.get_state_display()})
        if not has_transition_perm(method, actor):
            raise PermissionDeniedError()
        fields, data = prepare(locked) if prepare else ([], {})
        from_state = locked.state
        method()
        locked.save(update_fields=["state", *fields, "updated_at"])
        _event(locked, ClaimEventKind.TRANSITION, actor, at=now, note=note.strip(),
               transition=name, from_state=from_state, to_state=locked.state, data=data)
        if locked.case_id is not None:
            events.claim_event(case_id=locked.case_id, actor=actor, claim=locked, action=name,
                               from_state=from_state, note=note.strip(), at=now)
    return locked


def _require_complete(claim: CarrierClaim) -> None:
    missing = claim_missing(claim)
    if missing:
        raise ActionNotAllowed(_("Before it goes to the carrier the claim needs: %(missing)s.")
                               % {"missing": ", ".join(missing)})


def claim_submit(*, claim: CarrierClaim, actor: User, carrier_reference: str = "",
                 note: str = "", expected_state: str | None = None,
                 now: datetime | None = None) -> CarrierClaim:
    """The claim went to the carrier: only once it holds what the carrier asks for."""
    now = now or timezone.now()
    reference = column_text(carrier_reference, CarrierClaim, "carrier_reference")

    def prepare(locked: CarrierClaim):
        _require_complete(locked)
        locked.submitted_at = now
        fields = ["submitted_at"]
        if reference:
            locked.carrier_reference = reference
            fields.append("carrier_reference")
        return fields, {"carrier_reference": reference} if reference else {}

    return _run(claim=claim, actor=actor, name="submit", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


def claim_resubmit(*, claim: CarrierClaim, actor: User, note: str = "",
                   expected_state: str | None = None,
                   now: datetime | None = None) -> CarrierClaim:
    """Answer the carrier's refusal: the claim goes again, with what was added (`note`)."""
    now = now or timezone.now()
    note = require_text(note, _("Say what the claim adds to answer the carrier's refusal."))

    def prepare(locked: CarrierClaim):
        _require_complete(locked)
        # the refusal stays on the timeline; the register shows the claim as pending again
        locked.submitted_at, locked.result, locked.decided_at = now, "", None
        return ["submitted_at", "result", "decided_at"], {}

    return _run(claim=claim, actor=actor, name="resubmit", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


def _answer(name: str, *, claim: CarrierClaim, actor: User, result: str,
            expected_state: str | None, now: datetime | None) -> CarrierClaim:
    now = now or timezone.now()
    result = require_text(result, _("Write what the carrier answered."))

    def prepare(locked: CarrierClaim):
        locked.result, locked.decided_at = result, now
        return ["result", "decided_at"], {}

    return _run(claim=claim, actor=actor, name=name, expected_state=expected_state,
                note=result, prepare=prepare, now=now)


def claim_accept(*, claim: CarrierClaim, actor: User, result: str,
                 expected_state: str | None = None,
                 now: datetime | None = None) -> CarrierClaim:
    """The carrier accepted the claim (what it said: the amount it will pay, when)."""
    return _answer("accept", claim=claim, actor=actor, result=result,
                   expected_state=expected_state, now=now)


def claim_reject(*, claim: CarrierClaim, actor: User, result: str,
                 expected_state: str | None = None,
                 now: datetime | None = None) -> CarrierClaim:
    """The carrier rejected the claim (why); it may be sent again with more evidence."""
    return _answer("reject", claim=claim, actor=actor, result=result,
                   expected_state=expected_state, now=now)


def claim_record_compensation(*, claim: CarrierClaim, actor: User, amount, note: str = "",
                              expected_state: str | None = None,
                              now: datetime | None = None) -> CarrierClaim:
    """The carrier paid `amount` (never more than was claimed)."""
    now = now or timezone.now()
    amount = clean_amount(amount)

    def prepare(locked: CarrierClaim):
        if amount > locked.claimed_amount:
            raise ActionNotAllowed(
                _("The carrier pays at most what was claimed: ¥%(claimed)s, not ¥%(amount)s.")
                % {"claimed": locked.claimed_amount, "amount": amount})
        locked.compensated_amount, locked.compensated_at = amount, now
        return ["compensated_amount", "compensated_at"], {"amount": str(amount)}

    return _run(claim=claim, actor=actor, name="record_compensation",
                expected_state=expected_state, note=note, prepare=prepare, now=now)


def claim_close(*, claim: CarrierClaim, actor: User, note: str = "",
                expected_state: str | None = None,
                now: datetime | None = None) -> CarrierClaim:
    """File the claim away. Unless the carrier paid, with why (a draft never sent, a claim
    never answered, a refusal accepted, a promise never kept)."""
    note = (note or "").strip()

    def prepare(locked: CarrierClaim):
        if locked.state != ClaimState.COMPENSATED and not note:
            raise ActionNotAllowed(_("Say why the claim is closed without compensation."))
        return [], {}

    return _run(claim=claim, actor=actor, name="close", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


def claims_received_total(claims) -> Decimal:
    """What carriers paid on `claims` (a queryset), in one query."""
    total = claims.aggregate(total=Sum("compensated_amount"))["total"] or Decimal("0")
    return Decimal(total).quantize(Decimal("0.01"))  # SQLite sums 90.00 to 90
