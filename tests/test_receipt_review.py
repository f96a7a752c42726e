"""Review of the confirm-receipt windows (延长收货): services, import hook, sweep, admin.

Each test below fails because of a defect; its docstring says what is wrong and what the right
behaviour is. Times are passed in (`now=`) so that the tests do not depend on today's date.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from refunds.models import (
    CaseKind,
    Notification,
    NotificationKind,
    Order,
    ReceiptWindowChange,
)
from refunds.services import imports as import_services
from refunds.services import receipt_sweep
from refunds.services import receipts as services
from refunds.services.imports import import_orders
from refunds.timezones import CHINA
from tests.factories import OrderFactory, make_case, make_staff
from tests.imports.conftest import ORDER_HEADER, csv_text, order_row
from tests.test_admin import _change_form_data

pytestmark = pytest.mark.django_db

ORDER_ID = "3900000000099000001"  # order_row's default 订单编号
PAID = datetime(2026, 11, 1, 10, 5, tzinfo=CHINA)  # order_row's default 订单付款时间
SHIPPED = datetime(2026, 11, 2, 9, 0, tzinfo=CHINA)
WITH_SHIP_TIME = [*ORDER_HEADER, "发货时间"]


@pytest.fixture
def shop_a(shop):
    shop.platform_shop_id = "SHOP-A"  # the 店铺Id of order_row
    shop.save(update_fields=["platform_shop_id"])
    return shop


def _import(shop, tmp_path, name: str, *, ship_time: str | None = None):
    """The classic export (no 发货时间), or one with the ship time."""
    if ship_time is None:
        header, rows = ORDER_HEADER, [order_row()]
    else:
        header, rows = WITH_SHIP_TIME, [[*order_row(), ship_time]]
    path = tmp_path / name
    path.write_bytes(csv_text(header, rows).encode("gbk"))
    result = import_orders(shop=shop, path_or_file=path)
    assert not result.errors, result.errors
    return result


def _window(shop, *, days_left: float = 2, **kwargs) -> Order:
    """A shipped order whose window was started from its ship time (as the import does)."""
    order = OrderFactory(shop=shop, **kwargs)
    order.confirm_receipt_by = timezone.now() + timedelta(days=days_left)
    order.save(update_fields=["confirm_receipt_by"])
    return order


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def _no_lines(data: dict) -> dict:
    data.update({"lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0",
                 "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "1000"})
    return data


# --- the import hook ---------------------------------------------------------------------------


def test_an_extended_estimate_is_refined_when_the_ship_time_arrives(roles, shop_a, tmp_path):
    """DEFECT: an estimated window (classic export: from the payment) that an agent extended
    is never refined. The later export with 发货时间 leaves estimate + extension, still marked
    estimated, for good: `imported_window` treats "extended" as "a date a person recorded",
    but the person recorded only *days added* (the seller centre adds them to the real date).
    Right: the ship time replaces the estimate and the recorded extension days are kept on top
    — shipped + auto_confirm_days + 5 days, no longer estimated, one extension used."""
    _import(shop_a, tmp_path, "classic.csv")
    order = Order.objects.get(platform_order_id=ORDER_ID)
    assert (order.confirm_receipt_by, order.confirm_receipt_estimated) == (
        PAID + timedelta(days=10), True)
    agent = make_staff("ag", "agent", shop_a)
    services.receipt_extend(order=order, actor=agent, days=5,
                            expected_confirm_by=order.confirm_receipt_by,
                            now=PAID + timedelta(days=8))

    _import(shop_a, tmp_path, "with-ship-time.csv", ship_time="2026-11-02 09:00:00")

    order.refresh_from_db()
    assert order.shipped_at == SHIPPED
    assert (order.confirm_receipt_by, order.confirm_receipt_estimated,
            order.receipt_extensions) == (SHIPPED + timedelta(days=10 + 5), False, 1)


def test_the_import_does_not_overwrite_a_date_read_while_it_ran(roles, shop_a, tmp_path,
                                                                monkeypatch):
    """DEFECT (lost update): `_save_orders` reads the chunk's orders (window fields included)
    without a lock and later bulk-updates them from what it read. An agent who records the
    date the seller centre shows in between (receipt_read: order row locked, committed) is
    overwritten by the ship time + days computed from the stale "estimated" flag, while the
    ReceiptWindowChange row says otherwise. Simulated here by recording the read at the point
    between the import's read and its write (on PostgreSQL another connection commits there).
    Right: a date a person recorded is never overwritten — the import must lock/re-check the
    orders whose window it writes (or not write window fields it read stale)."""
    _import(shop_a, tmp_path, "classic.csv")
    order = Order.objects.get(platform_order_id=ORDER_ID)
    agent = make_staff("ag", "agent", shop_a)
    read = PAID + timedelta(days=14)
    real_window = import_services.imported_window

    # (Fixed by locking the orders whose window may move and reading it again under the
    # lock: the colleague acts between the import's unlocked read and that lock — the first
    # look at the row's window — since after the lock a colleague's write waits for it.)
    def colleague_reads_meanwhile(*args, **kwargs):
        if not ReceiptWindowChange.objects.exists():
            services.receipt_read(order=Order.objects.get(pk=order.pk), actor=agent,
                                  confirm_by=read, expected_confirm_by=order.confirm_receipt_by,
                                  now=PAID + timedelta(days=3))
        return real_window(*args, **kwargs)

    monkeypatch.setattr(import_services, "imported_window", colleague_reads_meanwhile)
    _import(shop_a, tmp_path, "with-ship-time.csv", ship_time="2026-11-02 09:00:00")

    assert ReceiptWindowChange.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert (order.confirm_receipt_by, order.confirm_receipt_estimated) == (read, False)


# --- the admin ---------------------------------------------------------------------------------


def test_an_admin_save_does_not_undo_an_extension_recorded_meanwhile(manager_client, shop,
                                                                     agent, monkeypatch):
    """DEFECT (lost update, limit bypass): OrderAdmin.save_model saves the whole instance it
    read at the start of the POST (obj.save() writes every column, the editable=False window
    fields too), without the order row lock. An extension an agent records between that read
    and the save is undone: the date goes back and `receipt_extensions` back to 0, so the
    policy's limit (1) allows a second extension while the record table holds the first.
    Right: the admin never writes window fields it did not change (update_fields, or reread
    under the lock), so the order keeps the extended date and the count."""
    from refunds.admin import OrderAdmin

    order = _window(shop)
    seen = order.confirm_receipt_by
    real_save_form = OrderAdmin.save_form

    def colleague_extends_meanwhile(self, request, form, change):
        obj = real_save_form(self, request, form, change)
        services.receipt_extend(order=Order.objects.get(pk=order.pk), actor=agent, days=5,
                                expected_confirm_by=seen)
        return obj

    url = f"/admin/refunds/order/{order.pk}/change/"
    data = _no_lines(_change_form_data(manager_client, url))
    data["note"] = "manager's note"
    monkeypatch.setattr(OrderAdmin, "save_form", colleague_extends_meanwhile)
    response = manager_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]

    order.refresh_from_db()
    assert order.note == "manager's note"
    assert ReceiptWindowChange.objects.filter(order=order).count() == 1
    assert (order.confirm_receipt_by, order.receipt_extensions) == (seen + timedelta(days=5), 1)


def test_a_ship_time_corrected_in_the_admin_moves_the_window_counted_from_it(manager_client,
                                                                            shop):
    """DEFECT: a manager who corrects the ship time of a shipped order in the admin leaves its
    window counted from the old, wrong ship time (`start_window` only replaces an estimate).
    Nobody recorded that date (no ReceiptWindowChange, no extension): it is the import's
    derived value. Corrected two days earlier, the desk shows a date two days after the real
    one — not marked estimated, so its warning comes too late and the trade completes first.
    Right: a window nobody recorded follows the corrected ship time (+ auto_confirm_days)."""
    shipped = timezone.now().replace(second=0, microsecond=0) - timedelta(days=1)
    order = OrderFactory(shop=shop, shipped_at=shipped)
    days = shop.policy.auto_confirm_days
    order.confirm_receipt_by = shipped + timedelta(days=days)  # as the import started it
    order.save(update_fields=["confirm_receipt_by"])
    corrected = timezone.localtime(shipped - timedelta(days=2))

    url = f"/admin/refunds/order/{order.pk}/change/"
    data = _no_lines(_change_form_data(manager_client, url))
    data.update({"shipped_at_0": corrected.strftime("%Y-%m-%d"),
                 "shipped_at_1": corrected.strftime("%H:%M:%S")})
    response = manager_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]

    order.refresh_from_db()
    assert order.shipped_at == corrected
    assert (order.confirm_receipt_by, order.confirm_receipt_estimated) == (
        corrected + timedelta(days=days), False)


def test_an_order_with_receipt_records_stays_in_its_shop(client, roles, shop, other_shop,
                                                         agent):
    """DEFECT: `Order.has_after_sales` (which makes the order's shop read-only in the admin)
    does not count confirm-receipt records. An order extended from its window page with no
    case can be moved to another shop by a manager of both; its ReceiptWindowChange keeps the
    old shop, so the old shop's managers still list it in the admin (scoped by the record's
    shop) and the new shop's records disagree with their order. Right: once a receipt record
    hangs on the order, its shop is read-only, as for cases and stock-outs."""
    order = _window(shop)
    services.receipt_extend(order=order, actor=agent, days=3,
                            expected_confirm_by=order.confirm_receipt_by)
    both = make_staff("mgr_both", "manager", shop, other_shop, is_staff=True)
    client.force_login(both)
    url = f"/admin/refunds/order/{order.pk}/change/"
    data = _no_lines(_change_form_data(client, url))
    data["shop"] = str(other_shop.pk)
    client.post(url, data)

    order.refresh_from_db()
    assert order.shop_id == shop.pk
    assert ReceiptWindowChange.objects.get(order=order).shop_id == order.shop_id


# --- the sweep ---------------------------------------------------------------------------------


def test_one_failing_order_does_not_cost_the_rest_of_its_batch_their_warning(shop, supervisor,
                                                                             monkeypatch):
    """DEFECT: sweep_receipts writes a batch of 200 orders in one transaction and, when
    anything in it fails, counts all 200 as failed and warns none of them, reporting only
    "orders … 1-200: error" (no order named). One broken order thus silences up to 199
    windows about to close, for as long as it stays broken. Right (as the case sweep's
    photos/warnings do): a failed batch is done again one order at a time, so the failure
    stays with its order (named, counted once) and the others are still warned."""
    bad = make_case(order=_window(shop, days_left=1), kind=CaseKind.RETURN, amount="30.00")
    good = make_case(order=_window(shop, days_left=2), kind=CaseKind.RETURN, amount="30.00")
    real_notify = receipt_sweep.notify_many

    def broken_notify(notices, **kwargs):
        if any(notice.case.pk == bad.pk for notice in notices):
            raise RuntimeError("mail queue full")
        return real_notify(notices, **kwargs)

    monkeypatch.setattr(receipt_sweep, "notify_many", broken_notify)
    result = receipt_sweep.sweep_receipts()

    told = Notification.objects.filter(kind=NotificationKind.RECEIPT_DUE)
    assert {n.case_id for n in told} == {good.pk}
    assert (result.orders, result.failed) == (1, 1)
    assert any(bad.order.platform_order_id in failure for failure in result.failures)
