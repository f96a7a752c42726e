"""The nightly complaint sweep (sweep_complaints): the platform's ruling at the evidence
deadline, the warning before it, the money rule, a second run."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from refunds.models import Complaint, ComplaintEvent, Notification
from refunds.services import complaints as svc
from refunds.services.cases import case_agree
from refunds.services.complaint_sweep import sweep_complaints
from refunds.services.money import refundable_amount
from tests.factories import make_case, make_staff
from tests.services.test_complaints import record, with_evidence


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


def overdue(order, actor, **overrides) -> Complaint:
    """A complaint opened three days ago whose evidence was due an hour ago."""
    return record(order, actor, opened_at=timezone.now() - timedelta(days=3),
                  evidence_due_at=timezone.now() - timedelta(hours=1), **overrides)


def run(*args) -> str:
    out = io.StringIO()
    call_command("sweep_complaints", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_no_evidence_by_the_deadline_the_platform_rules_for_the_buyer(order, agent,
                                                                      supervisor):
    complaint = overdue(order, agent, amount_claimed="40.00")
    summary = run()
    assert "1 ruled for the buyer" in summary
    complaint.refresh_from_db()
    assert (complaint.state, complaint.refund_amount) == ("for_buyer", Decimal("40.00"))
    assert refundable_amount(order) == Decimal("148.00")
    event = ComplaintEvent.objects.get(complaint=complaint, kind="transition")
    assert (event.transition, event.staff_number, event.actor_id) == (
        "rule_for_buyer", "SYSTEM", None)
    assert "did not submit its evidence" in event.note
    told = set(Notification.objects.filter(complaint=complaint, kind="complaint_ruled")
               .values_list("user__username", flat=True))
    assert told == {"agent", "supervisor"}
    # a second run changes nothing and tells nobody again
    assert "0 ruled for the buyer" in run()
    assert ComplaintEvent.objects.filter(complaint=complaint, kind="transition").count() == 1
    assert Notification.objects.filter(complaint=complaint).count() == 2


def test_evidence_submitted_in_time_is_left_for_the_platform(order, agent):
    complaint = with_evidence(record(order, agent, opened_at=timezone.now() - timedelta(days=3),
                                     evidence_due_at=timezone.now() + timedelta(hours=1)),
                              agent)
    svc.complaint_submit_evidence(complaint=complaint, actor=agent)
    Complaint.objects.filter(pk=complaint.pk).update(
        evidence_due_at=timezone.now() - timedelta(hours=1))
    assert "0 ruled for the buyer" in run()
    complaint.refresh_from_db()
    assert complaint.state == "evidence"


def test_a_ruling_past_the_money_rule_is_not_recorded_and_is_reported(order, agent,
                                                                     supervisor):
    case_agree(case=make_case(order=order, amount="180.00"), actor=supervisor)
    complaint = overdue(order, agent, amount_claimed="20.00")  # ¥8 left
    with pytest.raises(CommandError) as caught:
        run()
    assert "1 not recorded (money rule)" in str(caught.value)
    complaint.refresh_from_db()
    assert complaint.state == "open" and complaint.refund_amount is None
    assert refundable_amount(order) == Decimal("8.00")
    notice = Notification.objects.get(complaint=complaint, user=supervisor)
    assert notice.kind == "complaint_unrecord"
    assert "could not be recorded" in notice.message


def test_a_warning_before_the_deadline_once(order, agent, supervisor,
                                            django_capture_on_commit_callbacks):
    for user in (agent, supervisor):
        user.email = f"{user.username}@example.com"
        user.save()
    complaint = record(order, agent, evidence_due_at=timezone.now() + timedelta(hours=10))
    later = record(order, agent, evidence_due_at=timezone.now() + timedelta(days=3))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert "1 warned" in run()
    notices = Notification.objects.filter(kind="complaint_warning")
    assert set(notices.values_list("complaint_id", flat=True)) == {complaint.pk}
    assert set(notices.values_list("user__username", flat=True)) == {"agent", "supervisor"}
    assert "9 hours left" in notices.first().message
    assert sorted(message.to[0] for message in mail.outbox) == [
        "agent@example.com", "supervisor@example.com"]
    assert f"/complaints/{complaint.pk}/" in mail.outbox[0].body
    assert "0 warned" in run()
    complaint.refresh_from_db()
    assert complaint.warned_due_at == complaint.evidence_due_at
    later.refresh_from_db()
    assert later.warned_due_at is None


def test_a_dry_run_writes_nothing(order, agent):
    complaint = overdue(order, agent)
    summary = run("--dry-run")
    assert "(dry run, nothing written)" in summary and "1 ruled for the buyer" in summary
    complaint.refresh_from_db()
    assert complaint.state == "open"
    assert not Notification.objects.exists()


def test_a_complaint_somebody_holds_is_left_for_the_next_run(order, agent, monkeypatch):
    complaint = overdue(order, agent)
    monkeypatch.setattr("refunds.services.complaint_sweep.try_lock_complaint", lambda pk: None)
    result = sweep_complaints()
    assert (result.ruled, result.skipped) == (0, 1)
    complaint.refresh_from_db()
    assert complaint.state == "open"


def test_one_failure_does_not_stop_the_others(order, agent, shop, monkeypatch):
    from tests.factories import OrderFactory

    first = overdue(order, agent)
    second = overdue(OrderFactory(shop=shop), agent)
    real = svc.complaint_platform_ruling

    def flaky(*, locked, now):
        if locked.pk == first.pk:
            raise RuntimeError("disk full")
        return real(locked=locked, now=now)

    monkeypatch.setattr("refunds.services.complaint_sweep.complaint_platform_ruling", flaky)
    result = sweep_complaints()
    assert (result.ruled, result.failed) == (1, 1)
    assert "disk full" in result.failures[0]
    assert Complaint.objects.get(pk=first.pk).state == "open"
    assert Complaint.objects.get(pk=second.pk).state == "for_buyer"


def test_a_handler_who_left_the_shop_is_not_told(order, agent, supervisor, other_shop):
    complaint = record(order, agent, evidence_due_at=timezone.now() + timedelta(hours=3))
    agent.staff_profile.shops.set([other_shop])
    run()
    assert set(Notification.objects.filter(complaint=complaint)
               .values_list("user__username", flat=True)) == {"supervisor"}


def test_the_future_is_only_for_a_dry_run(order, agent):
    ahead = (timezone.now() + timedelta(days=2)).isoformat()
    with pytest.raises(CommandError, match="only --dry-run may sweep ahead"):
        run("--now", ahead)
    assert "0 ruled" in run("--dry-run", "--now", ahead)


def test_a_new_staff_member_of_the_shop_is_not_a_recipient_without_a_role(order, agent, shop):
    make_staff("viewer", "finance", shop, staff_number="F9")
    complaint = record(order, agent, evidence_due_at=timezone.now() + timedelta(hours=3))
    run()
    assert "viewer" not in set(Notification.objects.filter(complaint=complaint)
                               .values_list("user__username", flat=True))


def test_the_dry_run_foresees_what_the_money_rule_will_refuse(order, agent, supervisor):
    case_agree(case=make_case(order=order, amount="150.00"), actor=supervisor)  # ¥38 left
    overdue(order, agent, amount_claimed="30.00")
    overdue(order, agent, amount_claimed="30.00")  # the first spends what this one needs
    overdue(order, agent)  # asks for nothing: ruled
    summary = run("--dry-run")
    assert "2 ruled for the buyer" in summary and "1 not recorded (money rule)" in summary
    with pytest.raises(CommandError) as caught:
        run()
    assert "2 ruled for the buyer" in str(caught.value)
    assert "1 not recorded (money rule)" in str(caught.value)


def test_the_platforms_ruling_reads_in_the_readers_language(order, agent):
    from django.test import Client

    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    case = make_case(order=order)
    complaint = overdue(order, agent, case=case)
    run()
    chinese = login(agent)
    chinese.cookies["django_language"] = "zh-hans"
    for url in (f"/complaints/{complaint.pk}/", f"/cases/{case.pk}/"):
        page = chinese.get(url).content.decode()
        assert "商家未在" in page and "did not submit its evidence" not in page, url
    english = login(agent).get(f"/complaints/{complaint.pk}/").content.decode()
    assert "did not submit its evidence" in english
