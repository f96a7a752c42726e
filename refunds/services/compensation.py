"""Compensation (补偿): proposed → approved / declined → paid.

Like the case services, each function is one transaction that locks the order, the case and
then the compensation (refunds.locks), re-checks the state on the locked row, checks the
transition and its permission, changes the state through django-fsm, saves with
update_fields and writes the case's timeline row.

Money: a compensation counts against the order's refundable amount from the moment it is
proposed (declining frees it), so it is checked against the money rule, with the order row
locked, when it is proposed; approving and paying never add to what was promised.
Money kinds (partial refund, postage) are paid by finance through a payout created when
they are approved; points and coupons are issued on the platform and marked issued here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from .. import events
from ..exceptions import ActionNotAllowed, CaseChanged, PermissionDeniedError
from ..locks import lock_case, lock_compensation
from ..models import (
    Case,
    Compensation,
    CompensationKind,
    CompensationState,
    Order,
    Payout,
    PayoutKind,
    PayoutState,
)
from ..models.compensation import COUNTED_STATES
from ..permissions import staff_number_of, user_serves_shop
from .exchanges import PostagePayer
from .money import clean_amount, ensure_refundable
from .text import column_text, fits

Prepare = Callable[[Compensation, Order], tuple[list[str], dict[str, Any]]]


class CompensationChanged(CaseChanged):
    default_message = gettext_lazy("This compensation changed while you were looking at it. "
                        "Reload and try again.")


def action_label(name: str) -> str:
    for transition in getattr(Compensation, name)._django_fsm.transitions.values():
        return str(transition.custom.get("label", name))
    return name


def compensation_propose(*, case: Case, actor: User, kind: str, amount, reason: str,
                         note: str = "", now: datetime | None = None) -> Compensation:
    """Promise a compensation on a case; the money counts from now on."""
    now = now or timezone.now()
    if not (actor.has_perm("refunds.propose_compensation")
            and user_serves_shop(actor, case.shop_id)):
        raise PermissionDeniedError()
    if kind not in CompensationKind.values:
        raise ActionNotAllowed(_("Choose a kind of compensation."))
    reason = column_text(reason, Compensation, "reason",
                         required=_("Say why the buyer is compensated."))
    amount = clean_amount(amount)
    with transaction.atomic():
        locked, order = lock_case(case.pk)
        if kind == CompensationKind.POSTAGE:
            _ensure_postage_paid_once(locked)
        ensure_refundable(order, amount)
        compensation = Compensation.objects.create(
            shop_id=locked.shop_id, case=locked, order=order, kind=kind, amount=amount,
            reason=reason, proposed_by=actor, proposed_staff_number=staff_number_of(actor),
            proposed_at=now,
        )
        events.compensation_event(case=locked, actor=actor, compensation=compensation,
                                  action="propose", note=note, at=now,
                                  data={"reason": compensation.reason})
    return compensation


def _ensure_postage_paid_once(case: Case) -> None:
    """The return postage is paid once: by its reimbursement after the inspection, or by one
    postage compensation (运费补偿) not declined — never two of them
    (`exchanges.postage_settled`, the other way round). Called with the case locked, as the
    reimbursement is made."""
    reimbursement = (Payout.objects.filter(case=case, kind=PayoutKind.POSTAGE)
                     .exclude(state=PayoutState.CANCELLED).first())
    if reimbursement is not None:
        raise ActionNotAllowed(
            _("The return postage of this case is already reimbursed (payout #%(payout)s): a "
              "postage compensation would pay it twice.") % {"payout": reimbursement.pk})
    insured = {f"data__{events.POSTAGE_DECIDED}": PostagePayer.INSURER}
    if case.events.filter(**insured).exists():
        raise ActionNotAllowed(
            _("The return postage of this case is paid by the freight insurance (运费险): a "
              "postage compensation would pay it twice."))
    earlier = Compensation.objects.filter(case=case, kind=CompensationKind.POSTAGE,
                                          state__in=COUNTED_STATES).first()
    if earlier is not None and earlier.state == CompensationState.PAID:
        raise ActionNotAllowed(
            _("This case's return postage was already paid as compensation #%(compensation)s "
              "(¥%(amount)s).") % {"compensation": earlier.pk, "amount": earlier.amount})
    if earlier is not None:
        raise ActionNotAllowed(
            _("This case already has a postage compensation (#%(compensation)s, ¥%(amount)s): "
              "decline it first to propose another.")
            % {"compensation": earlier.pk, "amount": earlier.amount})


def _explain_refusal(compensation: Compensation, name: str, actor: User) -> None:
    """Say why an approver may not approve, rather than a bare "no permission"."""
    if name != "approve" or not actor.has_perm("refunds.approve_compensation"):
        return
    if not user_serves_shop(actor, compensation.shop_id):
        return
    if compensation.proposed_by_id == actor.pk:
        raise PermissionDeniedError(_("You proposed this compensation: a colleague must "
                                      "approve it."))
    limit = compensation.approval_limit()
    total = compensation.amount_for_approval()
    if total > limit and not actor.has_perm("refunds.approve_over_limit"):
        if total == compensation.amount:
            raise PermissionDeniedError(
                _("¥%(amount)s is above the compensation limit of ¥%(limit)s: a supervisor "
                  "must approve it.") % {"amount": compensation.amount, "limit": limit})
        raise PermissionDeniedError(
            _("¥%(amount)s with what is already approved on this case makes ¥%(total)s, "
              "above the compensation limit of ¥%(limit)s: a supervisor must approve it.")
            % {"amount": compensation.amount, "total": total, "limit": limit})


def apply_compensation_transition(*, compensation: Compensation, actor: User | None, name: str,
                                  now: datetime, note: str = "", fields: list[str] = (),
                                  data: dict[str, Any] | None = None) -> Compensation:
    """Run transition `name` on a locked compensation, save it, write its timeline row."""
    source = compensation.state
    getattr(compensation, name)()
    try:
        compensation.save(update_fields=sorted({"state", *fields}))
    except ConcurrentTransition:
        raise CompensationChanged() from None
    events.compensation_event(case=compensation.case, actor=actor, compensation=compensation,
                              action=name, from_state=source, note=note, at=now, data=data)
    return compensation


def _run(*, compensation: Compensation, actor: User, name: str, expected_state: str | None,
         note: str = "", prepare: Prepare | None = None,
         after: Callable[[Compensation], None] | None = None,
         now: datetime | None = None) -> Compensation:
    now = now or timezone.now()
    with transaction.atomic():
        locked, _case, order = lock_compensation(compensation.pk)
        if expected_state and locked.state != expected_state:
            raise CompensationChanged()
        method = getattr(locked, name)
        if not can_proceed(method):
            raise ActionNotAllowed(
                _("“%(action)s” is not possible: the compensation is now “%(state)s”.")
                % {"action": action_label(name), "state": locked.get_state_display()})
        if not has_transition_perm(method, actor):
            _explain_refusal(locked, name, actor)
            raise PermissionDeniedError()
        fields, data = prepare(locked, order) if prepare else ([], {})
        apply_compensation_transition(compensation=locked, actor=actor, name=name, now=now,
                                      note=note, fields=fields, data=data)
        if after is not None:
            after(locked)
    return locked


def compensation_approve(*, compensation: Compensation, actor: User, note: str = "",
                         expected_state: str | None = None,
                         now: datetime | None = None) -> Compensation:
    """A colleague (a supervisor above the limit) approves; money kinds go to finance."""
    now = now or timezone.now()

    def prepare(locked: Compensation, order: Order):
        locked.decided_by = actor
        locked.decided_staff_number = staff_number_of(actor)
        locked.decided_at = now
        return ["decided_by", "decided_staff_number", "decided_at"], {}

    def after(locked: Compensation) -> None:
        if locked.is_cash:
            from .payouts import payout_for_compensation

            payout_for_compensation(compensation=locked, actor=actor, now=now)

    return _run(compensation=compensation, actor=actor, name="approve",
                expected_state=expected_state, note=note, prepare=prepare, after=after, now=now)


def compensation_decline(*, compensation: Compensation, actor: User, reason: str,
                         note: str = "", expected_state: str | None = None,
                         now: datetime | None = None) -> Compensation:
    """Declined (or withdrawn by its proposer): the money is free again."""
    reason = column_text(reason, Compensation, "decline_reason",
                         required=_("Say why the compensation is declined."))
    now = now or timezone.now()

    def prepare(locked: Compensation, order: Order):
        locked.decided_by = actor
        locked.decided_staff_number = staff_number_of(actor)
        locked.decided_at = now
        locked.decline_reason = reason
        return (["decided_by", "decided_staff_number", "decided_at", "decline_reason"],
                {"reason": reason})

    return _run(compensation=compensation, actor=actor, name="decline",
                expected_state=expected_state, note=note, prepare=prepare, now=now)


def compensation_mark_issued(*, compensation: Compensation, actor: User, reference: str = "",
                             note: str = "", expected_state: str | None = None,
                             now: datetime | None = None) -> Compensation:
    """Points or a coupon were given on the platform. Money kinds are paid only through
    their payout on the finance page (`payout_mark_paid`): one path, never two."""
    now = now or timezone.now()
    if compensation.is_cash:
        raise ActionNotAllowed(_("Finance pays this compensation through its payout."))
    reference = column_text(reference, Compensation, "payment_reference")

    def prepare(locked: Compensation, order: Order):
        if locked.is_cash:
            raise ActionNotAllowed(_("Finance pays this compensation through its payout."))
        locked.payment_reference = reference
        locked.paid_at = now
        return ["payment_reference", "paid_at"], {"reference": locked.payment_reference}

    return _run(compensation=compensation, actor=actor, name="mark_paid",
                expected_state=expected_state, note=note, prepare=prepare, now=now)


def settle_paid_compensation(*, compensation: Compensation, actor: User | None,
                             reference: str, now: datetime) -> Compensation:
    """Its payout was paid: the compensation is paid. Called by the payout service only,
    inside its transaction, with the order, case, compensation and payout rows locked."""
    if compensation.state != CompensationState.APPROVED:
        raise ActionNotAllowed(
            _("“%(action)s” is not possible: the compensation is now “%(state)s”.")
            % {"action": action_label("mark_paid"), "state": compensation.get_state_display()})
    if actor is not None and not has_transition_perm(compensation.mark_paid, actor):
        raise PermissionDeniedError()
    compensation.payment_reference = fits(reference, Compensation, "payment_reference")
    compensation.paid_at = now
    return apply_compensation_transition(
        compensation=compensation, actor=actor, name="mark_paid", now=now,
        fields=["payment_reference", "paid_at"], data={"reference": reference})
