"""The buyer's confirm-receipt window (确认收货时间) and its extensions (延长收货).

The window starts when the order ships: the import sets `Order.confirm_receipt_by` from the
ship time plus the shop policy's `auto_confirm_days`, or — the classic export has no ship
time — from the payment time, marked estimated: an order ships after it is paid, so the
estimate is never later than the real date, and a warning from it comes early, never late.
Extensions people recorded stay on top of it when a later export brings the ship time; a
date read from the seller centre is never moved by an import.

A person changes it only through the two functions below, in one transaction with the order
row locked: the date the page showed must still be the order's (else `ReceiptChanged`), the
actor must hold `refunds.extend_receipt` and serve the order's shop, the order must be
shipped and not completed. Each change writes its `ReceiptWindowChange` row and a timeline
row on every open case of the order:
- `receipt_extend`: the window was extended in the seller centre by one of the lengths it
  offers (`EXTENSION_DAYS`), at most the policy's `receipt_extension_limit` times, before the
  date has passed (after it, the platform has completed the trade);
- `receipt_read`: the date as the seller centre shows it (it replaces an estimate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .. import texts
from ..exceptions import ActionNotAllowed, CaseChanged, PermissionDeniedError
from ..locks import lock_order
from ..models import (
    EXTENSION_DAYS,
    OPEN_STATES,
    Case,
    CaseEvent,
    EventKind,
    Order,
    OrderStatus,
    Policy,
    ReceiptChangeKind,
    ReceiptWindowChange,
)
from ..permissions import staff_number_of, user_serves_shop
from .text import column_text

MAX_READ_DAYS = 90  # a date read from the seller centre further ahead than this is a typo
WINDOW_FIELDS = ("confirm_receipt_by", "confirm_receipt_estimated", "receipt_extensions")


class ReceiptChanged(CaseChanged):
    default_message = gettext_lazy("This order's confirm-receipt date changed while you were "
                                   "looking at it. Reload and try again.")


def can_extend_receipts(user, shop_id: int) -> bool:
    return user.has_perm("refunds.extend_receipt") and user_serves_shop(user, shop_id)


@dataclass(frozen=True)
class ReceiptWindow:
    """What a page shows of an order's window."""

    applies: bool  # shipped, awaiting the buyer's confirmation: the window is running
    confirm_by: datetime | None
    estimated: bool
    extensions_used: int
    extensions_left: int

    def left(self, now: datetime) -> timedelta | None:
        return None if self.confirm_by is None else self.confirm_by - now

    def warn(self, now: datetime, policy: Policy) -> bool:
        """Within the policy's warning days, or passed."""
        return (self.applies and self.confirm_by is not None
                and self.confirm_by <= now + timedelta(days=policy.receipt_warning_days))


def window_of(order: Order, policy: Policy) -> ReceiptWindow:
    used = order.receipt_extensions
    return ReceiptWindow(applies=order.status == OrderStatus.SHIPPED,
                         confirm_by=order.confirm_receipt_by,
                         estimated=order.confirm_receipt_estimated, extensions_used=used,
                         extensions_left=max(policy.receipt_extension_limit - used, 0))


def window_start(*, shipped_at: datetime | None, paid_at: datetime | None,
                 days: int) -> tuple[datetime | None, bool]:
    """(confirm-by, estimated) for an order that has just shipped."""
    if shipped_at is not None:
        return shipped_at + timedelta(days=days), False
    if paid_at is not None:
        return paid_at + timedelta(days=days), True
    return None, False


@dataclass(frozen=True)
class Recorded:
    """What people recorded of an order's window: whether a date was read from the seller
    centre (then it is the authority: the import never moves it), else the days the window
    was extended by (the seller centre adds them to the real date, whatever the desk's)."""

    read: bool = False
    extended_days: int = 0


NOTHING_RECORDED = Recorded()


