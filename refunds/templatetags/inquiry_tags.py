"""Labels and badges of parcel inquiries (快递查询 / 改地址)."""

from django import template

from ..models import InquiryOutcome, InquiryState

register = template.Library()

STATE_BADGES = {
    InquiryState.OPEN: "text-bg-danger",
    InquiryState.WAITING: "text-bg-warning",
    InquiryState.ANSWERED: "text-bg-primary",
    InquiryState.CLOSED: "text-bg-success",
    InquiryState.WITHDRAWN: "text-bg-secondary",
}


@register.filter
def inquiry_badge(state: str) -> str:
    return STATE_BADGES.get(state, "text-bg-secondary")


@register.filter
def inquiry_state_label(state: str) -> str:
    try:
        return InquiryState(state).label
    except ValueError:
        return state


@register.filter
def inquiry_outcome_label(outcome: str) -> str:
    try:
        return InquiryOutcome(outcome).label
    except ValueError:
        return outcome
