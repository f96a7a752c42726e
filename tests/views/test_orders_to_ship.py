"""Orders to ship (DOMAIN.md: "order paid, not shipped | shop ships | 72 hours |
late-shipment complaint"): the page lists the user's shops' paid, unshipped orders."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from refunds.models import OrderStatus
from tests.factories import OrderFactory, make_staff

from .helpers import text

URL = "/orders/unshipped/"


def _paid(shop, hours_ago: float, **extra):
    return OrderFactory(shop=shop, status=OrderStatus.PAID, shipped_at=None,
                        paid_at=timezone.now() - timedelta(hours=hours_ago), **extra)


def _listed(response) -> list[int]:
    import re

    return [int(pk) for pk in re.findall(r'data-order="(\d+)"', response.content.decode())]


def test_paid_unshipped_orders_of_the_users_shops_oldest_first(login, agent, shop,
                                                              other_shop):
    late = _paid(shop, 80)
    soon = _paid(shop, 60)
    fresh = _paid(shop, 2)
    _paid(other_shop, 90)  # another shop's
    OrderFactory(shop=shop)  # shipped
    OrderFactory(shop=shop, status=OrderStatus.AWAITING_PAYMENT, paid_at=None)
    page = login(agent).get(URL)
    assert page.status_code == 200
    assert _listed(page) == [late.pk, soon.pk, fresh.pk]
    body = page.content.decode()
    assert f'data-order="{late.pk}" class="table-danger"' in body
    assert "overdue by 8h" in text(page)


def test_the_filters_use_each_shops_hours(login, roles, shop, other_shop):
    other_shop.policy.ship_within_hours = 48
    other_shop.policy.save()
    both = make_staff("both", "supervisor", shop, other_shop)
    a_late, a_soon = _paid(shop, 75), _paid(shop, 60)
    b_late, b_soon = _paid(other_shop, 50), _paid(other_shop, 30)
    client = login(both)
    assert set(_listed(client.get(URL, {"due": "overdue"}))) == {a_late.pk, b_late.pk}
    assert set(_listed(client.get(URL, {"due": "24h"}))) == {a_soon.pk, b_soon.pk}
    assert len(_listed(client.get(URL, {"due": "nonsense"}))) == 4  # all, not an error


def test_query_count_does_not_grow_with_rows(login, agent, shop):
    client = login(agent)
    _paid(shop, 5)
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for index in range(10):
        _paid(shop, 10 + index)
    with CaptureQueriesContext(connection) as many:
        client.get(URL)
    assert len(many) == len(few)


def test_the_page_needs_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response["Location"]
