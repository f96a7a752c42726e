"""Row locks, always taken in the same order: the order row first, then its cases by pk.

One fixed order means two services can never wait on each other (no deadlock). On SQLite
`select_for_update` is a no-op; the database-wide write lock and `ConcurrentTransitionMixin`
keep the same guarantee there.
"""

from __future__ import annotations

from .models import Case, Order


def lock_order(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def lock_case(case_id: int) -> tuple[Case, Order]:
    """Lock a case and its order; returns fresh rows read under the lock."""
    order_id = Case.objects.values_list("order_id", flat=True).get(pk=case_id)
    order = lock_order(order_id)
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("shop__policy")
        .get(pk=case_id)
    )
    case.order = order
    return case, order
