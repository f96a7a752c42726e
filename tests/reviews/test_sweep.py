"""`manage.py sweep_reviews`: follow-ups for new 中差评, expiry, warnings; twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import call_command
from django.core.management.base import CommandError

from refunds.models import FollowUpEvent, Notification, ReviewFollowUp
from refunds.services import followups as svc
from refunds.services import review_sweep

from .conftest import T0, make_follow_up, make_review


@dataclass
class Run:
    out: str
    err: str
    code: int


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    def run(*args: str) -> Run:
        out, err = StringIO(), StringIO()
        code = 0
        with django_capture_on_commit_callbacks(execute=True):
            try:
                call_command("sweep_reviews", *args, stdout=out, stderr=err)
            except CommandError as error:
                code = error.returncode
                err.write(f"CommandError: {error}\n")
        return Run(out.getvalue(), err.getvalue(), code)

    return run


def _snapshot():
    return (list(ReviewFollowUp.objects.order_by("pk").values_list(
                "pk", "state", "warned_deadline_at")),
            FollowUpEvent.objects.count(), Notification.objects.count())


@pytest.fixture
def world(shop, agent, supervisor):
    """Past its window, warned-window, far away, finished, and a review without follow-up."""
    agent.email = "agent@example.com"
    agent.save()
    past = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=31), state="contacting")
    soon = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=28))
    svc.followup_assign(follow_up=soon, actor=agent, assignee=agent)
    unassigned_soon = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=27, hours=1))
    far = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=2))
    done = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=40), state="revised")
    appealed = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=40), state="appealed")
    missing = make_review(shop=shop, posted_at=T0 - timedelta(days=1), rating="neutral")
    return {"past": past, "soon": soon, "unassigned_soon": unassigned_soon, "far": far,
            "done": done, "appealed": appealed, "missing": missing}


def test_the_sweep_expires_warns_and_creates_and_a_second_run_changes_nothing(world, sweep,
                                                                              agent,
                                                                              supervisor):
    run = sweep()
    assert run.code == 0, run.err
    assert ("1 follow-ups created, 1 expired, 2 warned, 0 skipped, 0 failed."
            in run.out)
    states = {name: ReviewFollowUp.objects.get(pk=fu.pk).state
              for name, fu in world.items() if name != "missing"}
    assert states == {"past": "expired", "soon": "new", "unassigned_soon": "new", "far": "new",
                      "done": "revised", "appealed": "appealed"}
    expired = world["past"].events.latest("id")
    assert (expired.transition, expired.staff_number, expired.from_state) == (
        "expire", "SYSTEM", "contacting")
    assert ReviewFollowUp.objects.filter(review=world["missing"]).exists()
    # the assignee is warned; nobody assigned: the shop's supervisors
    warned = set(Notification.objects.values_list("user__username", "follow_up_id", "kind"))
    assert warned == {("agent", world["soon"].pk, "review_warning"),
                      ("supervisor", world["unassigned_soon"].pk, "review_warning")}
    notification = Notification.objects.get(user=agent)
    assert notification.deadline_at == world["soon"].deadline_at
    assert "until 2026-11-22 10:00 (2 days left)" in notification.message
    assert [m.to for m in mail.outbox] == [["agent@example.com"]]
    assert f"https://desk.example.com/reviews/{world['soon'].pk}/" in mail.outbox[0].body

    before = _snapshot()
    again = sweep()
    assert again.code == 0
    assert "0 follow-ups created, 0 expired, 0 warned, 0 skipped, 0 failed." in again.out
    assert _snapshot() == before
    assert len(mail.outbox) == 1


def test_a_dry_run_writes_nothing(world, sweep):
    before = _snapshot()
    run = sweep("--dry-run")
    assert "(dry run, nothing written): 1 follow-ups created, 1 expired, 2 warned" in run.out
    assert _snapshot() == before
    assert not mail.outbox


def test_the_warning_window_is_the_policys(shop, agent, sweep):
    shop.policy.review_warning_days = 10
    shop.policy.save()
    follow_up = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=21))  # 9 days left
    svc.followup_assign(follow_up=follow_up, actor=agent, assignee=agent)
    assert "1 warned" in sweep().out


def test_a_new_deadline_is_warned_again(shop, agent, sweep):
    follow_up = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=28))
    svc.followup_assign(follow_up=follow_up, actor=agent, assignee=agent)
    sweep()
    ReviewFollowUp.objects.filter(pk=follow_up.pk).update(
        deadline_at=follow_up.deadline_at + timedelta(hours=12))
    assert "1 warned" in sweep().out
    assert Notification.objects.filter(follow_up=follow_up).count() == 2


def test_a_failing_follow_up_is_reported_the_others_are_done_and_the_exit_is_1(
        world, sweep, monkeypatch):
    real = review_sweep.followup_warn

    def broken(*, follow_up, now, **options):
        if follow_up.pk == world["soon"].pk:
            raise RuntimeError("mail server on fire")
        return real(follow_up=follow_up, now=now, **options)

    monkeypatch.setattr(review_sweep, "followup_warn", broken)
    run = sweep()
    assert run.code == 1
    assert f"warn #{world['soon'].pk}: mail server on fire" in run.err
    assert "1 expired, 1 warned, 0 skipped, 1 failed." in run.err
    soon = ReviewFollowUp.objects.get(pk=world["soon"].pk)
    assert soon.warned_deadline_at is None  # rolled back alone: warned by the next run
    assert ReviewFollowUp.objects.get(pk=world["past"].pk).state == "expired"

    monkeypatch.setattr(review_sweep, "followup_warn", real)
    run = sweep()
    assert run.code == 0 and "1 warned" in run.out


def test_a_follow_up_someone_holds_is_left_for_the_next_run(world, sweep, monkeypatch):
    monkeypatch.setattr(review_sweep, "try_lock_followup", lambda pk: None)
    monkeypatch.setattr(svc, "try_lock_followups", lambda pks: {})  # the expiry's groups
    run = sweep()
    assert "0 expired, 0 warned, 3 skipped, 0 failed." in run.out
    assert ReviewFollowUp.objects.get(pk=world["past"].pk).state == "contacting"


def test_now_in_the_future_needs_a_dry_run(db, sweep):
    later = (T0 + timedelta(days=1)).isoformat()
    assert sweep("--now", later).code == 2
    assert sweep("--now", later, "--dry-run").code == 0
    assert sweep("--now", "tomorrow").code == 2


def test_the_sweep_as_of_an_earlier_time(world, sweep):
    run = sweep("--now", (T0 - timedelta(days=2)).isoformat())
    assert "0 expired" in run.out  # the window of "past" closed one day ago, not three


class RefusingBackend(EmailBackend):
    """The mail server refuses the agent's address."""

    def send_messages(self, messages):
        if any("agent@example.com" in message.to for message in messages):
            raise OSError("550 mailbox unavailable")
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True)  # real commits: the emails go before the exit
def test_an_email_that_could_not_be_sent_is_named_and_the_exit_is_1(
        world, sweep, settings, supervisor):
    settings.EMAIL_BACKEND = "tests.reviews.test_sweep.RefusingBackend"
    supervisor.email = "sup@example.com"
    supervisor.save()
    run = sweep()
    assert run.code == 1
    assert "Could not send the email to agent@example.com" in run.err
    assert "2 warned" in run.err  # the warnings are committed all the same
    assert ReviewFollowUp.objects.get(pk=world["soon"].pk).warned_deadline_at is not None
    # the unassigned follow-up's warning reached the supervisor
    assert [m.to for m in mail.outbox] == [["sup@example.com"]]


