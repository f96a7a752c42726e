"""Every change to a complaint after the trade (维权 / 投诉) goes through one of these functions.

Like the case services: one transaction that locks the order and then the complaint
(`refunds.locks.lock_complaint`), re-checks on the locked row that the state is the one the
user saw, that the transition is allowed and that the actor holds its permission (which
includes serving the complaint's shop), changes the state through django-fsm, saves with
update_fields and writes the complaint's timeline row — and the case's, when the complaint is
about a case.

Rules:
- a complaint is about an order of the shop; the platform accepts it up to the shop policy's
  `complaint_window_days` (15) after the trade succeeded, and its number is recorded once;
- the shop answers with evidence by the deadline: `dispute_evidence_working_days` working
  days from the opening (or the platform's own deadline, when the seller centre shows it);
  evidence is submitted only when there is some;
- what a ruling pays the buyer counts in the money rule, checked with the order row locked:
  never past what the buyer paid;
- an appeal (申诉) is made once, and only with evidence added after the ruling.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed, has_transition_perm

from .. import events, texts
from ..exceptions import ActionNotAllowed, CaseChanged, PermissionDeniedError
from ..locks import lock_complaint, lock_order
from ..models import (
    Case,
    Complaint,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintEvidence,
    ComplaintKind,
    ComplaintState,
    EvidenceKind,
    Order,
    ReviewFollowUp,
    Shop,
)
from ..permissions import staff_number_of, user_serves_shop
from ..photos import clean_photos, delete_photo_files, save_photos
from ..timezones import CHINA
from ..workdays import add_working_days
from .money import clean_amount, ensure_refundable
from .text import column_text, require_text

MAX_EVIDENCE = 30  # screenshots per complaint
MAX_EVIDENCE_WINDOW = timedelta(days=60)  # a deadline typed further out is a typo
EVIDENCE_STATES = (ComplaintState.OPEN, ComplaintState.EVIDENCE_SUBMITTED,
                   ComplaintState.FOR_BUYER, ComplaintState.APPEALED)


class ComplaintChanged(CaseChanged):
    default_message = gettext_lazy("This complaint changed while you were looking at it. "
                                   "Reload and try again.")


def action_label(name: str) -> str:
    for transition in getattr(Complaint, name)._django_fsm.transitions.values():
        return str(transition.custom.get("label", name))
    return name


def can_handle_complaints(user, shop_id: int) -> bool:
    return user.has_perm("refunds.handle_dispute") and user_serves_shop(user, shop_id)


def _check_handler(actor: User, shop_id: int) -> None:
    if not can_handle_complaints(actor, shop_id):
        raise PermissionDeniedError()


def evidence_deadline(shop: Shop, opened_at: datetime) -> datetime:
    """When the shop's evidence is due: the policy's working days from the opening."""
    return add_working_days(opened_at, shop.policy.dispute_evidence_working_days)


def window_closes(shop: Shop, trade_succeeded_on: date) -> datetime:
    """The end of the day `complaint_window_days` after the trade succeeded (China time)."""
    last = trade_succeeded_on + timedelta(days=shop.policy.complaint_window_days)
    return datetime.combine(last + timedelta(days=1), time.min, tzinfo=CHINA)


def _event(complaint: Complaint, kind: str, actor: User | None, *, note: str = "",
           data: dict | None = None, at: datetime | None = None, **fields) -> ComplaintEvent:
    return ComplaintEvent.objects.create(complaint=complaint, kind=kind, actor=actor,
                                         staff_number=staff_number_of(actor), note=note,
                                         data=data or {}, created_at=at or timezone.now(),
                                         **fields)


def _reference_free(shop: Shop, reference: str) -> None:
    """Called with the order locked; locks the shop's row too, so two people recording the
    same complaint number at once do not both find it free."""
    if not reference:
        return
    Shop.objects.select_for_update().filter(pk=shop.pk).first()
    earlier = (Complaint.objects.filter(shop=shop, platform_reference=reference)
               .order_by("id").first())
    if earlier is not None:
        raise ActionNotAllowed(
            _("Complaint number %(reference)s is already recorded: complaint #%(id)s.")
            % {"reference": reference, "id": earlier.pk})


def _check_trade_date(shop: Shop, succeeded, opened_at: datetime,
                      placed: datetime | None) -> None:
    """The day the trade succeeded (交易成功), a China date: between the payment and the
    opening, and the opening within the policy's window after it."""
    if not isinstance(succeeded, date) or isinstance(succeeded, datetime):
        raise ActionNotAllowed(_("Enter the day the trade succeeded as a date."))
    if placed is not None and succeeded < placed.astimezone(CHINA).date():
        raise ActionNotAllowed(_("The trade cannot have succeeded before the order was paid "
                                 "(%(placed)s).")
                               % {"placed": f"{placed.astimezone(CHINA):%Y-%m-%d}"})
    if succeeded > opened_at.astimezone(CHINA).date():
        raise ActionNotAllowed(_("The trade cannot have succeeded after the complaint was "
                                 "opened."))
    if opened_at >= window_closes(shop, succeeded):
        raise ActionNotAllowed(
            _("The platform accepts complaints up to %(days)s days after the trade "
              "succeeded (%(succeeded)s); this one is dated %(opened)s. Check the dates.")
            % {"days": shop.policy.complaint_window_days,
               "succeeded": f"{succeeded:%Y-%m-%d}",
               "opened": f"{opened_at.astimezone(CHINA):%Y-%m-%d}"})


