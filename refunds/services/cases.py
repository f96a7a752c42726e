"""Every change to a case goes through one of these functions.

Each one is a single transaction that locks the order and the case (refunds.locks), checks
on the locked rows that the state is still the one the user saw, that the transition is
allowed and that the actor holds its permission, then changes the state through the
django-fsm transition, recomputes the deadline and writes the timeline row.

`actor=None` means the platform's own rules ("system": 极速退款, the nightly sweep); only
code, never a request, can pass it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from .. import events, texts
from ..bulk import insert_many
from ..deadlines import PHOTO_FIELDS, apply_deadline
from ..exceptions import (
    ActionNotAllowed,
    AmountError,
    CaseChanged,
    DomainError,
    PermissionDeniedError,
)
from ..fsmlog import batched_state_logs
from ..locks import lock_case, lock_order
from ..models import (
    Case,
    CaseKind,
    CaseState,
    CloseReason,
    ContactChannel,
    ContactLog,
    ContactOutcome,
    Exchange,
    GoodsStatus,
    Order,
    OrderLine,
    OrderStatus,
    Payout,
    PayoutState,
    Refund,
    RefundDeduction,
    RefundStatus,
    Shop,
)
from ..permissions import user_serves_shop
from ..texts import TEXT
from . import contacts, payouts
from .money import (
    CENT,
    clean_amount,
    ensure_refundable,
    ensure_within,
    given_back,
    refundable_amounts,
)
from .text import column_text, fits, require_text

Prepare = Callable[[Case, Order], tuple[list[str], dict[str, Any]]]


# --- the one path every transition takes ----------------------------------------------------


def _apply_transition(*, case: Case, actor: User | None, name: str, note: str, now: datetime,
                      fields: Iterable[str] = (), data: dict[str, Any] | None = None) -> Case:
    """Run transition `name` on a locked case, save it and write its timeline row."""
    source = case.state
    getattr(case, name)(by=actor, description=note or None)
    update = {*fields, "state", "updated_at", *apply_deadline(case, case.shop.policy, now)}
    try:
        case.save(update_fields=sorted(update))
    except ConcurrentTransition:
        raise CaseChanged() from None
    events.transition_event(case=case, actor=actor, transition=name, from_state=source,
                            note=note, data=data, at=now)
    return case


def _run(*, case: Case, actor: User | None, name: str, expected_state: str | None,
         note: str = "", prepare: Prepare | None = None, now: datetime | None = None,
         locked: bool = False, note_text: dict | None = None) -> Case:
    """`locked=True`: `case` and `case.order` are rows the caller read with
    select_for_update in its open transaction (the nightly sweep locks a group of cases at
    once, `refunds.locks.try_lock_cases`); they are used as they are, not read and locked
    again. Everything else (the state check, the permission, the transition) is the same."""
    now = now or timezone.now()
    held = locked
    if held and not transaction.get_connection().in_atomic_block:
        raise ValueError("locked=True needs the caller's transaction holding the row locks")
    with transaction.atomic():
        locked, order = (case, case.order) if held else lock_case(case.pk)
        if expected_state and locked.state != expected_state:
            raise CaseChanged()
        method = getattr(locked, name)
        if not can_proceed(method):
            raise ActionNotAllowed(
                _("“%(action)s” is not possible: the case is now “%(state)s”.")
                % {"action": action_label(name), "state": locked.get_state_display()}
            )
        if actor is not None and not has_transition_perm(method, actor):
            _explain_refusal(locked, name, actor)
            raise PermissionDeniedError()
        if locked.kind == CaseKind.EXCHANGE and name in EXCHANGE_ENDINGS:
            _cancel_exchange_difference(locked, actor, now)  # before the money is checked
        fields, data = prepare(locked, order) if prepare else ([], {})
        if note_text:  # the note in the reader's language (refunds/texts.py)
            data = {**data, TEXT: note_text}
        result = _apply_transition(case=locked, actor=actor, name=name, note=note, now=now,
                                   fields=fields, data=data)
        _settle_stockouts_of_a_closed_refund(result, order, now)
        if name == "reopen" and result.kind == CaseKind.REFUND_ONLY:
            from .stockouts import stockouts_follow_reopened_case  # a cycle, as below

            stockouts_follow_reopened_case(result, actor, now)
        return result


def _settle_stockouts_of_a_closed_refund(case: Case, order: Order, now: datetime) -> None:
    """A refund-only case that closes on an order the platform already shipped or closed: a
    stock-out whose refund it was settles now (shipped / order closed), as the order import
    would have settled it then had the refund not been pending. One query, in the case's
    transaction (the order row is locked first, as for the stock-out's own changes)."""
    if case.state != CaseState.CLOSED or case.kind != CaseKind.REFUND_ONLY:
        return
    if not (order.is_shipped or order.status == OrderStatus.CLOSED):
        return
    from .stockouts import stockouts_follow_orders  # stock-outs open refund cases: a cycle

    stockouts_follow_orders([order.pk], now=now)


def _explain_refusal(case: Case, name: str, actor: User) -> None:
    """Say why an agent may not commit this refund (the approval limit), not just "no"."""
    if name not in ("agree", "approve_refund") or not user_serves_shop(actor, case.shop_id):
        return
    if not (actor.has_perm("refunds.agree_case") or actor.has_perm("refunds.approve_refund")):
        return
    limit, total = case.shop.policy.agent_approval_limit, case.amount_for_approval()
    if total > limit and total == case.requested_amount:
        raise PermissionDeniedError(
            _("¥%(total)s is above your approval limit of ¥%(limit)s: a supervisor must "
              "approve it.") % {"total": total, "limit": limit})
    if total > limit:
        raise PermissionDeniedError(
            _("¥%(total)s on this order (this request and the refunds already on it) is above "
              "your approval limit of ¥%(limit)s: a supervisor must approve it.")
            % {"total": total, "limit": limit})


# The transitions after which an exchange's replacement will not ship: the case ends in a
# refund (the buyer's money back instead), a refusal or a close.
EXCHANGE_ENDINGS = frozenset({"refuse", "approve_refund", "platform_refund", "close",
                              "dispute_for_buyer", "dispute_for_shop"})


def live_exchange_difference(case_ids: Iterable[int]) -> set[int]:
    """The cases among `case_ids` whose chosen replacement left a difference payout that is
    not cancelled (so an ending transition must deal with it)."""
    return set(Exchange.objects.filter(case__in=list(case_ids), payout__isnull=False)
               .exclude(payout__state=PayoutState.CANCELLED)
               .values_list("case_id", flat=True))


def exchange_difference_to_cancel(case: Case, lock: bool = False) -> Payout | None:
    """The exchange's difference payout an ending transition cancels (None: nothing to
    cancel, or paid: that money reached the buyer and stays counted against what they paid);
    ActionNotAllowed while it is in a bank file (it may still leave)."""
    payout_id = Exchange.objects.filter(case=case).values_list("payout_id", flat=True).first()
    if payout_id is None:
        return None
    payout = (Payout.objects.select_for_update() if lock else Payout.objects).get(pk=payout_id)
    if payout.state in (PayoutState.CANCELLED, PayoutState.PAID):
        return None
    if not can_proceed(payout.cancel):
        raise ActionNotAllowed(_(
            "The exchange difference of ¥%(amount)s (payout #%(payout)s) is already "
            "“%(state)s”: the exchange cannot end this way until finance has settled it.")
            % {"amount": payout.amount, "payout": payout.pk,
               "state": payout.get_state_display()})
    return payout


def _cancel_exchange_difference(case: Case, actor: User | None, now: datetime) -> None:
    """The difference the shop owed for a replacement (多退) is cancelled with the exchange:
    it is not paid, and no longer counted against what the buyer paid. A difference already
    paid stays (counted, so what the case refunds is checked against the rest); one in a bank
    file cannot be cancelled: the transition is refused, and a person settles it with
    finance first."""
    payout = exchange_difference_to_cancel(case, lock=True)
    if payout is None:
        return
    source = payout.state
    payout.cancel()
    try:
        payout.save(update_fields=["state"])
    except ConcurrentTransition:
        raise payouts.PayoutChanged() from None
    events.payout_event(case=case, actor=actor, payout=payout, action="cancel",
                        from_state=source, at=now, note=_(
                            "The replacement will not ship: the exchange difference is not "
                            "paid."))


def action_label(name: str) -> str:
    method = getattr(Case, name)
    for transition in method._django_fsm.transitions.values():
        return str(transition.custom.get("label", name))
    return name


def _approve_amount(case: Case, order: Order, amount, actor: User | None) -> Refund:
    """Commit money back to the buyer: checked against the order while its row is locked."""
    amount = clean_amount(case.requested_amount if amount in (None, "") else amount)
    if amount > case.requested_amount:
        raise AmountError(
            _("¥%(amount)s is more than the ¥%(requested)s the buyer asked for.")
            % {"amount": amount, "requested": case.requested_amount}
        )
    ensure_refundable(order, amount)
    refund = Refund.objects.create(case=case, order=order, amount=amount, approved_by=actor)
    payouts.payout_for_refund(refund=refund, actor=actor)  # finance pays it: one payout each
    return refund


def _outstanding_refund(case: Case, status: str, refund_id: int | None = None) -> Refund:
    refunds = case.refunds.filter(status=status)
    if refund_id is not None:
        refunds = refunds.filter(pk=refund_id)
    refund = refunds.order_by("-id").first()
    if refund is None:
        raise ActionNotAllowed(_("This case has no refund waiting for this action."))
    return refund


TRACKING_PREFIX = re.compile(r"^\s*(no|单号)\s*[:：.]?\s*", re.IGNORECASE)


def normalize_tracking_no(value: str) -> str:
    """' No: sf 1234 ' → 'SF1234': scanners and buyers write tracking numbers many ways."""
    value = TRACKING_PREFIX.sub("", value or "")
    return re.sub(r"\s+", "", value).upper()


# --- creating a case ------------------------------------------------------------------------


def case_create(*, shop: Shop, order: Order, kind: str, reason: str, requested_amount,
                actor: User | None, description: str = "",
                goods_status: str = GoodsStatus.NOT_RECEIVED, platform_refund_id: str = "",
                lines: Iterable[OrderLine] = (), source: str = "manual",
                now: datetime | None = None) -> Case:
    """Open a case for a request that came in by chat, phone or import.

    极速退款: a refund-only request on an unshipped order at or below the shop's instant
    refund limit is agreed at once by "system", in the same transaction.
    """
    now = now or timezone.now()
    if order.shop_id != shop.pk:
        raise ActionNotAllowed(_("The order does not belong to this shop."))
    if actor is not None and not (
        actor.has_perm("refunds.add_case") and user_serves_shop(actor, shop.pk)
    ):
        raise PermissionDeniedError()
    if kind not in CaseKind.values:
        raise ActionNotAllowed(_("Unknown case kind."))
    amount = clean_amount(requested_amount)
    with transaction.atomic():
        order = lock_order(order.pk)
        ensure_refundable(order, amount)
        case = Case.objects.create(
            shop=shop, order=order, kind=kind, reason=reason, description=description,
            requested_amount=amount, goods_status=goods_status,
            platform_refund_id=platform_refund_id, created_by=actor, requested_at=now,
        )
        case.shop = shop
        lines = list(lines)
        if lines:
            if any(line.order_id != order.pk for line in lines):
                raise ActionNotAllowed(_("The lines must belong to the case's order."))
            case.lines.set(lines)
        apply_deadline(case, shop.policy, now)
        case.save(update_fields=["deadline_at", "deadline_owner", "deadline_rule"])
        events.case_created_event(case=case, actor=actor, source=source, at=now)
        policy = shop.policy
        if (kind == CaseKind.REFUND_ONLY and not order.is_shipped
                and amount <= policy.instant_refund_limit):
            refund = _approve_amount(case, order, amount, None)
            _apply_transition(
                case=case, actor=None, name="agree", now=now,
                note=_("Instant refund (极速退款): unshipped order within the shop's limit."),
                data={"amount": str(refund.amount), "instant": True},
            )
    return case


# --- transitions ------------------------------------------------------------------------------


def case_agree(*, case: Case, actor: User | None, amount=None, note: str = "",
               expected_state: str | None = None, now: datetime | None = None,
               locked: bool = False, note_text: dict | None = None) -> Case:
    """Agree: refund-only → refund_pending (money committed); return/exchange → awaiting_return."""

    def prepare(locked: Case, order: Order):
        if locked.kind == CaseKind.REFUND_ONLY:
            refund = _approve_amount(locked, order, amount, actor)
            return [], {"amount": str(refund.amount)}
        locked.return_address = locked.shop.policy.return_address
        return ["return_address"], {"return_address": locked.return_address}

    return _run(case=case, actor=actor, name="agree", expected_state=expected_state,
                note=note, prepare=prepare, now=now, locked=locked, note_text=note_text)


def case_refuse(*, case: Case, actor: User | None, reason: str, note: str = "",
                expected_state: str | None = None, now: datetime | None = None) -> Case:
    reason = column_text(reason, Case, "refusal_reason",
                         required=_("A refusal needs a reason."))

    def prepare(locked: Case, order: Order):
        locked.refusal_reason = reason
        return ["refusal_reason"], {"reason": reason}

    return _run(case=case, actor=actor, name="refuse", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


def case_buyer_modify(*, case: Case, actor: User | None, requested_amount=None,
                      note: str = "", expected_state: str | None = None,
                      now: datetime | None = None) -> Case:
    """The buyer changed a refused request on the platform: it is back with the shop."""

    def prepare(locked: Case, order: Order):
        if requested_amount in (None, ""):
            return [], {}
        amount = clean_amount(requested_amount)
        ensure_refundable(order, amount)
        locked.requested_amount = amount
        return ["requested_amount"], {"requested_amount": str(amount)}

    return _run(case=case, actor=actor, name="buyer_modify", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


def case_record_return_shipment(*, case: Case, actor: User | None, carrier: str,
                                tracking_no: str, note: str = "",
                                expected_state: str | None = None,
                                now: datetime | None = None) -> Case:
    carrier = column_text(carrier, Case, "return_carrier",
                          required=_("Enter the return carrier."))
    tracking_no = column_text(normalize_tracking_no(tracking_no), Case, "return_tracking_no",
                              required=_("Enter the return tracking number."))
    when = now or timezone.now()

    def prepare(locked: Case, order: Order):
        locked.return_carrier = carrier
        locked.return_tracking_no = tracking_no
        locked.return_shipped_at = when
        locked.goods_status = GoodsStatus.RETURNED
        return (["return_carrier", "return_tracking_no", "return_shipped_at", "goods_status"],
                {"carrier": carrier, "tracking_no": tracking_no})

    return _run(case=case, actor=actor, name="record_return_shipment",
                expected_state=expected_state, note=note, prepare=prepare, now=when)


def case_receive(*, case: Case, actor: User | None, resellable: bool, note: str = "",
                 expected_state: str | None = None, now: datetime | None = None) -> Case:
    """Warehouse received and inspected the returned parcel."""

    def prepare(locked: Case, order: Order):
        locked.resellable = bool(resellable)
        locked.goods_status = GoodsStatus.SELLER_RECEIVED
        return ["resellable", "goods_status"], {"resellable": bool(resellable)}

    return _run(case=case, actor=actor, name="receive", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


def _clean_deductions(deductions) -> list[tuple[str, Decimal]]:
    lines = []
    for reason, value in deductions or ():
        if (reason is None or not str(reason).strip()) and value in (None, ""):
            continue  # an empty line of the form
        reason = column_text(str(reason or ""), RefundDeduction, "reason",
                             required=_("Every deduction needs a reason."))
        lines.append((reason, clean_amount(value)))
    return lines


def case_approve_refund(*, case: Case, actor: User | None, amount=None, deductions=(),
                        note: str = "", expected_state: str | None = None,
                        now: datetime | None = None) -> Case:
    """Approve the refund after the return. Deductions (扣款) are lines with a reason taken
    off the approved amount — the refund is the difference, never a silent one."""
    lines = _clean_deductions(deductions)

    def prepare(locked: Case, order: Order):
        if not lines:
            refund = _approve_amount(locked, order, amount, actor)
            return [], {"amount": str(refund.amount)}
        base = clean_amount(locked.requested_amount if amount in (None, "") else amount)
        if base > locked.requested_amount:
            raise AmountError(
                _("¥%(amount)s is more than the ¥%(requested)s the buyer asked for.")
                % {"amount": base, "requested": locked.requested_amount})
        kept = sum((value for _reason, value in lines), Decimal("0.00"))
        if kept >= base:
            raise AmountError(_("The deductions (¥%(kept)s) leave nothing to refund of "
                                "¥%(amount)s.") % {"kept": kept, "amount": base})
        refund = _approve_amount(locked, order, base - kept, actor)
        RefundDeduction.objects.bulk_create(
            [RefundDeduction(refund=refund, reason=reason, amount=value)
             for reason, value in lines])
        return [], {"amount": str(refund.amount), "before_deductions": str(base),
                    "deductions": [{"reason": r, "amount": str(v)} for r, v in lines]}

    return _run(case=case, actor=actor, name="approve_refund", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


def case_mark_refunded(*, case: Case, actor: User | None, payment_reference: str,
                       note: str = "", expected_state: str | None = None,
                       refund_id: int | None = None, now: datetime | None = None) -> Case:
    """Finance paid the refund: the one path that marks a refund and its payout paid, from
    the case page or the finance page (`payout_mark_paid` calls this)."""
    reference = column_text(payment_reference, Refund, "payment_reference",
                            required=_("Enter the payment reference."))
    when = now or timezone.now()

    def prepare(locked: Case, order: Order):
        refund = _outstanding_refund(locked, RefundStatus.PENDING, refund_id)
        refund.status = RefundStatus.PAID
        refund.payment_reference = reference
        refund.paid_at = when
        refund.save(update_fields=["status", "payment_reference", "paid_at"])
        payouts.settle_refund_payout(refund=refund, action="mark_paid", actor=actor, now=when,
                                     reference=reference)
        return [], {"amount": str(refund.amount), "payment_reference": reference}

    return _run(case=case, actor=actor, name="mark_refunded", expected_state=expected_state,
                note=note, prepare=prepare, now=when)


def case_mark_refund_failed(*, case: Case, actor: User | None, reason: str, note: str = "",
                            expected_state: str | None = None, refund_id: int | None = None,
                            now: datetime | None = None) -> Case:
    reason = column_text(reason, Refund, "failure_reason",
                         required=_("Say why the payment failed."))
    when = now or timezone.now()

    def prepare(locked: Case, order: Order):
        refund = _outstanding_refund(locked, RefundStatus.PENDING, refund_id)
        refund.status = RefundStatus.FAILED
        refund.failure_reason = reason
        refund.save(update_fields=["status", "failure_reason"])
        payouts.settle_refund_payout(refund=refund, action="mark_failed", actor=actor,
                                     now=when, reason=reason)
        return [], {"amount": str(refund.amount), "reason": reason}

    return _run(case=case, actor=actor, name="mark_refund_failed",
                expected_state=expected_state, note=note, prepare=prepare, now=when)


def case_retry_refund(*, case: Case, actor: User | None, note: str = "",
                      expected_state: str | None = None, refund_id: int | None = None,
                      now: datetime | None = None) -> Case:
    when = now or timezone.now()

    def prepare(locked: Case, order: Order):
        refund = _outstanding_refund(locked, RefundStatus.FAILED, refund_id)
        refund.status = RefundStatus.PENDING
        refund.save(update_fields=["status"])
        payouts.settle_refund_payout(refund=refund, action="retry", actor=actor, now=when)
        return [], {"amount": str(refund.amount)}

    return _run(case=case, actor=actor, name="retry_refund", expected_state=expected_state,
                note=note, prepare=prepare, now=when)


def case_close(*, case: Case, actor: User | None, reason: str, note: str = "",
               expected_state: str | None = None, now: datetime | None = None,
               locked: bool = False, note_text: dict | None = None) -> Case:
    if reason not in CloseReason.values:
        raise ActionNotAllowed(_("Choose why the case is closed."))

    def prepare(locked: Case, order: Order):
        if locked.state == CaseState.IN_DISPUTE and reason not in DISPUTE_CLOSE_REASONS:
            # the platform's ruling is recorded as a ruling (a supervisor's), and a dispute
            # does not time out against the buyer
            raise ActionNotAllowed(_(
                "A case in dispute closes only when the buyer withdrew it or it duplicates "
                "another request; the platform's ruling is recorded as a ruling."))
        locked.close_reason = reason
        return ["close_reason"], {"reason": reason}

    return _run(case=case, actor=actor, name="close", expected_state=expected_state,
                note=note, prepare=prepare, now=now, locked=locked, note_text=note_text)


# How a case in dispute may be closed other than by the platform's ruling.
DISPUTE_CLOSE_REASONS = (CloseReason.WITHDRAWN, CloseReason.DUPLICATE)


def case_reopen(*, case: Case, actor: User | None, reason: str, requested_amount=None,
                expected_state: str | None = None, now: datetime | None = None) -> Case:
    """复核: the buyer asks for a review; the case is back with the shop as a new request.

    Money already approved stays approved: a further refund is a new, separately checked
    amount (`requested_amount`), never a second copy of the first.
    """
    reason = require_text(reason, _("Say why the case is reopened."))

    def prepare(locked: Case, order: Order):
        fields = ["close_reason", "refusal_reason"]
        locked.close_reason = ""
        locked.refusal_reason = ""
        data: dict[str, Any] = {}
        if requested_amount in (None, ""):
            # Without a further amount the case would ask again for what it already
            # refunded, and one click on Agree ("what the buyer asked for") would pay it twice.
            committed = given_back(Case.objects.filter(pk=locked.pk))
            if committed:
                raise AmountError(
                    _("This case has already refunded ¥%(committed)s: say the further amount "
                      "the buyer asks for in this review.")
                    % {"committed": committed.quantize(CENT)})
            return fields, data
        amount = clean_amount(requested_amount)
        ensure_refundable(order, amount)
        locked.requested_amount = amount
        fields.append("requested_amount")
        data["requested_amount"] = str(amount)
        return fields, data

    return _run(case=case, actor=actor, name="reopen", expected_state=expected_state,
                note=reason, prepare=prepare, now=now)


def case_platform_refund(*, case: Case, amount=None, reference: str = "", note: str = "",
                         note_text: dict | None = None,
                         expected_state: str | None = None,
                         now: datetime | None = None, locked: bool = False) -> Case:
    """The platform refunded the buyer itself (auto-refund after a deadline, or a ruling).

    Only the platform's rules call this (actor is always "system"). An approved refund
    waiting for finance is settled as paid by the platform, so it is never paid twice;
    otherwise a new refund row is checked against what is still refundable, as always.
    """
    when = now or timezone.now()

    def prepare(locked: Case, order: Order):
        return [], _paid_by_platform(locked, order, amount, reference, None, when)

    return _run(case=case, actor=None, name="platform_refund", expected_state=expected_state,
                note=note or _("Refunded by the platform."), prepare=prepare, now=when,
                locked=locked, note_text=note_text)


def _paid_by_platform(case: Case, order: Order, amount, reference: str, actor: User | None,
                      when: datetime) -> dict[str, Any]:
    """The platform refunded the buyer: an approved refund waiting for finance is settled as
    paid (never paid twice), else a new one is checked against what is still refundable.
    Returns the timeline row's data."""
    refund = (case.refunds.filter(status__in=[RefundStatus.PENDING, RefundStatus.FAILED])
              .order_by("-id").first())
    if refund is None:
        refund = _approve_amount(case, order, amount, actor)
    elif amount not in (None, "") and clean_amount(amount) != refund.amount:
        # the platform paid another amount than the desk approved: recording either one
        # as paid would make the books wrong; a person settles it with finance
        raise ActionNotAllowed(
            _("the platform refunded ¥%(platform)s but the desk approved ¥%(approved)s "
              "(refund #%(refund)s)") % {"platform": clean_amount(amount),
                                         "approved": refund.amount, "refund": refund.pk})
    refund.status = RefundStatus.PAID
    refund.payment_reference = fits(reference or "PLATFORM", Refund, "payment_reference")
    refund.paid_at = when
    refund.save(update_fields=["status", "payment_reference", "paid_at"])
    # finance must not pay it again: its payout is settled as paid by the platform
    # (one already in a bank file is flagged and its payers told: the bank may pay it too)
    payouts.settle_refund_payout(refund=refund, action="mark_paid", actor=None, now=when,
                                 reference=refund.payment_reference, by_platform=True)
    return {"amount": str(refund.amount), "by_platform": True}


# --- quality photos (DOMAIN.md: "quality photos requested | buyer | 24 hours") --------------


def photos_request_refusal(case: Case, when: datetime) -> str | None:
    """Why photos cannot be asked for on `case` at `when` (None: they can). The case page
    offers the form only when they can, and a post is checked before its form."""
    if case.state != CaseState.REQUESTED:
        return _("Photos can be asked for only while the request waits for the shop's "
                 "decision.")
    if case.photos_pending and case.photos_due_at >= when:  # asked again once overdue
        return _("The photos were already asked for, due %(due)s.") % {
            "due": timezone.localtime(case.photos_due_at).strftime("%Y-%m-%d %H:%M")}
    return None


def photos_received_refusal(case: Case) -> str | None:
    """Why the photos cannot be recorded as received on `case` (None: they can)."""
    if not case.photos_awaited:
        return _("No photos are awaited on this case.")
    return None


def case_request_photos(*, case: Case, actor: User, note: str = "",
                        now: datetime | None = None) -> Case:
    """Ask the buyer for photos of the problem: they have the policy's `quality_photo_hours`;
    without them in time the request may be refused (凭证不足), and the nightly sweep tells
    the case's people so. The state and the shop's own deadline do not change."""
    _check_can_work(case, actor, "refunds.log_contact")
    note = (note or "").strip()
    when = now or timezone.now()
    with transaction.atomic():
        locked, _order = lock_case(case.pk)
        if refusal := photos_request_refusal(locked, when):
            raise ActionNotAllowed(refusal)
        locked.photos_requested_at = when
        locked.photos_due_at = when + timedelta(hours=locked.shop.policy.quality_photo_hours)
        locked.photos_received_at = locked.photos_reminded_at = None
        locked.save(update_fields=[*PHOTO_FIELDS, "updated_at"])
        said = texts.said("photos_requested", due=locked.photos_due_at.isoformat(), note=note)
        events.photos_event(case=locked, actor=actor, key=events.PHOTOS_REQUESTED,
                            note=texts.words({TEXT: said}), text=said, at=when)
    return locked


def case_photos_received(*, case: Case, actor: User, note: str = "",
                         now: datetime | None = None) -> Case:
    """The buyer's photos came (in time or not): the case is decided on them."""
    _check_can_work(case, actor, "refunds.log_contact")
    note = (note or "").strip()
    when = now or timezone.now()
    with transaction.atomic():
        locked, _order = lock_case(case.pk)
        if refusal := photos_received_refusal(locked):
            raise ActionNotAllowed(refusal)
        locked.photos_received_at = when
        locked.save(update_fields=["photos_received_at", "updated_at"])
        said = texts.said("photos_received", note=note)
        events.photos_event(case=locked, actor=actor, key=events.PHOTOS_RECEIVED,
                            note=texts.words({TEXT: said}), text=said, at=when)
    return locked


# --- disputes (平台介入) --------------------------------------------------------------------


def case_open_dispute(*, case: Case, actor: User | None, note: str,
                      expected_state: str | None = None, now: datetime | None = None) -> Case:
    """The buyer asked the platform to step in: the shop must submit its evidence within
    the policy's `dispute_evidence_working_days`, or the platform rules against it (the
    nightly sweep then records the platform's refund)."""
    note = require_text(note, _("Say what the buyer disputes (and the platform's dispute "
                                "number)."))
    when = now or timezone.now()

    def prepare(locked: Case, order: Order):
        locked.dispute_opened_at = when
        locked.dispute_evidence_at = None
        return ["dispute_opened_at", "dispute_evidence_at"], {}

    return _run(case=case, actor=actor, name="open_dispute", expected_state=expected_state,
                note=note, prepare=prepare, now=when)


def case_submit_dispute_evidence(*, case: Case, actor: User | None, note: str,
                                 expected_state: str | None = None,
                                 now: datetime | None = None) -> Case:
    """The shop's evidence is with the platform (more may follow, each on the timeline): the
    evidence deadline is met, and the platform's ruling is awaited."""
    note = require_text(note, _("Say what evidence was submitted."))
    when = now or timezone.now()

    def prepare(locked: Case, order: Order):
        if locked.dispute_evidence_at is not None:
            return [], {"more_evidence": True}
        if locked.deadline_at is not None and locked.deadline_at <= when:
            # the platform rules against a shop without evidence in time: recording it now
            # would make the desk wait for a ruling that is already made
            raise ActionNotAllowed(_(
                "The evidence deadline passed at %(deadline)s: the platform rules against the "
                "shop. Record its ruling when it comes.") % {
                "deadline": timezone.localtime(locked.deadline_at).strftime("%Y-%m-%d %H:%M")})
        locked.dispute_evidence_at = when
        return ["dispute_evidence_at"], {}

    return _run(case=case, actor=actor, name="submit_dispute_evidence",
                expected_state=expected_state, note=note, prepare=prepare, now=when)


def case_dispute_for_buyer(*, case: Case, actor: User | None, amount=None, note: str = "",
                           expected_state: str | None = None,
                           now: datetime | None = None) -> Case:
    """The platform ruled for the buyer and refunded them from the shop's account: recorded
    as a refund paid by the platform (what finance was due to pay is settled, never paid
    twice), within what the buyer paid, as always."""
    when = now or timezone.now()

    def prepare(locked: Case, order: Order):
        return [], _paid_by_platform(locked, order, amount, "PLATFORM", actor, when)

    return _run(case=case, actor=actor, name="dispute_for_buyer", expected_state=expected_state,
                note=note, prepare=prepare, now=when)


def case_dispute_return_first(*, case: Case, actor: User | None, note: str = "",
                              expected_state: str | None = None,
                              now: datetime | None = None) -> Case:
    """The platform ruled that the buyer returns the goods first (退货退款), for a return or an
    exchange: back to awaiting the parcel (the shop's return address given, if the request
    had not been agreed yet). No money moves until the goods are back."""

    def prepare(locked: Case, order: Order):
        if locked.return_address:
            return [], {}
        locked.return_address = locked.shop.policy.return_address
        return ["return_address"], {"return_address": locked.return_address}

    return _run(case=case, actor=actor, name="dispute_return_first",
                expected_state=expected_state, note=note, prepare=prepare, now=now)


def case_dispute_for_shop(*, case: Case, actor: User | None, note: str = "",
                          expected_state: str | None = None,
                          now: datetime | None = None) -> Case:
    """The platform ruled against the buyer: the request closes."""

    def prepare(locked: Case, order: Order):
        locked.close_reason = CloseReason.PLATFORM_RULING
        return ["close_reason"], {"reason": CloseReason.PLATFORM_RULING}

    return _run(case=case, actor=actor, name="dispute_for_shop", expected_state=expected_state,
                note=note, prepare=prepare, now=now)


# --- the platform's rules on many cases at once (the nightly sweep) --------------------------

PLATFORM_RULES = ("agree", "close", "platform_refund")


@dataclass
class PlatformStep:
    """One case a platform rule moves, for `cases_apply_platform_rules`.

    `case` and `case.order` are rows the caller locked in its open transaction. After the
    call, `error` says why this case was left as it was (None: it moved)."""

    case: Case
    transition: str  # one of PLATFORM_RULES
    expected_state: str
    note: str
    note_text: dict | None = None  # `note` as code + parameters (refunds/texts.py)
    close_reason: str = CloseReason.TIMEOUT
    error: DomainError | None = None
    amount: Decimal | None = field(default=None, repr=False)  # money it commits, once checked


def cases_apply_platform_rules(*, steps: Sequence[PlatformStep],
                               now: datetime | None = None) -> None:
    """The platform's rules, as "system", on many locked cases at once: the set-based twin of
    `case_agree`, `case_close` (timed out) and `case_platform_refund` with `actor=None` and
    `locked=True`, for the nightly sweep (issue 6: 1,000 transitions a second).

    Every case is checked as those services check it — the state it was selected in, the
    django-fsm transition's sources and conditions, and, for the money it commits, the money
    rule against its order read under the caller's lock, spending case after case from one
    reading of all the orders (`refundable_amounts`) exactly as one call per case would. A
    case that fails a check gets `step.error` and is left untouched; the others run their
    django-fsm transition one by one, and what they change is written together: one UPDATE
    of the cases per (state before, values set), one INSERT each of refunds, payouts, timeline
    rows and django-fsm-log rows. Each row is the one the single-case service writes.

    A platform refund that settles a refund approved earlier (pending or failed, with its
    payout) is rare and goes through `case_platform_refund` itself, in a savepoint.

    All of it happens in the caller's transaction: an unexpected error (or an UPDATE that
    finds a case changed under the lock) raises, and the caller rolls the whole group back.
    """
    now = now or timezone.now()
    if not transaction.get_connection().in_atomic_block:
        raise ValueError("cases_apply_platform_rules needs the caller's transaction holding "
                         "the row locks")
    ready = [step for step in steps if _platform_step_allowed(step)]
    settling = set(Refund.objects.filter(
        case__in=[step.case.pk for step in ready if step.transition == "platform_refund"],
        status__in=[RefundStatus.PENDING, RefundStatus.FAILED]).values_list("case_id", flat=True))
    # an exchange ending with a difference payout: that payout is cancelled (or the step
    # refused) by the single-case service
    settling |= live_exchange_difference(
        step.case.pk for step in ready
        if step.case.kind == CaseKind.EXCHANGE and step.transition in EXCHANGE_ENDINGS)
    for step in (step for step in ready if step.case.pk in settling):
        try:
            with transaction.atomic():
                _one_platform_step(step, now)
        except DomainError as error:
            step.error = error
    ready = _spend_platform_money([step for step in ready if step.case.pk not in settling])
    if ready:
        _write_platform_steps(ready, now)


def _one_platform_step(step: PlatformStep, now: datetime) -> None:
    """A step the set-based path leaves to its single-case service (rows already locked)."""
    common = {"case": step.case, "note": step.note, "now": now, "locked": True,
              "expected_state": step.expected_state, "note_text": step.note_text}
    if step.transition == "platform_refund":
        case_platform_refund(**common)
    elif step.transition == "close":
        case_close(actor=None, reason=step.close_reason, **common)
    else:
        case_agree(actor=None, **common)


def _platform_step_allowed(step: PlatformStep) -> bool:
    if step.transition not in PLATFORM_RULES:
        raise ValueError(f"{step.transition!r} is not a platform rule")
    case = step.case
    if case.state != step.expected_state:
        step.error = CaseChanged()
    elif not can_proceed(getattr(case, step.transition)):
        step.error = ActionNotAllowed(
            _("“%(action)s” is not possible: the case is now “%(state)s”.")
            % {"action": action_label(step.transition), "state": case.get_state_display()})
    elif step.transition == "close" and step.close_reason not in CloseReason.values:
        step.error = ActionNotAllowed(_("Choose why the case is closed."))
    return step.error is None


def _commits_money(step: PlatformStep) -> bool:
    """Agreeing a refund-only request, or the platform paying a refund not approved yet."""
    return step.transition == "platform_refund" or (
        step.transition == "agree" and step.case.kind == CaseKind.REFUND_ONLY)


def _spend_platform_money(steps: list[PlatformStep]) -> list[PlatformStep]:
    """The money rule for every step that commits money, in the steps' order; returns the
    steps that may go on."""
    orders = {step.case.order.pk: step.case.order for step in steps if _commits_money(step)}
    available = refundable_amounts(orders.values())
    allowed = []
    for step in steps:
        if _commits_money(step):
            order = step.case.order
            try:
                amount = clean_amount(step.case.requested_amount)
                ensure_within(order, amount, available[order.pk])
            except DomainError as error:
                step.error = error
                continue
            available[order.pk] -= amount
            step.amount = amount
        allowed.append(step)
    return allowed


def _write_platform_steps(steps: list[PlatformStep], now: datetime) -> None:
    stamp = timezone.now()  # updated_at, and the money rows' creation, as save() would set
    refunds: list[Refund] = []
    payout_rows = []
    timeline = []
    updates: dict[tuple, list[int]] = defaultdict(list)
    with batched_state_logs():
        for step in steps:
            case, order = step.case, step.case.order
            source = case.state
            getattr(case, step.transition)(by=None, description=step.note or None)
            values: dict[str, Any] = {}
            if step.transition == "agree" and case.kind == CaseKind.REFUND_ONLY:
                refund = Refund(case=case, order=order, amount=step.amount, approved_by=None)
                refunds.append(refund)
                payout_rows.append(payouts.build_payout_for_refund(refund=refund, actor=None,
                                                                   now=stamp))
                data = {"amount": str(refund.amount)}
            elif step.transition == "agree":
                case.return_address = values["return_address"] = case.shop.policy.return_address
                data = {"return_address": case.return_address}
            elif step.transition == "close":
                case.close_reason = values["close_reason"] = step.close_reason
                data = {"reason": step.close_reason}
            else:  # the platform paid a refund nobody had approved: approved and paid at once
                refund = Refund(case=case, order=order, amount=step.amount, approved_by=None,
                                status=RefundStatus.PAID, payment_reference="PLATFORM",
                                paid_at=now)
                refunds.append(refund)
                payout = payouts.build_payout_for_refund(refund=refund, actor=None, now=stamp)
                payouts.settle_new_payout_paid(payout=payout, actor=None, now=now,
                                               reference=refund.payment_reference)
                payout_rows.append(payout)
                data = {"amount": str(refund.amount), "by_platform": True}
            values |= {"state": case.state, "updated_at": stamp}
            values |= {field: getattr(case, field)
                       for field in apply_deadline(case, case.shop.policy, now)}
            updates[(source, tuple(sorted(values.items())))].append(case.pk)
            if step.note_text:  # the note in the reader's language (refunds/texts.py)
                data = {**(data or {}), TEXT: step.note_text}
            timeline.append(events.build_transition_event(
                case=case, actor=None, transition=step.transition, from_state=source,
                note=step.note, data=data, at=now))
        Refund.objects.bulk_create(refunds)
        Payout.objects.bulk_create(payout_rows)
        for (source, values), case_ids in updates.items():
            changed = Case.objects.filter(pk__in=case_ids, state=source).update(**dict(values))
            if changed != len(case_ids):  # the caller's lock should have made this impossible
                raise CaseChanged()
        insert_many(timeline)


# --- work on a case that does not change its state ---------------------------------------


# Who may take a case on: after-sales (agents, supervisors, managers), the people who talk
# to the buyer — not the warehouse or finance, who only see cases for their own work.
CLAIM_PERMISSION = "refunds.log_contact"


def _check_can_work(case: Case, actor: User, perm: str) -> None:
    if not (actor.has_perm(perm) and user_serves_shop(actor, case.shop_id)):
        raise PermissionDeniedError()


def case_assign(*, case: Case, actor: User, assignee: User | None,
                expected_assignee_id: int | None | str = "any") -> Case:
    """Assign (supervisor) or claim (assignee is the actor) a case.

    A claim never takes a case away from a colleague: only someone with assign_case can.
    """
    claiming = assignee is not None and assignee.pk == actor.pk
    if claiming:
        _check_can_work(case, actor, CLAIM_PERMISSION)
    else:
        _check_can_work(case, actor, "refunds.assign_case")
    if assignee is not None and not (
        assignee.is_active and user_serves_shop(assignee, case.shop_id)
    ):
        raise ActionNotAllowed(_("%(user)s does not serve this shop.")
                               % {"user": assignee.get_username()})
    with transaction.atomic():
        locked, _order = lock_case(case.pk)
        if expected_assignee_id != "any" and locked.assignee_id != expected_assignee_id:
            raise CaseChanged()
        previous = locked.assignee
        if claiming and previous is not None and previous.pk != actor.pk and not actor.has_perm(
            "refunds.assign_case"
        ):
            raise ActionNotAllowed(_("This case is already being handled by %(user)s.")
                                   % {"user": previous.get_username()})
        if previous == assignee:
            return locked
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated_at"])
        events.assigned_event(case=locked, actor=actor, assignee=assignee, previous=previous)
    return locked


def case_add_note(*, case: Case, actor: User, note: str) -> None:
    note = require_text(note, _("The note is empty."))
    _check_can_work(case, actor, "refunds.log_contact")
    with transaction.atomic():
        events.note_event(case=case, actor=actor, note=note)


def contact_log_create(*, case: Case, actor: User, channel: str, outcome: str,
                       note: str = "", override: bool = False, override_reason: str = "",
                       now: datetime | None = None) -> ContactLog:
    """Record something said to the buyer; it joins the case's timeline.

    The harassment guard (refunds.services.contacts) decides first; a supervisor may
    override it with a written reason.
    """
    _check_can_work(case, actor, "refunds.log_contact")
    if channel not in ContactChannel.values or outcome not in ContactOutcome.values:
        raise ActionNotAllowed(_("Choose a channel and an outcome."))
    with transaction.atomic():
        contact = contacts.contact_log_record(
            shop=case.shop, buyer=case.order.buyer, case=case, actor=actor, channel=channel,
            outcome=outcome, note=note, override=override, override_reason=override_reason,
            now=now,
        )
        events.contact_event(case=case, contact=contact)
    return contact