def recorded_windows(order_ids) -> dict[int, Recorded]:
    """{order id: what people recorded} for the orders that have records: one query."""
    found: dict[int, Recorded] = {}
    for order_id, kind, days in (ReceiptWindowChange.objects.filter(order_id__in=order_ids)
                                 .order_by("order_id", "created_at", "id")
                                 .values_list("order_id", "kind", "days")):
        before = found.get(order_id, NOTHING_RECORDED)
        found[order_id] = (Recorded(read=True) if kind == ReceiptChangeKind.READ or before.read
                           else Recorded(extended_days=before.extended_days + (days or 0)))
    return found


def imported_window(order: dict[str, Any], days: int,
                    recorded: Recorded = NOTHING_RECORDED) -> dict[str, Any]:
    """The window fields an order row changes (`order`: its fields as they will be saved, the
    window fields as they are now — absent for a new order). A shipped order's window runs
    from its ship time, else (estimated) from its payment, plus the days people extended it
    by; a date a person read from the seller centre is never moved."""
    if order.get("status") != OrderStatus.SHIPPED or recorded.read:
        return {}
    start, estimated = window_start(shipped_at=order.get("shipped_at"),
                                    paid_at=order.get("paid_at"), days=days)
    if start is None:
        return {}
    confirm_by = start + timedelta(days=recorded.extended_days)
    if (confirm_by, estimated) == (order.get("confirm_receipt_by"),
                                   order.get("confirm_receipt_estimated", False)):
        return {}
    return {"confirm_receipt_by": confirm_by, "confirm_receipt_estimated": estimated}


def start_window(order: Order, policy: Policy) -> list[str]:
    """`imported_window` on a model instance (the admin, the demo data), with what people
    recorded of it: the fields set."""
    fields = {name: getattr(order, name) for name in
              ("status", "shipped_at", "paid_at", *WINDOW_FIELDS)}
    recorded = (recorded_windows([order.pk]).get(order.pk, NOTHING_RECORDED)
                if order.pk else NOTHING_RECORDED)
    changes = imported_window(fields, policy.auto_confirm_days, recorded)
    for name, value in changes.items():
        setattr(order, name, value)
    return list(changes)


# --- a person's record of the seller centre --------------------------------------------------


def receipt_extend(*, order: Order, actor: User, days: int, expected_confirm_by: datetime | None,
                   case: Case | None = None, note: str = "",
                   now: datetime | None = None) -> ReceiptWindowChange:
    """The window was extended by `days` in the seller centre (延长收货)."""
    if days not in EXTENSION_DAYS:
        raise ActionNotAllowed(_("Choose how many days the seller centre extended it: %(days)s.")
                               % {"days": ", ".join(str(d) for d in EXTENSION_DAYS)})

    def extend(locked: Order, policy: Policy, now: datetime) -> tuple[dict, dict]:
        if locked.confirm_receipt_by is None:
            raise ActionNotAllowed(_(
                "The desk does not know when this order confirms receipt by itself: read the "
                "date in the seller centre and record it first."))
        if locked.confirm_receipt_by <= now:
            raise ActionNotAllowed(_(
                "The order confirmed receipt by itself at %(when)s: the platform has "
                "completed the trade, it can no longer be extended. If the seller centre "
                "still shows a later date, record that date.")
                % {"when": _when(locked.confirm_receipt_by)})
        limit = policy.receipt_extension_limit
        if locked.receipt_extensions >= limit:
            raise ActionNotAllowed(ngettext(
                "This order's window was already extended %(used)s time; the shop's policy "
                "allows %(limit)s. Settle the case before %(when)s.",
                "This order's window was already extended %(used)s times; the shop's policy "
                "allows %(limit)s. Settle the case before %(when)s.", locked.receipt_extensions)
                % {"used": locked.receipt_extensions, "limit": limit,
                   "when": _when(locked.confirm_receipt_by)})
        confirm_by = locked.confirm_receipt_by + timedelta(days=days)
        fields = {"confirm_receipt_by": confirm_by,
                  "receipt_extensions": locked.receipt_extensions + 1}
        said = texts.said("receipt_extended", days=days, confirm_by=confirm_by.isoformat(),
                          estimated=locked.confirm_receipt_estimated, note=note)
        return fields, {"kind": ReceiptChangeKind.EXTENDED, "days": days, "text": said}

    note = column_text(note, ReceiptWindowChange, "note")
    return _change(order=order, actor=actor, expected=expected_confirm_by, case=case,
                   note=note, now=now, apply=extend)


