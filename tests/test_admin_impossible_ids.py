"""A hand-edited or stale admin filter link with an id no column can hold
(?shop=99999999999999999999) lists no rows — as ?shop__id__exact= already did — instead of a
server error: the database driver refuses the number only when the query runs."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from refunds.models import Case, Order
from tests.factories import OrderFactory, make_case

TOO_BIG = "99999999999999999999"  # more than any id column holds (SQLite: 64 bits)

LISTS = [(model, admin_class) for model, admin_class in admin.site._registry.items()
         if model._meta.app_label in ("refunds", "auth")]


def _parameters(model) -> list[str]:
    """Each foreign key's own lookups, and the id's: what a list's filter link may carry."""
    keys = ["id", "id__in", "pk"]
    for field in model._meta.get_fields():
        if field.many_to_one and field.concrete:
            keys += [field.name, f"{field.name}__exact", f"{field.name}__id__exact",
                     f"{field.name}__in"]
    return keys


@pytest.mark.parametrize(("model", "admin_class"), LISTS,
                         ids=[model._meta.model_name for model, _admin in LISTS])
def test_no_admin_list_answers_an_impossible_id_with_a_server_error(manager, shop, model,
                                                                   admin_class):
    make_case(order=OrderFactory(shop=shop))
    client = Client(raise_request_exception=False)
    client.force_login(manager)
    url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    for key in _parameters(model):
        for value in (TOO_BIG, f"-{TOO_BIG}", f"1,{TOO_BIG}"):
            response = client.get(url, {key: value})
            # 200 (no rows), the admin's own "?e=1" redirect for a lookup it does not
            # allow, or 403 for a list the manager may not see: never a 500
            assert response.status_code in (200, 302, 400, 403), (url, key, value,
                                                                  response.status_code)


def test_the_case_list_filtered_by_an_impossible_shop_shows_no_rows(manager, shop):
    case = make_case(order=OrderFactory(shop=shop))
    client = Client()
    client.force_login(manager)

    page = client.get("/admin/refunds/case/", {"shop": TOO_BIG}).content.decode()
    listed = client.get("/admin/refunds/case/", {"shop": str(shop.pk)}).content.decode()

    assert f"/admin/refunds/case/{case.pk}/change/" not in page
    assert f"/admin/refunds/case/{case.pk}/change/" in listed


def test_a_comparison_with_a_huge_number_is_no_impossible_id(manager, shop):
    """?id__lt=<huge> matches every row: it is a bound, not an id."""
    case = make_case(order=OrderFactory(shop=shop))
    client = Client()
    client.force_login(manager)

    below = client.get("/admin/refunds/case/", {"id__lt": TOO_BIG}).content.decode()
    above = client.get("/admin/refunds/case/", {"id__gt": f"-{TOO_BIG}"}).content.decode()

    assert f"/admin/refunds/case/{case.pk}/change/" in below
    assert f"/admin/refunds/case/{case.pk}/change/" in above


def test_a_year_no_date_can_have_lists_no_rows(manager, shop):
    make_case(order=OrderFactory(shop=shop))
    client = Client(raise_request_exception=False)
    client.force_login(manager)

    response = client.get("/admin/refunds/case/", {"requested_at__year": TOO_BIG})

    assert response.status_code == 200
    assert "/admin/refunds/case/" in response.content.decode()


def test_only_integer_columns_are_checked(db):
    from django.db import connection
    from django.http import QueryDict

    from refunds.admin import names_an_impossible_id

    # a 19-digit order number is text, not an id
    assert not names_an_impossible_id(Order, QueryDict(
        "platform_order_id=3900000000000000001999"), connection)
    assert names_an_impossible_id(Case, QueryDict(f"assignee={TOO_BIG}"), connection)
    assert names_an_impossible_id(Case, QueryDict(f"order__shop__id__exact={TOO_BIG}"),
                                  connection)
    assert not names_an_impossible_id(Case, QueryDict("shop=2&p=3&o=1&q=99999999999999999999"),
                                      connection)
