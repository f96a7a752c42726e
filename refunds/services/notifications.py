"""In-app notifications (shown on the queue page), emailed as a digest: one email per person
per run of the nightly sweep (`Digest`).

A notification exists at most once per person, case, kind and deadline (the model's unique
constraint): whoever notifies twice for the same deadline adds nothing and sends
nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.contrib.auth.models import Permission, User
from django.core import mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..bulk import insert_many
from ..links import absolute_url, path_maker
from ..models import Case, Notification, NotificationKind, Payout, StaffProfile
from ..roles import SUPERVISOR
from ..texts import TEXT, words

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShopPeople:
    """Who of a shop can be told about its cases: its active supervisors, and the ids of
    everyone who serves it (an assignee moved to another shop is no longer told)."""

    supervisors: list[User]
    serving: frozenset[int]


def shop_supervisors(shop_id: int) -> list[User]:
    """The shop's active supervisors, in a fixed order."""
    return list(User.objects.filter(is_active=True, groups__name=SUPERVISOR,
                                    staff_profile__shops=shop_id).distinct().order_by("pk"))


def shop_people(shop_id: int) -> ShopPeople:
    serving = frozenset(StaffProfile.objects.filter(shops=shop_id)
                        .values_list("user_id", flat=True))
    return ShopPeople(supervisors=shop_supervisors(shop_id), serving=serving)


def case_recipients(case: Case, people_by_shop: dict[int, ShopPeople] | None = None,
                    ) -> list[User]:
    """Who hears about a case's deadline: its assignee, if they still serve the case's shop,
    and every active supervisor of the shop. An assignee who left the shop hears nothing of
    it (the message names the order): the supervisors see the case instead.

    `people_by_shop` is a cache a long run passes in, so that a shop's people are read once
    per run, not once per case.
    """
    cache = {} if people_by_shop is None else people_by_shop
    if case.shop_id not in cache:
        cache[case.shop_id] = shop_people(case.shop_id)
    people = cache[case.shop_id]
    users = list(people.supervisors)
    assignee = case.assignee if case.assignee_id else None
    if (assignee is not None and assignee.is_active
            and (assignee.pk in people.serving or assignee.is_superuser)
            and assignee.pk not in {u.pk for u in users}):
        users.insert(0, assignee)
    return users


@dataclass(frozen=True)
class Notice:
    """What `notify_many` tells: `message` to each of `users` about `case`."""

    users: Sequence[User]
    case: Case
    kind: str
    message: str
    subject: str
    deadline_at: datetime | None
    text: dict | None = None  # `message` as code + parameters (refunds/texts.py)


def notify_many(notices: Sequence[Notice], *, digest: Digest) -> list[Notification]:
    """Notify each notice's users once for (case, kind, deadline); their emails join
    `digest` once the caller's transaction commits (nothing is emailed for work rolled back).

    Three statements whatever the number of notices (the nightly sweep notifies thousands of
    cases, docs/PERFORMANCE.md): who was already told, then one insert of the others. Returns
    the notifications created now, not those that already existed (their ids are not read
    back).
    """
    notices = [notice for notice in notices if notice.users]
    if not notices:
        return []
    told = set(Notification.objects.filter(
        case__in={notice.case.pk for notice in notices},
        kind__in={notice.kind for notice in notices},
        user__in={user.pk for notice in notices for user in notice.users},
    ).values_list("user_id", "case_id", "kind", "deadline_at"))
    created: list[Notification] = []
    for notice in notices:
        for user in notice.users:
            key = (user.pk, notice.case.pk, notice.kind, notice.deadline_at)
            if key not in told:
                told.add(key)
                created.append(Notification(user=user, case=notice.case, kind=notice.kind,
                                            deadline_at=notice.deadline_at,
                                            message=notice.message,
                                            data=_text_data(notice)))
    if created:
        try:
            with transaction.atomic():
                insert_many(created)
        except IntegrityError:  # someone notified one of them meanwhile: one by one
            created = [notification for notice in notices for notification in _one_by_one(notice)]
    texts = {}  # one text per notice, whoever receives it
    case_path = path_maker("refunds:case_detail")
    for notice in notices:
        link = absolute_url(case_path(notice.case.pk))
        texts[notice.case.pk, notice.kind] = (notice.subject, f"{notice.message}\n\n{link}")
    emails = [DigestEntry(notification.user.email, notification.case_id,
                          *texts[notification.case_id, notification.kind])
              for notification in created if notification.user.email]
    if emails:
        transaction.on_commit(partial(digest.add, emails), robust=True)
    return created


@dataclass(frozen=True)
class DigestEntry:
    address: str
    case_id: int
    subject: str
    body: str


