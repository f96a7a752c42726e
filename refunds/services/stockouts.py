"""Every change to a stock-out (缺货) goes through one of these functions.

Like the case services: one transaction that locks the order and then the stock-out
(`refunds.locks.lock_stockout`), re-checks on the locked row that the state is the one the
user saw, that the transition is allowed and that the actor holds its permission (which
includes serving the stock-out's shop), changes the state through django-fsm, saves with
update_fields and writes the stock-out's timeline row.

Rules (DOMAIN.md: out-of-stock after payment — tell the buyer, never silently cancel):
- a stock-out is reported on a paid order not shipped yet with money left on it, for one of
  its items (or the whole order), one per item at a time (OUTSTANDING_STOCKOUT: open, or its
  refund pending, paid or closed unpaid);
- a refund case closed without paying the buyer sends the stock-out back to the buyer's
  choice (`stockout_refund_fell_through`): they are told again before a new choice; that
  case reopened for review (复核) takes it back to the refund (`stockouts_follow_reopened_case`);
- the buyer is told first: the buyer's choice (wait, another item, a refund) is recorded only
  after a contact that reached the buyer was logged on the stock-out — through the
  harassment guard, like every contact; a new choice after an agreed one, only after the
  buyer was reached again; withdrawing the report, only before anyone reached them;
- a later shipment is agreed for a date from today to `MAX_AGREED_DAYS` ahead;
- a refund takes the order's open refund-only request no other stock-out took (one refused or
  in dispute is named, not taken), else opens a refund-only case for the missing goods
  (`refund_offer`: their share of what was paid, at most what is still refundable less what
  undecided requests ask — the money rule, checked with the order row locked);
- what the platform does to the order (shipped, closed) closes the stock-out from the order
  import (`stockouts_follow_orders`), as a manager's change in the admin does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed, has_transition_perm

from .. import texts
from ..exceptions import ActionNotAllowed, CaseChanged, PermissionDeniedError
from ..locks import lock_order, lock_stockout
from ..models import (
    OPEN_STATES,
    OPEN_STOCKOUT_STATES,
    OUTSTANDING_STOCKOUT,
    Case,
    CaseKind,
    CaseReason,
    CaseState,
    ContactLog,
    ContactOutcome,
    Order,
    OrderLine,
    OrderStatus,
    StockOut,
    StockOutEvent,
    StockOutEventKind,
    StockOutRemedy,
    StockOutState,
    refund_gave_nothing_q,
    with_refund_closed_unpaid,
)
from ..permissions import staff_number_of, user_serves_shop
from ..timezones import CHINA
from .cases import case_create
from .contacts import contact_log_record
from .money import given_back, refundable_amount
from .text import column_text

MAX_AGREED_DAYS = 60  # a later date is a typo, or no longer a stock-out
CENT = Decimal("0.01")
# a contact in which the buyer heard of the stock-out
REACHED_OUTCOMES = frozenset({ContactOutcome.REACHED, ContactOutcome.BUYER_AGREED,
                              ContactOutcome.BUYER_REFUSED})


class StockOutChanged(CaseChanged):
    default_message = gettext_lazy("This stock-out changed while you were looking at it. "
                                   "Reload and try again.")


def action_label(name: str) -> str:
    for transition in getattr(StockOut, name)._django_fsm.transitions.values():
        return str(transition.custom.get("label", name))
    return name


def can_report_stockouts(user, shop_id: int) -> bool:
    return user.has_perm("refunds.report_stockout") and user_serves_shop(user, shop_id)


def ship_by(order: Order) -> datetime | None:
    """When the platform expects the order shipped: the shop's hours from the payment."""
    if order.paid_at is None:
        return None
    return order.paid_at + timedelta(hours=order.shop.policy.ship_within_hours)


def china_today(now: datetime) -> date:
    return now.astimezone(CHINA).date()


def buyer_was_told(stockout: StockOut, since: datetime | None = None) -> bool:
    """A contact that reached the buyer is logged on the stock-out (after `since`)."""
    reached = stockout.contacts.filter(outcome__in=REACHED_OUTCOMES)
    if since is not None:
        reached = reached.filter(created_at__gt=since)
    return reached.exists()


