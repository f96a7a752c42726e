"""The nightly stock-out sweep (sweep_stockouts): a warning when the platform's ship-by is
near and the buyer's choice is not recorded, one when the date agreed with the buyer passed;
once each; nobody to tell is reported; it never changes a stock-out."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation

from refunds.models import (
    CloseReason,
    ContactChannel,
    ContactOutcome,
    Notification,
    StockOut,
    StockOutEvent,
    StockOutState,
)
from refunds.services import stockouts as services
from refunds.services.cases import case_close, case_reopen
from refunds.services.stockout_sweep import sweep_stockouts
from refunds.templatetags.refunds_tags import in_words
from refunds.timezones import CHINA
from tests.factories import OrderFactory


def run(*args) -> str:
    out = io.StringIO()
    call_command("sweep_stockouts", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _report(shop, warehouse, paid_hours_ago: float):
    """An order paid `paid_hours_ago` (the policy gives 72 hours to ship), out of stock."""
    order = OrderFactory(shop=shop, unshipped=True,
                         paid_at=timezone.now() - timedelta(hours=paid_hours_ago))
    return services.stockout_report(order=order, actor=warehouse, line=order.lines.get(),
                                    quantity=1, now=order.paid_at + timedelta(minutes=30))


def _tell(stockout, agent, at=None):
    return services.stockout_contact(stockout=stockout, actor=agent,
                                     channel=ContactChannel.PHONE,
                                     outcome=ContactOutcome.REACHED, note="告知缺货", now=at)


@pytest.fixture
def shop_policy(shop):
    policy = shop.policy
    assert (policy.ship_within_hours, policy.warning_hours) == (72, 24)
    return policy


def test_ship_by_near_and_nobody_told_the_buyer_warns_the_supervisors(
        shop_policy, shop, warehouse, supervisor, agent):
    near = _report(shop, warehouse, paid_hours_ago=60)  # 12 hours left to ship
    _report(shop, warehouse, paid_hours_ago=10)  # 62 hours left: not yet
    summary = run()
    assert "1 near their ship-by" in summary and "0 past the agreed date" in summary
    [notification] = Notification.objects.all()
    assert (notification.user, notification.stockout, notification.kind) == (
        supervisor, near, "stockout_due")
    assert notification.deadline_at == near.order.paid_at + timedelta(hours=72)
    assert "nobody has told the buyer" in in_words(notification)
    with translation.override("zh-hans"):
        assert "nobody has told the buyer" not in in_words(notification)
    # again: nobody is told twice, and the stock-out itself never changes
    assert "0 near their ship-by" in run()
    assert Notification.objects.count() == 1
    near.refresh_from_db()
    assert near.state == StockOutState.REPORTED
    assert StockOutEvent.objects.filter(stockout=near).count() == 1


def test_told_but_no_choice_warns_the_agent_who_spoke_to_the_buyer_too(
        shop_policy, shop, warehouse, supervisor, agent):
    stockout = _report(shop, warehouse, paid_hours_ago=80)  # already late
    _tell(stockout, agent)
    run()
    told = set(Notification.objects.filter(stockout=stockout).values_list("user__username",
                                                                           flat=True))
    assert told == {"supervisor", "agent"}
    assert "choice is not recorded yet" in in_words(Notification.objects.first())


def test_a_choice_recorded_is_not_warned_of_ship_by(shop_policy, shop, warehouse, supervisor,
                                                   agent):
    stockout = _report(shop, warehouse, paid_hours_ago=60)
    _tell(stockout, agent)
    services.stockout_buyer_agreed(stockout=stockout, actor=agent, remedy="wait",
                                   agreed_ship_by=timezone.now().astimezone(CHINA).date()
                                   + timedelta(days=2))
    assert "0 near their ship-by, 0 past the agreed date" in run()
    assert not Notification.objects.exists()


def test_the_agreed_date_passed_warns_once_per_date(shop_policy, shop, warehouse, supervisor,
                                                    agent):
    stockout = _report(shop, warehouse, paid_hours_ago=60)
    _tell(stockout, agent)
    today = timezone.now().astimezone(CHINA).date()
    services.stockout_buyer_agreed(stockout=stockout, actor=agent, remedy="wait",
                                   agreed_ship_by=today)
    assert "0 past the agreed date" in run()  # today is not over yet
    StockOut.objects.filter(pk=stockout.pk).update(agreed_ship_by=today - timedelta(days=1))
    summary = run()
    assert "1 past the agreed date" in summary and "2 notifications" in summary
    late = Notification.objects.filter(stockout=stockout, kind="stockout_late")
    assert {n.user.username for n in late} == {"agent", "supervisor"}
    day = today - timedelta(days=1)
    assert f"promised a shipment by {day.isoformat()}" in in_words(late.first())
    assert "0 past the agreed date" in run()
    # the buyer agrees to a new date, which passes too: warned again
    stockout.refresh_from_db()
    _tell(stockout, agent)
    services.stockout_buyer_agreed(stockout=stockout, actor=agent, remedy="wait",
                                   agreed_ship_by=today, note="再等一天")
    StockOut.objects.filter(pk=stockout.pk).update(agreed_ship_by=today - timedelta(days=2))
    assert "1 past the agreed date" in run()
    assert Notification.objects.filter(stockout=stockout, kind="stockout_late").count() == 4


def test_nobody_to_tell_is_reported_and_exits_1(shop_policy, shop, warehouse):
    stockout = _report(shop, warehouse, paid_hours_ago=70)  # no supervisor, no contact
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("sweep_stockouts", stdout=io.StringIO(), stderr=err)
    assert caught.value.returncode == 1
    assert "1 with nobody to tell" in str(caught.value)
    assert f"Stock-out #{stockout.pk}" in err.getvalue() and "nobody to tell" in err.getvalue()


def test_a_dry_run_counts_and_writes_nothing(shop_policy, shop, warehouse, supervisor):
    _report(shop, warehouse, paid_hours_ago=60)
    summary = run("--dry-run")
    assert "(dry run, nothing written)" in summary and "1 near their ship-by" in summary
    assert not Notification.objects.exists()
    assert not mail.outbox


def test_the_warning_is_emailed_after_commit(shop_policy, shop, warehouse, supervisor,
                                             django_capture_on_commit_callbacks):
    supervisor.email = "sup@example.com"
    supervisor.save()
    stockout = _report(shop, warehouse, paid_hours_ago=60)
    with django_capture_on_commit_callbacks(execute=True):
        result = sweep_stockouts()
    assert (result.due, result.notified) == (1, 1)
    [email] = mail.outbox
    assert email.to == ["sup@example.com"]
    assert f"/stock-outs/{stockout.pk}/" in email.body


def test_the_queue_lists_the_warning_with_a_link_to_the_stockout(client, shop_policy, shop,
                                                                 warehouse, supervisor):
    stockout = _report(shop, warehouse, paid_hours_ago=60)
    run()
    client.force_login(supervisor)
    page = client.get("/cases/").content.decode()
    assert f'href="/stock-outs/{stockout.pk}/">stock-out #{stockout.pk}</a>' in page
    assert "Out of stock: ship-by near" in page


def test_a_shop_the_user_no_longer_serves_hides_its_warning(client, shop_policy, shop,
                                                           other_shop, warehouse, supervisor):
    _report(shop, warehouse, paid_hours_ago=60)
    run()
    supervisor.staff_profile.shops.set([other_shop])
    client.force_login(supervisor)
    assert "stock-out #" not in client.get("/cases/").content.decode()


def _refund_then_close(shop, warehouse, agent, at):
    stockout = _report(shop, warehouse, paid_hours_ago=10)  # far from its ship-by
    _tell(stockout, agent)
    stockout = services.stockout_refund(stockout=stockout, actor=agent)
    case_close(case=stockout.case, actor=agent, reason=CloseReason.WITHDRAWN, now=at)
    return stockout


def test_a_refund_closed_unpaid_warns_once_per_closing(shop_policy, shop, warehouse, agent,
                                                       supervisor):
    closed_at = timezone.now() - timedelta(hours=1)
    stockout = _refund_then_close(shop, warehouse, agent, closed_at)
    summary = run()
    assert "1 with a refund closed unpaid" in summary and "2 notifications" in summary
    warned = Notification.objects.filter(stockout=stockout, kind="stockout_unpaid")
    assert {n.user.username for n in warned} == {"agent", "supervisor"}
    assert {n.deadline_at for n in warned} == {closed_at}
    said = in_words(warned.first())
    assert f"refund (case #{stockout.case_id}) was closed without paying them" in said
    with translation.override("zh-hans"):
        assert "closed without paying" not in in_words(warned.first())
    assert "0 with a refund closed unpaid" in run()
    # reopened for review (复核) and closed again: a new closing, warned again
    case_reopen(case=stockout.case, actor=supervisor, reason="买家申请复核")
    assert "0 with a refund closed unpaid" in run()  # open again: it may still pay
    case_close(case=stockout.case, actor=agent, reason=CloseReason.WITHDRAWN)
    assert "1 with a refund closed unpaid" in run()
    assert Notification.objects.filter(stockout=stockout, kind="stockout_unpaid").count() == 4
    stockout.refresh_from_db()
    assert stockout.state == StockOutState.REFUND  # the sweep changes no stock-out


def test_a_refund_closed_unpaid_is_not_warned_once_handled_or_shipped(
        shop_policy, shop, warehouse, agent, supervisor):
    handled = _refund_then_close(shop, warehouse, agent, timezone.now())
    services.stockout_refund_fell_through(stockout=handled, actor=agent)
    shipped = _refund_then_close(shop, warehouse, agent, timezone.now())
    shipped.order.status, shipped.order.shipped_at = "shipped", timezone.now()
    shipped.order.save()
    assert "0 with a refund closed unpaid" in run()
    assert not Notification.objects.filter(kind="stockout_unpaid").exists()


def test_the_refund_closed_unpaid_warning_has_its_badge(client, shop_policy, shop, warehouse,
                                                       agent, supervisor):
    stockout = _refund_then_close(shop, warehouse, agent, timezone.now())
    run()
    client.force_login(supervisor)
    page = client.get("/cases/").content.decode()
    assert f'href="/stock-outs/{stockout.pk}/">stock-out #{stockout.pk}</a>' in page
    assert "Out of stock: refund closed unpaid" in page


def test_sent_back_after_a_refund_closed_unpaid_the_old_contact_does_not_count(
        shop_policy, shop, warehouse, agent, supervisor):
    """Back to the buyer's choice near its ship-by: the warning says nobody told the buyer
    since (the contact before the refund does not let their choice be recorded)."""
    stockout = _report(shop, warehouse, paid_hours_ago=60)  # 12 hours left to ship
    _tell(stockout, agent)
    stockout = services.stockout_refund(stockout=stockout, actor=agent)
    case_close(case=stockout.case, actor=agent, reason=CloseReason.WITHDRAWN)
    services.stockout_refund_fell_through(stockout=stockout, actor=agent)
    assert "1 near their ship-by" in run()
    due = Notification.objects.filter(stockout=stockout, kind="stockout_due").first()
    assert "nobody has told the buyer" in in_words(due)
