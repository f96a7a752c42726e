"""Read-side querysets shared by pages, admin and commands; each is limited to the user's shops."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db.models import Case as Choose
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from .events import POSTAGE_DECIDED
from .models import (
    OPEN_CLAIM_STATES,
    OPEN_COMPLAINT_STATES,
    OPEN_FOLLOWUP_STATES,
    OPEN_INQUIRY_STATES,
    OUTSTANDING_STOCKOUT,
    Buyer,
    CannedReply,
    CarrierClaim,
    Case,
    CaseEvent,
    CaseState,
    ClaimEvent,
    Compensation,
    Complaint,
    ComplaintEvent,
    ComplaintState,
    ContactLog,
    FollowUpEvent,
    FollowUpState,
    ImportRun,
    InquiryEvent,
    InquiryKind,
    InquiryOutcome,
    InquiryState,
    Notification,
    Order,
    OrderStatus,
    ParcelInquiry,
    Payout,
    PayoutBatch,
    Policy,
    Refund,
    ReturnParcel,
    Review,
    ReviewFollowUp,
    ReviewRating,
    Shop,
    StockOut,
    StockOutEvent,
    StockOutState,
    with_refund_closed_unpaid,
)
from .models.cases import OPEN_STATES
from .models.compensation import COUNTED_STATES
from .permissions import user_shop_ids
from .services.cases import normalize_tracking_no


def shops_for_user(user) -> QuerySet[Shop]:
    shop_ids = user_shop_ids(user)
    shops = Shop.objects.select_related("policy")
    return shops if shop_ids is None else shops.filter(pk__in=shop_ids)


def scope_to_user(queryset: QuerySet, user, shop_field: str = "shop_id") -> QuerySet:
    shop_ids = user_shop_ids(user)
    if shop_ids is None:
        return queryset
    return queryset.filter(**{f"{shop_field}__in": shop_ids})


def cases_for_user(user) -> QuerySet[Case]:
    return scope_to_user(Case.objects.all(), user)


# --- orders to ship (DOMAIN.md: "order paid, not shipped | shop ships | 72 hours") -----------

SHIPPING_DUE = ("overdue", "24h", "stockout")


def unshipped_orders(user, now: datetime, due: str = "") -> QuerySet[Order]:
    """The user's shops' orders paid and not shipped yet, paid first first: each must ship
    within its shop's `ship_within_hours` of payment, or the buyer may complain of a late
    shipment (延迟发货). `due`: "overdue" (past that time), "24h" (within the next 24 hours),
    "stockout" (an item reported out of stock and not settled), else all of them."""
    orders = scope_to_user(Order.objects.filter(status=OrderStatus.PAID, shipped_at__isnull=True,
                                                paid_at__isnull=False), user)
    if due == "stockout":
        orders = orders.filter(Exists(StockOut.objects.filter(
            OUTSTANDING_STOCKOUT, order_id=OuterRef("pk"))))
    elif due in SHIPPING_DUE:
        windows: dict[int, list[int]] = {}
        for shop in shops_for_user(user):
            windows.setdefault(shop.policy.ship_within_hours, []).append(shop.pk)
        if not windows:
            return orders.none()
        limits = []
        for hours, shop_ids in windows.items():
            late_from = now - timedelta(hours=hours)
            if due == "overdue":
                limits.append(Q(shop_id__in=shop_ids, paid_at__lte=late_from))
            else:
                limits.append(Q(shop_id__in=shop_ids, paid_at__gt=late_from,
                                paid_at__lte=late_from + timedelta(hours=24)))
        orders = orders.filter(reduce(or_, limits))
    return (orders.select_related("shop__policy", "buyer")
            .only("id", "platform_order_id", "paid_at", "paid_amount", "status", "shipped_at",
                  "shop__id", "shop__name", "shop__policy__id",
                  "shop__policy__ship_within_hours", "buyer__id", "buyer__nick")
            .order_by("paid_at", "id"))


# The columns a queue row shows (templatetags/queue_tags.py). Only these are read: the ORM's
# work per column and per row (some 75 columns x 25 rows otherwise) was a large part of the
# queue's server time (docs/PERFORMANCE.md). A row that reads another column would cost a
# query per row: tests/views/test_queries.py fails then, so add the column here.
QUEUE_COLUMNS = (
    "id", "shop_id", "order_id", "platform_refund_id", "kind", "reason", "requested_amount",
    "state", "deadline_at", "deadline_owner", "assignee_id", "shop__name",
    "order__platform_order_id", "order__buyer__nick", "order__buyer__mobile",
    "order__buyer__is_vip", "assignee__username", "assignee__staff_profile__staff_number",
)


def case_queue(user) -> QuerySet[Case]:
    """The queue's rows: everything a row shows comes in the one query."""
    return cases_for_user(user).select_related(
        "shop", "order", "order__buyer", "assignee", "assignee__staff_profile"
    ).only(*QUEUE_COLUMNS)