def last_choice_at(stockout: StockOut) -> datetime | None:
    """When the buyer's last choice was recorded (the latest transition of the stock-out)."""
    return (stockout.events.filter(kind=StockOutEventKind.TRANSITION)
            .order_by("-created_at", "-id").values_list("created_at", flat=True).first())


def _event(stockout: StockOut, kind: str, actor: User | None, *, note: str = "",
           data: dict | None = None, at: datetime | None = None, **fields) -> StockOutEvent:
    return StockOutEvent.objects.create(stockout=stockout, kind=kind, actor=actor,
                                        staff_number=staff_number_of(actor), note=note,
                                        data=data or {}, created_at=at or timezone.now(),
                                        **fields)


# --- reporting ------------------------------------------------------------------------------


def stockout_report(*, order: Order, actor: User, line: OrderLine | None = None,
                    quantity: int = 1, restock_expected: date | None = None, note: str = "",
                    now: datetime | None = None) -> StockOut:
    """The warehouse (or an agent) reports an item of a paid order out of stock."""
    now = now or timezone.now()
    if not can_report_stockouts(actor, order.shop_id):
        raise PermissionDeniedError()
    note = column_text(note, StockOut, "note")
    if line is not None and line.order_id != order.pk:
        raise ActionNotAllowed(_("The item must be one of order %(order)s.")
                               % {"order": order.platform_order_id})
    if not isinstance(quantity, int) or quantity < 1:
        raise ActionNotAllowed(_("Enter how many are out of stock: at least 1."))
    if line is not None and quantity > line.quantity:
        raise ActionNotAllowed(
            _("The buyer ordered %(ordered)s of %(item)s: at most %(ordered)s can be out of "
              "stock.") % {"ordered": line.quantity, "item": line.title})
    if restock_expected is not None and restock_expected < china_today(now):
        raise ActionNotAllowed(_("The restock date is in the past."))
    with transaction.atomic():
        order = lock_order(order.pk)
        if order.status != OrderStatus.PAID or order.shipped_at is not None:
            raise ActionNotAllowed(
                _("Order %(order)s is “%(status)s”: only a paid order not shipped yet can be "
                  "out of stock.") % {"order": order.platform_order_id,
                                      "status": order.get_status_display()})
        if refundable_amount(order) <= 0:
            raise ActionNotAllowed(
                _("Everything the buyer paid on order %(order)s is already refunded or "
                  "promised: there is nothing to ship, so nothing is out of stock.")
                % {"order": order.platform_order_id})
        # one stock-out per item at a time (open, or its refund pending or paid); one for the
        # whole order covers every item
        same = StockOut.objects.filter(OUTSTANDING_STOCKOUT, order=order)
        if line is not None:
            same = same.filter(line__isnull=True) | same.filter(line=line)
        earlier = with_refund_closed_unpaid(same).order_by("id").first()
        if earlier is not None and earlier.refund_closed_unpaid:
            raise ActionNotAllowed(
                _("This is already reported out of stock: stock-out #%(id)s, whose refund was "
                  "closed without paying the buyer. After-sales sends it back to the buyer's "
                  "choice on its page.") % {"id": earlier.pk})
        if earlier is not None:
            raise ActionNotAllowed(
                _("This is already reported out of stock: stock-out #%(id)s.")
                % {"id": earlier.pk})
        stockout = StockOut.objects.create(
            shop_id=order.shop_id, order=order, line=line, quantity=quantity,
            restock_expected=restock_expected, note=note, reported_by=actor, reported_at=now)
        _event(stockout, StockOutEventKind.CREATED, actor, at=now, to_state=stockout.state,
               note=note, data={"quantity": quantity,
                                "restock_expected": restock_expected.isoformat()
                                if restock_expected else ""})
    return stockout


