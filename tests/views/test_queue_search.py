"""The queue's search box: an exact match first, then part of a nick, never too broad a part.

(What each kind of term finds is in test_case_pages.test_queue_search.)
"""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.utils import timezone

from refunds import filters
from refunds.filters import CaseFilter
from refunds.models import Case
from tests.factories import BuyerFactory, OrderFactory, ShopFactory, make_case

from .helpers import row_ids, text


def _case_of(shop, nick: str, **order):
    buyer = BuyerFactory(nick=nick)
    return make_case(order=OrderFactory(shop=shop, buyer=buyer, **order))


def test_an_exact_nick_finds_that_buyer_alone(login, agent, shop):
    exact = _case_of(shop, "小王")
    _case_of(shop, "小王爱购物")  # contains the term, but the term is someone's whole nick
    response = login(agent).get("/cases/", {"q": "小王"})
    assert row_ids(response) == [exact.pk]


def test_an_exact_order_id_is_not_also_read_as_part_of_a_nick(login, agent, shop):
    case = _case_of(shop, "buyer-a", platform_order_id="TB-7001")
    _case_of(shop, "fan-of-TB-7001")
    response = login(agent).get("/cases/", {"q": "TB-7001"})
    assert row_ids(response) == [case.pk]


def test_part_of_a_nick_finds_every_buyer_whose_nick_contains_it(login, agent, shop):
    first = _case_of(shop, "ABC小店主")
    second = _case_of(shop, "老顾客abc")
    _case_of(shop, "其他人")
    response = login(agent).get("/cases/", {"q": "abc"})
    assert sorted(row_ids(response)) == sorted([first.pk, second.pk])
    assert "type more of the nick" not in text(response)


def test_too_common_a_part_of_a_nick_says_to_type_more(login, agent, shop, monkeypatch):
    monkeypatch.setattr(filters, "NICK_FRAGMENT_CAP", 2)
    for n in range(3):
        _case_of(shop, f"tb{n}000")
    response = login(agent).get("/cases/", {"q": "tb"})
    assert response.status_code == 200
    assert row_ids(response) == []
    page = html.unescape(text(response))
    assert "More than 2 buyers' nicks contain “tb”: type more of the nick" in page
    assert "No cases match." in page


def test_within_the_cap_a_part_of_a_nick_still_finds_them(login, agent, shop, monkeypatch):
    monkeypatch.setattr(filters, "NICK_FRAGMENT_CAP", 3)
    cases = [_case_of(shop, f"tb{n}000") for n in range(3)]
    response = login(agent).get("/cases/", {"q": "tb"})
    assert sorted(row_ids(response)) == sorted(case.pk for case in cases)
    assert "type more of the nick" not in text(response)


def test_other_shops_buyers_neither_show_nor_count_toward_the_cap(login, agent, shop,
                                                                  monkeypatch):
    monkeypatch.setattr(filters, "NICK_FRAGMENT_CAP", 2)
    other = ShopFactory()
    for n in range(5):
        _case_of(other, f"tb-other-{n}")
    mine = [_case_of(shop, f"tb-mine-{n}") for n in range(2)]
    response = login(agent).get("/cases/", {"q": "tb"})
    assert sorted(row_ids(response)) == sorted(case.pk for case in mine)
    assert "type more of the nick" not in text(response)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_notice_is_translated(login, agent, shop, monkeypatch, language):
    monkeypatch.setattr(filters, "NICK_FRAGMENT_CAP", 1)
    for n in range(2):
        _case_of(shop, f"tb{n}")
    client = login(agent)
    response = client.get("/cases/", {"q": "tb"}, HTTP_ACCEPT_LANGUAGE=language)
    expected = "type more of the nick" if language == "en" else "请多输入几个字"
    assert expected in text(response)


# --- the queue's sorts --------------------------------------------------------------------