def due_filter(due: str, now=None) -> Q:
    now = now or timezone.now()
    if due == "overdue":
        return Q(deadline_at__lt=now, state__in=OPEN_STATES)
    if due == "24h":
        return Q(deadline_at__gte=now, deadline_at__lt=now + timedelta(hours=24),
                 state__in=OPEN_STATES)
    return Q()


PHOTOS_AWAITED, PHOTOS_LATE = "awaited", "late"


def photos_filter(photos: str, now=None) -> Q:
    """Requests whose quality photos were asked for and have not come (`Case.photos_awaited`);
    "late": past the buyer's time too (`Case.photos_overdue`), the ones that may be refused."""
    if photos not in (PHOTOS_AWAITED, PHOTOS_LATE):
        return Q()
    awaited = Q(state=CaseState.REQUESTED, photos_requested_at__isnull=False,
                photos_received_at__isnull=True)
    if photos == PHOTOS_LATE:
        return awaited & Q(photos_due_at__lt=now or timezone.now())
    return awaited


# A nick fragment matching more buyers than this is too common to search by (`search_cases`).
NICK_FRAGMENT_CAP = 200


def _ids(queryset: QuerySet) -> QuerySet:
    return queryset.order_by().values("pk")


def search_filter(term: str) -> Q:
    """Cases whose order id, refund id, order or return tracking number, buyer nick or
    mobile's last four digits is exactly `term` (each lookup on one indexed column)."""
    term = term.strip()
    if not term:
        return Q()
    # The matching case ids come from a UNION of lookups on one indexed column each (of the
    # case, its order or its buyer), which both databases answer from their indexes. An OR
    # across the joined tables made them read every case of the shop (1.5 s at 200,000
    # cases), and an OR of IN-subqueries every order (docs/PERFORMANCE.md).
    buyers = Q(nick=term)
    if len(term) == 4 and term.isdigit():
        buyers |= Q(mobile_last4=term)
    tracking_no = normalize_tracking_no(term)  # as stored: "sf 1234" → "SF1234"
    orders = _ids(Order.objects.filter(platform_order_id=term)).union(
        _ids(Order.objects.filter(tracking_no=tracking_no)),
        _ids(Order.objects.filter(buyer__in=_ids(Buyer.objects.filter(buyers)))),
    )
    cases = _ids(Case.objects.filter(order__in=orders)).union(
        _ids(Case.objects.filter(platform_refund_id=term)),
        _ids(Case.objects.filter(return_tracking_no=tracking_no)),
    )
    return Q(pk__in=cases)


def buyers_with_nick_fragment(user, fragment: str, limit: int) -> list[int]:
    """Ids of at most `limit` buyers of the user's shops whose nick contains `fragment`
    (case-insensitive). No index serves a substring: this reads every buyer's nick once
    (~50 ms at 333,000 buyers on SQLite), so it runs once per search, never per page part."""
    # kept on the user object, i.e. for the request: the admin searches again for each
    # filter's counts, which would read every nick again each time
    cache = user.__dict__.setdefault("_nick_fragment_buyers", {})
    if (fragment, limit) not in cache:
        buyers = Buyer.objects.filter(nick__icontains=fragment)
        shop_ids = user_shop_ids(user)
        if shop_ids is not None:
            buyers = buyers.filter(Exists(Order.objects.filter(
                buyer_id=OuterRef("pk"), shop_id__in=shop_ids)))
        cache[fragment, limit] = list(buyers.order_by().values_list("pk", flat=True)[:limit])
    return cache[fragment, limit]


def _exact_then_nick_fragment(queryset: QuerySet, term: str, user, *, exact: Q,
                              of_buyers: Callable[[list[int]], Q],
                              fragment_cap: int) -> tuple[QuerySet, bool]:
    """The search shape of the queue and the admin: (matches, whether the term was too common
    a nick fragment). `exact` first; only when it matches nothing in `queryset` is a term of
    two characters or more, not only digits, read as part of a nick: then the rows
    `of_buyers(ids)` of the buyers whose nick contains it — unless more than `fragment_cap`
    buyers do."""
    matches = queryset.filter(exact)
    if len(term) < 2 or term.isdigit() or matches.exists():
        return matches, False
    buyer_ids = buyers_with_nick_fragment(user, term, fragment_cap + 1)
    if len(buyer_ids) > fragment_cap:
        return matches, True
    return queryset.filter(of_buyers(buyer_ids)), False


def search_cases(queryset: QuerySet[Case], term: str, user,
                 fragment_cap: int = NICK_FRAGMENT_CAP) -> tuple[QuerySet[Case], bool]:
    """The queue's search box: (the matching cases of `queryset`, whether the term was too
    common a nick fragment to search by).

    An exact match — order id, refund id, tracking number, nick, mobile's last four digits —
    is the answer on its own. Only when there is none is the term read as part of a nick
    (two characters or more, not only digits): then the cases of the buyers whose nick
    contains it, unless more than `fragment_cap` buyers do — the page then says to type
    more of the nick instead of reading thousands of buyers' cases for every page load.
    """
    term = term.strip()
    return _exact_then_nick_fragment(
        queryset, term, user, exact=search_filter(term), fragment_cap=fragment_cap,
        of_buyers=lambda ids: Q(pk__in=_ids(Case.objects.filter(
            order__in=_ids(Order.objects.filter(buyer_id__in=ids))))))


