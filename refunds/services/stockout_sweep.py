"""The nightly look at open stock-outs (缺货), `sweep_stockouts`: it changes no stock-out,
it tells people before the platform's deadline or the buyer's patience runs out.

1. *Ship-by near*: a stock-out still waiting for the buyer's choice (reported) whose order the
   platform expects shipped within the shop policy's `warning_hours` (or already late): the
   buyer may complain of a late shipment (延迟发货). Warned once per ship-by time.
2. *Agreed date passed*: the buyer agreed to wait (or to take another item) until a day that
   has passed, China time, and the order is still not shipped. Warned once per agreed day:
   a new day agreed with the buyer is warned of again when it passes too.
3. *Refund closed unpaid*: the buyer took a refund whose case closed without paying them
   (withdrawn, or ruled for the shop) and the order is still not shipped: the goods are
   missing and nobody owes the buyer anything any more. Warned once per closing of the case.

Told are the shop's supervisors and whoever last spoke to the buyer about the stock-out (if
they still serve the shop), in the app and by email. A notification is unique per person,
stock-out, kind and deadline, so a second run adds nothing. Each stock-out is its own
transaction; a failure is counted and reported and the sweep goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import texts
from ..links import absolute_url
from ..models import (
    CaseEvent,
    ContactLog,
    Notification,
    NotificationKind,
    OrderStatus,
    StockOut,
    StockOutEvent,
    StockOutEventKind,
    StockOutState,
    refund_closed_unpaid_q,
)
from ..permissions import user_serves_shop
from ..timezones import CHINA
from .notifications import shop_supervisors
from .review_sweep import _send
from .stockouts import REACHED_OUTCOMES, china_today, ship_by

logger = logging.getLogger(__name__)


@dataclass
class StockOutSweepResult:
    due: int = 0  # stock-outs warned: ship-by near, the buyer's choice not recorded
    late: int = 0  # stock-outs warned: the date agreed with the buyer passed
    unpaid: int = 0  # stock-outs warned: the buyer's refund closed without paying them
    notified: int = 0  # notifications written (people × stock-outs)
    unheard: int = 0  # nobody to tell: no supervisor serves the shop, nobody spoke to the buyer
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    email_failures: list[str] = field(default_factory=list)

    def fail(self, what: str, error: Exception) -> None:
        self.failed += 1
        self.failures.append(f"{what}: {error}")
        logger.exception("stock-out sweep: %s failed", what, exc_info=error)


# the order as the last import (or the admin) left it: still paid and not shipped. Every path
# that ships or closes an order settles its stock-outs; this is the sweep's own check.
STILL_TO_SHIP = {"order__status": OrderStatus.PAID, "order__shipped_at__isnull": True}


def _told_since_last_choice():
    """The buyer was reached since the stock-out's last transition (a refund that closed
    unpaid sends it back: the contacts before do not count), ever when it had none — as
    `services.stockouts.told_since_last_choice`, in the sweep's one query."""
    reached = ContactLog.objects.filter(stockout=OuterRef("pk"), outcome__in=REACHED_OUTCOMES)
    last_move = (StockOutEvent.objects.filter(stockout=OuterRef(OuterRef("pk")),
                                              kind=StockOutEventKind.TRANSITION)
                 .order_by("-created_at", "-id").values("created_at")[:1])
    return Exists(reached.filter(Q(created_at__gt=Subquery(last_move))
                                 | ~Exists(StockOutEvent.objects.filter(
                                     stockout=OuterRef(OuterRef("pk")),
                                     kind=StockOutEventKind.TRANSITION))))


def stockouts_due(now: datetime) -> list[tuple[StockOut, datetime]]:
    """(stock-out, ship-by) of those waiting for the buyer's choice whose ship-by is within
    their shop's warning window or passed. Reported stock-outs are few (a handful a day per
    shop): they are read with their order and policy and each window checked in Python."""
    rows = (StockOut.objects.filter(state=StockOutState.REPORTED, order__paid_at__isnull=False,
                                    **STILL_TO_SHIP)
            .select_related("order__shop__policy", "shop")
            .annotate(told=_told_since_last_choice()).order_by("pk"))
    found = []
    for stockout in rows:
        due = ship_by(stockout.order)
        if due is not None and due <= now + timedelta(
                hours=stockout.order.shop.policy.warning_hours):
            found.append((stockout, due))
    return found


def agreed_deadline(stockout: StockOut) -> datetime:
    """The end of the day agreed with the buyer, China time: the moment it has passed."""
    return datetime.combine(stockout.agreed_ship_by + timedelta(days=1), time(0), tzinfo=CHINA)


def stockouts_late(now: datetime):
    return (StockOut.objects.filter(state=StockOutState.AGREED,
                                    agreed_ship_by__lt=china_today(now), **STILL_TO_SHIP)
            .select_related("order", "shop").order_by("agreed_ship_by", "pk"))