def stockout_contact(*, stockout: StockOut, actor: User, channel: str, outcome: str,
                     note: str = "", override: bool = False, override_reason: str = "",
                     now: datetime | None = None) -> ContactLog:
    """Log a contact with the buyer about the stock-out (the guard decides), on its
    timeline too. Only while the stock-out is open."""
    now = now or timezone.now()
    if not (actor.has_perm("refunds.handle_stockout")
            and user_serves_shop(actor, stockout.shop_id)):
        raise PermissionDeniedError()
    with transaction.atomic():
        locked = lock_stockout(stockout.pk)
        if not locked.is_open:
            raise ActionNotAllowed(_("Stock-out #%(id)s is “%(state)s”: nothing to tell the "
                                     "buyer about it now.")
                                   % {"id": locked.pk, "state": locked.get_state_display()})
        contact = contact_log_record(shop=locked.shop, buyer=locked.order.buyer, actor=actor,
                                     channel=channel, outcome=outcome, note=note,
                                     stockout=locked, override=override,
                                     override_reason=override_reason, now=now)
        _event(locked, StockOutEventKind.CONTACT, actor, at=now, note=contact.note,
               data={"channel": contact.channel, "outcome": contact.outcome})
    return contact


# --- transitions ------------------------------------------------------------------------------

Prepare = Callable[[StockOut], tuple[list[str], dict[str, Any]]]


def _run(*, stockout: StockOut, actor: User | None, name: str, expected_state: str | None,
         note: str = "", prepare: Prepare | None = None, now: datetime | None = None,
         locked: StockOut | None = None) -> StockOut:
    """`actor` None: the order import, which passes the row it locked."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = locked or lock_stockout(stockout.pk)
        if expected_state and locked.state != expected_state:
            raise StockOutChanged()
        method = getattr(locked, name)
        if not can_proceed(method):
            raise ActionNotAllowed(
                _("“%(action)s” is not possible: the stock-out is now “%(state)s”.")
                % {"action": action_label(name), "state": locked.get_state_display()})
        if actor is not None and not has_transition_perm(method, actor):
            raise PermissionDeniedError()
        from_state = locked.state
        fields, data = prepare(locked) if prepare else ([], {})
        method()
        if locked.state not in OPEN_STOCKOUT_STATES:
            locked.resolved_at = now
            fields = [*fields, "resolved_at"]
        locked.save(update_fields=["state", *fields, "updated_at"])
        _event(locked, StockOutEventKind.TRANSITION, actor, at=now, note=note.strip(),
               transition=name, from_state=from_state, to_state=locked.state, data=data)
    return locked


def told_since_last_choice(stockout: StockOut) -> bool:
    """The buyer was reached since their last choice was recorded or fell through (ever, when
    nothing was recorded yet): what the page's "record what they chose" waits for."""
    return buyer_was_told(stockout, since=last_choice_at(stockout))


def _require_told(stockout: StockOut) -> None:
    """The buyer was reached about the stock-out; about the change, once a choice of theirs
    is recorded (a new date, or a refund after all, is agreed with them, not assumed) or their
    refund closed unpaid (back to reported: they choose again)."""
    if stockout.state == StockOutState.AGREED:
        if not told_since_last_choice(stockout):
            raise ActionNotAllowed(
                _("Tell the buyer again first: log the contact in which you reached them "
                  "about the new date or the refund, after the date they agreed to."))
    elif last_choice_at(stockout) is not None:
        if not told_since_last_choice(stockout):
            raise ActionNotAllowed(
                _("Tell the buyer again first: their refund was closed without paying them. "
                  "Log the contact in which you reached them about what they want now."))
    elif not buyer_was_told(stockout):
        raise ActionNotAllowed(
            _("Tell the buyer first: log the contact in which you reached them about the "
              "missing goods (never cancel or refund without a word)."))