def _cleaned(shop: Shop, order: Order, values: dict[str, Any], now: datetime) -> dict:
    kind = values.get("kind")
    if kind not in ComplaintKind.values:
        raise ActionNotAllowed(_("Choose what the buyer complains of."))
    cleaned: dict[str, Any] = {"kind": kind}
    cleaned["buyer_claim"] = require_text(values.get("buyer_claim"),
                                          _("Write what the buyer complains of."))
    cleaned["platform_reference"] = column_text(
        (values.get("platform_reference") or "").strip().removeprefix('="').removesuffix('"'),
        Complaint, "platform_reference")
    amount = values.get("amount_claimed")
    cleaned["amount_claimed"] = None if amount in (None, "") else clean_amount(amount)
    if cleaned["amount_claimed"] is not None and cleaned["amount_claimed"] > order.paid_amount:
        raise ActionNotAllowed(
            _("The buyer paid ¥%(paid)s for order %(order)s: a ruling never pays back more, "
              "so the complaint cannot ask ¥%(amount)s.")
            % {"paid": order.paid_amount, "order": order.platform_order_id,
               "amount": cleaned["amount_claimed"]})
    opened_at = values.get("opened_at") or now
    if not isinstance(opened_at, datetime) or timezone.is_naive(opened_at):
        raise ActionNotAllowed(_("Enter when the platform opened the complaint."))
    if opened_at > now:
        raise ActionNotAllowed(_("The complaint cannot have been opened in the future."))
    placed = order.paid_at or order.created_at
    if placed is not None and opened_at < placed:
        raise ActionNotAllowed(_("The complaint cannot have been opened before the order was "
                                 "placed (%(placed)s).")
                               % {"placed": f"{timezone.localtime(placed):%Y-%m-%d %H:%M}"})
    cleaned["opened_at"] = opened_at
    succeeded = values.get("trade_succeeded_on")
    if succeeded is not None:
        _check_trade_date(shop, succeeded, opened_at, placed)
    cleaned["trade_succeeded_on"] = succeeded
    due = values.get("evidence_due_at")
    if due is None:
        due = evidence_deadline(shop, opened_at)
    elif not isinstance(due, datetime) or timezone.is_naive(due):
        raise ActionNotAllowed(_("Enter the evidence deadline as a date and time."))
    elif due <= opened_at:
        raise ActionNotAllowed(_("The evidence deadline comes after the opening."))
    elif due > opened_at + MAX_EVIDENCE_WINDOW:
        raise ActionNotAllowed(_("The platform gives days, not months, for the evidence: check "
                                 "the deadline (at most %(days)s days after the opening).")
                               % {"days": MAX_EVIDENCE_WINDOW.days})
    cleaned["evidence_due_at"] = due
    return cleaned


