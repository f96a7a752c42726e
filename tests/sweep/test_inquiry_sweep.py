"""The nightly parcel-inquiry sweep (sweep_inquiries, 快递查询 / 改地址): a warning when the
buyer's answer is due within the shop's warning window (its warning hours, at most a quarter
of its reply hours: 18 of the 72 set here) or passed, one when the carrier did
not call back when promised; once per time; whoever opened it and the shop's supervisors are
told; nobody to tell is reported; it never changes an inquiry."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation
from django.utils.translation import gettext

from refunds.models import (
    ContactChannel,
    ContactOutcome,
    InquiryEvent,
    InquiryKind,
    InquiryOutcome,
    InquiryState,
    Notification,
    NotificationKind,
    ParcelInquiry,
    Policy,
)
from refunds.services import inquiries as services
from refunds.services import inquiry_sweep
from refunds.services.inquiry_sweep import sweep_inquiries
from refunds.templatetags.refunds_tags import in_words
from tests.factories import OrderFactory, make_staff

pytestmark = pytest.mark.django_db

REPLY_HOURS = 72  # long enough that every inquiry below was opened in the past
DUE = NotificationKind.INQUIRY_DUE
CALLBACK = NotificationKind.INQUIRY_CALLBACK


def run(*args) -> str:
    out = io.StringIO()
    call_command("sweep_inquiries", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def policy(shop):
    """The shop answers a buyer within 72 hours and warns 24 hours before: capped at a
    quarter of 72, 18 hours before."""
    policy = shop.policy
    assert policy.warning_hours == 24
    policy.inquiry_reply_hours = REPLY_HOURS
    policy.save()
    return policy


def _open(shop, actor, hours_left: float, kind=InquiryKind.WHERE, **kwargs) -> ParcelInquiry:
    """An inquiry on a shipped order of `shop` whose answer to the buyer is due in
    `hours_left` hours (negative: passed), opened through the service."""
    reply_hours = Policy.objects.get(shop=shop).inquiry_reply_hours
    opened = timezone.now() - timedelta(hours=reply_hours - hours_left)
    inquiry = services.inquiry_open(order=OrderFactory(shop=shop), actor=actor, kind=kind,
                                    question="物流三天没更新了", now=opened, **kwargs)
    assert abs(inquiry.reply_by - (timezone.now() + timedelta(hours=hours_left))) < timedelta(
        minutes=1)
    return inquiry


def _ask(inquiry, actor, *, asked_hours_ago: float, callback_in_hours: float,
         staff="851") -> ParcelInquiry:
    """The carrier was called `asked_hours_ago` and promised to call back by now +
    `callback_in_hours` (negative: that time passed)."""
    now = timezone.now()
    return services.inquiry_ask_carrier(
        inquiry=inquiry, actor=actor, carrier_staff=staff,
        callback_by=now + timedelta(hours=callback_in_hours),
        now=now - timedelta(hours=asked_hours_ago))


def _answer(inquiry, actor) -> ParcelInquiry:
    return services.inquiry_record_answer(inquiry=inquiry, actor=actor,
                                          outcome=InquiryOutcome.ON_THE_WAY,
                                          answer="中转站滞留，今天派送", carrier_staff="851")


def _told(inquiry_kind=None):
    return {(n.user.username, n.inquiry_id, n.kind, n.deadline_at)
            for n in Notification.objects.select_related("user")
            if inquiry_kind is None or n.kind == inquiry_kind}


# --- the answer due ---------------------------------------------------------------------------


def test_an_answer_due_warns_the_opener_and_the_shops_active_supervisors_once(
        policy, shop, other_shop, agent, supervisor):
    make_staff("sup_gone", "supervisor", shop, is_active=False)
    make_staff("sup_b", "supervisor", other_shop)
    make_staff("sup_both", "supervisor", shop, other_shop)
    make_staff("agent_a", "agent", shop)  # serves the shop, did not open it
    near = _open(shop, agent, hours_left=10)  # within the 24 hours
    passed = _open(shop, agent, hours_left=-2)  # the buyer is already waiting too long
    _open(shop, agent, hours_left=30)  # not yet
    events = InquiryEvent.objects.count()

    summary = run()
    assert ("2 with the answer due, 0 the carrier did not call back on, 6 notifications, "
            "0 with nobody to tell, 0 failed.") in summary
    assert _told() == {(user, inquiry.pk, DUE, inquiry.reply_by)
                       for inquiry in (near, passed)
                       for user in ("agent", "supervisor", "sup_both")}

    # again: nobody is told twice, and no inquiry changed
    assert "0 with the answer due, 0 the carrier did not call back on, 0 notifications" in run()
    assert Notification.objects.count() == 6
    assert InquiryEvent.objects.count() == events
    assert set(ParcelInquiry.objects.values_list("state", flat=True)) == {InquiryState.OPEN}


def test_an_opener_who_left_the_shop_or_was_deactivated_is_not_told(policy, shop, other_shop,
                                                                    agent, supervisor):
    moved = _open(shop, agent, hours_left=5)
    left = make_staff("agent_left", "agent", shop)
    gone = _open(shop, left, hours_left=5)
    agent.staff_profile.shops.set([other_shop])  # now works for the other shop
    left.is_active = False
    left.save(update_fields=["is_active"])
    run()
    assert _told() == {("supervisor", moved.pk, DUE, moved.reply_by),
                       ("supervisor", gone.pk, DUE, gone.reply_by)}


def test_a_supervisor_who_opened_it_is_told_once(policy, shop, supervisor):
    inquiry = _open(shop, supervisor, hours_left=5)
    assert "1 notifications" in run()
    assert _told() == {("supervisor", inquiry.pk, DUE, inquiry.reply_by)}


def test_each_shop_warns_by_its_own_hours(policy, shop, other_shop, supervisor):
    sup_b = make_staff("sup_b", "supervisor", other_shop)
    other_shop.policy.warning_hours = 2
    other_shop.policy.inquiry_reply_hours = REPLY_HOURS
    other_shop.policy.save()
    mine = _open(shop, supervisor, hours_left=10)
    _open(other_shop, sup_b, hours_left=10)  # 10 hours are not yet 2
    theirs_near = _open(other_shop, sup_b, hours_left=1)
    run()
    assert {n.inquiry_id for n in Notification.objects.all()} == {mine.pk, theirs_near.pk}


def test_closed_and_withdrawn_inquiries_are_not_warned(policy, shop, agent, supervisor):
    withdrawn = _open(shop, agent, hours_left=-1)
    services.inquiry_withdraw(inquiry=withdrawn, actor=agent, reason="包裹已经收到了")
    closed = _answer(_open(shop, agent, hours_left=-1), agent)
    services.inquiry_contact(inquiry=closed, actor=agent, channel=ContactChannel.PHONE,
                             outcome=ContactOutcome.REACHED, note="已告知买家")
    closed = services.inquiry_tell_buyer(inquiry=closed, actor=agent)
    assert {ParcelInquiry.objects.get(pk=pk).state for pk in (withdrawn.pk, closed.pk)} == {
        InquiryState.WITHDRAWN, InquiryState.CLOSED}
    assert "0 with the answer due, 0 the carrier did not call back on, 0 notifications" in run()
    assert not Notification.objects.exists()


def test_an_answered_inquiry_still_due_says_to_tell_the_buyer(policy, shop, agent, supervisor):
    unanswered = _open(shop, agent, hours_left=3)
    answered = _answer(_open(shop, agent, hours_left=3), agent)
    assert answered.state == InquiryState.ANSWERED  # still owed to the buyer
    assert "2 with the answer due" in run()
    told_unanswered = Notification.objects.filter(inquiry=unanswered, user=agent).get()
    told_answered = Notification.objects.filter(inquiry=answered, user=agent).get()
    assert told_answered.kind == DUE
    assert "the carrier answered" in in_words(told_answered)
    assert "tell them now" in in_words(told_answered)
    assert "not recorded" in in_words(told_unanswered)
    assert unanswered.order.platform_order_id in in_words(told_unanswered)
    assert f"#{unanswered.pk}" in in_words(told_unanswered)


# --- the carrier did not call back ------------------------------------------------------------


def test_a_carrier_silent_past_its_call_back_is_warned_once_per_call_back_time(
        policy, shop, agent, supervisor):
    inquiry = _open(shop, agent, hours_left=60)  # the buyer's answer is not due yet
    _ask(inquiry, agent, asked_hours_ago=3, callback_in_hours=2)
    assert "0 with the answer due, 0 the carrier did not call back on" in run()  # not yet

    inquiry = _ask(inquiry, agent, asked_hours_ago=2, callback_in_hours=-1, staff="851")
    summary = run()
    assert "0 with the answer due, 1 the carrier did not call back on, 2 notifications" in summary
    first = inquiry.callback_by
    assert _told() == {("agent", inquiry.pk, CALLBACK, first),
                       ("supervisor", inquiry.pk, CALLBACK, first)}
    words = in_words(Notification.objects.filter(user=agent).get())
    assert "851" in words and inquiry.order.platform_order_id in words
    assert "call them again" in words
    assert "0 the carrier did not call back on, 0 notifications" in run()  # once

    # asked again, with a new time that passes too: warned again, of the new time
    inquiry = _ask(inquiry, supervisor, asked_hours_ago=0.5, callback_in_hours=-0.25,
                   staff="852")
    assert "1 the carrier did not call back on, 2 notifications" in run()
    assert Notification.objects.filter(inquiry=inquiry, kind=CALLBACK).count() == 4
    assert set(Notification.objects.filter(kind=CALLBACK)
               .values_list("deadline_at", flat=True)) == {first, inquiry.callback_by}
    assert "852" in in_words(Notification.objects.filter(user=agent,
                                                         deadline_at=inquiry.callback_by).get())
    assert not Notification.objects.filter(kind=DUE).exists()


def test_an_answer_recorded_after_the_missed_call_back_is_not_warned_of(policy, shop, agent,
                                                                        supervisor):
    inquiry = _open(shop, agent, hours_left=60)
    inquiry = _ask(inquiry, agent, asked_hours_ago=2, callback_in_hours=-1)
    _answer(inquiry, agent)
    assert "0 the carrier did not call back on, 0 notifications" in run()
    assert not Notification.objects.exists()


# --- the run ----------------------------------------------------------------------------------


def test_a_dry_run_counts_and_writes_nothing(policy, shop, agent, supervisor,
                                             django_capture_on_commit_callbacks):
    agent.email = "agent@example.com"
    agent.save(update_fields=["email"])
    _open(shop, agent, hours_left=5)
    _ask(_open(shop, agent, hours_left=60), agent, asked_hours_ago=2, callback_in_hours=-1)
    with django_capture_on_commit_callbacks(execute=True):
        summary = run("--dry-run")
    assert ("(dry run, nothing written): 1 with the answer due, 1 the carrier did not call "
            "back on, 0 notifications") in summary
    assert not Notification.objects.exists()
    assert not mail.outbox
    result = sweep_inquiries(dry_run=True)
    assert (result.due, result.silent, result.notified, result.failed) == (1, 1, 0, 0)
    run()
    assert Notification.objects.count() == 4
    assert ("(dry run, nothing written): 0 with the answer due, 0 the carrier did not call "
            "back on") in run("--dry-run")


def test_only_a_dry_run_may_look_ahead(policy, shop, supervisor):
    ahead = (timezone.now() + timedelta(hours=20)).isoformat()
    with pytest.raises(CommandError) as caught:
        run("--now", ahead)
    assert caught.value.returncode == 2
    _open(shop, supervisor, hours_left=30)  # 10 hours left at `ahead`, 30 now
    assert "1 with the answer due" in run("--dry-run", "--now", ahead)
    assert "0 with the answer due" in run("--dry-run")
    assert not Notification.objects.exists()


def test_nobody_to_tell_exits_1_names_the_inquiry_and_the_others_are_still_warned(
        policy, shop, other_shop, agent):
    unheard = _open(shop, agent, hours_left=5)  # the shop has no supervisor
    agent.is_active = False
    agent.save(update_fields=["is_active"])
    sup_b = make_staff("sup_b", "supervisor", other_shop)
    other_shop.policy.inquiry_reply_hours = REPLY_HOURS
    other_shop.policy.save()
    heard = _open(other_shop, sup_b, hours_left=5)
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("sweep_inquiries", stdout=io.StringIO(), stderr=err)
    assert caught.value.returncode == 1
    assert ("1 with the answer due, 0 the carrier did not call back on, 1 notifications, "
            "1 with nobody to tell") in str(caught.value)
    assert f"Parcel inquiry #{unheard.pk}" in err.getvalue()
    assert unheard.order.platform_order_id in err.getvalue()
    assert "nobody to tell" in err.getvalue()
    assert _told() == {("sup_b", heard.pk, DUE, heard.reply_by)}


def test_one_inquiry_failing_is_counted_and_the_others_are_warned(policy, shop, agent,
                                                                  supervisor, monkeypatch):
    broken = _open(shop, agent, hours_left=2)
    fine = _open(shop, agent, hours_left=4)
    real = inquiry_sweep.recipients

    def recipients(inquiry):
        if inquiry.pk == broken.pk:
            raise RuntimeError("the database went away")
        return real(inquiry)

    monkeypatch.setattr(inquiry_sweep, "recipients", recipients)
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("sweep_inquiries", stdout=io.StringIO(), stderr=err)
    assert caught.value.returncode == 1
    assert "1 with the answer due" in str(caught.value) and "1 failed" in str(caught.value)
    assert f"#{broken.pk}: the database went away" in err.getvalue()
    assert {n.inquiry_id for n in Notification.objects.all()} == {fine.pk}


def test_the_warnings_are_emailed_after_commit(policy, shop, agent, supervisor,
                                               django_capture_on_commit_callbacks):
    make_staff("sup_no_mail", "supervisor", shop)
    for user in (agent, supervisor):
        user.email = f"{user.username}@example.com"
        user.save(update_fields=["email"])
    inquiry = _open(shop, agent, hours_left=5)
    with django_capture_on_commit_callbacks() as callbacks:
        summary = run()
    assert "3 notifications" in summary
    assert callbacks and not mail.outbox  # nothing left before the commit
    for callback in callbacks:
        callback()
    assert sorted(address for email in mail.outbox for address in email.to) == [
        "agent@example.com", "supervisor@example.com"]
    for email in mail.outbox:
        assert email.subject == "Parcel inquiry: the buyer's answer is due"
        assert f"/inquiries/{inquiry.pk}/" in email.body
        assert inquiry.order.platform_order_id in email.body
    with django_capture_on_commit_callbacks(execute=True):
        run()
    assert len(mail.outbox) == 2  # the second run sends nothing


def test_the_command_prints_progress_and_a_summary_line(policy, shop, agent, supervisor):
    _open(shop, agent, hours_left=1)
    _open(shop, agent, hours_left=2)
    _ask(_open(shop, agent, hours_left=60), agent, asked_hours_ago=2, callback_in_hours=-1)
    lines = run("--progress-every", "1").strip().splitlines()
    assert "inquiries whose answer is due: 1/2" in lines
    assert "inquiries whose answer is due: 2/2" in lines
    assert "inquiries the carrier did not call back on: 1/1" in lines
    assert re.fullmatch(
        r"Parcel-inquiry sweep as of \S+: 2 with the answer due, 1 the carrier did not call "
        r"back on, 6 notifications, 0 with nobody to tell, 0 failed\.", lines[-1]), lines[-1]
    quiet = run("-v", "0", "--progress-every", "1").strip().splitlines()
    assert len(quiet) == 1 and quiet[0].startswith("Parcel-inquiry sweep as of")


# --- the reader's language --------------------------------------------------------------------

DUE_MSGID = ("Parcel inquiry #%(id)s (order %(order)s): the buyer is to get an answer by "
             "%(deadline)s and the carrier's answer is not recorded: call the carrier, or "
             "tell the buyer where it stands.")
CALLBACK_MSGID = ("Parcel inquiry #%(id)s (order %(order)s): the carrier (%(staff)s) was to "
                  "call back by %(deadline)s and no answer is recorded: call them again.")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("msgid", [DUE_MSGID, CALLBACK_MSGID], ids=["due", "callback"])
def test_the_warning_is_read_in_chinese_by_a_chinese_reader(policy, shop, agent, supervisor,
                                                            msgid):
    with translation.override("zh-hans"):
        translated = gettext(msgid) != msgid
    if not translated:
        pytest.skip("the zh_Hans catalogue has no translation of this warning yet")
    inquiry = _open(shop, agent, hours_left=60 if msgid is CALLBACK_MSGID else 5)
    if msgid is CALLBACK_MSGID:
        _ask(inquiry, agent, asked_hours_ago=2, callback_in_hours=-1)
    with translation.override("en"):  # the cron job's language
        run()
        notification = Notification.objects.filter(user=agent).get()
        english = in_words(notification)
    assert not CJK.search(notification.message)  # the words of the moment, in English
    with translation.override("zh-hans"):
        chinese = in_words(notification)
    assert chinese != english and CJK.search(chinese)
    assert inquiry.order.platform_order_id in chinese and str(inquiry.pk) in chinese


def test_an_inquiry_answered_after_it_was_read_is_not_warned(policy, shop, agent, supervisor,
                                                             monkeypatch):
    """The sweep reads the due inquiries first; one answered and told before its turn comes
    (a colleague working while the sweep runs) is checked again under its lock and left."""
    inquiry = _open(shop, agent, hours_left=2)
    read = inquiry_sweep.inquiries_due(timezone.now())
    assert [row.pk for row in read] == [inquiry.pk]
    services.inquiry_withdraw(inquiry=inquiry, actor=agent, reason="包裹到了")
    monkeypatch.setattr(inquiry_sweep, "inquiries_due", lambda now: read)
    result = sweep_inquiries()
    assert result.due == 0 and result.notified == 0
    assert not Notification.objects.exists()
