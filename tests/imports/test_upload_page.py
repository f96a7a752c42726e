"""The managers' upload page /imports/: permission, the user's shops only, summary, history."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from refunds.forms import IMPORT_MAX_BYTES
from refunds.models import Case, ImportRun, Order
from refunds.services.imports import import_refunds
from tests.factories import OrderFactory
from tests.imports.conftest import (
    ORDER_HEADER,
    REFUND_HEADER,
    SAMPLES,
    STATUS,
    csv_text,
    order_row,
    refund_row,
)

URL = "/imports/"


def upload(name: str = "orders.csv", data: bytes | None = None) -> SimpleUploadedFile:
    if data is None:
        data = (SAMPLES / "orders.csv").read_bytes()
    return SimpleUploadedFile(name, data, content_type="text/csv")


@pytest.fixture
def manager_client(client, manager, shop_a):
    client.force_login(manager)
    return client


def count(page: str, name: str) -> int:
    return int(re.search(rf'data-count="{name}">(\d+)<', page).group(1))


def test_manager_uploads_an_export_and_sees_the_summary(manager_client, manager, shop_a):
    response = manager_client.post(URL, {"shop": shop_a.pk, "kind": "orders",
                                         "file": upload()})
    page = response.content.decode()
    assert response.status_code == 200
    assert "imported 300, updated 0, unchanged 0, rejected 0" in page
    assert count(page, "imported") == 300
    assert Order.objects.filter(shop=shop_a).count() == 300
    run = ImportRun.objects.get()
    assert (run.started_by, run.filename, run.encoding) == (manager, "orders.csv", "gbk")
    assert 'id="import-history"' in page and "M6001" in page


def test_row_errors_and_conflicts_are_listed(manager_client, shop_a):
    data = csv_text(ORDER_HEADER, [order_row(), order_row(**{"订单编号": "2",
                                                             "买家实际支付金额": "x"})])
    response = manager_client.post(URL, {"shop": shop_a.pk, "kind": "orders",
                                         "file": upload(data=data.encode("gbk"))})
    page = response.content.decode()
    assert response.status_code == 200
    assert count(page, "rejected") == 1
    assert 'id="import-errors"' in page and "<td>3</td>" in page


def test_conflicts_are_listed_with_a_link_to_the_case(manager_client, shop_a, tmp_path):
    order = OrderFactory(shop=shop_a)
    first = tmp_path / "refunds.csv"
    first.write_bytes(csv_text(REFUND_HEADER, [refund_row(**{
        "订单编号": order.platform_order_id, "退款状态": STATUS["SUCCESS"]})]).encode("gbk"))
    import_refunds(shop=shop_a, path_or_file=first)
    newer = csv_text(REFUND_HEADER, [refund_row(**{
        "订单编号": order.platform_order_id, "修改时间": "2026-11-06 09:00:00"})])

    response = manager_client.post(URL, {"shop": shop_a.pk, "kind": "refunds",
                                         "file": upload("refunds.csv", newer.encode("gbk"))})

    page = response.content.decode()
    assert response.status_code == 200
    assert count(page, "conflicts") == 1
    case = Case.objects.get()
    assert f'href="/cases/{case.pk}/"' in page and "WAIT_SELLER_AGREE" in page
    assert case.state == "refunded"


def test_dry_run_from_the_page_writes_nothing(manager_client, shop_a):
    response = manager_client.post(URL, {"shop": shop_a.pk, "kind": "orders",
                                         "file": upload(), "dry_run": "on"})
    assert response.status_code == 200
    assert "imported 300, updated 0, unchanged 0, rejected 0" in response.content.decode()
    assert not Order.objects.exists() and not ImportRun.objects.exists()


def test_a_refused_file_shows_why(manager_client, shop_a):
    response = manager_client.post(URL, {"shop": shop_a.pk, "kind": "refunds",
                                         "file": upload()})
    assert response.status_code == 400
    assert "退款编号" in response.content.decode()
    run = ImportRun.objects.get()  # the attempt is in the history, nothing of the file
    assert "退款编号" in run.refused and run.imported == run.updated == 0


def test_only_the_users_shops_are_offered_and_accepted(manager_client, other_shop):
    page = manager_client.get(URL).content.decode()
    assert "示例旗舰店" in page and other_shop.name not in page
    response = manager_client.post(URL, {"shop": other_shop.pk, "kind": "orders",
                                         "file": upload()})
    assert response.status_code == 400
    assert not Order.objects.exists()


def test_oversized_uploads_are_refused_before_reading_them(manager_client, shop_a):
    response = manager_client.post(URL, {"shop": shop_a.pk, "kind": "orders",
                                         "file": upload()},
                                   CONTENT_LENGTH=str(IMPORT_MAX_BYTES + 10 * 1024 * 1024))
    assert response.status_code == 413
    assert "50 MB" in response.content.decode()
    assert not Order.objects.exists()


def test_agents_may_not_import(client, agent, shop_a):
    client.force_login(agent)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"shop": shop_a.pk, "kind": "orders",
                             "file": upload()}).status_code == 403
    assert not Order.objects.exists()
    assert 'href="/imports/"' not in client.get("/cases/").content.decode()


def test_the_nav_links_managers_to_the_page(manager_client):
    assert 'href="/imports/"' in manager_client.get("/cases/").content.decode()


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_content_length_that_is_not_a_number_is_refused_not_a_500(manager_client, shop_a):
    manager_client.raise_request_exception = False
    response = manager_client.post(URL, {"shop": shop_a.pk, "kind": "orders",
                                         "file": upload()}, CONTENT_LENGTH="12abc")
    assert response.status_code == 413
    assert not Order.objects.exists()


def test_a_refused_file_shows_in_the_history(manager_client, shop_a, other_shop, export):
    from tests.imports.conftest import ORDER_HEADER, order_row

    path = export(ORDER_HEADER, [order_row(**{"店铺Id": other_shop.platform_shop_id})])
    with open(path, "rb") as handle:
        manager_client.post(URL, {"shop": shop_a.pk, "kind": "orders", "file": handle})
    page = manager_client.get(URL).content.decode()
    assert "Refused, nothing imported:" in page and "another shop" in page
    assert not Order.objects.exists()