def stockout_buyer_agreed(*, stockout: StockOut, actor: User, remedy: str,
                          agreed_ship_by: date, note: str = "",
                          expected_state: str | None = None,
                          now: datetime | None = None) -> StockOut:
    """The buyer agreed to wait for the restock, or to take another item, shipped by
    `agreed_ship_by` (a China date)."""
    now = now or timezone.now()
    if remedy not in StockOutRemedy.values:
        raise ActionNotAllowed(_("Choose what the buyer agreed to."))
    if not isinstance(agreed_ship_by, date) or isinstance(agreed_ship_by, datetime):
        raise ActionNotAllowed(_("Enter the day agreed with the buyer as a date."))
    today = china_today(now)
    if agreed_ship_by < today:
        raise ActionNotAllowed(_("The day agreed with the buyer is in the past."))
    if agreed_ship_by > today + timedelta(days=MAX_AGREED_DAYS):
        raise ActionNotAllowed(
            _("A shipment more than %(days)s days away is not a stock-out to wait for: offer "
              "the buyer a refund.") % {"days": MAX_AGREED_DAYS})
    note = (note or "").strip()
    if remedy == StockOutRemedy.SWAP and not note:
        raise ActionNotAllowed(_("Say which item or colour the buyer takes instead."))

    def prepare(locked: StockOut):
        _require_told(locked)
        locked.remedy, locked.agreed_ship_by = remedy, agreed_ship_by
        locked.buyer_told_at = locked.buyer_told_at or now
        return (["remedy", "agreed_ship_by", "buyer_told_at"],
                {"remedy": remedy, "agreed_ship_by": agreed_ship_by.isoformat()})

    return _run(stockout=stockout, actor=actor, name="buyer_agreed",
                expected_state=expected_state, note=note, prepare=prepare, now=now)


def refund_share(stockout: StockOut, order: Order) -> Decimal:
    """What the missing goods cost the buyer: the whole payment for the whole order (or its
    only item, all of it), else the item's paid amount for the missing quantity."""
    line = stockout.line
    lines = list(order.lines.all())
    if line is None or (len(lines) == 1 and stockout.quantity >= line.quantity):
        return order.paid_amount
    if line.quantity <= 0:  # a line the admin left without a quantity: all of its amount
        return line.paid_amount
    share = line.paid_amount * stockout.quantity / line.quantity
    return share.quantize(CENT, rounding=ROUND_HALF_UP)


def refund_offer(stockout: StockOut, order: Order) -> Decimal:
    """What a refund case for the missing goods would ask: their share, no more than is still
    refundable less what requests not decided yet ask (another item's stock-out refund, a
    request from the platform): two items refunded one after the other never ask together
    more than the buyer paid. With the order row locked, the figure the refund uses."""
    asked = (Case.objects.filter(order=order, state=CaseState.REQUESTED)
             .aggregate(total=Sum("requested_amount"))["total"]) or Decimal("0")
    return max(min(refund_share(stockout, order), refundable_amount(order) - asked),
               Decimal("0.00"))


# a refund request in one of these is on its way to paying the buyer: a refund for the missing
# goods takes it rather than opening a second one
TAKEN_REQUEST_STATES = [CaseState.REQUESTED, CaseState.REFUND_PENDING, CaseState.REFUND_FAILED]


def pending_refund_request(order: Order, stockout: StockOut | None = None) -> Case | None:
    """The order's open refund-only case no other stock-out took (the buyer's request the
    platform import brought, or one opened on the desk), which a refund for the missing goods
    takes instead of opening a second one — `stockout`'s own earlier refund case too, when it
    closed unpaid and was reopened since (复核). One refused or in dispute is not taken: the
    refund raises `ActionNotAllowed` naming it (its case page is where it is settled)."""
    others = StockOut.objects.filter(case=OuterRef("pk"))
    if stockout is not None:
        others = others.exclude(pk=stockout.pk)
    case = (Case.objects.filter(order=order, kind=CaseKind.REFUND_ONLY, state__in=OPEN_STATES)
            .exclude(Exists(others)).order_by("id").first())
    if case is not None and case.state not in TAKEN_REQUEST_STATES:
        raise ActionNotAllowed(
            _("The buyer's refund request #%(id)s on this order is “%(state)s”: settle it on "
              "its case page (the buyer may modify it, or the platform decides) before the "
              "refund for the missing goods is recorded.")
            % {"id": case.pk, "state": case.get_state_display()})
    return case