def complaint_create(*, shop: Shop, order: Order, actor: User, case: Case | None = None,
                     follow_up: ReviewFollowUp | None = None, now: datetime | None = None,
                     **values) -> Complaint:
    """Record a complaint the platform opened about `order`.

    `values`: kind, buyer_claim (required); platform_reference, amount_claimed, opened_at
    (default now), trade_succeeded_on, evidence_due_at (default: the policy's working days
    from the opening)."""
    now = now or timezone.now()
    _check_handler(actor, shop.pk)
    if order.shop_id != shop.pk:
        raise ActionNotAllowed(_("Order %(order)s is not an order of shop %(shop)s.")
                               % {"order": order.platform_order_id, "shop": shop.name})
    if case is not None and case.order_id != order.pk:
        raise ActionNotAllowed(_("Case #%(case)s is not a case of order %(order)s.")
                               % {"case": case.pk, "order": order.platform_order_id})
    if follow_up is not None and follow_up.order_id != order.pk:
        raise ActionNotAllowed(_("Review follow-up #%(id)s is not about order %(order)s.")
                               % {"id": follow_up.pk, "order": order.platform_order_id})
    cleaned = _cleaned(shop, order, values, now)
    try:
        with transaction.atomic():
            lock_order(order.pk)
            _reference_free(shop, cleaned["platform_reference"])
            complaint = Complaint.objects.create(shop=shop, order=order, case=case,
                                                 follow_up=follow_up, handler=actor,
                                                 created_by=actor, created_at=now, **cleaned)
            _event(complaint, ComplaintEventKind.CREATED, actor, at=now,
                   to_state=complaint.state, note=cleaned["buyer_claim"],
                   data={"evidence_due_at": complaint.evidence_due_at.isoformat()})
            if case is not None:
                events.complaint_event(case_id=case.pk, actor=actor, complaint=complaint,
                                       action="create", at=now)
    except IntegrityError:  # the number recorded at the same moment by someone else
        if not cleaned["platform_reference"]:
            raise
        raise ActionNotAllowed(_("Complaint number %(reference)s is already recorded.")
                               % {"reference": cleaned["platform_reference"]}) from None
    return complaint


def complaint_add_evidence(*, complaint: Complaint, actor: User, photos,
                           kind: str = EvidenceKind.CHAT, note: str = "",
                           now: datetime | None = None) -> int:
    """Add screenshots (chat, call log, SMS, waybill) while the complaint may still be
    answered or appealed. Returns how many were added."""
    now = now or timezone.now()
    if kind not in EvidenceKind.values:
        raise ActionNotAllowed(_("Choose what the screenshots show."))
    cleaned = clean_photos(photos, screenshots=True)
    if not cleaned:
        raise ActionNotAllowed(_("Choose at least one screenshot."))
    written: list[str] = []
    try:
        with transaction.atomic():
            locked = lock_complaint(complaint.pk)
            _check_handler(actor, locked.shop_id)
            if locked.state not in EVIDENCE_STATES or (
                    locked.state == ComplaintState.FOR_BUYER and locked.appealed_at):
                raise ActionNotAllowed(
                    _("Complaint #%(id)s is “%(state)s”: no more evidence.")
                    % {"id": locked.pk, "state": locked.get_state_display()})
            held = locked.evidence.count()
            if held + len(cleaned) > MAX_EVIDENCE:
                raise ActionNotAllowed(
                    _("A complaint holds at most %(limit)s screenshots; this one has "
                      "%(held)s.") % {"limit": MAX_EVIDENCE, "held": held})
            written = save_photos(ComplaintEvidence, cleaned, actor=actor, now=now,
                                  complaint=locked, kind=kind)
            _event(locked, ComplaintEventKind.EVIDENCE, actor, at=now, note=note.strip(),
                   data={"photos": len(written), "evidence_kind": kind})
    except BaseException:
        delete_photo_files(ComplaintEvidence, written)
        raise
    return len(written)


# --- transitions ------------------------------------------------------------------------------

Prepare = Callable[[Complaint], tuple[list[str], dict[str, Any]]]