@pytest.mark.parametrize(("sort", "key"), [
    ("-amount", lambda case: (-case.requested_amount, -case.pk)),
    ("amount", lambda case: (case.requested_amount, case.pk)),
    ("-requested", lambda case: (-case.requested_at.timestamp(), -case.pk)),
])
def test_a_sort_pages_through_every_case_once_ties_by_id(login, agent, shop, settings,
                                                         sort, key):
    settings.CASES_PER_PAGE = 4
    now = timezone.now()
    # three amounts, several cases each, some at the very same request time
    cases = [make_case(shop=shop, amount=f"{10 * (n % 3) + 10}.00", now=now - timedelta(
        hours=n // 4)) for n in range(10)]
    client = login(agent)
    seen = []
    for page in (1, 2, 3):
        seen += row_ids(client.get("/cases/", {"sort": sort, "page": page}))
    assert seen == [case.pk for case in sorted(cases, key=key)]


def test_a_chosen_sort_ends_with_the_id_in_its_direction(rf, agent):
    request = rf.get("/cases/", {"sort": "-amount"})
    request.user = agent
    case_filter = CaseFilter(request.GET, queryset=Case.objects.all(), request=request)
    assert case_filter.qs.query.order_by == ("-requested_amount", "-id")
    request = rf.get("/cases/", {"sort": "requested"})
    request.user = agent
    case_filter = CaseFilter(request.GET, queryset=Case.objects.all(), request=request)
    assert case_filter.qs.query.order_by == ("requested_at", "id")


@pytest.mark.parametrize(("filter_class", "model"), [("CaseFilter", "Case"),
                                                     ("FollowUpFilter", "ReviewFollowUp")])
def test_filtering_by_states_adds_no_distinct(rf, agent, filter_class, model):
    """A state is a column of the row itself: no row can repeat, and a DISTINCT made
    PostgreSQL read every matching case before the page's LIMIT."""
    from refunds import models

    states = {"Case": ["requested", "awaiting_return"], "ReviewFollowUp": ["new", "contacting"]}
    request = rf.get("/", {"state": states[model]})
    request.user = agent
    klass = getattr(filters, filter_class)
    queryset = getattr(models, model).objects.all()
    filtered = klass(request.GET, queryset=queryset, request=request).qs
    assert filtered.query.where  # the states are applied
    assert not filtered.query.distinct


def test_several_states_show_each_case_once(login, agent, shop):
    requested = make_case(shop=shop)
    agreed = make_case(shop=shop, kind="return")
    from refunds.services.cases import case_agree
    case_agree(case=agreed, actor=None)
    make_case(shop=shop)  # requested too
    response = login(agent).get("/cases/", {"state": ["awaiting_return", "requested"]})
    ids = row_ids(response)
    assert len(ids) == len(set(ids)) == 3
    assert agreed.pk in ids and requested.pk in ids


@pytest.fixture
def two_shop_user(roles, shop):
    from tests.factories import make_staff

    other = ShopFactory()
    user = make_staff("multi", "agent", shop, staff_number="M1001")
    user.staff_profile.shops.add(other)
    return user, other


def test_the_exact_match_is_looked_for_among_the_filtered_cases(login, shop, two_shop_user):
    """"小王" is a whole nick in the other shop: in this shop it is still part of a nick."""
    user, other = two_shop_user
    there = _case_of(other, "小王")
    here = _case_of(shop, "小王爱购物")
    response = login(user).get("/cases/", {"q": "小王", "shop": shop.pk})
    assert row_ids(response) == [here.pk]
    response = login(user).get("/cases/", {"q": "小王", "shop": other.pk})
    assert row_ids(response) == [there.pk]


def test_the_exact_match_is_looked_for_among_the_chosen_states(login, agent, shop):
    exact = _case_of(shop, "小王")
    from refunds.services.cases import case_close

    case_close(case=exact, actor=None, reason="withdrawn")
    open_one = _case_of(shop, "小王爱购物")
    response = login(agent).get("/cases/", {"q": "小王", "state": "requested"})
    assert row_ids(response) == [open_one.pk]


def test_an_order_tracking_number_is_found_as_the_buyer_writes_it(login, agent, shop):
    case = _case_of(shop, "someone", tracking_no="YT0000000001")
    for term in ("yt0000000001", "YT 0000 0000 01", "No: YT0000000001"):
        assert row_ids(login(agent).get("/cases/", {"q": term})) == [case.pk], term
