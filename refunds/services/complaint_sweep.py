"""The nightly sweep of complaints after the trade (维权 / 投诉), `sweep_complaints`:

1. An open complaint whose evidence deadline has passed with no evidence submitted is ruled
   for the buyer, as the platform does, by SYSTEM: the buyer is paid what they asked, within
   the money rule. When that is more than is still refundable on the order, nothing is
   changed: the complaint is reported and its people told to sort it out with the seller
   centre.
2. An open complaint whose deadline falls within the shop policy's `warning_hours` warns its
   handler and the shop's supervisors, once per deadline.

Complaints are few (a shop has a handful a week), so each is one transaction: its order and
then the complaint are locked with `skip_locked` (one somebody is working on is left for the
next run), and the state and deadline are re-checked on the locked rows. A failure rolls back
alone, is counted and reported, and the sweep goes on. A second run changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import texts
from ..exceptions import AmountError
from ..links import absolute_url
from ..locks import try_lock_complaint
from ..models import Complaint, ComplaintState, Notification, NotificationKind, Policy
from ..permissions import user_serves_shop
from .complaints import complaint_platform_ruling
from .money import refundable_amount, refundable_amounts
from .notifications import shop_supervisors
from .review_sweep import _send

logger = logging.getLogger(__name__)


@dataclass
class ComplaintSweepResult:
    ruled: int = 0
    warned: int = 0
    refused: int = 0  # the money rule kept the platform's ruling from being recorded
    skipped: int = 0  # locked by someone else, or changed meanwhile: next run
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    email_failures: list[str] = field(default_factory=list)

    def fail(self, what: str, error: Exception) -> None:
        self.failed += 1
        self.failures.append(f"{what}: {error}")
        logger.exception("complaint sweep: %s failed", what, exc_info=error)


def overdue_complaints(now: datetime):
    return Complaint.objects.filter(state=ComplaintState.OPEN, evidence_due_at__lt=now)


def complaints_to_warn(now: datetime):
    """Open, due within the shop's warning window, not yet warned of this deadline. The
    widest window of any shop bounds the query; each complaint's own is checked on it."""
    widest = max(Policy.objects.values_list("warning_hours", flat=True), default=24)
    return (Complaint.objects.filter(state=ComplaintState.OPEN, evidence_due_at__gte=now,
                                     evidence_due_at__lte=now + timedelta(hours=widest))
            .exclude(warned_due_at=F("evidence_due_at")))


def recipients(complaint: Complaint) -> list[User]:
    """The handler, if they still serve the shop, and the shop's active supervisors."""
    people = shop_supervisors(complaint.shop_id)
    handler = complaint.handler
    if (handler.is_active and user_serves_shop(handler, complaint.shop_id)
            and handler not in people):
        people.insert(0, handler)
    return people


def _notify(complaint: Complaint, kind: str, said: dict, result: ComplaintSweepResult,
            subject: str) -> int:
    message = texts.words({texts.TEXT: said})
    created = []
    for user in recipients(complaint):
        notification, is_new = Notification.objects.get_or_create(
            user=user, complaint=complaint, kind=kind, deadline_at=complaint.evidence_due_at,
            defaults={"message": message, "data": {texts.TEXT: said}})
        if is_new:
            created.append(notification)
    addresses = [n.user.email for n in created if n.user.email]
    if addresses:
        body = f"{message}\n\n{absolute_url(complaint.get_absolute_url())}"
        transaction.on_commit(partial(_send, subject, body, addresses, result.email_failures),
                              robust=True)
    return len(created)


def _said(code: str, complaint: Complaint, **params) -> dict:
    return texts.said(code, id=complaint.pk, kind=complaint.kind,
                      order=complaint.order.platform_order_id,
                      deadline=complaint.evidence_due_at.isoformat(), **params)


CHANGED = None  # what `_rule` and `_warn` return for a complaint changed since it was listed


