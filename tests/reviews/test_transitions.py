"""Every follow-up transition, allowed and refused by state, role and shop, on the timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from refunds.exceptions import ActionNotAllowed, CaseChanged, PermissionDeniedError
from refunds.models import FollowUpEvent, FollowUpState, ReviewFollowUp
from refunds.services import followups as svc

from .conftest import T0, make_follow_up

ALL_STATES = list(FollowUpState.values)
OPEN = ["new", "contacting", "remedy_offered"]

# transition → (service call, states it may run from)
TRANSITIONS = {
    "start_contact": (lambda fu, actor, **kw: svc.followup_start_contact(
        follow_up=fu, actor=actor, **kw), ["new"]),
    "offer_remedy": (lambda fu, actor, **kw: svc.followup_offer_remedy(
        follow_up=fu, actor=actor, remedy="refund_only", amount="30.00", **kw),
        ["contacting", "remedy_offered"]),
    "mark_revised": (lambda fu, actor, **kw: svc.followup_mark_revised(
        follow_up=fu, actor=actor, **kw), OPEN),
    "buyer_refuse": (lambda fu, actor, **kw: svc.followup_buyer_refuse(
        follow_up=fu, actor=actor, **kw),
        ["contacting", "remedy_offered"]),
    "mark_unreachable": (lambda fu, actor, **kw: svc.followup_mark_unreachable(
        follow_up=fu, actor=actor, **kw), ["contacting", "remedy_offered"]),
    "appeal": (lambda fu, actor, **kw: svc.followup_appeal(
        follow_up=fu, actor=actor, evidence="同行：同一地址一周内三个差评", **kw),
        [*OPEN, "buyer_refused", "unreachable"]),
    "appeal_won": (lambda fu, actor, **kw: svc.followup_appeal_won(
        follow_up=fu, actor=actor, **kw), ["appealed"]),
    "appeal_lost": (lambda fu, actor, **kw: svc.followup_appeal_lost(
        follow_up=fu, actor=actor, **kw), ["appealed"]),
    "close": (lambda fu, actor, **kw: svc.followup_close(follow_up=fu, actor=actor, **kw),
              ["revised", "buyer_refused", "unreachable", "appeal_won", "appeal_lost",
               "expired"]),
}
SUPERVISOR_ONLY = {"appeal", "appeal_won", "appeal_lost"}
TARGET = {"start_contact": "contacting", "offer_remedy": "remedy_offered",
          "mark_revised": "revised", "buyer_refuse": "buyer_refused",
          "mark_unreachable": "unreachable", "appeal": "appealed", "appeal_won": "appeal_won",
          "appeal_lost": "appeal_lost", "close": "closed"}

CASES = [(name, state, state in sources)
         for name, (_call, sources) in TRANSITIONS.items() for state in ALL_STATES]


def _ready(follow_up: ReviewFollowUp) -> ReviewFollowUp:
    """Enough failed attempts for "unreachable"."""
    ReviewFollowUp.objects.filter(pk=follow_up.pk).update(failed_attempts=3)
    follow_up.refresh_from_db()
    return follow_up


@pytest.mark.parametrize("name, state, allowed", CASES,
                         ids=[f"{n}-from-{s}" for n, s, _a in CASES])
def test_each_transition_runs_only_from_its_states(shop, supervisor, name, state, allowed):
    follow_up = _ready(make_follow_up(shop=shop, state=state))
    service, _sources = TRANSITIONS[name]
    events_before = FollowUpEvent.objects.filter(follow_up=follow_up).count()
    if allowed:
        service(follow_up, supervisor, note="备注")
        follow_up.refresh_from_db()
        assert follow_up.state == TARGET[name]
        event = FollowUpEvent.objects.filter(follow_up=follow_up).latest("id")
        assert (event.kind, event.transition, event.from_state, event.to_state) == (
            "transition", name, state, TARGET[name])
        assert (event.actor, event.staff_number) == (supervisor, "S3001")
    else:
        with pytest.raises(ActionNotAllowed, match="is not possible: the follow-up is now"):
            service(follow_up, supervisor)
        follow_up.refresh_from_db()
        assert follow_up.state == state
        assert FollowUpEvent.objects.filter(follow_up=follow_up).count() == events_before


@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_agents_do_everything_but_appeals(shop, agent, name):
    service, sources = TRANSITIONS[name]
    follow_up = _ready(make_follow_up(shop=shop, state=sources[0]))
    if name in SUPERVISOR_ONLY:
        with pytest.raises(PermissionDeniedError):
            service(follow_up, agent)
        follow_up.refresh_from_db()
        assert follow_up.state == sources[0]
    else:
        service(follow_up, agent)
        follow_up.refresh_from_db()
        assert follow_up.state == TARGET[name]


@pytest.mark.parametrize("role", ["warehouse", "finance"])
@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_warehouse_and_finance_cannot_work_follow_ups(request, shop, role, name):
    user = request.getfixturevalue(role)
    service, sources = TRANSITIONS[name]
    follow_up = _ready(make_follow_up(shop=shop, state=sources[0]))
    with pytest.raises(PermissionDeniedError):
        service(follow_up, user)


@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_nobody_works_another_shops_follow_up(shop, roles, other_shop, name):
    from tests.factories import make_staff

    boss_b = make_staff("boss_b", "supervisor", other_shop, staff_number="S9001")
    service, sources = TRANSITIONS[name]
    follow_up = _ready(make_follow_up(shop=shop, state=sources[0]))
    with pytest.raises(PermissionDeniedError):
        service(follow_up, boss_b)
    follow_up.refresh_from_db()
    assert follow_up.state == sources[0]


def test_unreachable_only_after_the_policys_failed_attempts(shop, agent):
    follow_up = make_follow_up(shop=shop, state="contacting")
    ReviewFollowUp.objects.filter(pk=follow_up.pk).update(failed_attempts=2)
    with pytest.raises(ActionNotAllowed):
        svc.followup_mark_unreachable(follow_up=follow_up, actor=agent)
    shop.policy.review_unreachable_attempts = 2
    shop.policy.save()
    svc.followup_mark_unreachable(follow_up=follow_up, actor=agent)
    follow_up.refresh_from_db()
    assert follow_up.state == "unreachable"
    assert follow_up.events.latest("id").data == {"failed_attempts": 2}


def test_an_appeal_needs_evidence(shop, supervisor):
    follow_up = make_follow_up(shop=shop, state="buyer_refused")
    with pytest.raises(ActionNotAllowed, match="needs the evidence"):
        svc.followup_appeal(follow_up=follow_up, actor=supervisor, evidence="  ")
    svc.followup_appeal(follow_up=follow_up, actor=supervisor, evidence="买家索要200元否则差评")
    follow_up.refresh_from_db()
    assert follow_up.state == "appealed"
    assert follow_up.appeal_evidence == "买家索要200元否则差评"


def test_a_stale_page_is_refused(shop, agent):
    follow_up = make_follow_up(shop=shop, state="contacting")
    with pytest.raises(CaseChanged):
        svc.followup_mark_revised(follow_up=follow_up, actor=agent, expected_state="new")


def test_expiry_is_only_for_the_sweep_and_only_after_the_window(shop, agent, clock):
    follow_up = make_follow_up(shop=shop, posted_at=T0 - timedelta(days=10))
    assert follow_up.deadline_at == T0 + timedelta(days=20)
    # not a user transition: no page offers it, no user may take it
    assert "expire" not in {t.name for t in follow_up.get_available_user_state_transitions(
        agent)}
    with pytest.raises(ActionNotAllowed, match="has not passed yet"):
        svc.followup_expire(follow_up=follow_up)
    clock.move_to(follow_up.deadline_at + timedelta(minutes=1))
    svc.followup_expire(follow_up=follow_up)
    follow_up.refresh_from_db()
    assert follow_up.state == "expired"
    event = follow_up.events.latest("id")
    assert (event.staff_number, event.actor, event.to_state) == ("SYSTEM", None, "expired")


@pytest.mark.parametrize("state", ["revised", "buyer_refused", "unreachable", "appealed",
                                   "appeal_won", "appeal_lost", "expired", "closed"])
def test_only_open_follow_ups_expire(shop, clock, state):
    follow_up = make_follow_up(shop=shop, state=state)
    clock.move_to(follow_up.deadline_at + timedelta(days=1))
    with pytest.raises(ActionNotAllowed):
        svc.followup_expire(follow_up=follow_up)


# --- assignment and details --------------------------------------------------------------------


def test_agents_claim_and_supervisors_assign(shop, agent, supervisor, roles):
    from tests.factories import make_staff

    colleague = make_staff("agent2", "agent", shop, staff_number="A1002")
    follow_up = make_follow_up(shop=shop)
    svc.followup_assign(follow_up=follow_up, actor=agent, assignee=agent)
    with pytest.raises(ActionNotAllowed, match="already being handled"):
        svc.followup_assign(follow_up=follow_up, actor=colleague, assignee=colleague)
    with pytest.raises(PermissionDeniedError):
        svc.followup_assign(follow_up=follow_up, actor=agent, assignee=colleague)
    svc.followup_assign(follow_up=follow_up, actor=supervisor, assignee=colleague)
    follow_up.refresh_from_db()
    assert follow_up.assignee == colleague
    assert list(follow_up.events.filter(kind="assigned").values_list("staff_number", flat=True)
                ) == ["A1001", "S3001"]


def test_category_and_flag_changes_are_on_the_timeline(shop, agent, agent_b):
    follow_up = make_follow_up(shop=shop)
    assert (follow_up.flag, follow_up.category) == ("purple", "")
    svc.followup_update_details(follow_up=follow_up, actor=agent, category="quality",
                                flag="red")
    follow_up.refresh_from_db()
    assert (follow_up.category, follow_up.flag) == ("quality", "red")
    assert follow_up.events.get(kind="details").data == {"category": ["", "quality"],
                                                         "flag": ["purple", "red"]}
    with pytest.raises(PermissionDeniedError):
        svc.followup_update_details(follow_up=follow_up, actor=agent_b, category="size",
                                    flag="red")
    with pytest.raises(ActionNotAllowed):
        svc.followup_update_details(follow_up=follow_up, actor=agent, category="smell",
                                    flag="red")
