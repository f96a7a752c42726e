"""Orders to ship: paid and not shipped, each with the time its shop has left to ship it
(DOMAIN.md: "order paid, not shipped | shop ships | 72 hours | late-shipment complaint")."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone

from ..pagination import CappedPaginator
from ..selectors import (
    SHIPPING_DUE,
    open_address_changes_of,
    open_stockouts_of,
    unshipped_orders,
)

ORDERS_PER_PAGE = 50


def unshipped_order_list(request):
    if not request.user.has_perm("refunds.view_order"):
        raise PermissionDenied
    now = timezone.now()
    due = request.GET.get("due", "")
    due = due if due in SHIPPING_DUE else ""
    number = request.GET.get("page")
    page = CappedPaginator(unshipped_orders(request.user, now, due), ORDERS_PER_PAGE,
                           page=number).get_page(number)
    stockouts = open_stockouts_of(page.object_list)
    # a new address the buyer asked for (改地址): the warehouse must not ship to the old one
    addresses = open_address_changes_of(page.object_list)
    rows = []
    for order in page.object_list:
        ship_by = order.paid_at + timedelta(hours=order.shop.policy.ship_within_hours)
        rows.append({"order": order, "ship_by": ship_by, "late": ship_by <= now,
                     "left": ship_by - now, "stockouts": stockouts.get(order.pk, []),
                     "address_changes": addresses.get(order.pk, [])})
    return render(request, "refunds/orders_unshipped.html", {
        "page": page, "rows": rows, "due": due, "query": f"due={due}" if due else "",
    })
