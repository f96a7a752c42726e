"""Quality photos (DOMAIN.md: "quality photos requested | buyer | 24 hours | case may be
refused"): asked for from the case page, the buyer's time counted, and the sweep tells the
case's people once when they did not come."""

from __future__ import annotations

from datetime import timedelta

import pytest

from refunds.events import PHOTOS_RECEIVED, PHOTOS_REQUESTED
from refunds.exceptions import ActionNotAllowed, PermissionDeniedError
from refunds.models import Case, CaseEvent, CaseState, Notification, NotificationKind
from refunds.services import cases as svc
from tests.factories import OrderFactory, make_case, make_staff

from .conftest import MINUTE, T0


@pytest.fixture
def request_case(shop, people):
    case = make_case(order=OrderFactory(shop=shop), amount="188.00")
    Case.objects.filter(pk=case.pk).update(assignee=people["assignee"])
    return Case.objects.get(pk=case.pk)


def test_asking_for_photos_gives_the_buyer_the_policys_hours(request_case, people, clock):
    deadline = request_case.deadline_at
    case = svc.case_request_photos(case=request_case, actor=people["assignee"],
                                   note="请拍摄开线处的照片")
    assert case.state == CaseState.REQUESTED
    assert (case.photos_requested_at, case.photos_due_at) == (T0, T0 + timedelta(hours=24))
    assert Case.objects.get(pk=case.pk).deadline_at == deadline  # the shop's clock runs on
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert event.actor == people["assignee"] and PHOTOS_REQUESTED in event.data
    assert "Asked the buyer for photos of the problem, due 2026-11-03 10:00" in event.note
    assert "请拍摄开线处的照片" in event.note


def test_the_policy_sets_the_hours(request_case, people, clock, shop):
    shop.policy.quality_photo_hours = 48
    shop.policy.save()
    case = svc.case_request_photos(case=request_case, actor=people["assignee"])
    assert case.photos_due_at == T0 + timedelta(hours=48)


def test_photos_are_asked_for_once_until_the_buyers_time_is_up(request_case, people, clock):
    agent = people["assignee"]
    svc.case_request_photos(case=request_case, actor=agent)
    with pytest.raises(ActionNotAllowed, match="already asked for, due 2026-11-03 10:00"):
        svc.case_request_photos(case=request_case, actor=agent)
    clock.move_to(T0 + timedelta(hours=25))
    again = svc.case_request_photos(case=request_case, actor=agent)
    assert again.photos_due_at == T0 + timedelta(hours=49)


def test_photos_only_while_the_request_waits_for_the_shop(shop, people, clock):
    case = svc.case_refuse(case=make_case(order=OrderFactory(shop=shop), amount="188.00"),
                           actor=None, reason="凭证不足")
    with pytest.raises(ActionNotAllowed, match="only while the request waits"):
        svc.case_request_photos(case=case, actor=people["assignee"])
    assert Case.objects.get(pk=case.pk).photos_requested_at is None


def test_nobody_asks_on_another_shops_case(request_case, roles, other_shop, clock):
    outsider = make_staff("outsider", "supervisor", other_shop)
    with pytest.raises(PermissionDeniedError):
        svc.case_request_photos(case=request_case, actor=outsider)
    assert Case.objects.get(pk=request_case.pk).photos_requested_at is None


def test_photos_received_are_recorded_once(request_case, people, clock):
    agent = people["assignee"]
    with pytest.raises(ActionNotAllowed, match="No photos are awaited"):
        svc.case_photos_received(case=request_case, actor=agent)
    svc.case_request_photos(case=request_case, actor=agent)
    clock.move_to(T0 + timedelta(hours=3))
    case = svc.case_photos_received(case=request_case, actor=agent, note="开线明显")
    assert case.photos_received_at == T0 + timedelta(hours=3)
    assert not case.photos_pending
    event = CaseEvent.objects.filter(case=case).latest("id")
    assert PHOTOS_RECEIVED in event.data and "开线明显" in event.note
    with pytest.raises(ActionNotAllowed):
        svc.case_photos_received(case=case, actor=agent)


