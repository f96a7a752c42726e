"""Labels and badges of stock-outs (缺货)."""

from django import template

from ..models import StockOutRemedy, StockOutState

register = template.Library()

STATE_BADGES = {
    StockOutState.REPORTED: "text-bg-danger",
    StockOutState.AGREED: "text-bg-warning",
    StockOutState.REFUND: "text-bg-info",
    StockOutState.SHIPPED: "text-bg-success",
    StockOutState.WITHDRAWN: "text-bg-secondary",
    StockOutState.ORDER_CLOSED: "text-bg-secondary",
}


@register.filter
def stockout_badge(state: str) -> str:
    return STATE_BADGES.get(state, "text-bg-secondary")


@register.filter
def stockout_state_label(state: str) -> str:
    try:
        return StockOutState(state).label
    except ValueError:
        return state


@register.filter
def stockout_remedy_label(remedy: str) -> str:
    try:
        return StockOutRemedy(remedy).label
    except ValueError:
        return remedy
