"""The queue never counts more than pagination.CAP cases (issue 6, docs/PERFORMANCE.md)."""

from __future__ import annotations

from refunds import pagination
from tests.factories import OrderFactory, make_case

from .helpers import row_ids


def test_the_queue_says_more_than_the_cap_and_next_still_leads_on(login, agent, shop,
                                                                  monkeypatch):
    monkeypatch.setattr(pagination, "CAP", 3)
    for _ in range(55):  # page 1 counts up to one page past itself: 50
        make_case(order=OrderFactory(shop=shop))
    client = login(agent)

    first = client.get("/cases/")
    text = first.content.decode()
    assert len(row_ids(first)) == 25
    assert "Page 1 of 2+" in text and "More than 50 cases" in text
    assert "page=2" in text

    third = client.get("/cases/", {"page": 3})  # counted up to 100: exact again
    text = third.content.decode()
    assert len(row_ids(third)) == 5
    assert "Page 3 of 3" in text and "55 cases" in text and "More than" not in text
