"""The nightly look at open parcel inquiries (快递查询 / 改地址), `sweep_inquiries`: it changes no
inquiry, it tells people before a buyer waits longer than promised.

1. *Answer due*: an open inquiry whose `reply_by` is within its `warning window` (or passed):
   the buyer was promised an answer. Warned once per reply-by time. The window is the shop
   policy's `warning_hours`, but at most a quarter of its `inquiry_reply_hours` (6 of the
   default 24): with both at 24 every inquiry would be "due" the moment it is opened.
2. *Carrier silent*: an inquiry waiting for the carrier whose call-back time passed. Warned
   once per call-back time: asked again with a new time, it is warned of again.

Told are the shop's active supervisors and whoever opened the inquiry (if they still serve
the shop), in the app and by email. A notification is unique per person, inquiry, kind and
deadline, so a second run adds nothing. Each inquiry is its own transaction, in which it is
locked and checked again (one answered or closed meanwhile is not warned of, one somebody holds
is left for the next run); a failure is counted and reported and the sweep goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import texts
from ..links import absolute_url
from ..models import (
    OPEN_INQUIRY_STATES,
    InquiryState,
    Notification,
    NotificationKind,
    ParcelInquiry,
    Policy,
)
from ..permissions import user_serves_shop
from .notifications import shop_supervisors
from .review_sweep import _send

logger = logging.getLogger(__name__)


@dataclass
class InquirySweepResult:
    due: int = 0  # inquiries warned: the buyer's answer due
    silent: int = 0  # inquiries warned: the carrier did not call back
    notified: int = 0  # notifications written (people × inquiries)
    unheard: int = 0  # nobody to tell
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    email_failures: list[str] = field(default_factory=list)

    def fail(self, what: str, error: Exception) -> None:
        self.failed += 1
        self.failures.append(f"{what}: {error}")
        logger.exception("inquiry sweep: %s failed", what, exc_info=error)


def warning_window(warning_hours: int, reply_hours: int) -> int:
    """Hours before the buyer's answer is due to warn: the policy's warning hours, at most a
    quarter of the time the shop gives itself to answer (at least one hour)."""
    return min(warning_hours, max(1, reply_hours // 4))


def inquiries_due(now: datetime) -> list[ParcelInquiry]:
    """Open inquiries whose answer is due within their shop's warning window, or passed: one
    query per distinct window (a handful), the soonest first."""
    found: list[ParcelInquiry] = []
    by_hours: dict[int, list[int]] = {}
    for shop_id, hours, reply_hours in Policy.objects.values_list(
            "shop_id", "warning_hours", "inquiry_reply_hours"):
        by_hours.setdefault(warning_window(hours, reply_hours), []).append(shop_id)
    for hours, shop_ids in sorted(by_hours.items()):
        found += list(ParcelInquiry.objects.filter(
            shop_id__in=shop_ids, state__in=OPEN_INQUIRY_STATES,
            reply_by__lte=now + timedelta(hours=hours)).select_related("order", "opened_by"))
    return sorted(found, key=lambda inquiry: (inquiry.reply_by, inquiry.pk))


def inquiries_silent(now: datetime) -> list[ParcelInquiry]:
    return list(ParcelInquiry.objects.filter(state=InquiryState.WAITING, callback_by__lte=now)
                .select_related("order", "opened_by").order_by("callback_by", "pk"))


def _still_due(inquiry: ParcelInquiry, kind: str, deadline: datetime) -> bool:
    """The inquiry, locked (skipped when somebody holds it), is still in a state and at a
    time that makes the warning of `kind` for `deadline` true."""
    rows = ParcelInquiry.objects.select_for_update(skip_locked=True).filter(pk=inquiry.pk)
    if kind == NotificationKind.INQUIRY_CALLBACK:
        rows = rows.filter(state=InquiryState.WAITING, callback_by=deadline)
    else:
        rows = rows.filter(state__in=OPEN_INQUIRY_STATES, reply_by=deadline)
    return rows.exists()


def recipients(inquiry: ParcelInquiry) -> list[User]:
    """The shop's active supervisors and whoever opened the inquiry, if they still serve the
    shop (first)."""
    people = shop_supervisors(inquiry.shop_id)
    opener = inquiry.opened_by
    if opener.is_active and user_serves_shop(opener, inquiry.shop_id) and opener not in people:
        people.insert(0, opener)
    return people


def _notify(inquiry: ParcelInquiry, people: list[User], kind: str, deadline: datetime,
            said: dict, subject: str, result: InquirySweepResult) -> int:
    message = texts.words({texts.TEXT: said})
    created = []
    for user in people:
        notification, is_new = Notification.objects.get_or_create(
            user=user, inquiry=inquiry, kind=kind, deadline_at=deadline,
            defaults={"message": message, "data": {texts.TEXT: said}})
        if is_new:
            created.append(notification)
    addresses = [n.user.email for n in created if n.user.email]
    if addresses:
        body = f"{message}\n\n{absolute_url(inquiry.get_absolute_url())}"
        transaction.on_commit(partial(_send, subject, body, addresses, result.email_failures),
                              robust=True)
    return len(created)


def sweep_inquiries(*, now: datetime | None = None, dry_run: bool = False,
                    on_progress: Callable[[str, int, int], None] | None = None,
                    ) -> InquirySweepResult:
    """The two warnings; `on_progress(phase, done, total)` after each inquiry. A dry run
    counts the inquiries it would warn and writes nothing."""
    now = now or timezone.now()
    result = InquirySweepResult()
    progress = on_progress or (lambda _phase, _done, _total: None)
    due = [(inquiry, NotificationKind.INQUIRY_DUE, inquiry.reply_by,
            texts.said("inquiry_due", id=inquiry.pk, order=inquiry.order.platform_order_id,
                       deadline=inquiry.reply_by.isoformat(), state=inquiry.state),
            _("Parcel inquiry: the buyer's answer is due"))
           for inquiry in inquiries_due(now)]
    silent = [(inquiry, NotificationKind.INQUIRY_CALLBACK, inquiry.callback_by,
               texts.said("inquiry_callback", id=inquiry.pk,
                          order=inquiry.order.platform_order_id,
                          deadline=inquiry.callback_by.isoformat(),
                          carrier_staff=inquiry.carrier_staff),
               _("Parcel inquiry: the carrier has not called back"))
              for inquiry in inquiries_silent(now)]
    for phase, rows, counter in ((_("inquiries whose answer is due"), due, "due"),
                                 (_("inquiries the carrier did not call back on"), silent,
                                  "silent")):
        for count, (inquiry, kind, deadline, said, subject) in enumerate(rows, 1):
            try:
                people = recipients(inquiry)
                if not people:
                    result.unheard += 1
                    result.failures.append(
                        _("Parcel inquiry #%(id)s (order %(order)s): nobody to tell — the "
                          "shop has no active supervisor and whoever opened it no longer "
                          "serves the shop.")
                        % {"id": inquiry.pk, "order": inquiry.order.platform_order_id})
                    warned = False
                elif dry_run:
                    warned = not Notification.objects.filter(
                        inquiry=inquiry, kind=kind, deadline_at=deadline).exists()
                else:
                    with transaction.atomic():
                        # locked and checked again: an inquiry answered or closed since it
                        # was read is not warned of; one somebody holds is left for the
                        # next run (the sweep never waits for a person)
                        written = (_notify(inquiry, people, kind, deadline, said, subject,
                                           result)
                                   if _still_due(inquiry, kind, deadline) else 0)
                    result.notified += written
                    warned = written > 0
            except Exception as error:  # noqa: BLE001 - one inquiry must not stop the rest
                result.fail(f"{phase} #{inquiry.pk}", error)
            else:
                if warned:
                    setattr(result, counter, getattr(result, counter) + 1)
            progress(phase, count, len(rows))
    return result