def search_orders(queryset: QuerySet[Order], term: str, user,
                  fragment_cap: int = NICK_FRAGMENT_CAP) -> tuple[QuerySet[Order], bool]:
    """The admin's order search, the same way: order id, tracking number or whole nick
    exactly (a UNION of indexed lookups), else part of a nick."""
    term = term.strip()
    if not term:
        return queryset, False
    exact = Q(pk__in=_ids(Order.objects.filter(platform_order_id=term)).union(
        _ids(Order.objects.filter(tracking_no=normalize_tracking_no(term))),
        _ids(Order.objects.filter(buyer__in=_ids(Buyer.objects.filter(nick=term))))))
    return _exact_then_nick_fragment(queryset, term, user, exact=exact,
                                     fragment_cap=fragment_cap,
                                     of_buyers=lambda ids: Q(buyer_id__in=ids))


def case_detail(user, pk: int) -> Case:
    """A case of the user's shops with all the detail page shows, or 404."""
    queryset = cases_for_user(user).select_related(
        "shop", "shop__policy", "order", "order__buyer", "assignee", "assignee__staff_profile",
        "exchange", "exchange__payout",
    ).prefetch_related(
        "order__lines",
        Prefetch("events", queryset=CaseEvent.objects.select_related("actor")),
        Prefetch("refunds", queryset=Refund.objects.select_related("approved_by", "payout")),
    ).annotate(
        # the compensation section costs a query only when there is something to show
        has_compensations=Exists(Compensation.objects.filter(case=OuterRef("pk"))),
        has_parcels=Exists(ReturnParcel.objects.filter(case=OuterRef("pk"))),
        has_postage_payout=Exists(Payout.objects.filter(case=OuterRef("pk"), kind="postage")),
        has_postage_compensation=Exists(Compensation.objects.filter(
            case=OuterRef("pk"), kind="postage", state__in=COUNTED_STATES)),
        # for the approval limit (Case.amount_for_approval), in the same query
        refunds_on_order=Subquery(
            Refund.objects.filter(order=OuterRef("order_id"))
            .order_by().values("order").annotate(total=Sum("amount")).values("total")),
        has_postage_decision=Exists(CaseEvent.objects.filter(
            case=OuterRef("pk"), data__has_key=POSTAGE_DECIDED)),
    )
    return get_object_or_404(queryset, pk=pk)


def case_compensations(case: Case) -> list[Compensation]:
    """A case's compensations with their payouts, wired to the case (permissions read its
    shop's policy and its order's postage), in one query — none when it has none."""
    if not getattr(case, "has_compensations", True):
        return []
    rows = list(Compensation.objects.filter(case=case).select_related("payout")
                .order_by("proposed_at", "id"))
    for row in rows:
        row.case, row.order = case, case.order
    return rows


def compensations_for_user(user) -> QuerySet[Compensation]:
    return scope_to_user(Compensation.objects.all(), user)


# --- the nightly deadline sweep ---------------------------------------------------------------


def overdue_cases(now: datetime) -> QuerySet[Case]:
    """Open cases whose deadline has passed: what the sweep acts on, most overdue first.

    The same rule as the queue's "Overdue" filter, so the queue shows what the sweep will do.
    A Kuaishou request the platform already escalated is left out: the sweep noted it once
    (it stays in the queue's "Overdue" until someone decides it; a new state clears it).
    """
    return (Case.objects.filter(due_filter("overdue", now))
            .exclude(state=CaseState.REQUESTED, escalated_deadline_at__isnull=False)
            .order_by("deadline_at", "id"))


def cases_to_warn(now: datetime) -> QuerySet[Case]:
    """Open cases due within their shop's warning window, not yet warned for that deadline.

    The window includes its end: a deadline the sweep has just set (payout_days = 1 from
    now, with the default 24-hour window) is warned in the same run, not by the next one.
    """
    shops_by_window: dict[int, list[int]] = {}
    for shop_id, hours in Policy.objects.values_list("shop_id", "warning_hours"):
        shops_by_window.setdefault(hours, []).append(shop_id)
    if not shops_by_window:
        return Case.objects.none()
    within_window = reduce(or_, (
        Q(shop_id__in=shop_ids, deadline_at__lte=now + timedelta(hours=hours))
        for hours, shop_ids in shops_by_window.items()
    ))
    not_warned = (Q(warned_deadline_at__isnull=True)
                  | Q(warned_deadline_at__lt=F("deadline_at"))
                  | Q(warned_deadline_at__gt=F("deadline_at")))
    return (Case.objects.filter(state__in=OPEN_STATES, deadline_at__gte=now)
            .filter(within_window).filter(not_warned).order_by("deadline_at", "id"))


