"""Warnings before a deadline: the assignee and the shop's supervisors, once per deadline."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail

from refunds.models import Case, CaseEvent, Notification, NotificationKind
from refunds.services import cases as svc

from .conftest import MINUTE, mailed, requested_refund

WARNINGS = {"kind": NotificationKind.DEADLINE_WARNING}


def _claim(case, user):
    return svc.case_assign(case=case, actor=user, assignee=user)


def test_nobody_is_warned_before_the_window(shop, clock, sweep, people):
    case = requested_refund(shop)  # due in 5 days; the window is 24 hours
    clock.move_to(case.deadline_at - timedelta(hours=24) - MINUTE)
    run = sweep()
    assert "warned 0 cases (0 notifications)" in run.summary
    assert not Notification.objects.exists() and not mail.outbox
    case.refresh_from_db()
    assert case.warned_deadline_at is None


def test_assignee_and_the_shops_supervisors_are_warned_once(shop, other_shop, clock, sweep,
                                                            people):
    case = _claim(requested_refund(shop), people["assignee"])
    requested_refund(other_shop)  # its supervisors hear about it, not about shop A's case
    events = CaseEvent.objects.count()
    clock.move_to(case.deadline_at - timedelta(hours=5))

    run = sweep()

    assert run.code == 0
    assert "warned 2 cases (6 notifications)" in run.summary
    notes = Notification.objects.filter(case=case, **WARNINGS)
    # not: sup_b (other shop only), sup_gone (inactive), agent_a (not assigned)
    assert sorted(n.user.username for n in notes) == [
        "agent_x", "sup_a", "sup_both", "sup_no_mail"]
    assert all(n.deadline_at == case.deadline_at and n.read_at is None for n in notes)
    message = notes[0].message
    assert "must act by 2026-11-07 10:00" in message and "agree_shipped_days" in message
    assert case.order.platform_order_id in message

    # one email per person for the run, one entry per notification (a digest)
    assert sorted(address for m in mail.outbox for address in m.to) == [
        "agent_x@example.com", "sup_a@example.com", "sup_b@example.com", "sup_both@example.com"]
    entries = mailed(mail.outbox)
    mine = sorted(address for address, subject, _body in entries
                  if subject.startswith(f"Case #{case.pk}:"))
    assert mine == ["agent_x@example.com", "sup_a@example.com", "sup_both@example.com"]
    assert all(case.get_absolute_url() in body and "must act by" in body
               for _address, subject, body in entries if subject.startswith(f"Case #{case.pk}:"))
    other_mail = sorted(address for address, subject, _body in entries
                        if not subject.startswith(f"Case #{case.pk}:"))
    assert other_mail == ["sup_b@example.com", "sup_both@example.com"]
    both = next(m for m in mail.outbox if m.to == ["sup_both@example.com"])
    assert "2 cases need attention" in both.subject

    case.refresh_from_db()
    assert case.warned_deadline_at == case.deadline_at
    assert CaseEvent.objects.count() == events  # a warning is not a timeline event

    emails, notifications = len(mail.outbox), Notification.objects.count()
    clock.shift(timedelta(hours=1))
    again = sweep()
    assert "warned 0 cases (0 notifications)" in again.summary
    assert (len(mail.outbox), Notification.objects.count()) == (emails, notifications)


def test_a_supervisor_who_is_also_the_assignee_is_warned_once(shop, clock, sweep, people):
    case = _claim(requested_refund(shop), people["sup_a"])
    clock.move_to(case.deadline_at - timedelta(hours=1))
    sweep()
    assert Notification.objects.filter(case=case, user=people["sup_a"]).count() == 1
    assert [address for address, _subject, _body in mailed(mail.outbox)].count(
        "sup_a@example.com") == 1


def test_a_new_deadline_is_warned_again(shop, clock, sweep, people):
    case = requested_refund(shop)
    clock.move_to(case.deadline_at - timedelta(hours=2))
    sweep()
    first_deadline = case.deadline_at
    assert Notification.objects.filter(**WARNINGS).count() == 3

    # The platform moved the deadline (an import with a new 超时时间): a new warning is due.
    new_deadline = first_deadline + timedelta(hours=12)
    Case.objects.filter(pk=case.pk).update(deadline_at=new_deadline)
    emails = len(mail.outbox)
    run = sweep()
    assert "warned 1 cases (3 notifications)" in run.summary
    assert Notification.objects.filter(**WARNINGS).count() == 6
    assert set(Notification.objects.filter(**WARNINGS).values_list("deadline_at", flat=True)) == {
        first_deadline, new_deadline}
    assert len(mail.outbox) == emails + 2  # the two supervisors with an address
    assert all(f"Case #{case.pk}:" in body for body in (m.body for m in mail.outbox[emails:]))
    case.refresh_from_db()
    assert case.warned_deadline_at == new_deadline


def test_a_deadline_set_by_a_transition_is_warned_when_it_comes_near(shop, agent, clock, sweep,
                                                                     people):
    case = requested_refund(shop)
    clock.move_to(case.deadline_at - timedelta(hours=3))
    sweep()
    svc.case_refuse(case=case, actor=agent, reason="凭证不足")  # buyer has 7 days now
    case.refresh_from_db()
    assert "warned 0 cases" in sweep().summary
    clock.move_to(case.deadline_at - timedelta(hours=3))
    assert "warned 1 cases (3 notifications)" in sweep().summary


def test_the_window_is_the_shops_policy(shop, other_shop, clock, sweep, people):
    shop.policy.warning_hours = 72
    shop.policy.save()
    early = requested_refund(shop)
    late = requested_refund(other_shop)  # default 24 hours
    clock.move_to(early.deadline_at - timedelta(hours=48))
    sweep()
    assert Notification.objects.filter(case=early, **WARNINGS).exists()
    assert not Notification.objects.filter(case=late, **WARNINGS).exists()


def test_an_assignee_moved_to_another_shop_is_not_told_the_supervisors_are(
        shop, other_shop, clock, sweep, people):
    """The warning names the order: someone who no longer serves the shop (its cases are a
    404 to them) hears nothing of it, in the app or by email."""
    from refunds.models import StaffProfile

    moved = people["assignee"]
    case = _claim(requested_refund(shop), moved)
    StaffProfile.objects.get(user=moved).shops.set([other_shop])
    clock.move_to(case.deadline_at - timedelta(hours=5))

    run = sweep()

    assert run.code == 0
    notes = Notification.objects.filter(case=case, **WARNINGS)
    assert sorted(n.user.username for n in notes) == ["sup_a", "sup_both", "sup_no_mail"]
    assert "agent_x@example.com" not in [address for m in mail.outbox for address in m.to]


def test_an_assignee_moved_away_hears_nothing_when_the_deadline_passes(
        shop, other_shop, clock, sweep, people):
    from refunds.models import StaffProfile

    moved = people["assignee"]
    case = _claim(requested_refund(shop), moved)
    StaffProfile.objects.get(user=moved).shops.set([other_shop])
    clock.move_to(case.deadline_at + MINUTE)

    assert sweep().code == 0

    told = Notification.objects.filter(case=case, kind=NotificationKind.DEADLINE_ACTION)
    assert sorted(n.user.username for n in told) == ["sup_a", "sup_both", "sup_no_mail"]