def receipt_read(*, order: Order, actor: User, confirm_by: datetime,
                 expected_confirm_by: datetime | None, case: Case | None = None,
                 note: str = "", now: datetime | None = None) -> ReceiptWindowChange:
    """The date the seller centre shows for the automatic confirmation, entered by hand."""

    def read(locked: Order, _policy: Policy, now: datetime) -> tuple[dict, dict]:
        if confirm_by <= now:
            raise ActionNotAllowed(_(
                "That time has passed: an order whose window has ended has completed on the "
                "platform. Enter the date the seller centre shows, in the future."))
        if confirm_by > now + timedelta(days=MAX_READ_DAYS):
            raise ActionNotAllowed(_("That date is more than %(days)s days ahead: check it in "
                                     "the seller centre.") % {"days": MAX_READ_DAYS})
        if locked.shipped_at is not None and confirm_by <= locked.shipped_at:
            raise ActionNotAllowed(_("That date is before the order shipped (%(when)s).")
                                   % {"when": _when(locked.shipped_at)})
        if confirm_by == locked.confirm_receipt_by and not locked.confirm_receipt_estimated:
            raise ActionNotAllowed(_("That is already the order's confirm-receipt date."))
        fields = {"confirm_receipt_by": confirm_by, "confirm_receipt_estimated": False}
        said = texts.said("receipt_read", confirm_by=confirm_by.isoformat(), note=note)
        return fields, {"kind": ReceiptChangeKind.READ, "days": None, "text": said}

    note = column_text(note, ReceiptWindowChange, "note")
    return _change(order=order, actor=actor, expected=expected_confirm_by, case=case,
                   note=note, now=now, apply=read)


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _change(*, order: Order, actor: User, expected: datetime | None, case: Case | None,
            note: str, now: datetime | None, apply) -> ReceiptWindowChange:
    now = now or timezone.now()
    if not can_extend_receipts(actor, order.shop_id):
        raise PermissionDeniedError()
    if case is not None and case.order_id != order.pk:
        raise ActionNotAllowed(_("The case must be one of order %(order)s.")
                               % {"order": order.platform_order_id})
    with transaction.atomic():
        locked = lock_order(order.pk)
        if locked.confirm_receipt_by != expected:
            raise ReceiptChanged()
        if locked.status != OrderStatus.SHIPPED:
            raise ActionNotAllowed(_(
                "Only a shipped order waiting for the buyer to confirm receipt has a window to "
                "extend; order %(order)s is “%(status)s”.")
                % {"order": locked.platform_order_id, "status": locked.get_status_display()})
        policy = Policy.objects.get(shop_id=locked.shop_id)
        fields, change = apply(locked, policy, now)
        previous, was_estimated = locked.confirm_receipt_by, locked.confirm_receipt_estimated
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save(update_fields=list(fields))
        record = ReceiptWindowChange.objects.create(
            shop_id=locked.shop_id, order=locked, case=case, kind=change["kind"],
            days=change["days"], previous_confirm_by=previous, previous_estimated=was_estimated,
            confirm_by=locked.confirm_receipt_by, note=note, actor=actor,
            staff_number=staff_number_of(actor), created_at=now)
        text = change["text"]
        CaseEvent.objects.bulk_create([
            CaseEvent(case_id=case_id, kind=EventKind.RECEIPT, actor=actor,
                      staff_number=record.staff_number, created_at=now,
                      note=texts.words({texts.TEXT: text}),
                      data={texts.TEXT: text, "receipt_change": record.pk,
                            "confirm_by": record.confirm_by.isoformat(),
                            **({"days": record.days} if record.days else {})})
            for case_id in Case.objects.filter(order=locked, state__in=OPEN_STATES)
            .order_by("pk").values_list("pk", flat=True)])
    order.confirm_receipt_by = locked.confirm_receipt_by
    order.confirm_receipt_estimated = locked.confirm_receipt_estimated
    order.receipt_extensions = locked.receipt_extensions
    return record