def in_deadline_chunks(queryset: QuerySet[Case], size: int) -> Iterator[list[tuple[int, str]]]:
    """(id, state) of a deadline-ordered queryset, `size` rows per query.

    Keyset pagination on (deadline_at, id): rows that leave the set while we work (a case
    the sweep just handled) never make the next page skip or repeat a case, and a run over
    200,000 cases never holds more than one page.
    """
    last: tuple[int, datetime] | None = None
    while True:
        page = queryset
        if last is not None:
            page = page.filter(Q(deadline_at__gt=last[1]) | Q(deadline_at=last[1], pk__gt=last[0]))
        rows = list(page.values_list("pk", "state", "deadline_at")[:size])
        if not rows:
            return
        yield [(pk, state) for pk, state, _deadline in rows]
        last = (rows[-1][0], rows[-1][2])


# --- notifications ------------------------------------------------------------------------


def visible_unread_notifications(user) -> QuerySet[Notification]:
    """The user's unread notifications about the shops they serve (and those about no case
    follow-up, complaint or stock-out): what the list shows and what "Mark all as read" marks."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    shop_ids = user_shop_ids(user)
    if shop_ids is not None:
        unread = unread.filter(Q(case__shop_id__in=shop_ids)
                               | Q(follow_up__shop_id__in=shop_ids)
                               | Q(complaint__shop_id__in=shop_ids)
                               | Q(stockout__shop_id__in=shop_ids)
                               | Q(inquiry__shop_id__in=shop_ids)
                               | Q(case__isnull=True, follow_up__isnull=True,
                                   complaint__isnull=True, stockout__isnull=True,
                                   inquiry__isnull=True))
    return unread


def unread_notifications(user, limit: int = 5) -> tuple[list[Notification], int, int | None]:
    """The user's newest unread notifications, how many are unread and the newest unread id.

    Only those about the user's shops: someone moved to another shop no longer sees what
    they were told about the old one (the message names the order), as its cases are a 404
    to them. One query whatever the number: the count and the highest id come from window
    aggregates over all unread rows shown, computed before the LIMIT.
    """
    unread = visible_unread_notifications(user)
    rows = list(
        unread
        .select_related("case")
        .annotate(unread_total=Window(Count("pk")), unread_last_id=Window(Max("pk")))
        [:limit]
    )
    if not rows:
        return [], 0, None
    return rows, rows[0].unread_total, rows[0].unread_last_id


# --- platform imports ---------------------------------------------------------------------


def import_runs_for_user(user) -> QuerySet[ImportRun]:
    """Import history of the user's shops, newest first, with what each row shows."""
    return scope_to_user(
        ImportRun.objects.select_related("shop", "started_by", "started_by__staff_profile"),
        user,
    )


# --- finance: payouts and their batches --------------------------------------------------------


def payouts_for_user(user) -> QuerySet[Payout]:
    return scope_to_user(Payout.objects.all(), user)


def payout_list(user, state: str | None = None, shop_id: int | None = None) -> QuerySet[Payout]:
    """The finance page's rows, everything a row shows joined in the one query."""
    queryset = payouts_for_user(user).select_related(
        "shop", "order", "order__buyer", "case", "batch", "compensation")
    if state:
        queryset = queryset.filter(state=state)
    if shop_id:
        queryset = queryset.filter(shop_id=shop_id)
    return queryset.order_by("created_at", "id")


def payout_batches_for_user(user) -> QuerySet[PayoutBatch]:
    return scope_to_user(PayoutBatch.objects.select_related("shop"), user)


def recent_payout_batches(user, count: int = 10) -> QuerySet[PayoutBatch]:
    """The user's newest batches, each with `paid_by_platform`: how many of its payouts the
    platform refunded while they were in its bank file (a subquery per batch shown)."""
    flagged = (Payout.objects.filter(batch=OuterRef("pk"), paid_by_platform_in_batch=True)
               .order_by().values("batch").annotate(n=Count("pk")).values("n"))
    return payout_batches_for_user(user).annotate(
        paid_by_platform=Coalesce(Subquery(flagged, output_field=IntegerField()), 0))[:count]


def payout_batch_rows(batch: PayoutBatch) -> QuerySet[Payout]:
    """The payouts as they went out in `batch` (also after a later retry), in one query."""
    return (Payout.objects.filter(batch_items__batch=batch)
            .select_related("shop", "order", "order__buyer", "case", "batch")
            .order_by("batch_items__id"))


def payouts_paid_by_platform_in_batch(batch: PayoutBatch) -> QuerySet[Payout]:
    """The payouts of `batch` the platform refunded while they were in its bank file: left
    out of the file (`refunds.exports.payout_batch_sheet`), listed on the page. One query."""
    return (Payout.objects.filter(batch=batch, paid_by_platform_in_batch=True)
            .select_related("order").order_by("id"))