def stockout_refund(*, stockout: StockOut, actor: User, note: str = "",
                    expected_state: str | None = None,
                    now: datetime | None = None) -> StockOut:
    """The buyer takes a refund for the missing goods: a refund-only case (reason 缺货),
    or the open refund-only case of the order when the platform's request brought one."""
    now = now or timezone.now()

    def prepare(locked: StockOut):
        _require_told(locked)
        order = locked.order
        case = pending_refund_request(order, locked)
        data: dict[str, Any] = {}
        if case is None:
            amount = refund_offer(locked, order)
            if amount <= 0:
                raise ActionNotAllowed(
                    _("Nothing is left to refund on order %(order)s: everything the buyer "
                      "paid is already refunded, promised or requested.")
                    % {"order": order.platform_order_id})
            case = case_create(
                shop=locked.shop, order=order, kind=CaseKind.REFUND_ONLY,
                reason=CaseReason.OUT_OF_STOCK, requested_amount=amount, actor=actor,
                description=_("Out of stock (stock-out #%(id)s).") % {"id": locked.pk},
                lines=[locked.line] if locked.line else (), source="stockout", now=now)
            data["opened_case"] = True
        locked.case = case
        locked.buyer_told_at = locked.buyer_told_at or now
        # the refund is the buyer's choice now: a wait agreed earlier stays on the timeline
        locked.remedy, locked.agreed_ship_by = "", None
        return (["case", "buyer_told_at", "remedy", "agreed_ship_by"],
                {**data, "case": case.pk, "amount": str(case.requested_amount)})

    return _run(stockout=stockout, actor=actor, name="refund", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


def stockout_refund_fell_through(*, stockout: StockOut, actor: User, note: str = "",
                                 expected_state: str | None = None,
                                 now: datetime | None = None) -> StockOut:
    """The refund case for the missing goods closed without paying the buyer (they cancelled
    it, or it was refused and the platform ruled for the shop): the goods are still missing,
    so the stock-out is back to the buyer's choice — told again, choosing again. The case is
    read under its row lock (a supervisor may be reopening it); it stays linked, and on the
    timeline row, until a refund chosen again opens a new one."""
    now = now or timezone.now()

    def prepare(locked: StockOut):
        order = locked.order  # locked by lock_stockout, before the case: the fixed order
        case = Case.objects.select_for_update(of=("self",)).get(pk=locked.case_id)
        if case.state != CaseState.CLOSED:
            raise ActionNotAllowed(
                _("Refund case #%(id)s is “%(state)s”, not closed: it may still pay the "
                  "buyer.") % {"id": case.pk, "state": case.get_state_display()})
        paid = given_back(Case.objects.filter(pk=case.pk))
        if paid:
            raise ActionNotAllowed(
                _("Refund case #%(id)s gave the buyer ¥%(amount)s back before it closed: the "
                  "missing goods are refunded, there is nothing to choose again.")
                % {"id": case.pk, "amount": paid})
        if order.is_shipped or order.status in (OrderStatus.CLOSED, OrderStatus.COMPLETED):
            raise ActionNotAllowed(
                _("Order %(order)s is “%(status)s” now: nothing is left to ship or to choose "
                  "on this stock-out. Settle what the buyer is still owed on a case.")
                % {"order": order.platform_order_id, "status": order.get_status_display()})
        locked.resolved_at = None
        return ["resolved_at"], {"case": case.pk, "amount": str(case.requested_amount)}

    return _run(stockout=stockout, actor=actor, name="refund_fell_through",
                expected_state=expected_state, note=note, prepare=prepare, now=now)


def stockouts_follow_reopened_case(case: Case, actor: User | None,
                                   now: datetime | None = None) -> int:
    """`case` (refund-only) was just reopened for review (复核), in the caller's transaction
    that holds its order's and its row's locks: a stock-out it had sent back to the buyer's
    choice (reported, or a later shipment agreed since) is the buyer's refund again — it
    must not ship while the case may pay. A wait agreed meanwhile stays on the timeline, and
    the row says it is off. One query when there is none. Returns how many moved."""
    now = now or timezone.now()
    back = list(StockOut.objects.select_for_update(of=("self",))
                .select_related("shop__policy", "line")
                .filter(case=case, state__in=OPEN_STOCKOUT_STATES).order_by("pk"))
    for stockout in back:
        stockout.order, stockout.case = case.order, case
        agreed = (stockout.agreed_ship_by.isoformat()
                  if stockout.state == StockOutState.AGREED and stockout.agreed_ship_by
                  else "")
        text = texts.said("stockout_refund_reopened", case=case.pk, agreed=agreed)

        def prepare(locked: StockOut, text=text):
            locked.remedy, locked.agreed_ship_by = "", None
            return ["remedy", "agreed_ship_by"], {texts.TEXT: text, "case": case.pk}

        _run(stockout=stockout, actor=actor, name="refund_reopened", expected_state=None,
             note=texts.words({texts.TEXT: text}), now=now, locked=stockout, prepare=prepare)
    return len(back)


def stockout_ship(*, stockout: StockOut, actor: User, note: str = "",
                  expected_state: str | None = None, now: datetime | None = None) -> StockOut:
    """The goods came in and the order shipped (before the next order import shows it) —
    also after the buyer's refund closed unpaid (they withdrew it to wait for the goods);
    not once that refund gave them something back (the item is refunded, not shipped)."""

    def prepare(locked: StockOut):
        if locked.state == StockOutState.REFUND:
            case = Case.objects.select_for_update(of=("self",)).get(pk=locked.case_id)
            paid = given_back(Case.objects.filter(pk=case.pk))
            if case.state != CaseState.CLOSED or paid:
                raise ActionNotAllowed(
                    _("The buyer takes a refund for this item (case #%(id)s): it is not "
                      "shipped.") % {"id": case.pk})
            if locked.order.status == OrderStatus.CLOSED:
                raise ActionNotAllowed(
                    _("Order %(order)s was closed on the platform: it is not shipped.")
                    % {"order": locked.order.platform_order_id})
        return [], {}

    return _run(stockout=stockout, actor=actor, name="ship", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


WITHDRAW_TOO_LATE = gettext_lazy(
    "The buyer has been told the goods are missing: a withdrawn report would leave them "
    "believing it. Ship the order, mark the stock-out shipped and tell the buyer it is on "
    "its way.")


def stockout_withdraw(*, stockout: StockOut, actor: User, reason: str,
                      expected_state: str | None = None,
                      now: datetime | None = None) -> StockOut:
    """The stock was found before the buyer was told: the report was a mistake."""
    reason = (reason or "").strip()
    if not reason:
        raise ActionNotAllowed(_("Say where the stock was found."))

    def prepare(locked: StockOut):
        if buyer_was_told(locked):
            raise ActionNotAllowed(WITHDRAW_TOO_LATE)
        return [], {}

    return _run(stockout=stockout, actor=actor, name="withdraw",
                expected_state=expected_state, note=reason, prepare=prepare, now=now)


# --- the order import -------------------------------------------------------------------------


def stockouts_follow_orders(order_ids: Iterable[int], now: datetime | None = None) -> int:
    """The open stock-outs of `order_ids` follow what the platform did to their orders:
    shipped → shipped, closed → order closed — and those whose refund closed having given
    the buyer nothing (the goods were still owed). Called by the order import, inside its
    transaction, for the orders whose status it just changed. Returns how many moved."""
    now = now or timezone.now()
    order_ids = list(order_ids)
    if not order_ids:
        return 0
    moved = 0
    with transaction.atomic():
        open_ones = list(StockOut.objects.select_for_update(of=("self",))
                         .select_related("order", "case")
                         .filter(Q(state__in=OPEN_STOCKOUT_STATES) | refund_gave_nothing_q(),
                                 order_id__in=order_ids)
                         .order_by("pk"))
        for stockout in open_ones:
            order = stockout.order
            if order.is_shipped:
                name, code = "ship", "stockout_order_shipped"
            elif order.status == OrderStatus.CLOSED:
                name, code = "order_closed", "stockout_order_closed"
            else:
                continue
            text = texts.said(code)
            _run(stockout=stockout, actor=None, name=name, expected_state=None,
                 note=texts.words({texts.TEXT: text}), now=now, locked=stockout,
                 prepare=lambda _locked, text=text: ([], {texts.TEXT: text}))
            moved += 1
    return moved

