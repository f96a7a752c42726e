"""One constructor per timeline event type. Services call them inside their transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from .models import Case, CaseEvent, ContactLog, EventKind
from .permissions import staff_number_of


def _event(case: Case, kind: str, actor, note: str = "", at: datetime | None = None,
           **fields: Any) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case, kind=kind, actor=actor, staff_number=staff_number_of(actor), note=note,
        created_at=at or timezone.now(), **fields,
    )


def case_created_event(*, case: Case, actor, source: str,
                       at: datetime | None = None) -> CaseEvent:
    return _event(case, EventKind.CREATED, actor, at=at, to_state=case.state,
                  data={"source": source, "requested_amount": str(case.requested_amount)})


def transition_event(*, case: Case, actor, transition: str, from_state: str, note: str = "",
                     data: dict[str, Any] | None = None,
                     at: datetime | None = None) -> CaseEvent:
    return _event(case, EventKind.TRANSITION, actor, note=note, at=at, transition=transition,
                  from_state=from_state, to_state=case.state, data=data or {})


def note_event(*, case: Case, actor, note: str) -> CaseEvent:
    return _event(case, EventKind.NOTE, actor, note=note)


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
