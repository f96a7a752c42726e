"""Confirm-receipt windows (延长收货) in the admin: a manager reads their shops' records, never
changes them there; an order a manager marks shipped starts its window as the import does;
the policy's three numbers are the manager's to set."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from refunds.models import Order, ReceiptWindowChange
from refunds.services import receipts
from tests.factories import OrderFactory, make_staff
from tests.test_admin import _change_form_data


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def _extended(shop, actor) -> ReceiptWindowChange:
    order = OrderFactory(shop=shop)
    order.confirm_receipt_by = timezone.now() + timedelta(days=2)
    order.save(update_fields=["confirm_receipt_by"])
    return receipts.receipt_extend(order=order, actor=actor, days=5, note="换货中",
                                   expected_confirm_by=order.confirm_receipt_by)


def test_a_manager_reads_their_shops_records_only_and_changes_none(manager_client, shop,
                                                                   other_shop, agent, roles):
    mine = _extended(shop, agent)
    theirs = _extended(other_shop, make_staff("ag_b2", "agent", other_shop))
    page = manager_client.get("/admin/refunds/receiptwindowchange/").content.decode()
    assert f"/admin/refunds/receiptwindowchange/{mine.pk}/change/" in page
    assert f"/admin/refunds/receiptwindowchange/{theirs.pk}/change/" not in page
    assert manager_client.get(
        f"/admin/refunds/receiptwindowchange/{theirs.pk}/change/").status_code == 302
    assert manager_client.post(f"/admin/refunds/receiptwindowchange/{mine.pk}/delete/",
                               {"post": "yes"}).status_code == 403
    assert manager_client.get("/admin/refunds/receiptwindowchange/add/").status_code == 403
    assert ReceiptWindowChange.objects.count() == 2


def test_an_order_marked_shipped_in_the_admin_starts_its_window(manager_client, shop):
    order = OrderFactory(shop=shop, unshipped=True)
    url = f"/admin/refunds/order/{order.pk}/change/"
    data = _change_form_data(manager_client, url)
    shipped = timezone.localtime(timezone.now()).replace(second=0, microsecond=0)
    data.update({"status": "shipped", "shipped_at_0": shipped.strftime("%Y-%m-%d"),
                 "shipped_at_1": shipped.strftime("%H:%M:%S"),
                 "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0",
                 "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "1000"})
    response = manager_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get(pk=order.pk)
    assert (order.confirm_receipt_by, order.confirm_receipt_estimated) == (
        shipped + timedelta(days=shop.policy.auto_confirm_days), False)
    page = manager_client.get(url).content.decode()
    assert "auto-confirms receipt" in page.lower()  # shown, not editable
    assert not re.search(r'name="confirm_receipt_by', page)


def test_the_policy_numbers_are_in_the_shops_policy_form(manager_client, shop):
    page = manager_client.get(f"/admin/refunds/policy/{shop.policy.pk}/change/").content.decode()
    for name in ("auto_confirm_days", "receipt_warning_days", "receipt_extension_limit"):
        assert f'name="{name}"' in page
