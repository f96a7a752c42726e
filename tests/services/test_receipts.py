"""The buyer's confirm-receipt window (延长收货): where it starts, the two records of the
seller centre (extended, read) and every refusal, each of which changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone, translation

from refunds.exceptions import ActionNotAllowed, PermissionDeniedError
from refunds.models import (
    CaseEvent,
    CaseKind,
    CaseReason,
    EventKind,
    Order,
    OrderStatus,
    ReceiptChangeKind,
    ReceiptWindowChange,
)
from refunds.services import cases as case_services
from refunds.services import receipts as services
from refunds.templatetags.refunds_tags import in_words
from tests.factories import OrderFactory, make_case

pytestmark = pytest.mark.django_db


def _window(shop, *, days_left: float = 2, estimated: bool = False, **kwargs) -> Order:
    order = OrderFactory(shop=shop, **kwargs)
    order.confirm_receipt_by = timezone.now() + timedelta(days=days_left)
    order.confirm_receipt_estimated = estimated
    order.save(update_fields=["confirm_receipt_by", "confirm_receipt_estimated"])
    return order


def _unchanged(order: Order, before: Order) -> None:
    order.refresh_from_db()
    assert (order.confirm_receipt_by, order.confirm_receipt_estimated,
            order.receipt_extensions) == (before.confirm_receipt_by,
                                          before.confirm_receipt_estimated,
                                          before.receipt_extensions)
    assert not ReceiptWindowChange.objects.filter(order=order).exists()
    assert not CaseEvent.objects.filter(case__order=order, kind=EventKind.RECEIPT).exists()


def _extend(order, actor, days=5, **kwargs):
    kwargs.setdefault("expected_confirm_by", order.confirm_receipt_by)
    return services.receipt_extend(order=order, actor=actor, days=days, **kwargs)


# --- extending --------------------------------------------------------------------------------


def test_an_extension_adds_its_days_and_is_on_every_open_case_timeline(shop, agent):
    order = _window(shop)
    before = order.confirm_receipt_by
    returning = make_case(order=order, kind=CaseKind.RETURN, amount="50.00")
    exchange = make_case(order=order, kind=CaseKind.EXCHANGE, reason=CaseReason.SIZE,
                         amount="20.00")
    closed = make_case(order=order, amount="10.00")
    case_services.case_close(case=closed, actor=agent, expected_state="requested",
                             reason="withdrawn")

    change = _extend(order, agent, days=7, case=returning, note="买家换货中")

    order.refresh_from_db()
    assert order.confirm_receipt_by == before + timedelta(days=7)
    assert order.receipt_extensions == 1
    assert (change.kind, change.days, change.previous_confirm_by, change.confirm_by,
            change.case, change.staff_number, change.note) == (
        ReceiptChangeKind.EXTENDED, 7, before, before + timedelta(days=7), returning,
        agent.staff_profile.staff_number, "买家换货中")
    rows = CaseEvent.objects.filter(kind=EventKind.RECEIPT)
    assert {row.case_id for row in rows} == {returning.pk, exchange.pk}  # not the closed one
    assert all(row.data["receipt_change"] == change.pk for row in rows)
    with translation.override("zh-hans"):
        assert "7" in in_words(rows[0]) and "买家换货中" in in_words(rows[0])


def test_the_policy_limit_refuses_one_extension_too_many(shop, agent):
    order = _window(shop)
    _extend(order, agent, days=3)
    order.refresh_from_db()
    before = Order.objects.get(pk=order.pk)
    with pytest.raises(ActionNotAllowed, match="already extended 1 time;"):
        _extend(order, agent, days=3)
    order.refresh_from_db()
    assert order.confirm_receipt_by == before.confirm_receipt_by
    assert ReceiptWindowChange.objects.filter(order=order).count() == 1

    shop.policy.receipt_extension_limit = 2
    shop.policy.save()
    _extend(order, agent, days=3)
    order.refresh_from_db()
    assert order.receipt_extensions == 2


def test_a_policy_of_no_extensions_refuses_the_first(shop, agent):
    shop.policy.receipt_extension_limit = 0
    shop.policy.save()
    order = _window(shop)
    before = Order.objects.get(pk=order.pk)
    with pytest.raises(ActionNotAllowed):
        _extend(order, agent)
    _unchanged(order, before)


@pytest.mark.parametrize("days", [0, 1, 4, 30, -3])
def test_only_the_lengths_the_seller_centre_offers(shop, agent, days):
    order = _window(shop)
    before = Order.objects.get(pk=order.pk)
    with pytest.raises(ActionNotAllowed, match="3, 5, 7, 10"):
        _extend(order, agent, days=days)
    _unchanged(order, before)


def test_a_passed_date_cannot_be_extended(shop, agent):
    order = _window(shop, days_left=-0.1)
    before = Order.objects.get(pk=order.pk)
    with pytest.raises(ActionNotAllowed, match="completed the trade"):
        _extend(order, agent)
    _unchanged(order, before)


def test_an_unknown_date_must_be_read_first(shop, agent):
    order = OrderFactory(shop=shop)
    assert order.confirm_receipt_by is None
    with pytest.raises(ActionNotAllowed, match="read the date"):
        _extend(order, agent, expected_confirm_by=None)
    _unchanged(order, Order.objects.get(pk=order.pk))


def test_a_page_older_than_the_date_is_refused(shop, agent, supervisor):
    order = _window(shop)
    seen = order.confirm_receipt_by
    _extend(Order.objects.get(pk=order.pk), supervisor, days=3)
    shop.policy.receipt_extension_limit = 5
    shop.policy.save()
    after = Order.objects.get(pk=order.pk)
    with pytest.raises(services.ReceiptChanged):
        _extend(order, agent, days=5, expected_confirm_by=seen)
    order.refresh_from_db()
    assert order.confirm_receipt_by == after.confirm_receipt_by
    assert order.receipt_extensions == 1


@pytest.mark.parametrize("status", [OrderStatus.COMPLETED, OrderStatus.CLOSED, OrderStatus.PAID])
def test_only_a_shipped_order_awaiting_confirmation_has_a_window(shop, agent, status):
    order = _window(shop, status=status)
    before = Order.objects.get(pk=order.pk)
    with pytest.raises(ActionNotAllowed, match="Only a shipped order"):
        _extend(order, agent)
    _unchanged(order, before)


def test_who_may_extend(shop, other_shop, warehouse, finance, agent_b, supervisor, manager):
    order = _window(shop)
    before = Order.objects.get(pk=order.pk)
    for user in (warehouse, finance, agent_b):
        with pytest.raises(PermissionDeniedError):
            _extend(order, user)
    _unchanged(order, before)
    _extend(order, supervisor)
    shop.policy.receipt_extension_limit = 2
    shop.policy.save()
    _extend(Order.objects.get(pk=order.pk), manager)
    assert Order.objects.get(pk=order.pk).receipt_extensions == 2


def test_a_case_of_another_order_is_refused(shop, agent):
    order = _window(shop)
    other = make_case(order=OrderFactory(shop=shop))
    before = Order.objects.get(pk=order.pk)
    with pytest.raises(ActionNotAllowed, match="one of order"):
        _extend(order, agent, case=other)
    _unchanged(order, before)


def test_a_long_note_is_kept_whole(shop, agent):
    order = _window(shop)
    before = Order.objects.get(pk=order.pk)
    # a TextField has no max_length: nothing is cut (the form caps what a page may send)
    change = _extend(order, agent, note="很长" * 1000)
    assert change.note == "很长" * 1000
    assert Order.objects.get(pk=order.pk).receipt_extensions == before.receipt_extensions + 1


def test_an_estimated_date_stays_estimated_when_extended(shop, agent):
    order = _window(shop, estimated=True)
    before = order.confirm_receipt_by
    _extend(order, agent, days=10)
    order.refresh_from_db()
    assert order.confirm_receipt_estimated
    assert order.confirm_receipt_by == before + timedelta(days=10)
    change = ReceiptWindowChange.objects.get(order=order)
    assert change.previous_estimated


# --- reading the date ------------------------------------------------------------------------


def test_the_date_read_from_the_seller_centre_replaces_an_estimate(shop, agent):
    order = _window(shop, estimated=True)
    seen = order.confirm_receipt_by
    read = (timezone.now() + timedelta(days=6)).replace(microsecond=0)
    change = services.receipt_read(order=order, actor=agent, confirm_by=read,
                                   expected_confirm_by=seen)
    order.refresh_from_db()
    assert (order.confirm_receipt_by, order.confirm_receipt_estimated,
            order.receipt_extensions) == (read, False, 0)
    assert (change.kind, change.days, change.previous_confirm_by, change.previous_estimated) == (
        ReceiptChangeKind.READ, None, seen, True)


def test_a_date_read_for_an_order_the_desk_had_no_date_for(shop, agent):
    order = OrderFactory(shop=shop)
    read = timezone.now() + timedelta(days=4)
    services.receipt_read(order=order, actor=agent, confirm_by=read, expected_confirm_by=None)
    order.refresh_from_db()
    assert order.confirm_receipt_by == read


@pytest.mark.parametrize(("offset", "message"), [
    (timedelta(hours=-1), "has passed"),
    (timedelta(days=services.MAX_READ_DAYS + 1), "more than"),
])
def test_an_impossible_date_read_is_refused(shop, agent, offset, message):
    order = _window(shop, estimated=True)
    before = Order.objects.get(pk=order.pk)
    with pytest.raises(ActionNotAllowed, match=message):
        services.receipt_read(order=order, actor=agent, confirm_by=timezone.now() + offset,
                              expected_confirm_by=order.confirm_receipt_by)
    _unchanged(order, before)


def test_a_date_before_the_shipment_is_refused(shop, agent):
    order = _window(shop, shipped_at=timezone.now() + timedelta(days=1))
    before = Order.objects.get(pk=order.pk)
    with pytest.raises(ActionNotAllowed, match="before the order shipped"):
        services.receipt_read(order=order, actor=agent,
                              confirm_by=timezone.now() + timedelta(hours=12),
                              expected_confirm_by=order.confirm_receipt_by)
    _unchanged(order, before)


def test_the_same_date_again_is_refused(shop, agent):
    order = _window(shop)
    before = Order.objects.get(pk=order.pk)
    with pytest.raises(ActionNotAllowed, match="already"):
        services.receipt_read(order=order, actor=agent, confirm_by=order.confirm_receipt_by,
                              expected_confirm_by=order.confirm_receipt_by)
    _unchanged(order, before)


# --- where the window starts ------------------------------------------------------------------


def test_the_window_starts_from_the_ship_time_else_is_estimated_from_the_payment():
    shipped, paid = timezone.now(), timezone.now() - timedelta(days=1)
    status = OrderStatus.SHIPPED
    assert services.imported_window({"status": status, "shipped_at": shipped,
                                     "paid_at": paid}, 10) == {
        "confirm_receipt_by": shipped + timedelta(days=10), "confirm_receipt_estimated": False}
    assert services.imported_window({"status": status, "shipped_at": None, "paid_at": paid},
                                    7) == {
        "confirm_receipt_by": paid + timedelta(days=7), "confirm_receipt_estimated": True}
    assert services.imported_window({"status": status, "shipped_at": None,
                                     "paid_at": None}, 10) == {}
    assert services.imported_window({"status": OrderStatus.PAID, "shipped_at": shipped,
                                     "paid_at": paid}, 10) == {}


def test_the_ship_time_replaces_an_estimate_keeping_extensions_never_a_date_read():
    shipped, paid = timezone.now(), timezone.now() - timedelta(days=1)
    estimate = paid + timedelta(days=10)
    base = {"status": OrderStatus.SHIPPED, "shipped_at": shipped, "paid_at": paid,
            "confirm_receipt_by": estimate, "confirm_receipt_estimated": True,
            "receipt_extensions": 0}
    exact = {"confirm_receipt_by": shipped + timedelta(days=10),
             "confirm_receipt_estimated": False}
    assert services.imported_window(base, 10) == exact
    # extended by 5 days in the seller centre: on top of the real date
    extended = {**base, "confirm_receipt_by": estimate + timedelta(days=5),
                "receipt_extensions": 1}
    assert services.imported_window(extended, 10, services.Recorded(extended_days=5)) == {
        **exact, "confirm_receipt_by": shipped + timedelta(days=15)}
    # a date read from the seller centre is the authority
    assert services.imported_window({**base, "confirm_receipt_estimated": False}, 10,
                                    services.Recorded(read=True)) == {}
    assert services.imported_window({**base, "shipped_at": None}, 10) == {}  # still estimate
    assert services.imported_window({**base, **exact}, 10) == {}  # nothing moves


def test_what_people_recorded_is_read_in_one_query(shop, agent, django_assert_num_queries):
    extended, read, untouched = (_window(shop) for _ in range(3))
    _extend(extended, agent, days=3)
    services.receipt_read(order=read, actor=agent, expected_confirm_by=read.confirm_receipt_by,
                          confirm_by=timezone.now() + timedelta(days=9))
    shop.policy.receipt_extension_limit = 2
    shop.policy.save()
    _extend(Order.objects.get(pk=read.pk), agent, days=5)  # after the read: still "read"
    with django_assert_num_queries(1):
        found = services.recorded_windows([extended.pk, read.pk, untouched.pk])
    assert found == {extended.pk: services.Recorded(extended_days=3),
                     read.pk: services.Recorded(read=True)}


def test_orders_shipped_before_the_upgrade_get_their_window(shop):
    from importlib import import_module

    migration = import_module("refunds.migrations.0021_receipt_windows")
    shop.policy.auto_confirm_days = 12
    shop.policy.save()
    with_time = OrderFactory(shop=shop)
    without = OrderFactory(shop=shop, shipped_at=None)
    unshipped = OrderFactory(shop=shop, unshipped=True)
    migration.start_windows_of_shipped_orders(apps, None)
    with_time.refresh_from_db()
    without.refresh_from_db()
    unshipped.refresh_from_db()
    assert (with_time.confirm_receipt_by, with_time.confirm_receipt_estimated) == (
        with_time.shipped_at + timedelta(days=12), False)
    assert (without.confirm_receipt_by, without.confirm_receipt_estimated) == (
        without.paid_at + timedelta(days=12), True)
    assert unshipped.confirm_receipt_by is None