# --- review follow-ups, buyers, contacts and canned replies ----------------------------------


def followups_for_user(user) -> QuerySet:
    return scope_to_user(ReviewFollowUp.objects.all(), user)


def followup_queue(user) -> QuerySet:
    """The follow-up queue's rows, everything a row shows in one query, "due soon" first:
    open follow-ups by revision deadline, then the finished ones."""
    return (
        followups_for_user(user)
        .select_related("shop", "order", "buyer", "review", "assignee",
                        "assignee__staff_profile", "remedy_case", "remedy_compensation")
        .annotate(finished=Choose(When(state__in=OPEN_FOLLOWUP_STATES, then=Value(0)),
                                  default=Value(1), output_field=IntegerField()))
        .order_by("finished", "deadline_at", "id")
    )


def followup_detail(user, pk: int):
    """A follow-up of the user's shops with all its page shows, or 404."""
    queryset = followups_for_user(user).select_related(
        "shop", "shop__policy", "order", "buyer", "review", "assignee",
        "assignee__staff_profile", "created_by", "remedy_case", "remedy_compensation",
    ).prefetch_related(
        "order__lines",
        Prefetch("events", queryset=FollowUpEvent.objects.select_related("actor")),
    )
    return get_object_or_404(queryset, pk=pk)


def reviews_without_follow_up(shop=None) -> QuerySet:
    """中评/差评 that have no follow-up yet (imported before follow-ups existed)."""
    reviews = Review.objects.filter(rating__in=[ReviewRating.NEUTRAL, ReviewRating.BAD],
                                    follow_up__isnull=True)
    if shop is not None:
        reviews = reviews.filter(shop=shop)
    return reviews.select_related("shop").order_by("posted_at", "id")


def followups_past_deadline(now: datetime) -> QuerySet:
    """Open follow-ups whose revision window has passed: what the review sweep expires."""
    return ReviewFollowUp.objects.filter(state__in=OPEN_FOLLOWUP_STATES,
                                         deadline_at__lt=now).order_by("deadline_at", "id")


def followups_to_warn(now: datetime) -> QuerySet:
    """Open follow-ups within their shop's warning window, not yet warned for that deadline."""
    shops_by_window: dict[int, list[int]] = {}
    for shop_id, days in Policy.objects.values_list("shop_id", "review_warning_days"):
        shops_by_window.setdefault(days, []).append(shop_id)
    if not shops_by_window:
        return ReviewFollowUp.objects.none()
    within_window = reduce(or_, (
        Q(shop_id__in=shop_ids, deadline_at__lte=now + timedelta(days=days))
        for days, shop_ids in shops_by_window.items()
    ))
    not_warned = (Q(warned_deadline_at__isnull=True)
                  | Q(warned_deadline_at__lt=F("deadline_at"))
                  | Q(warned_deadline_at__gt=F("deadline_at")))
    return (ReviewFollowUp.objects.filter(state__in=OPEN_FOLLOWUP_STATES, deadline_at__gte=now)
            .filter(within_window).filter(not_warned).order_by("deadline_at", "id"))


def buyers_for_user(user) -> QuerySet:
    """Buyers with an order in one of the user's shops."""
    shop_ids = user_shop_ids(user)
    if shop_ids is None:
        return Buyer.objects.all()
    # EXISTS per buyer (order_buyer_shop_idx), not "id IN (every buyer of the shop)": that
    # listed the shop's 333,000 orders' buyers to find one (0.4 s on SQLite at full size)
    return Buyer.objects.filter(
        Exists(Order.objects.filter(buyer_id=OuterRef("pk"), shop_id__in=shop_ids)))


def buyer_detail(user, pk: int):
    return get_object_or_404(buyers_for_user(user), pk=pk)


def buyer_contacts(user, buyer_id: int, limit: int = 50) -> list:
    """The buyer's latest contacts in the user's shops, newest first (one query)."""
    contacts = scope_to_user(ContactLog.objects.filter(buyer_id=buyer_id), user)
    return list(contacts.select_related("shop").order_by("-created_at", "-id")[:limit])


@dataclass(frozen=True)
class OrderItem:
    """A follow-up, complaint or stock-out of an order, as the buyer page lists it."""

    pk: int
    state: str
    label: str
    url: str


# what the buyer page lists of an order besides its cases: model, URL name, its states, the
# moment each is listed by (a follow-up's deadline first, as its model orders them)
_ORDER_ITEMS = {
    "follow_ups": (ReviewFollowUp, "refunds:followup_detail", FollowUpState, "deadline_at"),
    "complaints": (Complaint, "refunds:complaint_detail", ComplaintState, "opened_at"),
    "stockouts": (StockOut, "refunds:stockout_detail", StockOutState, "reported_at"),
    "inquiries": (ParcelInquiry, "refunds:inquiry_detail", InquiryState, "opened_at"),
}