def _run(*, complaint: Complaint, actor: User | None, name: str, expected_state: str | None,
         note: str = "", prepare: Prepare | None = None, now: datetime | None = None,
         locked: Complaint | None = None) -> Complaint:
    """`actor` None: the platform, from the nightly sweep, which passes the row it locked."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = locked or lock_complaint(complaint.pk)
        if expected_state and locked.state != expected_state:
            raise ComplaintChanged()
        method = getattr(locked, name)
        if not can_proceed(method):
            raise ActionNotAllowed(
                _("“%(action)s” is not possible: the complaint is now “%(state)s”.")
                % {"action": action_label(name), "state": locked.get_state_display()})
        if actor is not None and not has_transition_perm(method, actor):
            raise PermissionDeniedError()
        from_state = locked.state
        method()  # first: a condition reads the fields `prepare` sets (an appeal is made once)
        fields, data = prepare(locked) if prepare else ([], {})
        locked.save(update_fields=["state", *fields, "updated_at"])
        _event(locked, ComplaintEventKind.TRANSITION, actor, at=now, note=note.strip(),
               transition=name, from_state=from_state, to_state=locked.state, data=data)
        if locked.case_id is not None:
            said = {texts.TEXT: data[texts.TEXT]} if texts.TEXT in data else None
            events.complaint_event(case_id=locked.case_id, actor=actor, complaint=locked,
                                   action=name, from_state=from_state, note=note.strip(),
                                   at=now, text=said)
    return locked


def complaint_submit_evidence(*, complaint: Complaint, actor: User, note: str = "",
                              expected_state: str | None = None,
                              now: datetime | None = None) -> Complaint:
    """The shop's answer went to the platform: only with at least one screenshot."""
    now = now or timezone.now()

    def prepare(locked: Complaint):
        if locked.evidence_due_at <= now:
            # the platform rules for the buyer without the shop's evidence: recording it now
            # would make the desk wait for a ruling that is already made
            raise ActionNotAllowed(_(
                "The evidence deadline passed at %(deadline)s: the platform rules against the "
                "shop. Record its ruling when it comes.") % {
                "deadline": timezone.localtime(locked.evidence_due_at).strftime("%Y-%m-%d %H:%M")})
        if not locked.evidence.exists():
            raise ActionNotAllowed(_("Add the evidence first: the platform rules on what the "
                                     "shop shows it (chat, call log, SMS, waybill)."))
        locked.evidence_submitted_at = now
        return ["evidence_submitted_at"], {}

    return _run(complaint=complaint, actor=actor, name="submit_evidence",
                expected_state=expected_state, note=note, prepare=prepare, now=now)


def _penalty(value) -> int | None:
    if value in (None, ""):
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        raise ActionNotAllowed(_("Penalty points are a whole number from 0 to 100."))
    return value


def complaint_rule_for_shop(*, complaint: Complaint, actor: User, ruling: str,
                            expected_state: str | None = None,
                            now: datetime | None = None) -> Complaint:
    now = now or timezone.now()
    ruling = require_text(ruling, _("Write what the platform ruled."))

    def prepare(locked: Complaint):
        locked.ruling, locked.ruled_at = ruling, now
        return ["ruling", "ruled_at"], {}

    return _run(complaint=complaint, actor=actor, name="rule_for_shop",
                expected_state=expected_state, note=ruling, prepare=prepare, now=now)


def _pay_buyer(locked: Complaint, amount: Decimal | None) -> None:
    """The ruling's payment to the buyer, within what is still refundable (order locked)."""
    if amount is not None:
        ensure_refundable(locked.order, amount)
        locked.refund_amount = amount


def complaint_rule_for_buyer(*, complaint: Complaint, actor: User, ruling: str,
                             refund_amount=None, penalty_points=None,
                             expected_state: str | None = None,
                             now: datetime | None = None) -> Complaint:
    """The platform ruled for the buyer: what it paid the buyer (counted in the money rule)
    and the shop's penalty points, if any."""
    now = now or timezone.now()
    ruling = require_text(ruling, _("Write what the platform ruled."))
    amount = None if refund_amount in (None, "") else clean_amount(refund_amount)
    points = _penalty(penalty_points)

    def prepare(locked: Complaint):
        _pay_buyer(locked, amount)
        locked.ruling, locked.ruled_at, locked.penalty_points = ruling, now, points
        data = {"refund_amount": str(amount)} if amount is not None else {}
        if points:
            data["penalty_points"] = points
        return ["ruling", "ruled_at", "penalty_points", "refund_amount"], data

    return _run(complaint=complaint, actor=actor, name="rule_for_buyer",
                expected_state=expected_state, note=ruling, prepare=prepare, now=now)


