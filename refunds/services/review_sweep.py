"""The nightly review sweep (separate from the case deadline sweep).

1. Reviews without a follow-up (imported before, or by an import that did not create it)
   get one: `followups_create_for_reviews`, idempotent, 500 reviews per transaction.
2. Open follow-ups whose revision window has passed become "expired" (the review is final):
   `followups_expire`, as the platform (staff number SYSTEM), 200 per transaction.
3. Open follow-ups whose window closes within the shop's `review_warning_days` warn their
   assignee (the shop's supervisors when nobody is assigned), once per deadline.

Convention 11: the order rows and the follow-up rows are locked with `skip_locked` (one
somebody is working on is left for the next run), the state and deadline are re-checked on
the locked row. Steps 1 and 2 work in groups (docs/PERFORMANCE.md, session 7); a group that
fails is done again one item per transaction, so a failure rolls back alone, is counted
and reported, and the sweep goes on. Warnings are one transaction each. A second run
changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.contrib.auth.models import User
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import selectors, texts
from ..links import absolute_url
from ..locks import try_lock_followup
from ..models import (
    OPEN_FOLLOWUP_STATES,
    Notification,
    NotificationKind,
    Review,
    ReviewFollowUp,
)
from ..permissions import user_serves_shop
from .followups import (
    ReviewBatches,
    _create_for_review,
    followup_expire,
    followups_create_for_reviews,
    followups_expire,
)
from .notifications import shop_supervisors

logger = logging.getLogger(__name__)


@dataclass
class ReviewSweepResult:
    created: int = 0
    expired: int = 0
    warned: int = 0
    skipped: int = 0  # locked by someone else, or changed meanwhile: next run
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    email_failures: list[str] = field(default_factory=list)  # addresses that could not be sent

    def fail(self, what: str, error: Exception) -> None:
        self.failed += 1
        self.failures.append(f"{what}: {error}")
        logger.exception("review sweep: %s failed", what, exc_info=error)


def warning_recipients(follow_up: ReviewFollowUp) -> list[User]:
    """The assignee; when nobody is assigned, or the assignee no longer serves the shop (the
    warning names the order), the shop's active supervisors."""
    assignee = follow_up.assignee if follow_up.assignee_id is not None else None
    if (assignee is not None and assignee.is_active
            and user_serves_shop(assignee, follow_up.shop_id)):
        return [assignee]
    return shop_supervisors(follow_up.shop_id)


def _send(subject: str, body: str, addresses: list[str], failed: list[str]) -> None:
    """One email per address: one the server refuses (or a server that is down) is logged
    and added to `failed`, and loses nobody else's email; the warning is committed."""
    connection = mail.get_connection()
    for address in addresses:
        try:
            connection.send_messages([mail.EmailMessage(subject=subject, body=body,
                                                        to=[address])])
        except Exception:  # noqa: BLE001 - the work is committed; report, go on
            logger.exception("could not send the review warning email to %s", address)
            failed.append(address)


def followup_warn(*, follow_up: ReviewFollowUp, now: datetime,
                  email_failures: list[str] | None = None) -> list[Notification]:
    """Warn once per deadline (the follow-up is locked by the caller); email after commit.
    Addresses the email could not be sent to are added to `email_failures`."""
    email_failures = [] if email_failures is None else email_failures
    said = texts.said("review_warning", id=follow_up.pk, rating=follow_up.review.rating,
                      order=follow_up.order.platform_order_id,
                      deadline=follow_up.deadline_at.isoformat(),
                      days=max((follow_up.deadline_at - now).days, 0))
    message = texts.words({texts.TEXT: said})
    created = []
    for user in warning_recipients(follow_up):
        notification, is_new = Notification.objects.get_or_create(
            user=user, follow_up=follow_up, kind=NotificationKind.REVIEW_WARNING,
            deadline_at=follow_up.deadline_at,
            defaults={"message": message, "data": {texts.TEXT: said}},
        )
        if is_new:
            created.append(notification)
    follow_up.warned_deadline_at = follow_up.deadline_at
    follow_up.save(update_fields=["warned_deadline_at"])
    addresses = [n.user.email for n in created if n.user.email]
    if addresses:
        body = f"{message}\n\n{absolute_url(follow_up.get_absolute_url())}"
        transaction.on_commit(partial(_send, _("Review revision window closing"), body,
                                      addresses, email_failures), robust=True)
    return created