def test_the_sweeps_note_on_an_expired_follow_up_reads_in_the_readers_language(
        world, sweep, login, supervisor):
    from django.utils import translation

    with translation.override("en"):  # the cron job's language
        sweep()
    english = "The revision window passed: the review is final."
    event = FollowUpEvent.objects.filter(follow_up=world["past"], transition="expire").get()
    assert event.note == english  # the words of the moment are kept
    page = login(supervisor).get(f"/reviews/{world['past'].pk}/",
                                 HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    with translation.override("zh-hans"):
        chinese = translation.gettext(english)
    assert chinese != english and chinese in page and english not in page


def test_an_assignee_moved_to_another_shop_is_not_warned_the_supervisors_are(
        shop, other_shop, agent, supervisor, sweep):
    """The warning names the order: someone who left the shop hears nothing of it, and the
    follow-up is not left unwarned either: its shop's supervisors are told instead."""
    from refunds.models import StaffProfile

    agent.email = "agent@example.com"
    agent.save()
    follow_up = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=28))
    svc.followup_assign(follow_up=follow_up, actor=agent, assignee=agent)
    StaffProfile.objects.get(user=agent).shops.set([other_shop])

    assert "1 warned" in sweep().out

    told = Notification.objects.filter(follow_up=follow_up)
    assert [n.user.username for n in told] == [supervisor.username]
    assert "agent@example.com" not in [address for m in mail.outbox for address in m.to]
