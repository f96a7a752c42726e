from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from ..labels import choice_label
from ..models import CaseState
from ..texts import words

register = template.Library()

STATE_BADGES = {
    CaseState.REQUESTED: "text-bg-primary",
    CaseState.REFUSED: "text-bg-danger",
    CaseState.AWAITING_RETURN: "text-bg-info",
    CaseState.RETURN_IN_TRANSIT: "text-bg-info",
    CaseState.RECEIVED: "text-bg-secondary",
    CaseState.REFUND_PENDING: "text-bg-warning",
    CaseState.REFUND_FAILED: "text-bg-danger",
    CaseState.REFUNDED: "text-bg-success",
    CaseState.CLOSED: "text-bg-light",
    CaseState.REPLACEMENT_SHIPPED: "text-bg-info",
    CaseState.COMPLETED: "text-bg-success",
    CaseState.IN_DISPUTE: "text-bg-danger",
}


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 60 * 24)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(d)sd %(h)sh") % {"d": days, "h": hours}
    if hours:
        return _("%(h)sh %(m)sm") % {"h": hours, "m": minutes}
    return _("%(m)sm") % {"m": minutes}


@register.simple_tag
def time_left(case) -> dict:
    """What the queue shows for a deadline: text and a Bootstrap colour."""
    if case.deadline_at is None or not case.is_open:
        return {"text": "—", "css": "text-body-secondary"}
    return time_to(case.deadline_at)


@register.simple_tag
def time_to(moment) -> dict:
    """Time left until `moment` (or how long ago it passed): text and a Bootstrap colour."""
    delta = moment - timezone.now()
    if delta.total_seconds() < 0:
        return {"text": _("overdue by %(span)s") % {"span": _span(-delta)},
                "css": "text-danger fw-bold"}
    css = "text-warning-emphasis fw-semibold" if delta < timedelta(hours=24) else "text-body"
    return {"text": _("%(span)s left") % {"span": _span(delta)}, "css": css}


@register.filter
def state_badge(state: str) -> str:
    return STATE_BADGES.get(state, "text-bg-secondary")


@register.filter
def state_label(state: str) -> str:
    try:
        return CaseState(state).label
    except ValueError:
        return state


@register.filter
def channel_label(value: str) -> str:
    from ..models import ContactChannel

    return ContactChannel(value).label if value in ContactChannel.values else value


@register.filter
def outcome_label(value: str) -> str:
    from ..models import ContactOutcome

    return ContactOutcome(value).label if value in ContactOutcome.values else value


@register.filter
def display(obj, field_name: str):
    """`{{ case|display:"state" }}` is `case.get_state_display()`, without its cost
    (`refunds.labels.choice_label`)."""
    return choice_label(obj, field_name)


@register.filter
def in_words(row) -> str:
    """A notification's message or a timeline row's note in the reader's language, when the
    row keeps it as code + parameters (refunds/texts.py); else the words stored with it."""
    stored = getattr(row, "message", None)
    if stored is None:
        stored = getattr(row, "note", "")
    return words(getattr(row, "data", None), stored)
