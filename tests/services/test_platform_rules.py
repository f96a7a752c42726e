"""The set-based platform rules (`cases_apply_platform_rules`, the nightly sweep's writes):
the same rows as the single-case services, the same checks, all in the caller's transaction."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django_fsm_log.models import StateLog

from refunds.bulk import insert_many
from refunds.exceptions import AmountError, CaseChanged
from refunds.fsmlog import batched_state_logs
from refunds.locks import try_lock_cases
from refunds.models import (
    Case,
    CaseEvent,
    CaseState,
    CloseReason,
    Notification,
    NotificationKind,
    Payout,
    Refund,
)
from refunds.services import cases as svc
from refunds.services.cases import PlatformStep, cases_apply_platform_rules
from tests.factories import OrderFactory, make_case
from tests.sweep.conftest import (
    refund_pending,
    refused,
    requested_refund,
    requested_return,
    return_in_transit,
)

pytestmark = pytest.mark.django_db

# Each case the sweep moves, the rule it applies, and the single-case service doing the same.
RULES = [
    (requested_refund, "agree", lambda case, note, now: svc.case_agree(
        case=case, actor=None, note=note, now=now)),
    (requested_return, "agree", lambda case, note, now: svc.case_agree(
        case=case, actor=None, note=note, now=now)),
    (refused, "close", lambda case, note, now: svc.case_close(
        case=case, actor=None, reason=CloseReason.TIMEOUT, note=note, now=now)),
    (return_in_transit, "platform_refund", lambda case, note, now: svc.case_platform_refund(
        case=case, amount=case.requested_amount, note=note, now=now)),
    # an approved refund waiting for finance: settled as paid by the platform, not paid twice
    (refund_pending, "platform_refund", lambda case, note, now: svc.case_platform_refund(
        case=case, amount=case.requested_amount, note=note, now=now)),
]


def _written(case: Case) -> dict:
    """What the services wrote for a case, without ids and creation times."""
    case.refresh_from_db()
    refunds = list(Refund.objects.filter(case=case).order_by("pk").values(
        "amount", "status", "payment_reference", "approved_by", "paid_at"))
    payouts = list(Payout.objects.filter(case=case).order_by("pk"))
    logs = StateLog.objects.filter(
        content_type=ContentType.objects.get_for_model(Case), object_id=case.pk)
    payout_logs = StateLog.objects.filter(
        content_type=ContentType.objects.get_for_model(Payout),
        object_id__in=[payout.pk for payout in payouts])
    return {
        "case": {name: getattr(case, name) for name in (
            "state", "deadline_at", "deadline_owner", "deadline_rule", "close_reason",
            "return_address")},
        "refunds": refunds,
        "payouts": [{name: getattr(payout, name) for name in (
            "kind", "amount", "state", "route", "reason", "payment_reference", "paid_at",
            "staff_number", "settled_staff_number", "refund_id")} | {
            "refund_id": payout.refund_id is not None} for payout in payouts],
        "events": list(CaseEvent.objects.filter(case=case, created_at__gte=NOW).order_by(
            "pk").values("kind", "transition", "from_state", "to_state", "staff_number",
                         "note", "data", "actor")),
        "logs": sorted(logs.values_list("transition", "source_state", "state", "by",
                                        "description")),
        "payout_logs": sorted(payout_logs.values_list("transition", "source_state", "state")),
    }


NOW = timezone.now() + timedelta(days=30)


def _bulk(steps, now=NOW):
    with transaction.atomic():
        held = try_lock_cases([step.case.pk for step in steps])
        for step in steps:
            step.case = held[step.case.pk][0]
        cases_apply_platform_rules(steps=steps, now=now)
    return steps


def test_every_rule_writes_what_its_single_case_service_writes(shop):
    note = "The deadline passed."
    pairs = []
    for build, transition, single in RULES:
        alone, grouped = build(shop), build(shop)
        expected_state = alone.state
        single(alone, note, NOW)
        pairs.append((alone, PlatformStep(case=grouped, transition=transition,
                                          expected_state=expected_state, note=note)))
    steps = _bulk([step for _alone, step in pairs])

    assert [step.error for step in steps] == [None] * len(RULES)
    for alone, step in pairs:
        assert _written(step.case) == _written(alone), step.transition
    states = [Case.objects.get(pk=step.case.pk).state for step in steps]
    assert states == [CaseState.REFUND_PENDING, CaseState.AWAITING_RETURN, CaseState.CLOSED,
                      CaseState.REFUNDED, CaseState.REFUNDED]
    settled = steps[-1].case
    assert Refund.objects.filter(case=settled).count() == 1  # settled, not a second refund
    assert Payout.objects.get(case=settled).state == "paid"


def test_money_rule_counts_what_earlier_cases_of_the_group_committed(shop):
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    first = make_case(order=order, amount="150.00")
    second = make_case(order=order, amount="150.00")  # fits alone, not after the first
    steps = _bulk([PlatformStep(case=case, transition="agree", expected_state="requested",
                                note="") for case in (first, second)])

    assert steps[0].error is None
    assert isinstance(steps[1].error, AmountError)
    assert "¥38.00" in str(steps[1].error.message)
    assert Case.objects.get(pk=second.pk).state == CaseState.REQUESTED
    assert not Refund.objects.filter(case=second).exists()
    assert not CaseEvent.objects.filter(case=second, transition="agree").exists()
    assert Refund.objects.get(case=first).amount == Decimal("150.00")


def test_a_case_no_longer_in_the_state_it_was_selected_in_is_left_alone(shop):
    case = requested_refund(shop)
    svc.case_refuse(case=case, actor=None, reason="凭证不足")
    steps = _bulk([PlatformStep(case=case, transition="agree", expected_state="requested",
                                note="")])
    assert isinstance(steps[0].error, CaseChanged)
    assert Case.objects.get(pk=case.pk).state == CaseState.REFUSED


@pytest.mark.django_db(transaction=True)
def test_it_needs_the_callers_transaction_holding_the_locks(shop):
    step = PlatformStep(case=requested_refund(shop), transition="agree",
                        expected_state="requested", note="")
    with pytest.raises(ValueError, match="transaction"):
        cases_apply_platform_rules(steps=[step])


def test_only_platform_rules_are_accepted(shop):
    step = PlatformStep(case=requested_refund(shop), transition="refuse",
                        expected_state="requested", note="")
    with pytest.raises(ValueError, match="not a platform rule"):
        _bulk([step])


def test_state_logs_of_a_batch_are_written_at_its_end_and_dropped_with_an_error(shop):
    case = requested_return(shop)
    before = StateLog.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic(), batched_state_logs():
        case.agree(by=None, description="x")
        assert StateLog.objects.count() == before  # collected, not written yet
        raise RuntimeError("the group fails")
    assert StateLog.objects.count() == before
    with transaction.atomic(), batched_state_logs():
        case.close(by=None, description="y")
    assert StateLog.objects.count() == before + 1


def test_insert_many_adapts_values_like_save(shop, agent):
    case = requested_refund(shop)
    deadline = timezone.now()
    insert_many([Notification(user=agent, case=case, kind=NotificationKind.DEADLINE_WARNING,
                              deadline_at=deadline + timedelta(hours=n), message=f"n{n}")
                 for n in range(3)])
    rows = Notification.objects.filter(case=case).order_by("message")
    assert [row.message for row in rows] == ["n0", "n1", "n2"]
    assert [row.deadline_at - deadline for row in rows] == [timedelta(hours=n) for n in range(3)]
    assert all(row.created_at is not None and row.read_at is None for row in rows)
    insert_many([])  # nothing to do
    with pytest.raises(TypeError):
        insert_many([Notification(user=agent, case=case, kind="x", message=""), case])


def test_insert_many_raises_integrity_error_on_a_duplicate(shop, agent):
    """notify_many relies on it to fall back to one notification at a time."""
    from django.db import IntegrityError

    case = requested_refund(shop)
    row = {"user": agent, "case": case, "kind": NotificationKind.DEADLINE_WARNING,
           "deadline_at": timezone.now(), "message": "once"}
    insert_many([Notification(**row)])
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_many([Notification(**row)])
    assert Notification.objects.filter(case=case).count() == 1


def test_insert_many_short_cut_prepares_every_value_as_the_full_path(shop, agent, monkeypatch):
    """bulk.row_values passes str, int and bool values of plain fields through unchanged; for
    rows of every model the sweep inserts, its values equal pre_save + get_db_prep_save."""
    from django.db import connection
    from django.utils import timezone as tz
    from django_fsm_log.models import StateLog

    from refunds.bulk import row_values, value_plan
    from refunds.models import CaseEvent, Payout, Refund

    now = tz.now()
    monkeypatch.setattr(tz, "now", lambda: now)  # auto_now_add: the same instant both ways
    case = requested_refund(shop)
    rows = [
        Notification(user=agent, case=case, kind=NotificationKind.DEADLINE_WARNING,
                     deadline_at=now, message="m", data={"code": "x", "n": 1}),
        CaseEvent(case=case, kind="transition", transition="agree", from_state="requested",
                  to_state="refund_pending", actor=None, staff_number="SYSTEM", note="",
                  data={"text": {"code": "y"}}),
        Refund(case=case, order=case.order, amount=Decimal("12.30"), approved_at=now),
        Payout(shop=shop, order=case.order, case=case, kind="refund", amount=Decimal("1.00"),
               reason="r", staff_number="SYSTEM"),
        StateLog(content_object=case, transition="agree", state="refund_pending",
                 source_state="requested", by=None),
    ]
    def comparable(values):  # psycopg's Jsonb wrapper compares by identity: its content
        return [value.obj if type(value).__name__ == "Jsonb" else value for value in values]

    for row in rows:
        fields = [f for f in type(row)._meta.concrete_fields if not f.primary_key]
        full = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields]
        short = row_values(value_plan(fields), row, connection)
        assert comparable(short) == comparable(full), type(row).__name__
