"""Complaints after the trade (维权/投诉): recording, evidence, rulings, appeals, the money."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds.exceptions import ActionNotAllowed, AmountError, PermissionDeniedError
from refunds.models import (
    CaseEvent,
    Complaint,
    ComplaintEvent,
    ComplaintEvidence,
    ComplaintState,
)
from refunds.services import complaints as svc
from refunds.services.cases import case_agree
from refunds.services.complaints import ComplaintChanged
from refunds.services.money import money_breakdown, refundable_amount
from refunds.workdays import add_working_days
from tests.factories import OrderFactory, make_case
from tests.services.test_warehouse import image_upload


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    return tmp_path / "private"


def record(order, actor, **overrides) -> Complaint:
    values = {"kind": "not_received", "buyer_claim": "物流显示签收，但我没收到",
              "opened_at": timezone.now() - timedelta(hours=2)}
    values.update(overrides)
    return svc.complaint_create(shop=order.shop, order=order, actor=actor, **values)


def with_evidence(complaint, actor, count=1, kind="chat"):
    svc.complaint_add_evidence(complaint=complaint, actor=actor, kind=kind,
                               photos=[image_upload(f"s{n}.png", fmt="PNG")
                                       for n in range(count)])
    return Complaint.objects.get(pk=complaint.pk)


def test_a_complaint_is_recorded_open_with_its_evidence_deadline_and_timeline(order, agent):
    opened = timezone.now() - timedelta(hours=2)
    complaint = record(order, agent, opened_at=opened, platform_reference='="TS0001"',
                       amount_claimed="50.00")

    assert complaint.state == ComplaintState.OPEN
    assert complaint.platform_reference == "TS0001"  # the spreadsheet's ="…" taken off
    assert complaint.amount_claimed == Decimal("50.00")
    # the shop policy's working days (5) from the opening, as a case's dispute
    assert complaint.evidence_due_at == add_working_days(opened, 5)
    event = ComplaintEvent.objects.get(complaint=complaint)
    assert (event.kind, event.to_state, event.staff_number) == ("created", "open", "A1001")
    assert event.note == "物流显示签收，但我没收到"


def test_the_platforms_own_deadline_is_kept_when_given(order, agent):
    due = timezone.now() + timedelta(hours=30)
    complaint = record(order, agent, evidence_due_at=due)
    assert complaint.evidence_due_at == due


@pytest.mark.parametrize("overrides, message", [
    ({"kind": "nonsense"}, "Choose what the buyer complains of"),
    ({"buyer_claim": "   "}, "Write what the buyer complains of"),
    ({"opened_at": timezone.now() + timedelta(days=1)}, "in the future"),
    ({"opened_at": timezone.now() - timedelta(days=30)}, "before the order was placed"),
    ({"amount_claimed": "-3"}, "more than zero"),
    ({"amount_claimed": "1.234"}, "two decimal places"),
    ({"amount_claimed": "188.01"}, "a ruling never pays back more"),
    ({"trade_succeeded_on": timezone.localdate() - timedelta(days=8)},
     "cannot have succeeded before the order was paid"),
    ({"evidence_due_at": timezone.now() - timedelta(days=1)}, "comes after the opening"),
    ({"evidence_due_at": timezone.now() + timedelta(days=90)}, "days, not months"),
    ({"platform_reference": "X" * 65}, ""),
])
def test_bad_input_is_refused_with_a_message_and_records_nothing(order, agent, overrides,
                                                                  message):
    with pytest.raises((ActionNotAllowed, AmountError)) as caught:
        record(order, agent, **overrides)
    assert message in caught.value.message
    assert not Complaint.objects.exists()
    assert not ComplaintEvent.objects.exists()


def test_the_complaint_window_is_fifteen_days_after_the_trade_succeeded(shop, agent):
    order = OrderFactory(shop=shop, paid_at=timezone.now() - timedelta(days=40))
    today = timezone.localdate()
    # opened today, the trade succeeded 15 days ago: the last day of the window
    record(order, agent, trade_succeeded_on=today - timedelta(days=15))
    with pytest.raises(ActionNotAllowed, match="up to 15 days after the trade succeeded"):
        record(order, agent, trade_succeeded_on=today - timedelta(days=16))
    with pytest.raises(ActionNotAllowed, match="cannot have succeeded after"):
        record(order, agent, trade_succeeded_on=today + timedelta(days=1))
    shop.policy.complaint_window_days = 20
    shop.policy.save()
    order.shop.refresh_from_db()
    record(order, agent, trade_succeeded_on=today - timedelta(days=16))
    assert Complaint.objects.count() == 2


def test_a_complaint_number_is_recorded_once_per_shop(order, agent, shop):
    first = record(order, agent, platform_reference="TS-9")
    with pytest.raises(ActionNotAllowed, match=f"complaint #{first.pk}"):
        record(OrderFactory(shop=shop), agent, platform_reference="TS-9")
    assert Complaint.objects.count() == 1
    record(order, agent)  # no number: as many as there are
    record(order, agent)
    assert Complaint.objects.count() == 3


def test_only_staff_who_answer_disputes_for_the_shop_record_complaints(order, warehouse,
                                                                       finance, agent_b):
    for user in (warehouse, finance, agent_b):
        with pytest.raises(PermissionDeniedError):
            record(order, user)
    assert not Complaint.objects.exists()


def test_a_case_or_follow_up_of_another_order_is_refused(order, agent, shop):
    other_case = make_case(order=OrderFactory(shop=shop))
    with pytest.raises(ActionNotAllowed, match="is not a case of order"):
        record(order, agent, case=other_case)
    assert not Complaint.objects.exists()


def test_evidence_then_the_ruling_for_the_shop(order, agent, supervisor):
    complaint = record(order, agent)
    with pytest.raises(ActionNotAllowed, match="Add the evidence first"):
        svc.complaint_submit_evidence(complaint=complaint, actor=agent)
    complaint = with_evidence(complaint, agent, count=2, kind="waybill")
    assert list(ComplaintEvidence.objects.values_list("kind", flat=True)) == ["waybill"] * 2
    complaint = svc.complaint_submit_evidence(complaint=complaint, actor=agent,
                                              note="附签收底单", expected_state="open")
    assert complaint.state == "evidence" and complaint.evidence_submitted_at is not None
    with pytest.raises(PermissionDeniedError):  # a ruling is recorded by a supervisor
        svc.complaint_rule_for_shop(complaint=complaint, actor=agent, ruling="驳回")
    complaint = svc.complaint_rule_for_shop(complaint=complaint, actor=supervisor,
                                            ruling="物流签收有效，驳回买家投诉",
                                            expected_state="evidence")
    assert complaint.state == "for_shop" and complaint.ruled_at is not None

    steps = list(ComplaintEvent.objects.filter(complaint=complaint).values_list(
        "kind", "transition", "to_state"))
    assert steps == [("created", "", "open"), ("evidence", "", ""),
                     ("transition", "submit_evidence", "evidence"),
                     ("transition", "rule_for_shop", "for_shop")]


def test_a_ruling_for_the_buyer_pays_them_within_the_money_rule(order, agent, supervisor):
    case = make_case(order=order, amount="150.00")
    case_agree(case=case, actor=supervisor)  # ¥150 of ¥188 refunded: ¥38 left
    complaint = record(order, agent)

    with pytest.raises(AmountError, match="more than the ¥38.00 still refundable"):
        svc.complaint_rule_for_buyer(complaint=complaint, actor=supervisor, ruling="支持买家",
                                     refund_amount="38.01")
    complaint.refresh_from_db()
    assert complaint.state == "open" and complaint.refund_amount is None

    complaint = svc.complaint_rule_for_buyer(complaint=complaint, actor=supervisor,
                                             ruling="支持买家", refund_amount="30.00",
                                             penalty_points=2)
    assert (complaint.state, complaint.refund_amount, complaint.penalty_points) == (
        "for_buyer", Decimal("30.00"), 2)
    assert refundable_amount(order) == Decimal("8.00")
    money = money_breakdown(order)
    assert money["complaints"] == Decimal("30.00")
    assert money["refunded"] == Decimal("30.00")  # the platform took it when it ruled
    # nothing else may spend what the ruling paid
    with pytest.raises(AmountError, match="more than the ¥8.00 still refundable"):
        make_case(order=order, amount="8.01")


def test_a_ruling_for_the_buyer_may_pay_nothing(order, agent, supervisor):
    complaint = record(order, agent, kind="harassment")
    complaint = svc.complaint_rule_for_buyer(complaint=complaint, actor=supervisor,
                                             ruling="骚扰成立，扣分", penalty_points=6)
    assert complaint.refund_amount is None
    assert refundable_amount(order) == order.paid_amount


@pytest.mark.parametrize("points", [-1, 101, True, "3"])
def test_penalty_points_are_a_small_whole_number(order, agent, supervisor, points):
    complaint = record(order, agent)
    with pytest.raises(ActionNotAllowed, match="Penalty points"):
        svc.complaint_rule_for_buyer(complaint=complaint, actor=supervisor, ruling="x",
                                     penalty_points=points)


def test_an_appeal_needs_evidence_added_after_the_ruling_and_is_made_once(order, agent,
                                                                          supervisor):
    complaint = with_evidence(record(order, agent), agent)
    complaint = svc.complaint_rule_for_buyer(complaint=complaint, actor=supervisor,
                                             ruling="支持买家", penalty_points=2)
    with pytest.raises(ActionNotAllowed, match="An appeal needs evidence"):
        svc.complaint_appeal(complaint=complaint, actor=agent, reason="有新证据")
    with pytest.raises(ActionNotAllowed, match="grounds"):
        svc.complaint_appeal(complaint=complaint, actor=agent, reason=" ")
    complaint = with_evidence(complaint, agent, kind="call_log")
    complaint = svc.complaint_appeal(complaint=complaint, actor=agent, reason="通话记录证明",
                                     expected_state="for_buyer")
    assert complaint.state == "appealed" and complaint.appealed_at is not None
    complaint = svc.complaint_reject_appeal(complaint=complaint, actor=supervisor,
                                            ruling="维持原判")
    assert complaint.state == "for_buyer" and complaint.appeal_decided_at is not None
    # no second appeal, and no more evidence for one
    with pytest.raises(ActionNotAllowed, match="not possible"):
        svc.complaint_appeal(complaint=complaint, actor=agent, reason="再申诉")
    with pytest.raises(ActionNotAllowed, match="no more evidence"):
        with_evidence(complaint, agent)


def test_an_appeal_upheld_rules_for_the_shop_and_what_was_paid_stays_paid(order, agent,
                                                                          supervisor):
    complaint = record(order, agent)
    complaint = svc.complaint_rule_for_buyer(complaint=complaint, actor=supervisor,
                                             ruling="支持买家", refund_amount="20.00",
                                             penalty_points=3)
    complaint = with_evidence(complaint, agent)
    complaint = svc.complaint_appeal(complaint=complaint, actor=agent, reason="新证据")
    complaint = svc.complaint_uphold_appeal(complaint=complaint, actor=supervisor,
                                            ruling="申诉成功，撤销扣分")
    assert complaint.state == "for_shop"
    assert complaint.refund_amount == Decimal("20.00")
    assert refundable_amount(order) == Decimal("168.00")


def test_a_withdrawn_complaint_says_how_and_ends(order, agent):
    complaint = record(order, agent)
    with pytest.raises(ActionNotAllowed, match="how the complaint was withdrawn"):
        svc.complaint_withdraw(complaint=complaint, actor=agent, note="")
    complaint = svc.complaint_withdraw(complaint=complaint, actor=agent,
                                       note="补发后买家撤诉")
    assert complaint.state == "withdrawn" and not complaint.is_open
    with pytest.raises(ActionNotAllowed, match="no more evidence"):
        with_evidence(complaint, agent)


def test_a_stale_page_is_told_the_complaint_changed(order, agent, supervisor):
    complaint = with_evidence(record(order, agent), agent)
    svc.complaint_submit_evidence(complaint=complaint, actor=agent)
    with pytest.raises(ComplaintChanged):
        svc.complaint_withdraw(complaint=complaint, actor=agent, note="撤诉",
                               expected_state="open")
    assert Complaint.objects.get(pk=complaint.pk).state == "evidence"


def test_a_complaint_about_a_case_is_written_on_the_case_timeline(order, agent, supervisor):
    case = make_case(order=order)
    complaint = record(order, agent, case=case, kind="refund")
    svc.complaint_rule_for_buyer(complaint=complaint, actor=supervisor, ruling="支持买家",
                                 refund_amount="10.00")
    rows = list(CaseEvent.objects.filter(case=case, kind="complaint").values_list(
        "transition", "to_state", "data"))
    assert [row[:2] for row in rows] == [("create", "open"), ("rule_for_buyer", "for_buyer")]
    assert rows[1][2] == {"complaint_id": complaint.pk, "complaint_kind": "refund",
                          "amount": "10.00"}


def test_evidence_is_capped_and_never_half_written(order, agent, monkeypatch):
    complaint = record(order, agent)
    monkeypatch.setattr(svc, "MAX_EVIDENCE", 2)
    with_evidence(complaint, agent, count=2)
    with pytest.raises(ActionNotAllowed, match="at most 2 screenshots"):
        with_evidence(complaint, agent)
    assert ComplaintEvidence.objects.count() == 2
    with pytest.raises(ActionNotAllowed, match="what the screenshots show"):
        svc.complaint_add_evidence(complaint=complaint, actor=agent, kind="x",
                                   photos=[image_upload()])


def test_the_trade_date_must_be_a_date(order, agent):
    with pytest.raises(ActionNotAllowed, match="as a date"):
        record(order, agent, trade_succeeded_on=timezone.now())
    assert not Complaint.objects.exists()


def test_a_long_chat_screenshot_stays_legible_and_a_wide_one_is_shrunk(order, agent):
    complaint = record(order, agent)
    svc.complaint_add_evidence(complaint=complaint, actor=agent, photos=[
        image_upload("chat.png", fmt="PNG", size=(1080, 8000)),
        image_upload("desk.png", fmt="PNG", size=(3200, 1800)),
        image_upload("huge.png", fmt="PNG", size=(2000, 16000))])
    sizes = list(ComplaintEvidence.objects.order_by("id").values_list("width", "height"))
    assert sizes == [(1080, 8000), (2844, 1600), (1500, 12000)]
