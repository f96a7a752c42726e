"""The warehouse station: receive and inspect returned parcels (退货明细).

A parcel scanned at the station is matched to the case(s) awaiting it by its return tracking
number. Inspecting it is one transaction: the case moves to `received` through the case
service (`case_receive`: resellable = condition is resellable; the deadline then belongs to
after-sales), the parcel row and its photos are written and the inspection joins the case's
timeline. A parcel nobody awaits is registered as unmatched (无主件) and attached to its case
later, by the same inspection.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import events
from ..exceptions import ActionNotAllowed, PermissionDeniedError
from ..models import Case, ParcelCondition, ParcelPhoto, Policy, ReturnParcel, Shop
from ..permissions import staff_number_of, user_serves_shop
from ..photos import clean_photos, delete_photo_files, save_photos
from ..timezones import CHINA
from .cases import case_receive, normalize_tracking_no
from .text import column_text, fits

MAX_QUANTITY = 9999


def batch_date_for(received_at: datetime, policy: Policy) -> date:
    """The returns batch a parcel belongs to: received after the cutoff (China time, the
    warehouse's clock, whatever the server's TIME_ZONE) → the next day's batch."""
    local = received_at.astimezone(CHINA)
    if local.time() > policy.return_cutoff:
        return local.date() + timedelta(days=1)
    return local.date()


def _check_warehouse(actor: User, shop_id: int) -> None:
    if not (actor.has_perm("refunds.receive_return") and user_serves_shop(actor, shop_id)):
        raise PermissionDeniedError()


TRACKING_MAX = 64  # ReturnParcel.tracking_no and Case.return_tracking_no


def _clean_tracking(tracking_no: str) -> str:
    """The scanned number without spaces or a "No:" prefix; never cut to fit."""
    tracking_no = normalize_tracking_no(tracking_no)
    if not tracking_no:
        raise ActionNotAllowed(_("Enter the return tracking number."))
    if len(tracking_no) > TRACKING_MAX:
        raise ActionNotAllowed(_("A tracking number has at most %(max)s characters; this one "
                                 "has %(length)s.") % {"max": TRACKING_MAX,
                                                       "length": len(tracking_no)})
    return tracking_no


def _save_photos(parcel: ReturnParcel, photos, actor: User, now: datetime) -> list[str]:
    return save_photos(ParcelPhoto, photos, actor=actor, now=now, parcel=parcel)


def _delete_files(names: list[str]) -> None:
    delete_photo_files(ParcelPhoto, names)


def parcel_register_unmatched(*, shop: Shop, actor: User, tracking_no: str, carrier: str = "",
                              note: str = "", photos=(),
                              now: datetime | None = None) -> ReturnParcel:
    """A parcel no case awaits: onto the unmatched list (无主件), to be attached later."""
    now = now or timezone.now()
    _check_warehouse(actor, shop.pk)
    tracking_no = _clean_tracking(tracking_no)
    carrier = column_text(carrier, ReturnParcel, "carrier")
    cleaned = clean_photos(photos)
    written: list[str] = []
    try:
        with transaction.atomic():
            # The shop's row, locked: two people scanning the same parcel at once register it
            # once (the second waits, then finds it on the list). Carrier claims lock it too
            # (after their order row), for the same reason; nothing locks an order after it.
            Shop.objects.select_for_update().filter(pk=shop.pk).first()
            if ReturnParcel.objects.filter(shop=shop, tracking_no=tracking_no,
                                           case__isnull=True).exists():
                raise ActionNotAllowed(_("Parcel %(tracking)s is already on the unmatched "
                                         "list.") % {"tracking": tracking_no})
            parcel = ReturnParcel.objects.create(
                shop=shop, tracking_no=tracking_no, carrier=carrier,
                note=note.strip(), received_at=now,
                batch_date=batch_date_for(now, shop.policy), received_by=actor,
                received_staff_number=staff_number_of(actor),
            )
            written = _save_photos(parcel, cleaned, actor, now)
    except BaseException:
        _delete_files(written)
        raise
    return parcel


def parcel_inspect(*, case: Case, actor: User, condition: str, quantity: int,
                   tracking_no: str = "", carrier: str = "", note: str = "", photos=(),
                   parcel: ReturnParcel | None = None, expected_state: str | None = None,
                   now: datetime | None = None) -> ReturnParcel:
    """Inspect a returned parcel of `case` (or attach the unmatched `parcel` to it and
    inspect it): the case is received, the parcel recorded, the timeline written."""
    now = now or timezone.now()
    _check_warehouse(actor, case.shop_id)
    if condition not in ParcelCondition.values:
        raise ActionNotAllowed(_("Choose the condition of the returned goods."))
    try:
        quantity = int(quantity)
    except (TypeError, ValueError):
        quantity = -1
    if not 0 <= quantity <= MAX_QUANTITY:
        raise ActionNotAllowed(_("Enter the quantity received."))
    if parcel is None:
        tracking_no = _clean_tracking(tracking_no or case.return_tracking_no)
    carrier = column_text(carrier, ReturnParcel, "carrier")
    cleaned = clean_photos(photos)
    written: list[str] = []
    try:
        with transaction.atomic():
            received = case_receive(case=case, actor=actor,
                                    resellable=condition == ParcelCondition.RESELLABLE,
                                    note=str(ParcelCondition(condition).label),
                                    expected_state=expected_state, now=now)
            if parcel is not None:
                parcel = ReturnParcel.objects.select_for_update().get(pk=parcel.pk)
                if parcel.case_id is not None:
                    raise ActionNotAllowed(_("This parcel has already been attached to case "
                                             "#%(case)s.") % {"case": parcel.case_id})
                if parcel.shop_id != received.shop_id:
                    raise ActionNotAllowed(_("The parcel and the case belong to different "
                                             "shops."))
                if carrier:
                    parcel.carrier = carrier
                if note.strip():
                    parcel.note = "\n".join(filter(None, [parcel.note, note.strip()]))
            else:
                parcel = ReturnParcel(
                    shop_id=received.shop_id, tracking_no=tracking_no,
                    carrier=fits(carrier or received.return_carrier, ReturnParcel, "carrier"),
                    note=note.strip(), received_at=now,
                    batch_date=batch_date_for(now, received.shop.policy), received_by=actor,
                    received_staff_number=staff_number_of(actor),
                )
            parcel.case = received
            parcel.condition = condition
            parcel.quantity_received = quantity
            parcel.inspected_at = now
            parcel.inspected_by = actor
            parcel.inspected_staff_number = staff_number_of(actor)
            parcel.save()
            written = _save_photos(parcel, cleaned, actor, now)
            events.inspection_event(case=received, actor=actor, parcel=parcel, note=note,
                                    at=now)
    except BaseException:
        _delete_files(written)
        raise
    return parcel
