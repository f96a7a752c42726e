"""Read-side querysets shared by pages, admin and commands; each is limited to the user's shops."""

from __future__ import annotations

from datetime import timedelta
from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import Case, CaseEvent, Refund, Shop
from .models.cases import OPEN_STATES
from .permissions import user_shop_ids

def shops_for_user(user) -> QuerySet[Shop]:
    shop_ids = user_shop_ids(user)
    shops = Shop.objects.select_related("policy")
    return shops if shop_ids is None else shops.filter(pk__in=shop_ids)


def scope_to_user(queryset: QuerySet, user, shop_field: str = "shop_id") -> QuerySet:
    shop_ids = user_shop_ids(user)
    if shop_ids is None:
        return queryset
    return queryset.filter(**{f"{shop_field}__in": shop_ids})


def cases_for_user(user) -> QuerySet[Case]:
    return scope_to_user(Case.objects.all(), user)


def case_queue(user) -> QuerySet[Case]:
    """The queue's rows: everything a row shows comes in the one query."""
    return cases_for_user(user).select_related(
        "shop", "order", "order__buyer", "assignee", "assignee__staff_profile"
    )


def due_filter(due: str, now=None) -> Q:
    now = now or timezone.now()
    if due == "overdue":
        return Q(deadline_at__lt=now, state__in=OPEN_STATES)
    if due == "24h":
        return Q(deadline_at__gte=now, deadline_at__lt=now + timedelta(hours=24),
                 state__in=OPEN_STATES)
    return Q()


def search_filter(term: str) -> Q:
    """Order id, refund id, buyer nick, tracking number, or the mobile's last four digits."""
    term = term.strip()
    if not term:
        return Q()
    query = (
        Q(order__platform_order_id=term)
        | Q(platform_refund_id=term)
        | Q(order__buyer__nick=term)
        | Q(return_tracking_no=term.upper().replace(" ", ""))
        | Q(order__tracking_no=term.replace(" ", ""))
    )
    if len(term) == 4 and term.isdigit():
        query |= Q(order__buyer__mobile_last4=term)
    if len(term) >= 2 and not term.isdigit():
        query |= Q(order__buyer__nick__icontains=term)
    return query


def case_detail(user, pk: int) -> Case:
    """A case of the user's shops with all the detail page shows, or 404."""
    queryset = cases_for_user(user).select_related(
        "shop", "shop__policy", "order", "order__buyer", "assignee", "assignee__staff_profile",
        "created_by",
    ).prefetch_related(
        "order__lines",
        Prefetch("events", queryset=CaseEvent.objects.select_related("actor")),
        Prefetch("refunds", queryset=Refund.objects.select_related("approved_by")),
    )
    return get_object_or_404(queryset, pk=pk)
