"""Labels for the compensation, payout and inspection rows of the case timeline."""

from django import template

from ..models import (
    CompensationKind,
    CompensationState,
    ParcelCondition,
    PayoutKind,
    PayoutState,
)

register = template.Library()


def _label(choices, value: str) -> str:
    return choices(value).label if value in choices.values else value


@register.filter
def compensation_state_label(value: str) -> str:
    return _label(CompensationState, value)


@register.filter
def compensation_kind_label(value: str) -> str:
    return _label(CompensationKind, value)


@register.filter
def payout_state_label(value: str) -> str:
    return _label(PayoutState, value)


@register.filter
def payout_kind_label(value: str) -> str:
    return _label(PayoutKind, value)


@register.filter
def parcel_condition_label(value: str) -> str:
    return _label(ParcelCondition, value)
