"""In-app notifications (shown on the queue page) and the email that goes with each one.

A notification exists at most once per person, case, kind and deadline (the model's unique
constraint): whoever calls `notify` twice for the same deadline adds nothing and sends
nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial

from django.contrib.auth.models import User
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Case, Notification
from ..roles import SUPERVISOR


def case_recipients(case: Case, supervisors_by_shop: dict[int, list[User]] | None = None,
                    ) -> list[User]:
    """Who hears about a case's deadline: its assignee and every active supervisor of its shop.

    `supervisors_by_shop` is a cache a long run passes in, so that a shop's supervisors are
    read once per run, not once per case.
    """
    cache = {} if supervisors_by_shop is None else supervisors_by_shop
    if case.shop_id not in cache:
        cache[case.shop_id] = list(
            User.objects.filter(is_active=True, groups__name=SUPERVISOR,
                                staff_profile__shops=case.shop_id)
            .distinct().order_by("pk")
        )
    users = list(cache[case.shop_id])
    assignee = case.assignee if case.assignee_id else None
    if assignee is not None and assignee.is_active and assignee.pk not in {u.pk for u in users}:
        users.insert(0, assignee)
    return users


def notify(*, users: Iterable[User], case: Case, kind: str, message: str, subject: str,
           deadline_at: datetime | None) -> list[Notification]:
    """Notify each user once for (case, kind, deadline); email the new ones after commit.

    Returns the notifications created now (not those that already existed). One email per
    recipient with an address, sent only if the caller's transaction commits.
    """
    users = list(users)
    # Those already told, then the others in one insert: two queries instead of two (and a
    # savepoint) per person; the nightly sweep notifies thousands of cases (PERFORMANCE.md).
    told = set(Notification.objects.filter(
        case=case, kind=kind, deadline_at=deadline_at, user__in=[user.pk for user in users],
    ).values_list("user_id", flat=True))
    created = [Notification(user=user, case=case, kind=kind, deadline_at=deadline_at,
                            message=message) for user in users if user.pk not in told]
    if created:
        try:
            with transaction.atomic():
                Notification.objects.bulk_create(created)
        except IntegrityError:  # someone notified one of them meanwhile: one by one, as before
            created = []
            for user in users:
                notification, is_new = Notification.objects.get_or_create(
                    user=user, case=case, kind=kind, deadline_at=deadline_at,
                    defaults={"message": message},
                )
                if is_new:
                    created.append(notification)
    addresses = [n.user.email for n in created if n.user.email]
    if addresses:
        body = f"{message}\n\n{case.get_absolute_url()}"
        # robust: a mail server that is down must not undo or stop the work already committed
        transaction.on_commit(partial(_send, subject, body, addresses), robust=True)
    return created


def _send(subject: str, body: str, addresses: list[str]) -> None:
    messages = [mail.EmailMessage(subject=subject, body=body, to=[address])
                for address in addresses]
    with mail.get_connection() as connection:
        connection.send_messages(messages)


def notifications_mark_read(*, user: User, notification_id: int | None = None,
                            up_to_id: int | None = None, now: datetime | None = None) -> int:
    """Mark the user's unread notifications read: one, or all up to the newest one shown.

    `up_to_id` keeps a notification that arrived after the page was drawn unread.
    Returns how many were marked.
    """
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    if up_to_id is not None:
        unread = unread.filter(pk__lte=up_to_id)
    return unread.update(read_at=now or timezone.now())
