"""Labels and badges of complaints after the trade (维权/投诉)."""

from django import template

from ..models import ComplaintState, EvidenceKind

register = template.Library()

STATE_BADGES = {
    ComplaintState.OPEN: "text-bg-warning",
    ComplaintState.EVIDENCE_SUBMITTED: "text-bg-info",
    ComplaintState.APPEALED: "text-bg-primary",
    ComplaintState.FOR_SHOP: "text-bg-success",
    ComplaintState.FOR_BUYER: "text-bg-danger",
    ComplaintState.WITHDRAWN: "text-bg-secondary",
}


@register.filter
def complaint_badge(state: str) -> str:
    return STATE_BADGES.get(state, "text-bg-secondary")


@register.filter
def complaint_state_label(state: str) -> str:
    try:
        return ComplaintState(state).label
    except ValueError:
        return state


@register.filter
def evidence_kind_label(kind: str) -> str:
    try:
        return EvidenceKind(kind).label
    except ValueError:
        return kind


@register.filter
def complaint_ruling(complaint) -> str:
    """The ruling in the reader's language when the sweep recorded it as a text code."""
    from ..texts import words

    return words(complaint.ruling_data, complaint.ruling)
