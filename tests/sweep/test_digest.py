"""The sweep's emails: one digest per person per run, only for committed work; an address the
mail server refuses loses nobody else's email and is reported."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from refunds.exceptions import CaseChanged
from refunds.models import Case, CaseState, Notification, NotificationKind
from refunds.services import sweep as sweep_service
from refunds.services.notifications import Digest, DigestEntry
from refunds.services.sweep import sweep_deadlines

from .conftest import T0, mailed, refused, requested_refund


class RefusingBackend(EmailBackend):
    """The mail server refuses sup_a's address."""

    def send_messages(self, messages):
        if any("sup_a@example.com" in message.to for message in messages):
            raise OSError("550 mailbox unavailable")
        return super().send_messages(messages)


def test_a_refused_address_loses_nobody_elses_email_and_is_reported(
        shop, clock, people, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.sweep.test_digest.RefusingBackend"
    cases = [refused(shop) for _ in range(2)]
    clock.move_to(T0 + timedelta(days=30))
    with django_capture_on_commit_callbacks(execute=True):
        report = sweep_deadlines()
    assert report.applied_total == 2 and not report.failures
    assert report.email_failures == ["sup_a@example.com"]
    assert sorted(m.to[0] for m in mail.outbox) == ["sup_both@example.com"]
    assert {subject for _address, subject, _body in mailed(mail.outbox)} == {
        f"Case #{case.pk}: deadline passed, now Closed" for case in cases}
    # the in-app notifications are all there, sup_a's included
    assert Notification.objects.filter(user=people["sup_a"], case__in=cases).count() == 2


def test_one_digest_counts_cases_and_lists_each_notification(shop, clock, sweep, people):
    cases = [refused(shop) for _ in range(3)]
    clock.move_to(T0 + timedelta(days=30))
    sweep()
    digest = next(m for m in mail.outbox if m.to == ["sup_a@example.com"])
    assert "3 cases need attention" in digest.subject
    for case in cases:
        assert f"Case #{case.pk}: deadline passed" in digest.body
        # a link a mail client can open: the case's page on SITE_URL
        assert f"https://desk.example.com/cases/{case.pk}/" in digest.body


def test_a_long_digest_is_capped_and_says_how_many_more(db):
    digest = Digest(subject=lambda count: f"{count} cases",
                    more=lambda count: f"and {count} more")
    digest.add([DigestEntry("a@example.com", n, f"Case #{n}", "text")
                for n in range(Digest.MAX_ENTRIES + 5)])
    digest.send()
    [message] = mail.outbox
    assert message.subject == f"{Digest.MAX_ENTRIES + 5} cases"
    assert message.body.count("Case #") == Digest.MAX_ENTRIES
    assert message.body.endswith("and 5 more")
    assert digest.sent == 1 and not digest.entries


def test_nothing_is_emailed_for_a_group_that_was_rolled_back(shop, clock, sweep, people,
                                                            monkeypatch):
    victim = refused(shop)
    real_notify = sweep_service.notify_many

    def broken_notify(notices, **kwargs):
        real_notify(notices, **kwargs)  # its emails join the digest only if this commits
        if any(notice.case.pk == victim.pk and notice.kind == NotificationKind.DEADLINE_ACTION
               for notice in notices):
            raise RuntimeError("mail queue full")

    monkeypatch.setattr(sweep_service, "notify_many", broken_notify)
    clock.move_to(victim.deadline_at + timedelta(minutes=1))
    run = sweep()
    assert run.code == 1
    assert Case.objects.get(pk=victim.pk).state == CaseState.REFUSED
    # only the failure notice reached anyone, not the rolled-back "deadline passed"
    subjects = {subject for _address, subject, _body in mailed(mail.outbox)}
    assert subjects == {f"Case #{victim.pk}: the nightly sweep failed"}
    assert not Notification.objects.filter(case=victim,
                                           kind=NotificationKind.DEADLINE_ACTION).exists()


def test_a_case_found_changed_when_written_is_skipped_not_failed(shop, clock, sweep, people,
                                                                monkeypatch):
    case = requested_refund(shop)

    def changed(**kwargs):
        raise CaseChanged()

    monkeypatch.setattr(sweep_service, "cases_apply_platform_rules", changed)
    clock.move_to(case.deadline_at + timedelta(minutes=1))
    run = sweep()
    assert run.code == 0
    assert "skipped 1" in run.summary and run.summary.endswith("failed 0")
    assert not Notification.objects.filter(kind=NotificationKind.SWEEP_FAILURE).exists()


@pytest.mark.django_db(transaction=True)  # real commits: the digest is sent before the exit
def test_the_command_exits_1_and_names_the_address_when_an_email_could_not_be_sent(
        shop, clock, people, settings, sweep):
    """The work is committed, but the operator running it from cron must hear of it."""
    settings.EMAIL_BACKEND = "tests.sweep.test_digest.RefusingBackend"
    case = refused(shop)
    clock.move_to(T0 + timedelta(days=30))
    run = sweep()
    assert run.code == 1
    assert "Could not send the email to sup_a@example.com" in run.err
    assert "The email to 1 person could not be sent (listed above)." in run.err
    assert Case.objects.get(pk=case.pk).state == CaseState.CLOSED  # done all the same
    assert [m.to for m in mail.outbox] == [["sup_both@example.com"]]


def test_one_digest_email_per_person_per_run(shop, clock, sweep, people):
    refused(shop)  # due T0 + 7 days: closed by the run (its first phase)
    clock.move_to(T0 + timedelta(days=3))
    due_soon = requested_refund(shop)  # due T0 + 8 days: warned by the same run
    clock.move_to(due_soon.deadline_at - timedelta(hours=2))
    assert sweep().code == 0
    [digest] = [m for m in mail.outbox if m.to == ["sup_a@example.com"]]
    assert "deadline passed" in digest.body and "must act by" in digest.body