def stockouts_unpaid() -> list[tuple[StockOut, datetime]]:
    """(stock-out, when its refund case closed) of those whose refund closed unpaid, the
    order still to ship: one query (the closing time is the case's latest move to closed)."""
    closed_at = (CaseEvent.objects.filter(case_id=OuterRef("case_id"), to_state="closed")
                 .order_by("-created_at", "-id").values("created_at")[:1])
    rows = (StockOut.objects.filter(refund_closed_unpaid_q(), **STILL_TO_SHIP)
            .select_related("order", "shop", "case")
            .annotate(case_closed_at=Subquery(closed_at)).order_by("pk"))
    return [(stockout, stockout.case_closed_at or stockout.case.updated_at) for stockout in rows]


def recipients(stockout: StockOut) -> list[User]:
    """The shop's active supervisors and the last person who logged a contact about the
    stock-out, if they still serve the shop."""
    people = shop_supervisors(stockout.shop_id)
    last = (ContactLog.objects.filter(stockout=stockout).select_related("actor")
            .order_by("-created_at", "-id").first())
    handler = last.actor if last else None
    if (handler is not None and handler.is_active and user_serves_shop(handler, stockout.shop_id)
            and handler not in people):
        people.insert(0, handler)
    return people


def _notify(stockout: StockOut, people: list[User], kind: str, deadline: datetime, said: dict,
            subject: str, result: StockOutSweepResult) -> int:
    message = texts.words({texts.TEXT: said})
    created = []
    for user in people:
        notification, is_new = Notification.objects.get_or_create(
            user=user, stockout=stockout, kind=kind, deadline_at=deadline,
            defaults={"message": message, "data": {texts.TEXT: said}})
        if is_new:
            created.append(notification)
    addresses = [n.user.email for n in created if n.user.email]
    if addresses:
        body = f"{message}\n\n{absolute_url(stockout.get_absolute_url())}"
        transaction.on_commit(partial(_send, subject, body, addresses, result.email_failures),
                              robust=True)
    return len(created)


def _already_warned(stockout: StockOut, kind: str, deadline: datetime) -> bool:
    return Notification.objects.filter(stockout=stockout, kind=kind,
                                       deadline_at=deadline).exists()


def sweep_stockouts(*, now: datetime | None = None, dry_run: bool = False,
                    on_progress: Callable[[str, int, int], None] | None = None,
                    ) -> StockOutSweepResult:
    """The three warnings; `on_progress(phase, done, total)` after each stock-out. A dry run
    counts the stock-outs it would warn and writes nothing."""
    now = now or timezone.now()
    result = StockOutSweepResult()
    progress = on_progress or (lambda _phase, _done, _total: None)
    due = [(stockout, NotificationKind.STOCKOUT_DUE, deadline,
            texts.said("stockout_due", id=stockout.pk, order=stockout.order.platform_order_id,
                       deadline=deadline.isoformat(), told=stockout.told),
            _("Out of stock: the buyer's choice is not recorded"))
           for stockout, deadline in stockouts_due(now)]
    late = [(stockout, NotificationKind.STOCKOUT_LATE, agreed_deadline(stockout),
             texts.said("stockout_late", id=stockout.pk,
                        order=stockout.order.platform_order_id,
                        day=stockout.agreed_ship_by.isoformat()),
             _("Out of stock: the date agreed with the buyer passed"))
            for stockout in stockouts_late(now)]
    unpaid = [(stockout, NotificationKind.STOCKOUT_UNPAID, closed_at,
               texts.said("stockout_unpaid", id=stockout.pk,
                          order=stockout.order.platform_order_id, case=stockout.case_id),
               _("Out of stock: the buyer's refund was closed unpaid"))
              for stockout, closed_at in stockouts_unpaid()]
    for phase, rows, counter in ((_("stock-outs near their ship-by"), due, "due"),
                                 (_("stock-outs past the agreed date"), late, "late"),
                                 (_("stock-outs whose refund closed unpaid"), unpaid, "unpaid")):
        for count, (stockout, kind, deadline, said, subject) in enumerate(rows, 1):
            try:
                people = recipients(stockout)
                if not people:
                    result.unheard += 1
                    result.failures.append(
                        _("Stock-out #%(id)s (order %(order)s): nobody to tell — the shop has "
                          "no active supervisor and nobody has spoken to the buyer.")
                        % {"id": stockout.pk, "order": stockout.order.platform_order_id})
                    warned = False
                elif dry_run:
                    warned = not _already_warned(stockout, kind, deadline)
                else:
                    with transaction.atomic():
                        written = _notify(stockout, people, kind, deadline, said, subject,
                                          result)
                    result.notified += written
                    warned = written > 0
            except Exception as error:  # noqa: BLE001 - one stock-out must not stop the rest
                result.fail(f"{phase} #{stockout.pk}", error)
            else:
                if warned:
                    setattr(result, counter, getattr(result, counter) + 1)
            progress(phase, count, len(rows))
    return result