def buyer_orders(user, buyer_id: int) -> list:
    """The buyer's orders in the user's shops, with their cases (prefetched) and, in
    `order.items[name]`, their review follow-ups, complaints and stock-outs — read together
    in one UNION query: three queries whatever the number of orders (the page has a budget
    of 12, docs/PERFORMANCE.md)."""
    orders = list(scope_to_user(Order.objects.filter(buyer_id=buyer_id), user)
                  .select_related("shop").prefetch_related("cases")
                  .order_by("-paid_at", "-id"))
    by_id = {order.pk: order for order in orders}
    for order in orders:
        order.items = {name: [] for name in _ORDER_ITEMS}
    if not orders:
        return orders
    parts = [model.objects.filter(order_id__in=list(by_id))
             .annotate(item=Value(name, output_field=CharField()), at=F(moment))
             .values_list("order_id", "item", "pk", "state", "at").order_by()
             for name, (model, _url, _states, moment) in _ORDER_ITEMS.items()]
    for order_id, name, pk, state, _at in (parts[0].union(*parts[1:], all=True)
                                           .order_by("at", "pk")):
        _model, url_name, states, _moment = _ORDER_ITEMS[name]
        label = states(state).label if state in states.values else state
        by_id[order_id].items[name].append(OrderItem(
            pk=pk, state=state, label=label, url=reverse(url_name, args=[pk])))
    return orders


def canned_replies(categories) -> list:
    """Active canned replies of these categories: the page's categories in the order given
    (an inquiry page offers logistics replies first), the admin's order within each one."""
    categories = list(categories)
    rank = {category: position for position, category in enumerate(categories)}
    replies = CannedReply.objects.filter(is_active=True, category__in=categories)
    return sorted(replies, key=lambda reply: rank[reply.category])


# --- the warehouse: returned parcels --------------------------------------------------------

AWAITING_PARCEL_STATES = ("awaiting_return", "return_in_transit")


def cases_awaiting_parcel(user, tracking_no: str) -> QuerySet[Case]:
    """The user's shops' cases waiting for the parcel with this (normalised) tracking no."""
    return (cases_for_user(user)
            .filter(return_tracking_no=tracking_no, state__in=AWAITING_PARCEL_STATES)
            .select_related("shop", "shop__policy", "order", "order__buyer")
            .prefetch_related("lines", "order__lines").order_by("requested_at", "id"))


def cases_with_tracking_no(user, tracking_no: str) -> QuerySet[Case]:
    """Cases with this return tracking number in any state (to say "already received")."""
    return (cases_for_user(user).filter(return_tracking_no=tracking_no)
            .select_related("shop").order_by("-id"))


def parcels_for_user(user) -> QuerySet[ReturnParcel]:
    return scope_to_user(ReturnParcel.objects.all(), user)


def unmatched_parcels(user) -> QuerySet[ReturnParcel]:
    return (parcels_for_user(user).filter(case__isnull=True).select_related("shop")
            .prefetch_related("photos").order_by("-received_at", "-id"))


def batch_parcels(user, batch_date, shop_id: int | None = None) -> QuerySet[ReturnParcel]:
    """A day's returns batch (退货明细表): every row's columns joined or prefetched, so the
    page and the files cost the same few queries at any size."""
    queryset = parcels_for_user(user).filter(batch_date=batch_date)
    if shop_id:
        queryset = queryset.filter(shop_id=shop_id)
    return (queryset.select_related("shop", "case", "case__order", "case__order__buyer")
            .prefetch_related("photos", "case__lines", "case__order__lines")
            .order_by("shop__code", "received_at", "id"))


def case_parcels(case: Case) -> list[ReturnParcel]:
    """The case page's parcels and photos; no query when it has none."""
    if not getattr(case, "has_parcels", True):
        return []
    return list(ReturnParcel.objects.filter(case=case).prefetch_related("photos")
                .order_by("received_at", "id"))


# --- carrier claims (报损报失) --------------------------------------------------------------


def claims_for_user(user) -> QuerySet[CarrierClaim]:
    return scope_to_user(CarrierClaim.objects.all(), user)


def claim_register(user) -> QuerySet:
    """The damage register's rows (报损登记), everything a row shows in one query: open claims
    first, then by report date, newest first."""
    return (claims_for_user(user)
            .select_related("shop", "order", "case", "handler")
            .annotate(closed_rank=Choose(When(state__in=OPEN_CLAIM_STATES, then=Value(0)),
                                        default=Value(1), output_field=IntegerField()))
            .order_by("closed_rank", "-reported_on", "-id"))


def claim_detail(user, pk: int):
    """A claim of the user's shops with all its page shows, or 404."""
    queryset = claims_for_user(user).select_related(
        "shop", "order", "order__buyer", "case", "handler", "created_by",
    ).prefetch_related(
        "order__lines", "photos",
        Prefetch("events", queryset=ClaimEvent.objects.select_related("actor")),
    )
    return get_object_or_404(queryset, pk=pk)


# --- complaints after the trade (维权/投诉) --------------------------------------------------


def complaints_for_user(user) -> QuerySet[Complaint]:
    return scope_to_user(Complaint.objects.all(), user)


