"""The queue and the detail page run a fixed number of queries, however many rows they show.

The bounds are the counts measured on this code (on SQLite; the pages issue the same ORM
calls on any backend): a new query per row or per timeline event fails these tests.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from refunds import events
from refunds.models import ContactLog, OrderLine
from refunds.services import cases as services
from tests.factories import BuyerFactory, OrderFactory, make_case, make_staff

from .helpers import row_ids

# Measured (9): session, user (with the 工号 of the navbar: refunds.authentication), the
# user's shop ids, the paginator's count, the unread notifications, the permissions (the
# user's and the groups' in one query: refunds.authentication), the filter form's shop and
# assignee choices, the page's rows (one query with shop, order, buyer, assignee and 工号
# joined).
QUEUE_QUERIES = 9
# A search that is not only digits first asks whether anything matches it exactly (+1); when
# nothing does, it reads the buyers whose nick contains it, once (+1 more):
# selectors.search_cases.
QUEUE_QUERIES_SEARCH = QUEUE_QUERIES + 1
QUEUE_QUERIES_NICK_FRAGMENT = QUEUE_QUERIES + 2
# Measured (11, agent): session, user (with the 工号 of the navbar), shop ids, the case
# (shop, policy, order, buyer, assignee, exchange joined), its order lines, its events
# (+ actors), its refunds, the permissions (user + groups, one query), the money aggregate,
# the contact card's canned replies and the buyer's contacts (11).
# The supervisor's page adds the assign form's colleague choices (12).
DETAIL_QUERIES_AGENT = 11
DETAIL_QUERIES_SUPERVISOR = DETAIL_QUERIES_AGENT + 1


def _queue_cases(shop, colleagues, count: int, start: int = 0) -> None:
    """`count` varied cases: different buyers, VIPs, assignees, states and deadlines."""
    now = timezone.now()
    for n in range(start, start + count):
        buyer = BuyerFactory(is_vip=n % 3 == 0, nick=f"queue-buyer-{n:03d}")
        order = OrderFactory(shop=shop, buyer=buyer, platform_order_id=f"41{n:017d}")
        case = make_case(order=order, now=now - timedelta(hours=n * 7),
                         platform_refund_id=f"RFQ{n:05d}")
        if n % 4 == 1:
            colleague = colleagues[(n // 4) % len(colleagues)]
            services.case_assign(case=case, actor=colleague, assignee=colleague)
        if n % 5 == 2:
            services.case_agree(case=case, actor=None)
        elif n % 7 == 3:
            services.case_close(case=case, actor=None, reason="withdrawn")


@pytest.fixture
def colleagues(roles, shop, agent):
    return [agent] + [make_staff(f"agent{n}", "agent", shop, staff_number=f"A2{n:03d}")
                      for n in range(3)]


def _measure(client, url, **params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return response, len(captured.captured_queries)


@pytest.mark.parametrize(("query", "queries"), [
    ({}, QUEUE_QUERIES),
    ({"state": "requested", "mine": "true"}, QUEUE_QUERIES),
    ({"q": "4100000000000000001"}, QUEUE_QUERIES),  # an order id: no nick to look for
    ({"q": "RFQ00001"}, QUEUE_QUERIES_SEARCH),
    ({"q": "queue-buyer"}, QUEUE_QUERIES_NICK_FRAGMENT),  # part of every buyer's nick
])
def test_queue_query_count_does_not_grow_with_rows(login, agent, shop, colleagues,
                                                   django_assert_max_num_queries, query,
                                                   queries):
    client = login(agent)
    _queue_cases(shop, colleagues, 5)
    few, few_count = _measure(client, "/cases/", **query)
    if not query:
        assert len(row_ids(few)) == 5

    _queue_cases(shop, colleagues, 45, start=5)
    with django_assert_max_num_queries(queries):
        many = client.get("/cases/", query)
    many, many_count = _measure(client, "/cases/", **query)
    if not query or query.get("q") == "queue-buyer":
        assert len(row_ids(many)) == 25  # a full page of 50

    assert few_count == many_count == queries


def test_queue_page_two_runs_the_same_queries(login, agent, shop, colleagues):
    client = login(agent)
    _queue_cases(shop, colleagues, 30)
    _first, first_count = _measure(client, "/cases/")
    second, second_count = _measure(client, "/cases/", page=2)
    assert len(row_ids(second)) == 5
    assert first_count == second_count == QUEUE_QUERIES


def _busy_case(shop, colleagues, size: int, kind: str = "return"):
    """A case whose order has `size` lines and whose timeline has about `size` events."""
    buyer = BuyerFactory(mobile="13987654321")
    order = OrderFactory(shop=shop, buyer=buyer, paid_amount=Decimal("10000.00"))
    for n in range(size - 1):  # the factory made the first line
        OrderLine.objects.create(order=order, title=f"商品{n}", sku=f"SKU{n}", quantity=1,
                                 paid_amount=Decimal("1.00"))
    # earlier cases on the same order: refunds approved and paid
    for n in range(2):
        earlier = make_case(order=order, amount="10.00")
        services.case_agree(case=earlier, actor=None)
        services.case_mark_refunded(case=earlier, actor=None, payment_reference=f"PAY{n}")
    case = make_case(order=order, kind=kind, amount="50.00")
    for n in range(size - 1):  # "created" is the first event
        actor = colleagues[n % len(colleagues)]
        if n % 3 == 0:
            services.contact_log_create(case=case, actor=actor, channel="phone",
                                        outcome="reached", note=f"通话{n}")
        elif n % 3 == 1:
            events.note_event(case=case, actor=actor, note=f"备注{n}")
        else:
            events.note_event(case=case, actor=None, note=f"系统{n}")
    services.case_assign(case=case, actor=colleagues[1], assignee=colleagues[1])
    return case


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_detail_query_count_does_not_grow_with_events_and_lines(
        request, login, shop, colleagues, django_assert_max_num_queries, role):
    user = request.getfixturevalue(role)
    bound = DETAIL_QUERIES_AGENT if role == "agent" else DETAIL_QUERIES_SUPERVISOR
    client = login(user)

    small = _busy_case(shop, colleagues, 5)
    big = _busy_case(shop, colleagues, 50)
    assert small.events.count() == 6 and big.events.count() == 51
    assert big.order.lines.count() == 50
    assert ContactLog.objects.filter(case=big).count() > 10

    _small_page, small_count = _measure(client, f"/cases/{small.pk}/")
    with django_assert_max_num_queries(bound):
        big_page = client.get(f"/cases/{big.pk}/")
    assert big_page.content.decode().count('<div class="event ') == 51
    _big_page, big_count = _measure(client, f"/cases/{big.pk}/")

    assert small_count == big_count == bound


def test_detail_query_count_is_the_same_after_a_refund(login, agent, shop, colleagues):
    """A case in refund_pending shows its refund rows and other buttons: still fixed."""
    client = login(agent)
    few = make_case(order=OrderFactory(shop=shop), amount="20.00")
    services.case_agree(case=few, actor=None)
    busy = _busy_case(shop, colleagues, 50, kind="refund_only")
    services.case_agree(case=busy, actor=None)
    _page, few_count = _measure(client, f"/cases/{few.pk}/")
    _page, busy_count = _measure(client, f"/cases/{busy.pk}/")
    assert few_count == busy_count <= DETAIL_QUERIES_AGENT