def complaint_withdraw(*, complaint: Complaint, actor: User, note: str,
                       expected_state: str | None = None,
                       now: datetime | None = None) -> Complaint:
    """The buyer withdrew the complaint (撤销投诉), often after the shop sorted it out."""
    note = require_text(note, _("Say how the complaint was withdrawn (what was agreed)."))
    return _run(complaint=complaint, actor=actor, name="withdraw",
                expected_state=expected_state, note=note, now=now)


def complaint_appeal(*, complaint: Complaint, actor: User, reason: str,
                     expected_state: str | None = None,
                     now: datetime | None = None) -> Complaint:
    """Appeal the ruling (申诉): once, with evidence added since the ruling."""
    now = now or timezone.now()
    reason = require_text(reason, _("Write the grounds of the appeal."))

    def prepare(locked: Complaint):
        if not locked.evidence.filter(uploaded_at__gt=locked.ruled_at).exists():
            raise ActionNotAllowed(_("An appeal needs evidence: add the screenshots it rests "
                                     "on first (after the ruling)."))
        locked.appealed_at, locked.appeal_reason = now, reason
        return ["appealed_at", "appeal_reason"], {}

    return _run(complaint=complaint, actor=actor, name="appeal", expected_state=expected_state,
                note=reason, prepare=prepare, now=now)


def _decide_appeal(name: str, *, complaint: Complaint, actor: User, ruling: str,
                   expected_state: str | None, now: datetime | None) -> Complaint:
    now = now or timezone.now()
    ruling = require_text(ruling, _("Write what the platform decided on the appeal."))

    def prepare(locked: Complaint):
        locked.appeal_decided_at = now
        return ["appeal_decided_at"], {}

    return _run(complaint=complaint, actor=actor, name=name, expected_state=expected_state,
                note=ruling, prepare=prepare, now=now)


def complaint_uphold_appeal(*, complaint: Complaint, actor: User, ruling: str,
                            expected_state: str | None = None,
                            now: datetime | None = None) -> Complaint:
    """The appeal won: the ruling is for the shop, its penalty lifted; what the buyer was
    paid stays paid (the platform does not take it back)."""
    return _decide_appeal("uphold_appeal", complaint=complaint, actor=actor, ruling=ruling,
                          expected_state=expected_state, now=now)


def complaint_reject_appeal(*, complaint: Complaint, actor: User, ruling: str,
                            expected_state: str | None = None,
                            now: datetime | None = None) -> Complaint:
    return _decide_appeal("reject_appeal", complaint=complaint, actor=actor, ruling=ruling,
                          expected_state=expected_state, now=now)


def complaint_platform_ruling(*, locked: Complaint, now: datetime) -> Complaint:
    """The nightly sweep, as the platform: the evidence deadline passed with no evidence, so
    the complaint is ruled for the buyer, who is paid what they asked (the money rule holds:
    AmountError when that is more than is still refundable). `locked` from
    `try_lock_complaint`."""
    amount = locked.amount_claimed
    said = texts.said("complaint_no_evidence", deadline=locked.evidence_due_at.isoformat())
    ruling = texts.words({texts.TEXT: said})

    def prepare(row: Complaint):
        _pay_buyer(row, amount)
        row.ruling, row.ruling_data, row.ruled_at = ruling, {texts.TEXT: said}, now
        data = {texts.TEXT: said}
        if amount is not None:
            data["refund_amount"] = str(amount)
        return ["ruling", "ruling_data", "ruled_at", "refund_amount"], data

    return _run(complaint=locked, actor=None, name="rule_for_buyer", expected_state=None,
                note=ruling, prepare=prepare, now=now, locked=locked)


def paid_by_rulings(complaints) -> Decimal:
    """What rulings paid the buyers of `complaints` (a queryset), in one query."""
    total = complaints.aggregate(total=Sum("refund_amount"))["total"] or Decimal("0")
    return Decimal(total).quantize(Decimal("0.01"))  # SQLite sums 90.00 to 90

