"""Which deadline a case is under, who owns it, and which policy rule set it.

The numbers come from the shop's Policy (DOMAIN.md's deadline table). A deadline is counted
from the moment the case entered its state (`since`), except while a return is travelling
or being inspected: the platform's confirm-receipt clock runs from the buyer's shipment.

Kuaishou counts working days (refunds/workdays.py): the shop reviews a request within
`platform_review_working_days`, shipped or not, and when it does not the platform escalates
the request instead of agreeing to it (refunds/services/sweep.py); an approved refund is paid
within `platform_pay_working_days` of its approval, or within our own `payout_days` when
that is sooner.

A dispute (平台介入, every platform) waits for the shop's evidence for
`dispute_evidence_working_days` working days from its opening; once the evidence is in, the
platform rules and the desk has no deadline to keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import Case, CaseState, DeadlineOwner, Platform, Policy, RefundStatus
from .workdays import add_working_days


@dataclass(frozen=True)
class Deadline:
    at: datetime | None
    owner: str
    rule: str


NO_DEADLINE = Deadline(at=None, owner="", rule="")


def deadline_for(case: Case, policy: Policy, since: datetime) -> Deadline:
    state = case.state
    kuaishou = is_kuaishou(policy)
    if state == CaseState.REQUESTED:
        if kuaishou:
            return Deadline(add_working_days(since, policy.platform_review_working_days),
                            DeadlineOwner.SHOP, "platform_review_working_days")
        if case.order.is_shipped:
            return Deadline(since + timedelta(days=policy.agree_shipped_days),
                            DeadlineOwner.SHOP, "agree_shipped_days")
        return Deadline(since + timedelta(days=policy.agree_unshipped_days),
                        DeadlineOwner.SHOP, "agree_unshipped_days")
    if state == CaseState.REFUSED:
        return Deadline(since + timedelta(days=policy.buyer_modify_days),
                        DeadlineOwner.BUYER, "buyer_modify_days")
    if state == CaseState.AWAITING_RETURN:
        return Deadline(since + timedelta(days=policy.buyer_return_days),
                        DeadlineOwner.BUYER, "buyer_return_days")
    if state in (CaseState.RETURN_IN_TRANSIT, CaseState.RECEIVED):
        start = case.return_shipped_at or since
        owner = (DeadlineOwner.WAREHOUSE if state == CaseState.RETURN_IN_TRANSIT
                 else DeadlineOwner.SHOP)
        return Deadline(start + timedelta(days=policy.confirm_receipt_days), owner,
                        "confirm_receipt_days")
    if state == CaseState.IN_DISPUTE:
        if case.dispute_evidence_at is not None:
            return NO_DEADLINE  # the evidence is in: the platform rules, in its own time
        return Deadline(add_working_days(case.dispute_opened_at or since,
                                         policy.dispute_evidence_working_days),
                        DeadlineOwner.SHOP, "dispute_evidence_working_days")
    if state in (CaseState.REFUND_PENDING, CaseState.REFUND_FAILED):
        ours = Deadline(since + timedelta(days=policy.payout_days), DeadlineOwner.FINANCE,
                        "payout_days")
        # n working days are never fewer than n calendar days: the calendar is read only
        # when our own deadline is the longer count
        if kuaishou:
            # the platform's clock runs from the approval: a failed payout and its retry do
            # not restart it (our own payout_days does restart, for finance's next attempt)
            approved = _approved_at(case)
            start = min(approved, since) if approved else since
            days = policy.platform_pay_working_days
            # n working days are never fewer than n calendar days: the calendar is read
            # only when the platform's deadline may come first
            if start + timedelta(days=days) < ours.at:
                theirs = add_working_days(start, days)
                if theirs < ours.at:
                    return Deadline(theirs, DeadlineOwner.FINANCE, "platform_pay_working_days")
        return ours
    return NO_DEADLINE


def _approved_at(case: Case) -> datetime | None:
    """When the money finance must pay was approved (the oldest refund still unpaid), or
    None while it is being approved (its row is not written yet)."""
    if case.pk is None:
        return None
    return (case.refunds.filter(status__in=[RefundStatus.PENDING, RefundStatus.FAILED])
            .order_by("approved_at").values_list("approved_at", flat=True).first())


def is_kuaishou(policy: Policy) -> bool:
    """Whether the policy's shop is on Kuaishou (`policy.shop` is the shop the policy was
    read through: `case.shop.policy` costs no query)."""
    return policy.shop.platform == Platform.KUAISHOU


def apply_deadline(case: Case, policy: Policy, since: datetime) -> list[str]:
    """Set the case's deadline fields for the state it has just entered; returns the field
    names for save(update_fields=...). A new state is a new clock: a Kuaishou escalation of
    the state before is over. A request entered again (the buyer modified a refused one, or
    a supervisor reopened the case) is a new request: the quality photos asked for on the
    old one are not awaited on it."""
    deadline = deadline_for(case, policy, since)
    case.deadline_at = deadline.at
    case.deadline_owner = deadline.owner
    case.deadline_rule = deadline.rule
    case.escalated_deadline_at = None
    if case.state != CaseState.REQUESTED:
        return DEADLINE_FIELDS
    for field in PHOTO_FIELDS:
        setattr(case, field, None)
    return DEADLINE_FIELDS + PHOTO_FIELDS


DEADLINE_FIELDS = ["deadline_at", "deadline_owner", "deadline_rule", "escalated_deadline_at"]
PHOTO_FIELDS = ["photos_requested_at", "photos_due_at", "photos_received_at",
                "photos_reminded_at"]
