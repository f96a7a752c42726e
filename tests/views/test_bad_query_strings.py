"""Numbers and dates nobody can have, typed into a page's URL: a page or a 404, never a 500."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.factories import OrderFactory, make_case

HUGE = "99999999999999999999999"


@pytest.fixture
def client_of(login):
    def _client(user):
        client = login(user)
        client.raise_request_exception = False  # a 500 is an answer here, not an exception
        return client

    return _client


@pytest.mark.parametrize("page", [HUGE, "100001", "-3", "1e9", "x"])
def test_any_queue_page_number_shows_a_page(client_of, agent, shop, page):
    make_case(order=OrderFactory(shop=shop))
    response = client_of(agent).get("/cases/", {"page": page})
    assert response.status_code == 200
    assert response.context["page"].number == 1  # there is only one page


@pytest.mark.parametrize("shop_param", [HUGE, "-1", "0", "abc"])
def test_finance_with_an_impossible_shop_is_a_page_or_a_404(client_of, finance, shop_param):
    response = client_of(finance).get("/finance/", {"shop": shop_param})
    assert response.status_code == (404 if shop_param in (HUGE, "-1") else 200)


def test_finance_with_another_shops_id_is_a_404(client_of, finance, other_shop):
    assert client_of(finance).get("/finance/", {"shop": other_shop.pk}).status_code == 404


def test_a_superuser_with_an_impossible_shop_gets_a_404(client_of, shop):
    root = User.objects.create_superuser("root", "root@example.com", "pw-12345-test")
    assert client_of(root).get("/finance/", {"shop": HUGE}).status_code == 404
    assert client_of(root).get("/warehouse/batch/", {"shop": HUGE}).status_code == 404


@pytest.mark.parametrize("day, status", [("0001-01-01", 404), ("9999-12-31", 404),
                                         ("2000-01-01", 200), ("2099-12-31", 200)])
def test_the_return_batch_of_any_day(client_of, warehouse, day, status):
    assert client_of(warehouse).get("/warehouse/batch/", {"date": day}).status_code == status