# --- the sweep ---------------------------------------------------------------------------


def test_the_sweep_tells_the_cases_people_once_when_the_photos_did_not_come(
        request_case, people, clock, sweep):
    svc.case_request_photos(case=request_case, actor=people["assignee"])
    clock.move_to(T0 + timedelta(hours=24) - MINUTE)
    assert "Quality photos" not in sweep().out

    clock.move_to(T0 + timedelta(hours=24) + MINUTE)
    dry = sweep("--dry-run")
    assert "Quality photos not received in time: 1 case" in dry.out
    assert not Notification.objects.filter(kind=NotificationKind.PHOTOS_MISSING).exists()

    run = sweep()
    assert run.code == 0, run.err
    assert "Quality photos not received in time: 1 case (its people notified)." in run.out
    told = Notification.objects.filter(case=request_case, kind=NotificationKind.PHOTOS_MISSING)
    assert {n.user.username for n in told} == {"agent_x", "sup_a", "sup_both", "sup_no_mail"}
    assert all("may be refused (凭证不足)" in n.message for n in told)
    case = Case.objects.get(pk=request_case.pk)
    assert case.state == CaseState.REQUESTED  # the shop decides, the platform does not

    assert "Quality photos" not in sweep().out  # once
    assert told.count() == 4


def test_photos_received_in_time_or_a_decided_case_are_left_alone(request_case, people, shop,
                                                                   clock, sweep):
    svc.case_request_photos(case=request_case, actor=people["assignee"])
    svc.case_photos_received(case=request_case, actor=people["assignee"])
    refused = make_case(order=OrderFactory(shop=shop), amount="188.00")
    svc.case_request_photos(case=refused, actor=people["assignee"])
    svc.case_refuse(case=refused, actor=people["assignee"], reason="凭证不足")
    clock.move_to(T0 + timedelta(hours=30))
    assert "Quality photos" not in sweep().out
    assert not Notification.objects.filter(kind=NotificationKind.PHOTOS_MISSING).exists()


# --- a new request, a decided one, a dry run, a failure ---------------------------------


def test_a_request_entered_again_awaits_no_photos_of_the_old_one(request_case, people, clock,
                                                                 sweep, supervisor):
    """Refused, then modified by the buyer: a new request; the old one's photos are not
    awaited (nor reported missing) on it. The same after 复核 (reopen)."""
    svc.case_request_photos(case=request_case, actor=people["assignee"])
    svc.case_refuse(case=request_case, actor=people["assignee"], reason="凭证不足")
    case = svc.case_buyer_modify(case=request_case, actor=None, requested_amount="100.00")
    assert (case.photos_requested_at, case.photos_due_at) == (None, None)
    stored = Case.objects.get(pk=case.pk)
    assert (stored.photos_requested_at, stored.photos_due_at, stored.photos_reminded_at) == (
        None, None, None)
    assert not stored.photos_pending
    clock.move_to(T0 + timedelta(hours=25))
    assert "Quality photos" not in sweep().out
    assert not Notification.objects.filter(kind=NotificationKind.PHOTOS_MISSING).exists()

    svc.case_request_photos(case=stored, actor=people["assignee"])
    svc.case_photos_received(case=stored, actor=people["assignee"])
    closed = svc.case_close(case=stored, actor=people["assignee"], reason="withdrawn")
    reopened = svc.case_reopen(case=closed, actor=supervisor, reason="买家申请复核")
    stored = Case.objects.get(pk=reopened.pk)
    assert (stored.photos_requested_at, stored.photos_received_at) == (None, None)
    svc.case_request_photos(case=stored, actor=people["assignee"])  # asked again, anew
    assert Case.objects.get(pk=stored.pk).photos_pending


