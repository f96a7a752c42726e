"""One constructor per timeline event type. Services call them inside their transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from .models import (
    BuyerEvent,
    Case,
    CaseEvent,
    ContactLog,
    EventKind,
    FollowUpEvent,
    FollowUpEventKind,
    ReviewFollowUp,
)
from .permissions import staff_number_of
from .texts import TEXT


def _build(case: Case, kind: str, actor, note: str = "", at: datetime | None = None,
           **fields: Any) -> CaseEvent:
    return CaseEvent(
        case=case, kind=kind, actor=actor, staff_number=staff_number_of(actor), note=note,
        created_at=at or timezone.now(), **fields,
    )


def _event(case: Case, kind: str, actor, note: str = "", at: datetime | None = None,
           **fields: Any) -> CaseEvent:
    event = _build(case, kind, actor, note, at, **fields)
    event.save(force_insert=True)
    return event


def case_created_event(*, case: Case, actor, source: str, at: datetime | None = None,
                       data: dict[str, Any] | None = None) -> CaseEvent:
    event = build_case_created_event(case=case, actor=actor, source=source, at=at, data=data)
    event.save(force_insert=True)
    return event


def build_case_created_event(*, case: Case, actor, source: str, at: datetime | None = None,
                             data: dict[str, Any] | None = None) -> CaseEvent:
    """The "created" row, not saved yet: the refund import writes a group's at once
    (`refunds.services.imports.cases_import_create`)."""
    return _build(case, EventKind.CREATED, actor, at=at, to_state=case.state,
                  data={"source": source, "requested_amount": str(case.requested_amount),
                        **(data or {})})


def transition_event(*, case: Case, actor, transition: str, from_state: str, note: str = "",
                     data: dict[str, Any] | None = None,
                     at: datetime | None = None) -> CaseEvent:
    event = build_transition_event(case=case, actor=actor, transition=transition,
                                   from_state=from_state, note=note, data=data, at=at)
    event.save(force_insert=True)
    return event


def build_transition_event(*, case: Case, actor, transition: str, from_state: str,
                           note: str = "", data: dict[str, Any] | None = None,
                           at: datetime | None = None) -> CaseEvent:
    """The transition's timeline row, not saved yet: the set-based services write many with
    one `bulk_create` (`refunds.services.cases.cases_apply_platform_rules`)."""
    return _build(case, EventKind.TRANSITION, actor, note=note, at=at, transition=transition,
                  from_state=from_state, to_state=case.state, data=data or {})


def note_event(*, case: Case, actor, note: str) -> CaseEvent:
    return _event(case, EventKind.NOTE, actor, note=note)


PHOTOS_REQUESTED = "photos_requested"  # data keys of the quality-photo rows (their due time)
PHOTOS_RECEIVED = "photos_received"


def photos_event(*, case: Case, actor, key: str, note: str, text: dict[str, Any],
                 at: datetime) -> CaseEvent:
    """Quality photos asked for or received (a note on the timeline; the state is unchanged)."""
    return _event(case, EventKind.NOTE, actor, note=note, at=at,
                  data={key: case.photos_due_at.isoformat(), TEXT: text})


ESCALATED = "escalated"  # the data key of the platform's escalation (a note by SYSTEM)


def build_escalation_event(*, case: Case, note: str, text: dict[str, Any],
                           at: datetime) -> CaseEvent:
    """The platform escalated the case (Kuaishou's review deadline passed), not saved yet:
    the sweep writes a group's at once. `text` is the note as code + parameters."""
    return _build(case, EventKind.NOTE, None, note=note, at=at,
                  data={ESCALATED: case.deadline_at.isoformat(), TEXT: text})


POSTAGE_DECIDED = "postage_payer"  # the data key of the event that decided the return postage


def postage_event(*, case: Case, actor, payer: str, note: str,
                  at: datetime | None = None) -> CaseEvent:
    """Who pays the return postage (buyer or insurer; the shop's is a payout event)."""
    return _event(case, EventKind.NOTE, actor, note=note, at=at, data={POSTAGE_DECIDED: payer})


def contact_event(*, case: Case, contact: ContactLog) -> CaseEvent:
    return _event(case, EventKind.CONTACT, contact.actor, note=contact.note,
                  at=contact.created_at,
                  data={"contact_id": contact.pk, "channel": contact.channel,
                        "outcome": contact.outcome})


def assigned_event(*, case: Case, actor, assignee, previous) -> CaseEvent:
    return _event(case, EventKind.ASSIGNED, actor, data={
        "assignee": assignee.get_username() if assignee else "",
        "assignee_staff_number": staff_number_of(assignee) if assignee else "",
        "previous": previous.get_username() if previous else "",
    })


def compensation_event(*, case: Case, actor, compensation, action: str, from_state: str = "",
                       note: str = "", at: datetime | None = None,
                       data: dict[str, Any] | None = None) -> CaseEvent:
    """A compensation proposed, approved, declined or paid; its states in from/to."""
    return _event(case, EventKind.COMPENSATION, actor, note=note, at=at, transition=action,
                  from_state=from_state, to_state=compensation.state, data={
                      "compensation_id": compensation.pk, "kind": compensation.kind,
                      "amount": str(compensation.amount), **(data or {})})


def payout_event(*, case: Case, actor, payout, action: str, from_state: str = "",
                 note: str = "", at: datetime | None = None,
                 data: dict[str, Any] | None = None) -> CaseEvent:
    """A payout exported, paid, failed or retried; its states in from/to."""
    return _event(case, EventKind.PAYOUT, actor, note=note, at=at, transition=action,
                  from_state=from_state, to_state=payout.state, data={
                      "payout_id": payout.pk, "payout_kind": payout.kind,
                      "amount": str(payout.amount), **(data or {})})


def inspection_event(*, case: Case, actor, parcel, note: str = "",
                     at: datetime | None = None) -> CaseEvent:
    return _event(case, EventKind.INSPECTION, actor, note=note, at=at, data={
        "parcel_id": parcel.pk, "tracking_no": parcel.tracking_no,
        "condition": parcel.condition, "quantity": parcel.quantity_received})


def claim_event(*, case_id: int, actor, claim, action: str, from_state: str = "",
                note: str = "", at: datetime | None = None) -> CaseEvent:
    """A carrier claim (报损报失) on the case's parcel registered or moved on: the case's
    timeline says so, with the claim's link (its own timeline has the details)."""
    data = {"claim_id": claim.pk, "claim_kind": claim.kind}
    if action == "record_compensation":
        data["amount"] = str(claim.compensated_amount)
    return _event(Case(pk=case_id), EventKind.CLAIM, actor, note=note, at=at, transition=action,
                  from_state=from_state, to_state=claim.state, data=data)


def complaint_event(*, case_id: int, actor, complaint, action: str, from_state: str = "",
                    note: str = "", at: datetime | None = None,
                    text: dict | None = None) -> CaseEvent:
    """A complaint after the trade (维权/投诉) about the case recorded or moved on: the
    case's timeline says so, with the complaint's link (its own timeline has the details).
    `text`: the note as a text code (refunds/texts.py), shown in the reader's language."""
    data = {"complaint_id": complaint.pk, "complaint_kind": complaint.kind, **(text or {})}
    if complaint.refund_amount is not None and action == "rule_for_buyer":
        data["amount"] = str(complaint.refund_amount)
    return _event(Case(pk=case_id), EventKind.COMPLAINT, actor, note=note, at=at,
                  transition=action, from_state=from_state, to_state=complaint.state, data=data)


# --- review follow-ups and buyers -------------------------------------------------------------


def _build_followup_event(follow_up: ReviewFollowUp, kind: str, actor, note: str = "",
                          at: datetime | None = None, **fields: Any) -> FollowUpEvent:
    """The row, unsaved (to be written with others in one statement, `bulk.insert_many`)."""
    return FollowUpEvent(
        follow_up=follow_up, kind=kind, actor=actor, staff_number=staff_number_of(actor),
        note=note, created_at=at or timezone.now(), **fields,
    )


def _followup_event(follow_up: ReviewFollowUp, kind: str, actor, note: str = "",
                    at: datetime | None = None, **fields: Any) -> FollowUpEvent:
    event = _build_followup_event(follow_up, kind, actor, note=note, at=at, **fields)
    event.save(force_insert=True)
    return event


def build_followup_created_event(*, follow_up: ReviewFollowUp, actor, source: str,
                                 at: datetime | None = None) -> FollowUpEvent:
    return _build_followup_event(follow_up, FollowUpEventKind.CREATED, actor, at=at,
                                 to_state=follow_up.state,
                                 data={"source": source, "review_id": follow_up.review_id,
                                       "rating": follow_up.review.rating})


def followup_created_event(*, follow_up: ReviewFollowUp, actor, source: str,
                           at: datetime | None = None) -> FollowUpEvent:
    event = build_followup_created_event(follow_up=follow_up, actor=actor, source=source, at=at)
    event.save(force_insert=True)
    return event


def build_followup_transition_event(*, follow_up: ReviewFollowUp, actor, transition: str,
                                    from_state: str, note: str = "",
                                    data: dict[str, Any] | None = None,
                                    at: datetime | None = None) -> FollowUpEvent:
    return _build_followup_event(follow_up, FollowUpEventKind.TRANSITION, actor, note=note,
                                 at=at, transition=transition, from_state=from_state,
                                 to_state=follow_up.state, data=data or {})


def followup_transition_event(*, follow_up: ReviewFollowUp, actor, transition: str,
                              from_state: str, note: str = "",
                              data: dict[str, Any] | None = None,
                              at: datetime | None = None) -> FollowUpEvent:
    event = build_followup_transition_event(follow_up=follow_up, actor=actor,
                                            transition=transition, from_state=from_state,
                                            note=note, data=data, at=at)
    event.save(force_insert=True)
    return event


def followup_contact_event(*, follow_up: ReviewFollowUp, contact: ContactLog) -> FollowUpEvent:
    return _followup_event(follow_up, FollowUpEventKind.CONTACT, contact.actor, note=contact.note,
                           at=contact.created_at,
                           data={"contact_id": contact.pk, "channel": contact.channel,
                                 "outcome": contact.outcome,
                                 "overridden_rule": contact.overridden_rule})


def followup_assigned_event(*, follow_up: ReviewFollowUp, actor, assignee,
                            previous) -> FollowUpEvent:
    return _followup_event(follow_up, FollowUpEventKind.ASSIGNED, actor, data={
        "assignee": assignee.get_username() if assignee else "",
        "assignee_staff_number": staff_number_of(assignee) if assignee else "",
        "previous": previous.get_username() if previous else "",
    })


def followup_details_event(*, follow_up: ReviewFollowUp, actor, changes: dict[str, Any],
                           note: str = "") -> FollowUpEvent:
    """Category, flag or deadline changed: `changes` maps each field to [old, new]."""
    return _followup_event(follow_up, FollowUpEventKind.DETAILS, actor, note=note,
                           data=changes)


def buyer_event(*, buyer, shop, kind: str, actor, note: str,
                at: datetime | None = None) -> BuyerEvent:
    """The buyer asked not to be contacted, or that request was lifted."""
    return BuyerEvent.objects.create(buyer=buyer, shop=shop, kind=kind, actor=actor,
                                     staff_number=staff_number_of(actor), note=note,
                                     created_at=at or timezone.now())