class Digest:
    """The emails of a long run (the nightly sweep): one per person, listing what concerns
    them, instead of one per notification.

    A night can notify thousands of cases and each supervisor of a shop hears about every
    one of them: one email per notification was thousands of emails per person (and a
    quarter of the sweep's time). The in-app notifications are unchanged, one per case. Only
    committed work is collected (`notify_many` adds to it on commit); `send` empties it.
    """

    MAX_ENTRIES = 100  # per email; the rest is counted, and listed on the queue page

    def __init__(self, subject: Callable[[int], str], more: Callable[[int], str]) -> None:
        self.subject = subject  # the subject for a number of cases
        self.more = more  # the last line when entries were left out: "… and N more"
        self.entries: dict[str, list[DigestEntry]] = {}
        self.sent = 0
        self.failed: list[str] = []  # addresses whose email could not be sent

    def add(self, emails: list[DigestEntry]) -> None:
        for entry in emails:
            self.entries.setdefault(entry.address, []).append(entry)

    def message(self, address: str, entries: list[DigestEntry]) -> mail.EmailMessage:
        shown = entries[:self.MAX_ENTRIES]
        parts = [f"{entry.subject}\n\n{entry.body}" for entry in shown]
        if len(entries) > len(shown):
            parts.append(self.more(len(entries) - len(shown)))
        return mail.EmailMessage(subject=self.subject(len({e.case_id for e in entries})),
                                 body="\n\n\n".join(parts), to=[address])

    def send(self) -> None:
        """Send what was collected, one email at a time: an address the server refuses, or a
        server that is down, is logged and counted in `failed`, and never undoes or stops
        what the run committed, nor the others' emails."""
        entries, self.entries = self.entries, {}
        if not entries:
            return
        connection = mail.get_connection()  # each send opens (and closes) it: a server
        for address, mine in entries.items():  # that drops one does not lose the others
            try:
                connection.send_messages([self.message(address, mine)])
            except Exception:  # noqa: BLE001 - the work is committed; report, go on
                logger.exception("could not send the digest email to %s", address)
                self.failed.append(address)
            else:
                self.sent += 1


def _text_data(notice: Notice) -> dict:
    return {TEXT: notice.text} if notice.text else {}


def _one_by_one(notice: Notice) -> list[Notification]:
    created = []
    for user in notice.users:
        notification, is_new = Notification.objects.get_or_create(
            user=user, case=notice.case, kind=notice.kind, deadline_at=notice.deadline_at,
            defaults={"message": notice.message, "data": _text_data(notice)},
        )
        if is_new:
            created.append(notification)
    return created


# --- once, not about a deadline: the platform paid a payout that is in a bank file ------------


def shop_payers(shop_id: int) -> list[User]:
    """Who pays the shop's payouts: its active staff holding `refunds.mark_refunded` (finance
    and managers, through their role or their own permissions; a superuser holds every
    permission), in a fixed order. As for the other notifications, a user is told about a
    shop they serve (their staff profile's shops), superusers included."""
    pays = Permission.objects.filter(content_type__app_label="refunds",
                                     codename="mark_refunded")
    return list(User.objects.filter(is_active=True, staff_profile__shops=shop_id)
                .filter(Q(is_superuser=True) | Q(groups__permissions__in=pays)
                        | Q(user_permissions__in=pays))
                .distinct().order_by("pk"))


def notify_payout_paid_by_platform(*, payout: Payout, batch_id: int,
                                   text: dict) -> list[Notification]:
    """Tell the shop's payers that the platform refunded the buyer of `payout` while it is in
    the bank file of batch `batch_id`, in the caller's transaction (the notification is undone
    with the payment it reports); each is emailed once that commits.

    Not through `notify_many`: this is no deadline (`deadline_at` is None), it happens once per
    payout (`paid` is final), and another payout of the same case must be told too. NULLs are
    distinct in the unique constraint (SQLite and PostgreSQL), so it lets both in, but
    `notify_many` would take the second for the first (it matches None to None). `text` is
    the message as code + parameters, the one the payout's timeline row holds.
    """
    message = words({TEXT: text})
    created = Notification.objects.bulk_create([
        Notification(user=user, case_id=payout.case_id,
                     kind=NotificationKind.PAID_BY_PLATFORM_IN_BATCH, deadline_at=None,
                     message=message, data={TEXT: text})
        for user in shop_payers(payout.shop_id)])
    subject = _("Payout #%(payout)s in bank batch #%(batch)s: paid by the platform") % {
        "payout": payout.pk, "batch": batch_id}
    body = f"{message}\n\n{absolute_url(reverse('refunds:payout_batch', args=[batch_id]))}"
    emails = [DigestEntry(n.user.email, payout.case_id, subject, body)
              for n in created if n.user.email]
    if emails:
        transaction.on_commit(partial(_email_at_once, subject, emails), robust=True)
    return created


def _email_at_once(subject: str, emails: list[DigestEntry]) -> None:
    """Money may be paid twice: this cannot wait for a digest. Sent after the commit, one
    email per address; an address that fails is logged and loses nobody else's."""
    digest = Digest(subject=lambda _count: subject, more=str)
    digest.add(emails)
    digest.send()


def notifications_mark_read(*, user: User, notification_id: int | None = None,
                            up_to_id: int | None = None, now: datetime | None = None) -> int:
    """Mark the user's unread notifications read: one, or all up to the newest one shown.

    `up_to_id` keeps a notification that arrived after the page was drawn unread.
    Returns how many were marked.
    """
    # the list's own scope: one about a shop the user no longer serves is not shown, so it
    # is not marked either (and not counted in "N notifications marked as read")
    from ..selectors import visible_unread_notifications  # (selectors import this module)

    unread = visible_unread_notifications(user)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    if up_to_id is not None:
        unread = unread.filter(pk__lte=up_to_id)
    return unread.update(read_at=now or timezone.now())
