"""Labels and badges of carrier claims (报损报失)."""

from django import template

from ..models import ClaimState

register = template.Library()

STATE_BADGES = {
    ClaimState.DRAFT: "text-bg-light border",
    ClaimState.SUBMITTED: "text-bg-info",
    ClaimState.ACCEPTED: "text-bg-primary",
    ClaimState.REJECTED: "text-bg-danger",
    ClaimState.COMPENSATED: "text-bg-success",
    ClaimState.CLOSED: "text-bg-secondary",
}


@register.filter
def claim_badge(state: str) -> str:
    return STATE_BADGES.get(state, "text-bg-secondary")


@register.filter
def claim_state_label(state: str) -> str:
    try:
        return ClaimState(state).label
    except ValueError:
        return state


@register.filter
def claim_field_label(name: str) -> str:
    """A claim field's name as the page calls it (the timeline's corrections)."""
    from django.core.exceptions import FieldDoesNotExist
    from django.utils.text import capfirst

    from ..models import CarrierClaim

    try:
        return capfirst(CarrierClaim._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


@register.filter
def claim_value(value: str, name: str) -> str:
    """A corrected field's value as the page shows it: a choice's label, not its code."""
    from django.core.exceptions import FieldDoesNotExist

    from ..models import CarrierClaim

    try:
        choices = dict(CarrierClaim._meta.get_field(name).flatchoices)
    except FieldDoesNotExist:  # not a field (an older timeline): shown as it was kept
        return value
    return str(choices.get(value, value))