def _rule(locked: Complaint, now: datetime, result: ComplaintSweepResult) -> bool | None:
    if locked.state != ComplaintState.OPEN or locked.evidence_due_at >= now:
        return CHANGED
    try:
        with transaction.atomic():
            complaint_platform_ruling(locked=locked, now=now)
    except AmountError as error:
        result.refused += 1
        result.failures.append(_("Complaint #%(id)s: %(reason)s")
                               % {"id": locked.pk, "reason": error.message})
        # the reason as figures, put into words in each reader's language
        _notify(locked, NotificationKind.COMPLAINT_UNRECORDED,
                _said("complaint_unrecorded", locked, amount=str(locked.amount_claimed),
                      available=str(refundable_amount(locked.order)),
                      paid=str(locked.order.paid_amount)), result,
                _("Complaint ruled by the platform: not recorded"))
        return False
    _notify(locked, NotificationKind.COMPLAINT_RULED, _said("complaint_ruled", locked),
            result, _("Complaint ruled for the buyer: no evidence"))
    return True


def _warn(locked: Complaint, now: datetime, result: ComplaintSweepResult) -> bool | None:
    due = locked.evidence_due_at
    if (locked.state != ComplaintState.OPEN or due < now or locked.warned_due_at == due
            or due > now + timedelta(hours=locked.shop.policy.warning_hours)):
        return CHANGED
    hours = max(int((due - now).total_seconds() // 3600), 0)
    _notify(locked, NotificationKind.COMPLAINT_WARNING,
            _said("complaint_warning", locked, hours=hours), result,
            _("Complaint evidence due soon"))
    locked.warned_due_at = due
    locked.save(update_fields=["warned_due_at"])
    return True


def _each(result: ComplaintSweepResult, what: str, pks: list[int], act,
          progress: Callable[[str, int, int], None]) -> int:
    """`act(locked)`: True when it did its work, False when it refused (counted by itself),
    CHANGED when the complaint is no longer what was listed; that one, and one somebody
    holds, is counted skipped (the next run sees it again)."""
    done = 0
    for count, pk in enumerate(pks, 1):
        try:
            with transaction.atomic():
                locked = try_lock_complaint(pk)
                acted = CHANGED if locked is None else act(locked)
        except Exception as error:  # noqa: BLE001 - one complaint's failure must not stop it
            result.fail(f"{what} #{pk}", error)
        else:
            if acted:
                done += 1
            elif acted is CHANGED:
                result.skipped += 1
        progress(what, count, len(pks))
    return done


def _foresee(pks: list[int]) -> tuple[int, int]:
    """What the real run would do with these overdue complaints, without locking or writing:
    (ruled, refused by the money rule), each paying what its buyer asked from what is still
    refundable on its order, in the order the run takes them."""
    rows = list(Complaint.objects.filter(pk__in=pks).select_related("order")
                .order_by("evidence_due_at", "pk"))
    left = refundable_amounts({row.order for row in rows})
    ruled = refused = 0
    for row in rows:
        amount = row.amount_claimed
        if amount is not None and amount > left[row.order_id]:
            refused += 1
            continue
        left[row.order_id] -= amount or 0
        ruled += 1
    return ruled, refused


def sweep_complaints(*, now: datetime | None = None, dry_run: bool = False,
                     on_progress: Callable[[str, int, int], None] | None = None,
                     ) -> ComplaintSweepResult:
    """The two phases; `on_progress(phase, done, total)` after each complaint."""
    now = now or timezone.now()
    result = ComplaintSweepResult()
    progress = on_progress or (lambda _phase, _done, _total: None)
    overdue = list(overdue_complaints(now).order_by("evidence_due_at", "pk")
                   .values_list("pk", flat=True))
    warning = [pk for pk, hours, due in complaints_to_warn(now).order_by("evidence_due_at", "pk")
               .values_list("pk", "shop__policy__warning_hours", "evidence_due_at")
               if due <= now + timedelta(hours=hours)]
    if dry_run:
        result.ruled, result.refused = _foresee(overdue)
        result.warned = len(warning)
        return result
    result.ruled = _each(result, _("complaints ruled"), overdue,
                         lambda locked: _rule(locked, now, result), progress)
    result.warned = _each(result, _("complaints warned"), warning,
                          lambda locked: _warn(locked, now, result), progress)
    return result
