"""The nightly confirm-receipt sweep (sweep_receipts): a warning when a shipped order with an
open case is about to confirm receipt by itself; once per date; again after an extension;
nobody to tell is reported; it never changes an order or a case."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation

from refunds.models import CaseEvent, CaseKind, Notification, NotificationKind, Order, OrderStatus
from refunds.services import receipts
from refunds.services.cases import case_assign
from refunds.services.receipt_sweep import sweep_receipts
from refunds.templatetags.refunds_tags import in_words
from tests.factories import OrderFactory, make_case, make_staff

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("sweep_receipts", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _order(shop, days_left: float, **kwargs) -> Order:
    order = OrderFactory(shop=shop, **kwargs)
    order.confirm_receipt_by = timezone.now() + timedelta(days=days_left)
    order.save(update_fields=["confirm_receipt_by"])
    return order


def _case(order, **kwargs):
    return make_case(order=order, kind=CaseKind.RETURN, amount="30.00", **kwargs)


def test_the_assignee_and_the_supervisors_are_warned_once(
        shop, agent, supervisor, django_capture_on_commit_callbacks):
    for user in (agent, supervisor):
        user.email = f"{user.username}@example.com"
        user.save(update_fields=["email"])
    order = _order(shop, days_left=2)
    case = _case(order)
    case_assign(case=case, actor=supervisor, assignee=agent)
    _order(shop, days_left=5)  # outside the 3 days
    _case(_order(shop, days_left=1, status=OrderStatus.COMPLETED))  # completed: no window
    _order(shop, days_left=1)  # no case
    events = CaseEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        summary = run()
    assert "1 orders warned of, 2 notifications" in summary
    told = Notification.objects.filter(kind=NotificationKind.RECEIPT_DUE)
    assert {(n.user, n.case, n.deadline_at) for n in told} == {
        (agent, case, order.confirm_receipt_by), (supervisor, case, order.confirm_receipt_by)}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([agent.email, supervisor.email])
    assert all(order.platform_order_id in m.body for m in mail.outbox)
    assert "0 orders warned of, 0 notifications" in run()  # once
    assert Notification.objects.filter(kind=NotificationKind.RECEIPT_DUE).count() == 2
    assert CaseEvent.objects.count() == events  # nothing of the case changed
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED


def test_an_extended_window_is_warned_of_again_when_it_nears(shop, agent, supervisor):
    shop.policy.receipt_warning_days = 6
    shop.policy.save()
    order = _order(shop, days_left=1)
    _case(order)
    run()
    receipts.receipt_extend(order=order, actor=agent, days=3,
                            expected_confirm_by=order.confirm_receipt_by)
    assert "1 orders warned of" in run()
    dates = set(Notification.objects.filter(kind=NotificationKind.RECEIPT_DUE)
                .values_list("deadline_at", flat=True))
    assert len(dates) == 2


def test_each_shop_warns_by_its_own_days(shop, other_shop, supervisor):
    make_staff("sup_b", "supervisor", other_shop)
    other_shop.policy.receipt_warning_days = 1
    other_shop.policy.save()
    near = _order(shop, days_left=2)
    _case(near)
    far_for_b = _order(other_shop, days_left=2)
    _case(far_for_b)
    run()
    assert set(Notification.objects.values_list("case__order", flat=True)) == {near.pk}


def test_the_message_says_what_to_do_in_the_readers_language(shop, supervisor):
    order = _order(shop, days_left=1)
    _case(order)
    order.confirm_receipt_estimated = True
    order.save(update_fields=["confirm_receipt_estimated"])
    run()
    notification = Notification.objects.get()
    assert "estimated" in in_words(notification) and order.platform_order_id in in_words(
        notification)
    with translation.override("zh-hans"):
        assert "预计" in in_words(notification) or "估" in in_words(notification)


def test_no_extension_left_is_said(shop, supervisor):
    shop.policy.receipt_extension_limit = 0
    shop.policy.save()
    _case(_order(shop, days_left=1))
    run()
    assert "may not extend it again" in in_words(Notification.objects.get())


def test_a_passed_date_is_warned_of_as_passed(shop, supervisor):
    _case(_order(shop, days_left=-0.5))
    run()
    assert "probably completed the trade" in in_words(Notification.objects.get())


def test_a_passed_estimate_says_the_real_date_is_later(shop, supervisor):
    order = _order(shop, days_left=-0.5)
    order.confirm_receipt_estimated = True
    order.save(update_fields=["confirm_receipt_estimated"])
    _case(order)
    run()
    words = in_words(Notification.objects.get())
    assert "the real date is later" in words and "probably completed" not in words


def test_nobody_to_tell_exits_1_and_names_the_order(shop):
    order = _order(shop, days_left=1)
    _case(order)
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("sweep_receipts", stdout=io.StringIO(), stderr=err)
    assert caught.value.returncode == 1
    assert "1 with nobody to tell" in str(caught.value)
    assert order.platform_order_id in err.getvalue()


def test_a_dry_run_counts_and_writes_nothing(shop, supervisor):
    _case(_order(shop, days_left=1))
    assert "(dry run, nothing written): 1 orders warned of, 0 notifications" in run("--dry-run")
    assert not Notification.objects.exists()
    run()
    assert "(dry run, nothing written): 0 orders warned of" in run("--dry-run")


def test_only_a_dry_run_may_look_ahead(shop, supervisor):
    ahead = (timezone.now() + timedelta(days=2)).isoformat()
    with pytest.raises(CommandError) as caught:
        run("--now", ahead)
    assert caught.value.returncode == 2
    _case(_order(shop, days_left=4.5))
    assert "1 orders warned of" in run("--dry-run", "--now", ahead)


def test_the_sweep_reads_a_fixed_number_of_queries(shop, supervisor, django_assert_max_num_queries):
    for days in range(5):
        _case(_order(shop, days_left=days / 2))
    with django_assert_max_num_queries(12):
        result = sweep_receipts()
    assert result.orders == 5