def test_photos_asked_for_on_a_decided_case_are_no_warning(request_case, people, clock):
    svc.case_request_photos(case=request_case, actor=people["assignee"])
    agreed = svc.case_agree(case=request_case, actor=people["assignee"])
    clock.move_to(T0 + timedelta(hours=25))
    agreed = Case.objects.get(pk=agreed.pk)
    assert agreed.photos_pending and not agreed.photos_awaited
    assert not agreed.photos_overdue


def test_the_page_and_the_sweep_agree_on_the_due_minute(request_case, people, clock, sweep):
    svc.case_request_photos(case=request_case, actor=people["assignee"])
    clock.move_to(T0 + timedelta(hours=24))  # exactly due: not yet late anywhere
    case = Case.objects.get(pk=request_case.pk)
    assert not case.photos_overdue
    assert "Quality photos" not in sweep().out
    with pytest.raises(ActionNotAllowed, match="already asked for"):
        svc.case_request_photos(case=case, actor=people["assignee"])
    clock.move_to(T0 + timedelta(hours=24) + timedelta(seconds=1))
    assert Case.objects.get(pk=request_case.pk).photos_overdue
    assert "Quality photos not received in time: 1 case" in sweep().out


def test_the_dry_run_does_not_count_a_request_the_run_decides_first(request_case, people,
                                                                      clock, sweep):
    """The shop's deadline and the buyer's photos both passed: the run auto-agrees the
    request first, so nobody is told its photos are missing; the dry run says the same."""
    svc.case_request_photos(case=request_case, actor=people["assignee"])
    waiting = make_case(order=OrderFactory(shop=request_case.shop), amount="88.00")
    svc.case_request_photos(case=waiting, actor=people["assignee"])
    deadline = Case.objects.get(pk=request_case.pk).deadline_at
    Case.objects.filter(pk=waiting.pk).update(deadline_at=deadline + timedelta(days=30))
    clock.move_to(max(deadline, T0 + timedelta(hours=24)) + MINUTE)

    dry = sweep("--dry-run")
    assert "Quality photos not received in time: 1 case (its people would be notified)." in (
        dry.out)
    run = sweep()
    assert "Quality photos not received in time: 1 case (its people notified)." in run.out
    assert Case.objects.get(pk=request_case.pk).state != CaseState.REQUESTED
    told = Notification.objects.filter(kind=NotificationKind.PHOTOS_MISSING)
    assert {n.case_id for n in told} == {waiting.pk}


def test_a_failing_photos_notice_stays_with_its_case(request_case, people, clock, sweep,
                                                     monkeypatch):
    from refunds.services import sweep as sweep_service

    svc.case_request_photos(case=request_case, actor=people["assignee"])
    other = make_case(order=OrderFactory(shop=request_case.shop), amount="88.00")
    svc.case_request_photos(case=other, actor=people["assignee"])
    Case.objects.filter(pk__in=[request_case.pk, other.pk]).update(
        deadline_at=T0 + timedelta(days=30))
    real_notify = sweep_service.notify_many

    def broken_notify(notices, **kwargs):
        if any(notice.case.pk == request_case.pk for notice in notices):
            raise RuntimeError("mail queue full")
        return real_notify(notices, **kwargs)

    monkeypatch.setattr(sweep_service, "notify_many", broken_notify)
    clock.move_to(T0 + timedelta(hours=25))
    run = sweep()
    assert run.code == 1
    assert (f"case #{request_case.pk}: quality photos missing: FAILED "
            "(RuntimeError: mail queue full)") in run.err
    assert "Quality photos not received in time: 1 case" in run.out
    assert Case.objects.get(pk=other.pk).photos_reminded_at is not None
    assert Case.objects.get(pk=request_case.pk).photos_reminded_at is None  # told next night
    told = Notification.objects.filter(kind=NotificationKind.PHOTOS_MISSING)
    assert {n.case_id for n in told} == {other.pk}
