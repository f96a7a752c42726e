from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..models import FollowUpState

register = template.Library()

STATE_BADGES = {
    FollowUpState.NEW: "text-bg-primary",
    FollowUpState.CONTACTING: "text-bg-info",
    FollowUpState.REMEDY_OFFERED: "text-bg-warning",
    FollowUpState.REVISED: "text-bg-success",
    FollowUpState.BUYER_REFUSED: "text-bg-secondary",
    FollowUpState.UNREACHABLE: "text-bg-secondary",
    FollowUpState.APPEALED: "text-bg-warning",
    FollowUpState.APPEAL_WON: "text-bg-success",
    FollowUpState.APPEAL_LOST: "text-bg-danger",
    FollowUpState.EXPIRED: "text-bg-dark",
    FollowUpState.CLOSED: "text-bg-light",
}

FLAG_COLOURS = {"red": "#dc3545", "yellow": "#ffc107", "green": "#198754", "blue": "#0d6efd",
                "purple": "#6f42c1"}


@register.filter
def followup_badge(state: str) -> str:
    return STATE_BADGES.get(state, "text-bg-secondary")


@register.filter
def followup_state_label(state: str) -> str:
    try:
        return FollowUpState(state).label
    except ValueError:
        return state


@register.filter
def flag_colour(flag: str) -> str:
    return FLAG_COLOURS.get(flag, "")


@register.simple_tag
def days_left(follow_up) -> dict:
    """The revision window as the queue shows it: text and a Bootstrap colour."""
    if not follow_up.is_open:
        return {"text": "—", "css": "text-body-secondary", "days": None}
    delta = follow_up.deadline_at - timezone.now()
    if delta < timedelta(0):
        return {"text": _("passed"), "css": "text-danger fw-bold", "days": -1}
    days = delta.days
    text = (ngettext("%(days)s day left", "%(days)s days left", days) % {"days": days}
            if days else _("last day"))
    css = ("text-danger fw-semibold" if days < 3
           else "text-warning-emphasis fw-semibold" if days < 7 else "text-body")
    return {"text": text, "css": css, "days": days}


@register.filter
def guard_rule_label(rules: str) -> str:
    """"hours,calls" (every rule one override set aside) → "contact hours, daily call limit"."""
    labels = {
        "hours": _("contact hours"),
        "calls": _("daily call limit"),
        "messages": _("daily message limit"),
    }
    return ", ".join(str(labels.get(rule, rule)) for rule in rules.split(",") if rule)
