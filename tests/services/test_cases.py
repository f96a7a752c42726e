"""The case state machine through its services: every transition allowed and refused by
state, by role and by shop; the timeline row each one writes; 极速退款; 七天无理由."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from django_fsm_log.models import StateLog

from refunds.exceptions import ActionNotAllowed, CaseChanged, PermissionDeniedError
from refunds.models import Case, CaseEvent, CaseKind, CaseReason, CaseState, Refund
from refunds.services import cases as svc
from refunds.services import exchanges as exchange_svc
from tests.factories import OrderFactory, make_case, make_staff

# How to take every transition with valid input.
CALLS = {
    "agree": lambda case, actor: svc.case_agree(case=case, actor=actor),
    "refuse": lambda case, actor: svc.case_refuse(case=case, actor=actor, reason="凭证不足"),
    "buyer_modify": lambda case, actor: svc.case_buyer_modify(case=case, actor=actor),
    "record_return_shipment": lambda case, actor: svc.case_record_return_shipment(
        case=case, actor=actor, carrier="顺丰速运", tracking_no="SF1234567890"),
    "receive": lambda case, actor: svc.case_receive(case=case, actor=actor, resellable=True),
    "approve_refund": lambda case, actor: svc.case_approve_refund(case=case, actor=actor),
    "mark_refunded": lambda case, actor: svc.case_mark_refunded(
        case=case, actor=actor, payment_reference="ALIPAY-001"),
    "mark_refund_failed": lambda case, actor: svc.case_mark_refund_failed(
        case=case, actor=actor, reason="账户异常"),
    "retry_refund": lambda case, actor: svc.case_retry_refund(case=case, actor=actor),
    "close": lambda case, actor: svc.case_close(case=case, actor=actor, reason="withdrawn"),
    # a further amount: a case that refunded must say what more the buyer asks for
    "reopen": lambda case, actor: svc.case_reopen(case=case, actor=actor, reason="买家申请复核",
                                                  requested_amount="50.00"),
    "ship_replacement": lambda case, actor: exchange_svc.case_ship_replacement(
        case=case, actor=actor, carrier="顺丰速运", tracking_no="SF9988776655"),
    "complete_exchange": lambda case, actor: exchange_svc.case_complete_exchange(
        case=case, actor=actor),
    "open_dispute": lambda case, actor: svc.case_open_dispute(
        case=case, actor=actor, note="买家申请平台介入"),
    "submit_dispute_evidence": lambda case, actor: svc.case_submit_dispute_evidence(
        case=case, actor=actor, note="聊天记录与质检照片"),
    "dispute_for_buyer": lambda case, actor: svc.case_dispute_for_buyer(case=case, actor=actor),
    "dispute_for_shop": lambda case, actor: svc.case_dispute_for_shop(case=case, actor=actor),
    "dispute_return_first": lambda case, actor: svc.case_dispute_return_first(case=case,
                                                                              actor=actor),
}

# The expected machine, written out by hand (not read from the code under test).
ALLOWED_FROM = {
    "agree": {"requested"},
    "refuse": {"requested", "received"},
    "buyer_modify": {"refused"},
    "record_return_shipment": {"awaiting_return"},
    "receive": {"awaiting_return", "return_in_transit"},
    "approve_refund": {"received"},
    "mark_refunded": {"refund_pending"},
    "mark_refund_failed": {"refund_pending"},
    "retry_refund": {"refund_failed"},
    "close": {"requested", "refused", "awaiting_return", "return_in_transit", "in_dispute"},
    "reopen": {"refunded", "closed"},
    "ship_replacement": {"received"},  # exchanges only
    "complete_exchange": {"replacement_shipped"},
    "open_dispute": {"requested", "refused", "awaiting_return", "return_in_transit",
                     "received"},
    "submit_dispute_evidence": {"in_dispute"},
    "dispute_for_buyer": {"in_dispute"},
    "dispute_for_shop": {"in_dispute"},
    "dispute_return_first": {"in_dispute"},  # returns and exchanges only
}
TARGET = {
    "agree": "refund_pending",  # refund-only; returns go to awaiting_return (tested below)
    "refuse": "refused",
    "buyer_modify": "requested",
    "record_return_shipment": "return_in_transit",
    "receive": "received",
    "approve_refund": "refund_pending",
    "mark_refunded": "refunded",
    "mark_refund_failed": "refund_failed",
    "retry_refund": "refund_pending",
    "close": "closed",
    "reopen": "requested",
    "ship_replacement": "replacement_shipped",
    "complete_exchange": "completed",
    "open_dispute": "in_dispute",
    "submit_dispute_evidence": "in_dispute",
    "dispute_for_buyer": "refunded",
    "dispute_for_shop": "closed",
    "dispute_return_first": "awaiting_return",  # a parcel already sent: in transit (below)
}
ALLOWED_ROLES = {
    "agree": {"agent", "supervisor", "manager"},
    "refuse": {"agent", "supervisor", "manager"},
    "buyer_modify": {"agent", "supervisor", "manager"},
    "record_return_shipment": {"agent", "supervisor", "warehouse", "manager"},
    "receive": {"warehouse", "manager"},
    "approve_refund": {"agent", "supervisor", "manager"},
    "mark_refunded": {"finance", "manager"},
    "mark_refund_failed": {"finance", "manager"},
    "retry_refund": {"finance", "manager"},
    "close": {"agent", "supervisor", "manager"},
    "reopen": {"supervisor", "manager"},
    "ship_replacement": {"agent", "supervisor", "warehouse", "manager"},
    "complete_exchange": {"agent", "supervisor", "manager"},
    "open_dispute": {"agent", "supervisor", "manager"},
    "submit_dispute_evidence": {"agent", "supervisor", "manager"},
    "dispute_for_buyer": {"supervisor", "manager"},
    "dispute_for_shop": {"supervisor", "manager"},
    "dispute_return_first": {"supervisor", "manager"},
}
ROLES = ["agent", "supervisor", "warehouse", "finance", "manager"]
STATES = [s.value for s in CaseState]

# The path to each state, taken as "system" (actor=None).
PATHS = {
    "requested": (CaseKind.REFUND_ONLY, []),
    "refused": (CaseKind.REFUND_ONLY, ["refuse"]),
    "awaiting_return": (CaseKind.RETURN, ["agree"]),
    "return_in_transit": (CaseKind.RETURN, ["agree", "record_return_shipment"]),
    "received": (CaseKind.RETURN, ["agree", "record_return_shipment", "receive"]),
    "refund_pending": (CaseKind.REFUND_ONLY, ["agree"]),
    "refund_failed": (CaseKind.REFUND_ONLY, ["agree", "mark_refund_failed"]),
    "refunded": (CaseKind.REFUND_ONLY, ["agree", "mark_refunded"]),
    "closed": (CaseKind.REFUND_ONLY, ["close"]),
    "replacement_shipped": (CaseKind.EXCHANGE, ["agree", "record_return_shipment", "receive",
                                                "ship_replacement"]),
    "completed": (CaseKind.EXCHANGE, ["agree", "record_return_shipment", "receive",
                                      "ship_replacement", "complete_exchange"]),
    "in_dispute": (CaseKind.REFUND_ONLY, ["refuse", "open_dispute"]),
}

# Transitions that need an exchange case (换货) in the state they start from.
EXCHANGE_ONLY = {"ship_replacement", "complete_exchange"}
# … and one that needs goods to return (a return or an exchange) in dispute.
RETURN_RULINGS = {"dispute_return_first"}


def choose_replacement(case: Case) -> None:
    """An exchange ships only once its replacement is chosen (same price: nothing owed)."""
    exchange_svc.exchange_choose_replacement(case=case, actor=None, title="同款 L 码",
                                             sku="TS-L", price=case.requested_amount)


def kind_for(name: str, state: str) -> str | None:
    if name in EXCHANGE_ONLY and state == "received":
        return CaseKind.EXCHANGE
    if name == "approve_refund" or (name in RETURN_RULINGS and state == "in_dispute"):
        return CaseKind.RETURN
    return None


def case_in_state(shop, state: str, kind: str | None = None) -> Case:
    path_kind, steps = PATHS[state]
    if kind is not None and kind != path_kind and state in ("refund_pending", "refunded"):
        steps = ["agree", "record_return_shipment", "receive", "approve_refund"] + steps[1:]
    # paid more than the case asks for: a refunded case's 复核 has room for a further amount
    case = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("300.00")),
                     kind=kind or path_kind, amount=Decimal("188.00"))
    for step in steps:
        if step == "ship_replacement":
            choose_replacement(case)
        case = CALLS[step](case, None)
    if case.kind == CaseKind.EXCHANGE and state == "received":
        choose_replacement(case)
    assert case.state == state
    return Case.objects.get(pk=case.pk)


def test_every_state_is_reachable_and_covered(shop):
    assert set(PATHS) == set(STATES)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", list(CALLS))
def test_transition_allowed_only_from_its_states(shop, name, state):
    kind = CaseKind.RETURN if name in ("approve_refund", "receive", "record_return_shipment") \
        and state not in ("refund_pending", "refund_failed", "refunded", "closed", "refused",
                          "requested", "replacement_shipped", "completed") else None
    if name in EXCHANGE_ONLY and state == "received":
        kind = CaseKind.EXCHANGE
    if name in RETURN_RULINGS and state == "in_dispute":
        kind = CaseKind.RETURN
    case = case_in_state(shop, state, kind)
    events_before = CaseEvent.objects.filter(case=case).count()
    if state in ALLOWED_FROM[name]:
        result = CALLS[name](case, None)
        assert result.state == TARGET[name]
        assert Case.objects.get(pk=case.pk).state == TARGET[name]
        assert CaseEvent.objects.filter(case=case).count() == events_before + 1
    else:
        with pytest.raises(ActionNotAllowed):
            CALLS[name](case, None)
        assert Case.objects.get(pk=case.pk).state == state
        assert CaseEvent.objects.filter(case=case).count() == events_before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CALLS))
def test_transition_allowed_only_for_its_roles(roles, shop, name, role):
    state = sorted(ALLOWED_FROM[name])[0]
    case = case_in_state(shop, state, kind_for(name, state))
    user = make_staff(f"{role}-user", role, shop)
    if role in ALLOWED_ROLES[name]:
        assert CALLS[name](case, user).state == TARGET[name]
        event = CaseEvent.objects.filter(case=case, transition=name).get()
        assert event.actor == user
        assert event.staff_number == f"{role}-user".upper()
    else:
        with pytest.raises(PermissionDeniedError):
            CALLS[name](case, user)
        assert Case.objects.get(pk=case.pk).state == state
        assert not CaseEvent.objects.filter(case=case, transition=name).exists()


@pytest.mark.parametrize("name", list(CALLS))
def test_nobody_acts_on_another_shops_case(roles, shop, other_shop, name):
    state = sorted(ALLOWED_FROM[name])[0]
    case = case_in_state(shop, state, kind_for(name, state))
    outsider = make_staff("outsider", "manager", other_shop)  # every permission, wrong shop
    with pytest.raises(PermissionDeniedError):
        CALLS[name](case, outsider)
    assert Case.objects.get(pk=case.pk).state == state


def test_agreeing_a_return_gives_the_return_address(shop, agent):
    case = make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN)
    case = svc.case_agree(case=case, actor=agent)
    assert case.state == CaseState.AWAITING_RETURN
    assert case.return_address == shop.policy.return_address
    assert not Refund.objects.filter(case=case).exists()  # no money until the goods are back


def test_exchange_stops_at_received(shop, agent, warehouse):
    case = make_case(order=OrderFactory(shop=shop), kind=CaseKind.EXCHANGE)
    case = svc.case_agree(case=case, actor=agent)
    case = svc.case_record_return_shipment(case=case, actor=agent, carrier="中通",
                                           tracking_no="ZT100")
    case = svc.case_receive(case=case, actor=warehouse, resellable=True)
    assert case.state == CaseState.RECEIVED
    with pytest.raises(ActionNotAllowed):
        svc.case_approve_refund(case=case, actor=agent)


def test_transition_writes_one_timeline_row_with_who_when_from_to_and_note(shop, agent):
    case = make_case(order=OrderFactory(shop=shop))
    svc.case_refuse(case=case, actor=agent, reason="凭证不足", note="买家未提供照片")
    event = CaseEvent.objects.get(case=case, kind="transition")
    assert (event.transition, event.from_state, event.to_state) == ("refuse", "requested",
                                                                     "refused")
    assert event.actor == agent and event.staff_number == "A1001"
    assert event.note == "买家未提供照片"
    assert event.data["reason"] == "凭证不足"
    assert abs((timezone.now() - event.created_at).total_seconds()) < 60
    # django-fsm-log keeps its own audit row, in the same transaction
    log = StateLog.objects.get(object_id=case.pk, transition="refuse")
    assert log.by == agent and log.source_state == "requested" and log.state == "refused"


def test_refusal_needs_a_reason(shop, agent):
    case = make_case(order=OrderFactory(shop=shop))
    with pytest.raises(ActionNotAllowed, match="reason"):
        svc.case_refuse(case=case, actor=agent, reason="   ")
    assert Case.objects.get(pk=case.pk).state == CaseState.REQUESTED


def test_close_needs_a_known_reason(shop, agent):
    case = make_case(order=OrderFactory(shop=shop))
    with pytest.raises(ActionNotAllowed):
        svc.case_close(case=case, actor=agent, reason="because")
    assert Case.objects.get(pk=case.pk).state == CaseState.REQUESTED


def test_reopen_needs_a_reason(shop, supervisor):
    case = case_in_state(shop, "closed")
    with pytest.raises(ActionNotAllowed):
        svc.case_reopen(case=case, actor=supervisor, reason="")


def test_stale_page_is_refused_with_case_changed(shop, agent):
    case = make_case(order=OrderFactory(shop=shop))
    svc.case_refuse(case=case, actor=agent, reason="凭证不足")
    with pytest.raises(CaseChanged):
        svc.case_agree(case=case, actor=agent, expected_state="requested")
    assert Case.objects.get(pk=case.pk).state == CaseState.REFUSED
    assert CaseEvent.objects.filter(case=case, kind="transition").count() == 1


def test_second_identical_action_is_not_possible(shop, agent, supervisor):
    case = make_case(order=OrderFactory(shop=shop))
    svc.case_agree(case=case, actor=agent)
    with pytest.raises(ActionNotAllowed, match="not possible"):
        svc.case_agree(case=case, actor=supervisor)
    assert Refund.objects.filter(case=case).count() == 1


def test_state_cannot_be_assigned_directly(shop):
    case = make_case(order=OrderFactory(shop=shop))
    with pytest.raises(AttributeError):
        case.state = CaseState.REFUNDED


# --- 极速退款 -------------------------------------------------------------------------------


def test_instant_refund_on_unshipped_order_within_limit(shop):
    order = OrderFactory(shop=shop, unshipped=True, paid_amount=Decimal("80.00"))
    case = make_case(order=order, amount="80.00")
    assert case.state == CaseState.REFUND_PENDING
    event = CaseEvent.objects.get(case=case, transition="agree")
    assert event.actor is None and event.staff_number == "SYSTEM"
    assert "极速退款" in event.note
    assert Refund.objects.get(case=case).amount == Decimal("80.00")


@pytest.mark.parametrize("unshipped,amount,kind", [
    (True, "100.01", CaseKind.REFUND_ONLY),   # above the limit
    (False, "50.00", CaseKind.REFUND_ONLY),   # shipped
    (True, "50.00", CaseKind.RETURN),         # not refund-only
])
def test_no_instant_refund_outside_its_rule(shop, unshipped, amount, kind):
    order = OrderFactory(shop=shop, unshipped=unshipped, paid_amount=Decimal("188.00"))
    case = make_case(order=order, amount=amount, kind=kind)
    assert case.state == CaseState.REQUESTED
    assert not Refund.objects.filter(case=case).exists()


def test_instant_refund_limit_is_inclusive_and_per_shop(shop):
    shop.policy.instant_refund_limit = Decimal("30.00")
    shop.policy.save()
    order = OrderFactory(shop=shop, unshipped=True)
    assert make_case(order=order, amount="30.00").state == CaseState.REFUND_PENDING
    assert make_case(order=order, amount="30.01").state == CaseState.REQUESTED


# --- approval limit -----------------------------------------------------------------------


def test_agent_cannot_agree_above_the_approval_limit_but_supervisor_can(shop, agent, supervisor):
    order = OrderFactory(shop=shop, paid_amount=Decimal("899.00"))
    case = make_case(order=order, amount="899.00")
    with pytest.raises(PermissionDeniedError):
        svc.case_agree(case=case, actor=agent)
    assert svc.case_agree(case=case, actor=supervisor).state == CaseState.REFUND_PENDING


def test_agent_can_agree_exactly_at_the_limit(shop, agent):
    order = OrderFactory(shop=shop, paid_amount=Decimal("500.00"))
    case = make_case(order=order, amount="500.00")
    assert svc.case_agree(case=case, actor=agent).state == CaseState.REFUND_PENDING


def test_refund_after_return_above_limit_needs_supervisor(shop, agent, supervisor, warehouse):
    order = OrderFactory(shop=shop, paid_amount=Decimal("1299.00"))
    case = make_case(order=order, kind=CaseKind.RETURN, amount="1299.00")
    case = svc.case_agree(case=case, actor=agent)  # agreeing a return commits no money
    case = svc.case_receive(case=case, actor=warehouse, resellable=True)
    with pytest.raises(PermissionDeniedError):
        svc.case_approve_refund(case=case, actor=agent)
    assert svc.case_approve_refund(case=case, actor=supervisor).state == "refund_pending"


# --- 七天无理由 ------------------------------------------------------------------------------


def _no_reason_case(shop, delivered_days_ago: float, kind=CaseKind.RETURN):
    delivered = timezone.now() - timezone.timedelta(days=delivered_days_ago)
    order = OrderFactory(shop=shop, delivered_at=delivered,
                         shipped_at=delivered - timezone.timedelta(days=2))
    return make_case(order=order, kind=kind, reason=CaseReason.NO_REASON)


def test_no_reason_return_inside_window_cannot_be_refused(shop, agent):
    case = _no_reason_case(shop, delivered_days_ago=3)
    with pytest.raises(ActionNotAllowed):
        svc.case_refuse(case=case, actor=agent, reason="不想退")
    assert Case.objects.get(pk=case.pk).state == CaseState.REQUESTED


def test_no_reason_return_outside_window_can_be_refused(shop, agent):
    case = _no_reason_case(shop, delivered_days_ago=8)
    assert svc.case_refuse(case=case, actor=agent, reason="已超过七天").state == "refused"


def test_no_reason_return_found_not_resellable_can_be_refused(shop, agent, warehouse):
    case = _no_reason_case(shop, delivered_days_ago=2)
    case = svc.case_agree(case=case, actor=agent)
    case = svc.case_receive(case=case, actor=warehouse, resellable=False, note="吊牌已剪")
    assert svc.case_refuse(case=case, actor=agent, reason="影响二次销售").state == "refused"


def test_resellable_no_reason_return_cannot_be_refused_after_inspection(shop, agent, warehouse):
    case = _no_reason_case(shop, delivered_days_ago=2)
    case = svc.case_agree(case=case, actor=agent)
    case = svc.case_receive(case=case, actor=warehouse, resellable=True)
    with pytest.raises(ActionNotAllowed):
        svc.case_refuse(case=case, actor=agent, reason="不想退")


# --- tracking numbers, assignment, notes, contacts ---------------------------------------


@pytest.mark.parametrize("raw,clean", [
    ("No:SF1234", "SF1234"), (" sf 12 34 ", "SF1234"), ("NO：yt9", "YT9"), ("75123", "75123"),
])
def test_return_tracking_numbers_are_normalised(raw, clean):
    assert svc.normalize_tracking_no(raw) == clean


def test_return_shipment_needs_a_tracking_number(shop, agent):
    case = case_in_state(shop, "awaiting_return")
    with pytest.raises(ActionNotAllowed):
        svc.case_record_return_shipment(case=case, actor=agent, carrier="顺丰", tracking_no="No:")
    assert Case.objects.get(pk=case.pk).state == CaseState.AWAITING_RETURN


def test_claim_and_assign(shop, agent, supervisor, roles):
    colleague = make_staff("agent2", "agent", shop)
    case = make_case(order=OrderFactory(shop=shop))
    svc.case_assign(case=case, actor=agent, assignee=agent)
    assert Case.objects.get(pk=case.pk).assignee == agent
    with pytest.raises(ActionNotAllowed, match="already"):
        svc.case_assign(case=case, actor=colleague, assignee=colleague)
    with pytest.raises(PermissionDeniedError):  # agents cannot hand cases around
        svc.case_assign(case=case, actor=agent, assignee=colleague)
    svc.case_assign(case=case, actor=supervisor, assignee=colleague)
    assert Case.objects.get(pk=case.pk).assignee == colleague
    assert CaseEvent.objects.filter(case=case, kind="assigned").count() == 2


def test_cannot_assign_to_someone_from_another_shop(shop, supervisor, agent_b):
    case = make_case(order=OrderFactory(shop=shop))
    with pytest.raises(ActionNotAllowed):
        svc.case_assign(case=case, actor=supervisor, assignee=agent_b)
    assert Case.objects.get(pk=case.pk).assignee is None


def test_contact_and_note_join_the_timeline(shop, agent):
    case = make_case(order=OrderFactory(shop=shop))
    contact = svc.contact_log_create(case=case, actor=agent, channel="phone",
                                     outcome="no_answer", note="无人接听")
    svc.case_add_note(case=case, actor=agent, note="明天再打")
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds == ["created", "contact", "note"]
    assert contact.staff_number == "A1001" and contact.buyer_id == case.order.buyer_id


def test_warehouse_cannot_log_contacts(shop, warehouse):
    case = make_case(order=OrderFactory(shop=shop))
    with pytest.raises(PermissionDeniedError):
        svc.contact_log_create(case=case, actor=warehouse, channel="phone", outcome="reached")
    assert not CaseEvent.objects.filter(case=case, kind="contact").exists()


def test_bad_contact_channel_is_refused(shop, agent):
    case = make_case(order=OrderFactory(shop=shop))
    with pytest.raises(ActionNotAllowed):
        svc.contact_log_create(case=case, actor=agent, channel="pigeon", outcome="reached")


# --- the platform's own refund -------------------------------------------------------------


def test_platform_refund_settles_the_pending_refund_instead_of_paying_twice(shop, agent):
    case = make_case(order=OrderFactory(shop=shop), amount="188.00")
    svc.case_agree(case=case, actor=agent)
    case = svc.case_platform_refund(case=case)
    assert case.state == CaseState.REFUNDED
    refund = Refund.objects.get(case=case)
    assert refund.status == "paid" and refund.payment_reference == "PLATFORM"
    event = CaseEvent.objects.get(case=case, transition="platform_refund")
    assert event.staff_number == "SYSTEM"


def test_platform_refund_of_a_return_creates_a_checked_refund(shop, agent):
    case = case_in_state(shop, "return_in_transit")
    case = svc.case_platform_refund(case=case, amount="100.00")
    assert Refund.objects.get(case=case).amount == Decimal("100.00")
    assert case.state == CaseState.REFUNDED


@pytest.mark.parametrize("role", ROLES)
def test_no_staff_member_can_take_the_platform_refund_transition(roles, shop, role):
    case = case_in_state(shop, "return_in_transit")
    user = make_staff(f"{role}-x", role, shop)
    assert "platform_refund" not in [t.name for t in
                                     case.get_available_user_state_transitions(user)]


def test_an_order_exported_as_shipped_without_a_ship_time_counts_as_shipped(shop):
    order = OrderFactory(shop=shop, shipped_at=None, status="shipped",
                         paid_amount=Decimal("50.00"))
    case = make_case(order=order, amount="50.00")  # within the instant limit, but shipped
    assert case.state == CaseState.REQUESTED
    assert case.deadline_rule == "agree_shipped_days"


def test_a_policy_refusal_reason_longer_than_a_case_keeps_is_refused_when_saved(shop):
    from django.core.exceptions import ValidationError

    policy = shop.policy
    policy.refusal_reasons = ["商品已影响二次销售", "长" * 201]
    with pytest.raises(ValidationError, match="longer than 200 characters"):
        policy.full_clean()
    policy.refusal_reasons = ["商品已影响二次销售", "长" * 200]
    policy.full_clean()  # 200 fits Case.refusal_reason whole
    policy.refusal_reasons = "not a list"
    with pytest.raises(ValidationError, match="JSON list of texts"):
        policy.full_clean()
