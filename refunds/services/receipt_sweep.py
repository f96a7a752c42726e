"""The nightly look at confirm-receipt windows (延长收货), `sweep_receipts`: it changes no order
and no case, it tells people before the platform completes a trade whose case is still open.

A shipped order (awaiting the buyer's confirmation) with an open case, whose confirm-receipt
date is within its shop policy's `receipt_warning_days` (or has passed, for a date nobody was
warned of: read late, or the sweep did not run): each open case's assignee (if they still
serve the shop) and the shop's active supervisors are told, in the app and in one email per
person for the run. A notification is unique per person, case, kind and date, so a second
run adds nothing and an extended window (a new date) is warned of again when it nears.

The desk cannot extend the window itself (no platform API): the platform does it, a person
records it (`refunds.services.receipts`). Nor does the sweep mark the order completed when the
date passes — the next order import shows what the platform did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import texts
from ..models import OPEN_STATES, Case, Notification, NotificationKind, Order, OrderStatus, Policy
from .notifications import Digest, Notice, ShopPeople, case_recipients, notify_many
from .receipts import window_of

logger = logging.getLogger(__name__)
BATCH = 200  # orders per transaction


@dataclass
class ReceiptSweepResult:
    orders: int = 0  # orders warned of (at least one new notification)
    notified: int = 0  # notifications written
    unheard: int = 0  # orders whose cases have nobody to tell
    failed: int = 0
    emails: int = 0
    failures: list[str] = field(default_factory=list)
    email_failures: list[str] = field(default_factory=list)


def orders_due(now: datetime) -> list[Order]:
    """Shipped orders with an open case whose date is within their shop's warning days, or
    passed less than that many days ago (one passed longer ago has completed on the
    platform: the next order import shows it), with those cases (and assignees) and the
    policy: a few queries, whatever the number. By shop policy, so that each shop's own
    number of days counts."""
    found: list[Order] = []
    open_cases = Case.objects.filter(state__in=OPEN_STATES)
    by_days: dict[int, list[int]] = {}
    for shop_id, days in Policy.objects.values_list("shop_id", "receipt_warning_days"):
        by_days.setdefault(days, []).append(shop_id)
    for days, shop_ids in sorted(by_days.items()):
        found += list(
            Order.objects.filter(status=OrderStatus.SHIPPED, shop_id__in=shop_ids,
                                 confirm_receipt_by__lte=now + timedelta(days=days),
                                 confirm_receipt_by__gt=now - timedelta(days=days))
            .filter(Exists(open_cases.filter(order_id=OuterRef("pk"))))
            .select_related("shop__policy")
            .prefetch_related(Prefetch("cases", queryset=open_cases.select_related("assignee")
                                       .order_by("pk"), to_attr="open_cases"))
            .order_by("confirm_receipt_by", "pk"))
    return found


def _digest() -> Digest:
    return Digest(
        subject=lambda count: ngettext(
            "After-sales desk: %(count)s case's order confirms receipt by itself soon",
            "After-sales desk: %(count)s cases' orders confirm receipt by themselves soon",
            count) % {"count": count},
        more=lambda count: ngettext(
            "… and %(count)s more notification: see the queue page.",
            "… and %(count)s more notifications: see the queue page.", count)
        % {"count": count})


def _notices(order: Order, people: dict[int, ShopPeople], now: datetime) -> list[Notice]:
    window = window_of(order, order.shop.policy)
    said = texts.said("receipt_due", order=order.platform_order_id,
                      confirm_by=order.confirm_receipt_by.isoformat(),
                      estimated=window.estimated, extensions_left=window.extensions_left,
                      passed=order.confirm_receipt_by <= now)
    message = texts.words({texts.TEXT: said})
    subject = _("Order %(order)s confirms receipt by itself soon (延长收货)") % {
        "order": order.platform_order_id}
    return [Notice(users=case_recipients(case, people), case=case,
                   kind=NotificationKind.RECEIPT_DUE, message=message, subject=subject,
                   deadline_at=order.confirm_receipt_by, text=said)
            for case in order.open_cases]


def sweep_receipts(*, now: datetime | None = None, dry_run: bool = False,
                   on_progress: Callable[[str, int, int], None] | None = None,
                   ) -> ReceiptSweepResult:
    """Warn of the orders due; `on_progress(phase, done, total)` after each batch. A dry run
    counts the orders it would warn (someone not told yet) and writes nothing."""
    now = now or timezone.now()
    result = ReceiptSweepResult()
    progress = on_progress or (lambda _phase, _done, _total: None)
    phase = _("orders whose window closes soon")
    orders = orders_due(now)
    people: dict[int, ShopPeople] = {}
    digest = _digest()
    for start in range(0, len(orders), BATCH):
        batch = orders[start:start + BATCH]
        try:
            _warn(batch, people, now, dry_run, digest, result)
        except Exception:  # noqa: BLE001 - one order must not cost the others their warning
            logger.exception("receipt sweep: a batch failed; doing its orders one by one")
            for order in batch:
                try:
                    _warn([order], people, now, dry_run, digest, result)
                except Exception as error:  # noqa: BLE001 - reported, the sweep goes on
                    result.failed += 1
                    result.failures.append(_("Order %(order)s: %(error)s") % {
                        "order": order.platform_order_id, "error": error})
                    logger.exception("receipt sweep: order %s failed", order.pk)
        progress(phase, min(start + BATCH, len(orders)), len(orders))
    if not dry_run:
        def send() -> None:
            digest.send()
            result.emails, result.email_failures = digest.sent, digest.failed

        # at once outside a transaction; inside one (a caller's, a test's), after its commit,
        # when the batches' notifications have joined the digest
        transaction.on_commit(send, robust=True)
    return result


def _warn(batch: list[Order], people: dict[int, ShopPeople], now: datetime, dry_run: bool,
          digest: Digest, result: ReceiptSweepResult) -> None:
    """Warn of `batch` in one transaction (a dry run only counts); the counts are added once
    it committed, so a batch done again order by order is not counted twice."""
    notices = {order.pk: _notices(order, people, now) for order in batch}
    unheard = [order for order in batch if not any(n.users for n in notices[order.pk])]
    if dry_run:
        told = _told([n for group in notices.values() for n in group])
        warned = sum(1 for order in batch if any(
            (user.pk, notice.case.pk, notice.deadline_at) not in told
            for notice in notices[order.pk] for user in notice.users))
        notified = 0
    else:
        with transaction.atomic():
            created = notify_many([n for group in notices.values() for n in group],
                                  digest=digest)
        told = {notification.case_id for notification in created}
        warned = sum(1 for order in batch if told & {case.pk for case in order.open_cases})
        notified = len(created)
    result.orders += warned
    result.notified += notified
    result.unheard += len(unheard)
    result.failures += [_("Order %(order)s: nobody to tell — its cases have no assignee "
                          "serving the shop and the shop has no active supervisor.")
                        % {"order": order.platform_order_id} for order in unheard]


def _told(notices: list[Notice]) -> set[tuple[int, int, object]]:
    """(user, case, date) of the warnings of `notices` already written: one query (a dry
    run's count of the orders it would warn)."""
    if not notices:
        return set()
    return set(Notification.objects.filter(
        kind=NotificationKind.RECEIPT_DUE, case__in={notice.case.pk for notice in notices})
        .values_list("user_id", "case_id", "deadline_at"))
