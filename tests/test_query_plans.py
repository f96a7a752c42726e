"""The indexes of migration 0007 serve the queries they were made for (docs/PERFORMANCE.md).

SQLite keeps no statistics (nobody runs ANALYZE), so it picks an index by its shape alone:
these plans are what it does on a production file too. Each test reads the plan of the
query a page really sends; a changed query shape or a dropped index fails it.
"""

from __future__ import annotations

import pytest
from django.db import connection

from refunds.filters import CaseFilter
from refunds.models import Buyer
from refunds.selectors import buyers_for_user
from tests.factories import BuyerFactory

on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def _queue(rf, user, **params):
    request = rf.get("/cases/", params)
    request.user = user
    from refunds.selectors import case_queue

    return CaseFilter(request.GET, queryset=case_queue(user), request=request).qs


@on_sqlite
@pytest.mark.django_db
def test_is_this_buyer_one_of_my_shops_reads_the_buyer_shop_index(agent):
    plan = _plan(buyers_for_user(agent).filter(pk=1))
    assert "order_buyer_shop_idx" in plan, plan


@on_sqlite
@pytest.mark.django_db
def test_my_cases_read_the_assignee_index_in_queue_order(rf, agent):
    plan = _plan(_queue(rf, agent, mine="true")[:25])
    assert "case_assignee_dl_idx" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # no sort of the agent's cases


@on_sqlite
@pytest.mark.django_db
@pytest.mark.parametrize(("sort", "index"), [("-requested", "case_shop_requested_idx"),
                                             ("-amount", "case_shop_amount_idx")])
def test_the_queue_sorts_read_their_index_in_order(rf, agent, sort, index):
    plan = _plan(_queue(rf, agent, sort=sort)[:25])
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def _explain_analyze(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test table is tiny
        cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_nick_fragment_search_is_narrowed_by_the_trigram_index():
    """The index's expression is the one Django writes for icontains, and for three
    characters or more it picks the matching buyers itself: nothing is left for the recheck
    to remove. Two characters hold no trigram: the index cannot narrow them (the search then
    reads every buyer, docs/PERFORMANCE.md) — shown here so the first assertion means
    something."""
    BuyerFactory.create_batch(30)  # nicks 买家N
    BuyerFactory(nick="王小明爱购物")
    three = _explain_analyze(Buyer.objects.filter(nick__icontains="王小明").values("pk"))
    assert "Bitmap Index Scan on buyer_nick_trgm_idx" in three, three
    assert "Rows Removed by Index Recheck" not in three, three
    two = _explain_analyze(Buyer.objects.filter(nick__icontains="买家").values("pk"))
    assert "Rows Removed by Index Recheck: 1" in two, two  # read all 31, kept 30
