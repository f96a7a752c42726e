"""Finance payouts (付款): one per refund, compensation or reimbursement.

pending → exported (in one batch) → paid / failed → retried (pending again).

One path, never two: a case refund's payout is paid, failed and retried only through the case
services (`case_mark_refunded`, `case_mark_refund_failed`, `case_retry_refund`), which settle
the payout in the same transaction as the case and its Refund row, whether finance clicks on
the finance page or on the case page. A money compensation's payout, once paid, marks the
compensation paid in the same transaction. Marking paid twice is impossible: `paid` is
final in the state machine, and every call re-reads the payout under the order → case →
(compensation) → payout row locks before it checks the state.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from .. import events, texts
from ..exceptions import ActionNotAllowed, CaseChanged, PermissionDeniedError
from ..labels import choice_label
from ..locks import lock_payout
from ..models import (
    Case,
    Compensation,
    CompensationKind,
    Order,
    Payout,
    PayoutBatch,
    PayoutBatchItem,
    PayoutKind,
    PayoutRoute,
    PayoutState,
    Refund,
    Shop,
)
from ..permissions import staff_number_of, user_serves_shop
from .money import clean_amount, ensure_refundable
from .notifications import notify_payout_paid_by_platform
from .text import column_text, fits


class PayoutChanged(CaseChanged):
    default_message = gettext_lazy(
        "This payout changed while you were looking at it. Reload and try again.")


def action_label(name: str) -> str:
    for transition in getattr(Payout, name)._django_fsm.transitions.values():
        return str(transition.custom.get("label", name))
    return name


# --- creating payouts (inside the caller's transaction, order row locked) ---------------------


def _route_for(order: Order, kind: str) -> tuple[str, str]:
    """Refunds go back the way they came (原路退回); reimbursements to the buyer's Alipay when
    the account is known."""
    if kind in (PayoutKind.POSTAGE, PayoutKind.EXCHANGE_DIFFERENCE, PayoutKind.COMPENSATION):
        account = order.buyer.alipay_account.strip()
        if account:
            return PayoutRoute.ALIPAY, account
    return PayoutRoute.ORIGINAL, ""


def _build(*, case: Case, order: Order, kind: str, amount: Decimal, reason: str,
           actor: User | None, now: datetime, route: str | None = None,
           refund: Refund | None = None, compensation: Compensation | None = None) -> Payout:
    default_route, account = _route_for(order, kind)
    route = route or default_route
    if route == PayoutRoute.ALIPAY and not account:
        raise ActionNotAllowed(_("The buyer has no Alipay account on record: pay by the "
                                 "original route or record the account first."))
    return Payout(
        shop_id=case.shop_id, order=order, case=case, kind=kind, refund=refund,
        compensation=compensation, amount=amount, reason=reason, route=route,
        account=account if route == PayoutRoute.ALIPAY else "", created_by=actor,
        staff_number=staff_number_of(actor), created_at=now,
    )


def _create(**kwargs) -> Payout:
    payout = _build(**kwargs)
    payout.save(force_insert=True)
    return payout


def build_payout_for_refund(*, refund: Refund, actor: User | None,
                            now: datetime | None = None) -> Payout:
    """`payout_for_refund`, not saved yet (the set-based services insert many at once)."""
    case = refund.case
    return _build(case=case, order=refund.order, kind=PayoutKind.REFUND, amount=refund.amount,
                  reason=_("Refund: %(reason)s") % {"reason": choice_label(case, "reason")},
                  actor=actor, now=now or timezone.now(), refund=refund)


def payout_for_refund(*, refund: Refund, actor: User | None,
                      now: datetime | None = None) -> Payout:
    """The payout finance makes for an approved refund (called where the refund is approved)."""
    payout = build_payout_for_refund(refund=refund, actor=actor, now=now)
    payout.save(force_insert=True)
    return payout


def settle_new_payout_paid(*, payout: Payout, actor: User | None, now: datetime,
                           reference: str) -> None:
    """A payout that is paid the moment it is made (the platform refunded the buyer itself):
    the same `mark_paid` transition and fields as `settle_refund_payout`, before the row is
    inserted. For the set-based services; the row has no batch to close."""
    payout.mark_paid()
    payout.settled_by, payout.settled_staff_number = actor, staff_number_of(actor)
    payout.payment_reference, payout.paid_at = fits(reference, Payout, "payment_reference"), now


def payout_for_compensation(*, compensation: Compensation, actor: User | None,
                            now: datetime | None = None) -> Payout:
    """An approved money compensation (partial refund, postage) goes to finance."""
    # A partial refund goes back through the platform (原路退回); postage to Alipay if known.
    route = (PayoutRoute.ORIGINAL if compensation.kind == CompensationKind.PARTIAL_REFUND
             else None)
    return _create(
        case=compensation.case, order=compensation.order, kind=PayoutKind.COMPENSATION,
        amount=compensation.amount, actor=actor, now=now or timezone.now(),
        compensation=compensation, route=route,
        reason=f"{compensation.get_kind_display()}: {compensation.reason}",
    )


def reimbursement_create(*, case: Case, order: Order, kind: str, amount, reason: str,
                         actor: User | None, now: datetime | None = None) -> Payout:
    """Money the shop owes outside a refund (return postage, exchange difference): the payout
    is the money record itself, checked against the money rule. Caller holds the locks."""
    if kind not in (PayoutKind.POSTAGE, PayoutKind.EXCHANGE_DIFFERENCE):
        raise ActionNotAllowed(_("Unknown kind of reimbursement."))
    amount = clean_amount(amount)
    ensure_refundable(order, amount)
    return _create(case=case, order=order, kind=kind, amount=amount, reason=reason,
                   actor=actor, now=now or timezone.now())


# --- settling a refund's payout: called by the case services, inside their transaction ----


def _close_batch_if_done(batch_id: int | None, now: datetime) -> None:
    if batch_id is None:
        return
    if not Payout.objects.filter(batch_id=batch_id, state=PayoutState.EXPORTED).exists():
        PayoutBatch.objects.filter(pk=batch_id, closed_at__isnull=True).update(closed_at=now)


def _transition(payout: Payout, name: str, *, actor: User | None, now: datetime,
                fields: list[str], note: str = "", data: dict | None = None,
                event: bool = True) -> Payout:
    source = payout.state
    batch_id = payout.batch_id
    getattr(payout, name)()
    try:
        payout.save(update_fields=sorted({"state", *fields}))
    except ConcurrentTransition:
        raise PayoutChanged() from None
    if name in ("mark_paid", "mark_failed"):
        _close_batch_if_done(batch_id, now)
    if event:
        events.payout_event(case=payout.case, actor=actor, payout=payout, action=name,
                            from_state=source, note=note, at=now, data=data)
    return payout


def settle_refund_payout(*, refund: Refund, action: str, actor: User | None, now: datetime,
                         reference: str = "", reason: str = "",
                         by_platform: bool = False) -> Payout | None:
    """Move a refund's payout with its case: mark_paid, mark_failed or retry.

    The case transition (already checked: state, permission, shop) writes the timeline row,
    so no second row is written here. Refunds approved before payouts existed have none.

    `by_platform`: the platform refunded the buyer itself (`case_platform_refund`). If the
    payout is exported, its line is in a bank file finance has: the bank may pay it as well.
    It is still marked paid (the books, and finance cannot pay it again), and also flagged
    `paid_by_platform_in_batch` (its batch kept; the file leaves it out from now on), written
    on the timeline as a payout row of its own, and the shop's payers are notified.
    """
    payout = Payout.objects.select_for_update().filter(refund=refund).first()
    if payout is None:
        return None
    payout.case = refund.case
    in_bank_file = (by_platform and action == "mark_paid"
                    and payout.state == PayoutState.EXPORTED)
    if action == "mark_paid" and payout.state == PayoutState.FAILED:
        # only the platform settles a failed refund (case_platform_refund): pending, then paid
        _transition(payout, "retry", actor=actor, now=now, fields=[], event=False)
    if not can_proceed(getattr(payout, action)):
        raise ActionNotAllowed(
            _("“%(action)s” is not possible: the payout is now “%(state)s”.")
            % {"action": action_label(action), "state": payout.get_state_display()})
    fields = ["settled_by", "settled_staff_number"]
    payout.settled_by, payout.settled_staff_number = actor, staff_number_of(actor)
    if action == "mark_paid":
        payout.payment_reference = fits(reference, Payout, "payment_reference")
        payout.paid_at = now
        fields += ["payment_reference", "paid_at"]
    elif action == "mark_failed":
        payout.failure_reason = fits(reason, Payout, "failure_reason")
        fields.append("failure_reason")
    elif action == "retry":
        payout.batch = None
        fields.append("batch")
    if not in_bank_file:
        return _transition(payout, action, actor=actor, now=now, fields=fields, event=False)
    payout.paid_by_platform_in_batch = True
    said = texts.said("paid_by_platform_in_batch", payout=payout.pk, amount=str(payout.amount),
                      order=payout.order.platform_order_id, batch=payout.batch_id)
    _transition(payout, action, actor=actor, now=now,
                fields=[*fields, "paid_by_platform_in_batch"],
                note=texts.words({texts.TEXT: said}),
                data={"batch": payout.batch_id, "paid_by_platform_in_batch": True,
                      texts.TEXT: said})
    notify_payout_paid_by_platform(payout=payout, batch_id=payout.batch_id, text=said)
    return payout


# --- finance's actions on one payout ----------------------------------------------------------


def _locked(payout: Payout, expected_state: str | None) -> tuple[Payout, Case, Order]:
    locked, case, order = lock_payout(payout.pk)
    if locked.paid_by_platform_in_batch:
        raise ActionNotAllowed(
            _("Payout #%(payout)s is already paid: the platform refunded the buyer while it was "
              "in bank batch #%(batch)s. Do not pay it; take it out of the bank file, and if "
              "the bank has paid it too, recover the money from the buyer.")
            % {"payout": locked.pk, "batch": locked.batch_id})
    if expected_state and locked.state != expected_state:
        raise PayoutChanged()
    return locked, case, order


def _check(payout: Payout, name: str, actor: User | None) -> None:
    method = getattr(payout, name)
    if not can_proceed(method):
        raise ActionNotAllowed(
            _("“%(action)s” is not possible: the payout is now “%(state)s”.")
            % {"action": action_label(name), "state": payout.get_state_display()})
    if actor is not None and not has_transition_perm(method, actor):
        raise PermissionDeniedError()


def payout_mark_paid(*, payout: Payout, actor: User | None, payment_reference: str,
                     note: str = "", expected_state: str | None = None,
                     now: datetime | None = None) -> Payout:
    reference = column_text(payment_reference, Payout, "payment_reference",
                            required=_("Enter the payment reference."))
    now = now or timezone.now()
    with transaction.atomic():
        locked, case, _order = _locked(payout, expected_state)
        _check(locked, "mark_paid", actor)
        if locked.kind == PayoutKind.REFUND:
            from .cases import case_mark_refunded

            case_mark_refunded(case=case, actor=actor, payment_reference=reference, note=note,
                               refund_id=locked.refund_id, now=now)
            return Payout.objects.get(pk=locked.pk)
        if locked.kind == PayoutKind.COMPENSATION:
            from .compensation import settle_paid_compensation

            settle_paid_compensation(compensation=locked.compensation, actor=actor,
                                     reference=reference, now=now)
        locked.payment_reference, locked.paid_at = reference, now
        locked.settled_by, locked.settled_staff_number = actor, staff_number_of(actor)
        return _transition(locked, "mark_paid", actor=actor, now=now, note=note,
                           fields=["payment_reference", "paid_at", "settled_by",
                                   "settled_staff_number"],
                           data={"payment_reference": reference})


def payout_mark_failed(*, payout: Payout, actor: User | None, reason: str, note: str = "",
                       expected_state: str | None = None,
                       now: datetime | None = None) -> Payout:
    reason = column_text(reason, Payout, "failure_reason",
                         required=_("Say why the payment failed."))
    now = now or timezone.now()
    with transaction.atomic():
        locked, case, _order = _locked(payout, expected_state)
        _check(locked, "mark_failed", actor)
        if locked.kind == PayoutKind.REFUND:
            from .cases import case_mark_refund_failed

            case_mark_refund_failed(case=case, actor=actor, reason=reason, note=note,
                                    refund_id=locked.refund_id, now=now)
            return Payout.objects.get(pk=locked.pk)
        locked.failure_reason = reason
        locked.settled_by, locked.settled_staff_number = actor, staff_number_of(actor)
        return _transition(locked, "mark_failed", actor=actor, now=now, note=note,
                           fields=["failure_reason", "settled_by", "settled_staff_number"],
                           data={"reason": reason})


def payout_retry(*, payout: Payout, actor: User | None, note: str = "",
                 expected_state: str | None = None, now: datetime | None = None) -> Payout:
    """A failed payout is pending again; the next export puts it in a new batch."""
    now = now or timezone.now()
    with transaction.atomic():
        locked, case, _order = _locked(payout, expected_state)
        _check(locked, "retry", actor)
        if locked.kind == PayoutKind.REFUND:
            from .cases import case_retry_refund

            case_retry_refund(case=case, actor=actor, note=note, refund_id=locked.refund_id,
                              now=now)
            return Payout.objects.get(pk=locked.pk)
        locked.batch = None
        return _transition(locked, "retry", actor=actor, now=now, note=note, fields=["batch"])


def payout_change_route(*, payout: Payout, actor: User, route: str, account: str = "",
                        expected_state: str | None = None) -> Payout:
    """Finance pays to the buyer's Alipay instead of the original route, or back; only while
    the payout is not in a batch (pending or failed)."""
    if route not in PayoutRoute.values:
        raise ActionNotAllowed(_("Choose how the money is paid."))
    account = column_text(account, Payout, "account")
    if route == PayoutRoute.ALIPAY and not account:
        raise ActionNotAllowed(_("Enter the buyer's Alipay account."))
    with transaction.atomic():
        locked, _case, _order = _locked(payout, expected_state)
        if not (actor.has_perm("refunds.mark_refunded")
                and user_serves_shop(actor, locked.shop_id)):
            raise PermissionDeniedError()
        if locked.state not in (PayoutState.PENDING, PayoutState.FAILED):
            raise ActionNotAllowed(_("The route can only change before the payout is exported."))
        locked.route = route
        locked.account = account if route == PayoutRoute.ALIPAY else ""
        locked.save(update_fields=["route", "account"])
        events.payout_event(case=locked.case, actor=actor, payout=locked, action="route",
                            from_state=locked.state,
                            data={"route": route, "account": locked.account})
    return locked


# --- export batches ---------------------------------------------------------------------------


def payout_batch_export(*, shop: Shop, actor: User | None, now: datetime | None = None,
                        source: str = "page") -> PayoutBatch | None:
    """Put every pending payout of the shop into a new batch (None when there are none).

    Safe to run twice or concurrently: a payout is exported from `pending` only, and rows
    another transaction holds are skipped (`skip_locked`), so no payout is ever in two
    batches and the export never waits on (or deadlocks with) finance paying.
    """
    now = now or timezone.now()
    if actor is not None and not (actor.has_perm("refunds.export_payouts")
                                  and user_serves_shop(actor, shop.pk)):
        raise PermissionDeniedError()
    candidates = list(Payout.objects.filter(shop=shop, state=PayoutState.PENDING)
                      .values_list("order_id", "case_id"))
    if not candidates:
        return None
    with transaction.atomic():
        # The same lock order as every money service (order → case → payout), and never a
        # wait: a payout whose order someone is working on right now waits for the next
        # export instead of risking a deadlock with them.
        order_ids = list(Order.objects.select_for_update(skip_locked=True)
                         .filter(pk__in={order_id for order_id, _case in candidates})
                         .order_by("pk").values_list("pk", flat=True))
        case_ids = list(Case.objects.select_for_update(skip_locked=True, of=("self",))
                        .filter(pk__in={case_id for _order, case_id in candidates},
                                order_id__in=order_ids)
                        .order_by("pk").values_list("pk", flat=True))
        payouts = list(
            Payout.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("case")
            .filter(shop=shop, state=PayoutState.PENDING, case_id__in=case_ids).order_by("id")
        )
        if not payouts:
            return None
        batch = PayoutBatch.objects.create(shop=shop, created_by=actor,
                                           staff_number=staff_number_of(actor), created_at=now,
                                           source=fits(source, PayoutBatch, "source"))
        for payout in payouts:
            source_state = payout.state
            payout.export()
            payout.batch = batch
            try:
                payout.save(update_fields=["state", "batch"])
            except ConcurrentTransition:
                raise PayoutChanged() from None
            events.payout_event(case=payout.case, actor=actor, payout=payout, action="export",
                                from_state=source_state, at=now, data={"batch": batch.pk})
        PayoutBatchItem.objects.bulk_create(
            [PayoutBatchItem(batch=batch, payout=payout) for payout in payouts])
        batch.payout_count = len(payouts)
        batch.total = sum((p.amount for p in payouts), Decimal("0.00"))
        batch.save(update_fields=["payout_count", "total"])
    return batch