def complaint_register(user) -> QuerySet:
    """The complaints' rows, everything a row shows in one query: those waiting for the
    shop's evidence first, the soonest deadline first; then those waiting for the platform
    (evidence submitted, appealed); then the others; each the latest opened first."""
    return (complaints_for_user(user)
            .select_related("shop", "order", "order__buyer", "handler")
            .annotate(closed_rank=Choose(When(state=ComplaintState.OPEN, then=Value(0)),
                                        When(state__in=OPEN_COMPLAINT_STATES, then=Value(1)),
                                        default=Value(2), output_field=IntegerField()))
            .order_by("closed_rank",
                      Choose(When(state=ComplaintState.OPEN, then=F("evidence_due_at")),
                             default=None).asc(nulls_last=True),
                      "-opened_at", "-id"))


def complaint_detail(user, pk: int):
    """A complaint of the user's shops with all its page shows, or 404."""
    queryset = complaints_for_user(user).select_related(
        "shop", "shop__policy", "order", "order__buyer", "case", "follow_up", "handler",
        "created_by",
    ).prefetch_related(
        "order__lines", "evidence",
        Prefetch("events", queryset=ComplaintEvent.objects.select_related("actor")),
    )
    return get_object_or_404(queryset, pk=pk)


def buyer_contacts_in_shop(complaint: Complaint, limit: int = 50) -> list[ContactLog]:
    """What the shop said to the complaint's buyer (calls, messages), newest first: the
    record a harassment complaint (恶意骚扰) is answered with. One query."""
    shop = complaint.shop_id
    return list(ContactLog.objects.filter(Q(shop_id=shop) | Q(case__shop_id=shop)
                                          | Q(follow_up__shop_id=shop),
                                          buyer_id=complaint.order.buyer_id)
                .select_related("shop").order_by("-created_at", "-id")[:limit])


# --- stock-outs (缺货) ------------------------------------------------------------------------


def stockouts_for_user(user) -> QuerySet[StockOut]:
    return scope_to_user(StockOut.objects.all(), user)


def stockout_register(user) -> QuerySet[StockOut]:
    """The stock-outs' rows, everything a row shows in one query: the open ones first — the
    buyer to be told (the longest waiting first: nearest its ship-by; then those whose refund
    closed unpaid), then those waiting for the goods (the soonest agreed day first) — then the
    others, the latest reported first."""
    return (with_refund_closed_unpaid(stockouts_for_user(user))
            .select_related("shop", "order", "order__buyer", "line", "case", "reported_by")
            .annotate(open_rank=Choose(When(state=StockOutState.REPORTED, then=Value(0)),
                                       When(closed_unpaid=True, then=Value(0)),
                                       When(state=StockOutState.AGREED, then=Value(1)),
                                       default=Value(2), output_field=IntegerField()))
            .order_by("open_rank",
                      Choose(When(state=StockOutState.REPORTED, then=F("reported_at")),
                             default=None).asc(nulls_last=True),
                      Choose(When(state=StockOutState.AGREED, then=F("agreed_ship_by")),
                             default=None).asc(nulls_last=True),
                      "-reported_at", "-id"))


def stockouts_by_item(stockouts, limit: int = 5) -> list[dict]:
    """The items most often out of stock among `stockouts` (a filtered register): title, SKU,
    how many times, how many pieces. One query."""
    return list(stockouts.order_by().filter(line__isnull=False)
                .values("line__title", "line__sku")
                .annotate(times=Count("id"), pieces=Sum("quantity"))
                .order_by("-times", "-pieces", "line__title")[:limit])


def stockout_detail(user, pk: int) -> StockOut:
    """A stock-out of the user's shops with all its page shows, or 404."""
    queryset = with_refund_closed_unpaid(stockouts_for_user(user)).select_related(
        "shop", "shop__policy", "order", "order__buyer", "line", "case", "reported_by",
    ).prefetch_related(
        "order__lines",
        Prefetch("events", queryset=StockOutEvent.objects.select_related("actor")),
    )
    return get_object_or_404(queryset, pk=pk)


def open_stockouts_of(orders) -> dict[int, list[StockOut]]:
    """{order id: the stock-outs it carries (OUTSTANDING_STOCKOUT)}, for a page of orders:
    one query."""
    found: dict[int, list[StockOut]] = {}
    for stockout in (with_refund_closed_unpaid(StockOut.objects.filter(
                         OUTSTANDING_STOCKOUT, order__in=[order.pk for order in orders]))
                     .select_related("line", "case").order_by("id")):
        found.setdefault(stockout.order_id, []).append(stockout)
    return found


# --- the buyer's confirm-receipt window (延长收货) ---------------------------------------------

RECEIPT_FILTERS = ("warn", "estimated", "unknown")
# A date passed longer ago than this: the trade has completed on the platform (an order
# still "shipped" on the desk waits for the next order import to say so): nothing to extend.
RECEIPT_PASSED_SHOWN = timedelta(days=7)