def _one(result: ReviewSweepResult, what: str, pk: int, act) -> bool:
    """Lock follow-up `pk` (skip it if busy) and let `act` re-check and act, in one
    transaction. True when `act` did its work and the transaction committed."""
    try:
        with transaction.atomic():
            locked = try_lock_followup(pk)
            done = locked is not None and act(locked)
    except Exception as error:  # noqa: BLE001 - one item's failure must not stop the sweep
        result.fail(f"{what} #{pk}", error)
        return False
    if not done:
        result.skipped += 1
    return done


def _create_one_by_one(result: ReviewSweepResult, reviews: list[Review], now: datetime) -> None:
    for review in reviews:
        try:
            _follow_up, created = _create_for_review(review, actor=None, source="sweep", now=now)
        except Exception as error:  # noqa: BLE001
            result.fail(f"review #{review.pk}", error)
        else:
            result.created += created


EXPIRE_GROUP = 200  # follow-ups expired in one transaction (as the case sweep's groups)


def _expire_one_by_one(result: ReviewSweepResult, pks: list[int], now: datetime) -> None:
    for pk in pks:
        def expire(locked: ReviewFollowUp) -> bool:
            if locked.state not in OPEN_FOLLOWUP_STATES or locked.deadline_at >= now:
                return False
            followup_expire(follow_up=locked, expected_state=locked.state, now=now)
            return True

        result.expired += _one(result, "expire", pk, expire)


def sweep_reviews(*, now: datetime | None = None, dry_run: bool = False,
                  on_progress: Callable[[str, int, int], None] | None = None,
                  ) -> ReviewSweepResult:
    """The three phases; `on_progress(phase, done, total)` after each group of each."""
    now = now or timezone.now()
    result = ReviewSweepResult()
    progress = on_progress or (lambda _phase, _done, _total: None)

    missing = selectors.reviews_without_follow_up()
    if dry_run:
        result.created = missing.count()
    else:
        done, batches = 0, ReviewBatches(missing)
        for batch in batches:
            try:
                result.created += followups_create_for_reviews(batch, source="sweep", now=now)
            except Exception:  # noqa: BLE001 - again one by one: the failure stays with its review
                _create_one_by_one(result, batch, now)
            done += len(batch)
            progress(_("follow-ups created"), done, batches.total)

    expiring = list(selectors.followups_past_deadline(now).values_list("pk", flat=True))
    if dry_run:
        result.expired = len(expiring)
    for start in range(0, 0 if dry_run else len(expiring), EXPIRE_GROUP):
        group = expiring[start:start + EXPIRE_GROUP]
        try:
            expired = followups_expire(group, now=now)
        except Exception:  # noqa: BLE001 - again one by one: a failure stays with its follow-up
            _expire_one_by_one(result, group, now)
        else:
            result.expired += expired
            result.skipped += len(group) - expired
        progress(_("follow-ups expired"), start + len(group), len(expiring))

    warning = list(selectors.followups_to_warn(now).values_list("pk", flat=True))
    if dry_run:
        result.warned = len(warning)
    for done, pk in enumerate([] if dry_run else warning, 1):
        def warn(locked: ReviewFollowUp) -> bool:
            if (locked.state not in OPEN_FOLLOWUP_STATES or locked.deadline_at < now
                    or locked.warned_deadline_at == locked.deadline_at):
                return False
            followup_warn(follow_up=locked, now=now, email_failures=result.email_failures)
            return True

        result.warned += _one(result, "warn", pk, warn)
        progress(_("follow-ups warned"), done, len(warning))
    return result
