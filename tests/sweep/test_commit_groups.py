"""The sweep commits its cases in groups (issue 6): the same result as one transaction per
case, a failing case still rolls back alone, and a group that cannot commit is done again
case by case."""

from __future__ import annotations

from datetime import timedelta

from refunds.models import Case, CaseEvent, CaseState
from refunds.services import sweep as sweep_service

from .conftest import T0, awaiting_return, refused, requested_refund, requested_return


def _cases(shop):
    return [build(shop) for build in (requested_refund, requested_return, refused,
                                      awaiting_return)]


def _states(cases):
    return [Case.objects.get(pk=case.pk).state for case in cases]


def _sweep_transitions(cases) -> int:
    """Timeline rows the sweep wrote (the set-up's own agree happened at T0)."""
    return CaseEvent.objects.filter(case__in=cases, staff_number="SYSTEM", created_at__gt=T0,
                                    transition__in=["agree", "close"]).count()


EXPECTED = [CaseState.REFUND_PENDING, CaseState.AWAITING_RETURN, CaseState.CLOSED,
            CaseState.CLOSED]


def test_one_transaction_per_case_gives_the_same_result(shop, clock, sweep):
    cases = _cases(shop)
    clock.move_to(T0 + timedelta(days=30))
    run = sweep("--commit-every", "1")
    assert run.code == 0 and run.summary.startswith("applied 4 ")
    assert _states(cases) == EXPECTED


def test_groups_of_two_give_the_same_result(shop, clock, sweep):
    cases = _cases(shop)
    clock.move_to(T0 + timedelta(days=30))
    run = sweep("--commit-every", "2")
    assert run.code == 0 and run.summary.startswith("applied 4 ")
    assert _states(cases) == EXPECTED
    assert _sweep_transitions(cases) == 4


def test_commit_every_must_be_positive(db, sweep):
    run = sweep("--commit-every", "0")
    assert run.code == 2 and "--commit-every" in run.err


def test_a_group_that_fails_is_done_again_case_by_case(shop, clock, sweep, monkeypatch):
    cases = _cases(shop)
    clock.move_to(T0 + timedelta(days=30))

    real_lock = sweep_service.try_lock_cases

    def broken(case_ids):
        if len(case_ids) > 1:  # the group's lock fails; one case at a time works
            raise RuntimeError("the group's lock query failed")
        return real_lock(case_ids)

    monkeypatch.setattr(sweep_service, "try_lock_cases", broken)
    run = sweep()
    assert run.code == 0 and run.summary.startswith("applied 4 ")
    assert _states(cases) == EXPECTED
    assert _sweep_transitions(cases) == 4  # once each, not twice