def receipt_windows(user, now: datetime, due: str = "") -> QuerySet[Order]:
    """The user's shops' shipped orders (awaiting the buyer's confirmation) with an open case,
    the soonest to confirm receipt by itself first, from those passed in the last week on.
    `due`: "warn" (within their shop's `receipt_warning_days`, or passed), "estimated" (the
    date counted from the payment), "unknown" (no date at all: neither ship nor payment
    time); else every one with a date.

    The range on the date is what keeps the page fast at a million orders: the index
    (status, confirm_receipt_by) is read from a week ago on, in date order, each order
    checked for an open case (EXISTS on the cases' order index)."""
    open_case = Case.objects.filter(order_id=OuterRef("pk"), state__in=OPEN_STATES)
    orders = scope_to_user(Order.objects.filter(status=OrderStatus.SHIPPED)
                           .filter(Exists(open_case)), user)
    if due == "unknown":
        orders = orders.filter(confirm_receipt_by__isnull=True)
    else:
        orders = orders.filter(confirm_receipt_by__gt=now - RECEIPT_PASSED_SHOWN)
    if due == "estimated":
        orders = orders.filter(confirm_receipt_estimated=True)
    elif due == "warn":
        windows: dict[int, list[int]] = {}
        for shop in shops_for_user(user):
            windows.setdefault(shop.policy.receipt_warning_days, []).append(shop.pk)
        if not windows:
            return orders.none()
        orders = orders.filter(reduce(or_, [
            Q(shop_id__in=shop_ids, confirm_receipt_by__lte=now + timedelta(days=days))
            for days, shop_ids in windows.items()]))
    return (orders.select_related("shop__policy", "buyer")
            .only("id", "platform_order_id", "paid_at", "shipped_at", "status", "carrier",
                  "tracking_no", "confirm_receipt_by", "confirm_receipt_estimated",
                  "receipt_extensions", "shop__id", "shop__name", "shop__policy__id",
                  "shop__policy__receipt_warning_days", "shop__policy__receipt_extension_limit",
                  "buyer__id", "buyer__nick")
            .order_by("confirm_receipt_by", "id"))


def open_cases_of(orders) -> dict[int, list[Case]]:
    """{order id: its open cases}, for a page of orders: one query. The state is checked
    here, not in SQL: an order has a case or two, and with `state IN (…)` SQLite (no
    statistics) read every open case by its state index instead of the page's orders'
    (137 ms at full size, docs/PERFORMANCE.md)."""
    found: dict[int, list[Case]] = {}
    for case in (Case.objects.filter(order__in=[order.pk for order in orders])
                 .only("id", "order_id", "shop_id", "kind", "state", "deadline_at")
                 .order_by("id")):
        if case.is_open:
            found.setdefault(case.order_id, []).append(case)
    return found


# --- parcel inquiries (快递查询 / 改地址) ------------------------------------------------------


def inquiries_for_user(user) -> QuerySet[ParcelInquiry]:
    return scope_to_user(ParcelInquiry.objects.all(), user)


def inquiry_register(user) -> QuerySet[ParcelInquiry]:
    """The inquiries' rows, everything a row shows in one query: the open ones first, the
    buyer's answer soonest due first, then the others, the latest opened first."""
    return (inquiries_for_user(user)
            .select_related("shop", "order", "order__buyer", "opened_by")
            .annotate(open_rank=Choose(When(state__in=OPEN_INQUIRY_STATES, then=Value(0)),
                                       default=Value(1), output_field=IntegerField()))
            .order_by("open_rank",
                      Choose(When(state__in=OPEN_INQUIRY_STATES, then=F("reply_by")),
                             default=None).asc(nulls_last=True),
                      "-opened_at", "-id"))


def inquiry_detail(user, pk: int) -> ParcelInquiry:
    """An inquiry of the user's shops with all its page shows, or 404."""
    queryset = inquiries_for_user(user).select_related(
        "shop", "shop__policy", "order", "order__shop", "order__buyer", "case", "opened_by",
    ).prefetch_related(
        "order__lines",
        Prefetch("events", queryset=InquiryEvent.objects.select_related("actor")),
    )
    return get_object_or_404(queryset, pk=pk)


def open_address_changes_of(orders) -> dict[int, list[ParcelInquiry]]:
    """{order id: its open address changes (改地址)}, for a page of orders to ship: one
    query. One answered "could not be changed" is left out: the parcel goes to the old
    address, and the warehouse must not read the new one."""
    found: dict[int, list[ParcelInquiry]] = {}
    for inquiry in (ParcelInquiry.objects.filter(kind=InquiryKind.ADDRESS,
                                                 state__in=OPEN_INQUIRY_STATES,
                                                 order__in=[order.pk for order in orders])
                    .exclude(outcome=InquiryOutcome.ADDRESS_NOT_CHANGED)
                    .order_by("id")):
        found.setdefault(inquiry.order_id, []).append(inquiry)
    return found
