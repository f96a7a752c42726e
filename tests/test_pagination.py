"""The queue's paginator counts at most CAP rows (issue 6): exact below, "more than" above."""

from __future__ import annotations

import pytest

from refunds.models import Shop
from refunds.pagination import CappedPaginator
from tests.factories import ShopFactory


@pytest.fixture
def five_shops(db):
    for n in range(5):
        ShopFactory(code=f"shop-{n}")
    return Shop.objects.order_by("code")


def test_below_the_cap_the_count_is_exact(five_shops):
    paginator = CappedPaginator(five_shops, 2, cap=10)
    assert (paginator.count, paginator.num_pages, paginator.capped) == (5, 3, False)


def test_above_the_cap_it_says_more_and_next_still_leads_on(five_shops):
    paginator = CappedPaginator(five_shops, 2, cap=2, page=1)
    page = paginator.get_page(1)
    assert paginator.capped and paginator.count == 4  # one page past the one asked for
    assert page.has_next() and list(page.object_list) == list(five_shops[:2])


def test_a_later_page_is_counted_far_enough_to_be_shown(five_shops):
    paginator = CappedPaginator(five_shops, 2, cap=1, page=3)
    page = paginator.get_page(3)
    assert page.number == 3 and list(page.object_list) == list(five_shops[4:])
    assert not paginator.capped and not page.has_next()


def test_a_bad_page_number_is_page_one(five_shops):
    paginator = CappedPaginator(five_shops, 2, cap=10, page="x")
    assert paginator.get_page("x").number == 1


@pytest.mark.parametrize("cap", [2, 10])
def test_an_unordered_count_counts_the_same_without_the_order_by(five_shops, cap):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ordered = CappedPaginator(five_shops, 2, cap=cap)
    with CaptureQueriesContext(connection) as queries:
        unordered = CappedPaginator(five_shops, 2, cap=cap, count_unordered=True)
        counted = (unordered.count, unordered.capped)
    assert counted == (ordered.count, ordered.capped)
    assert "ORDER BY" not in queries[0]["sql"].upper()
    assert [s.code for s in unordered.get_page(1).object_list] == ["shop-0", "shop-1"]
