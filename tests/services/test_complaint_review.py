"""Review of complaints after the trade (维权/投诉): defects in the services, the sweep and the
money rule. Each test fails against the code as reviewed, for the reason in its docstring."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds.exceptions import ActionNotAllowed, AmountError
from refunds.models import Complaint, ComplaintState, Order
from refunds.services import complaints as svc
from refunds.services.cases import case_close, case_refuse, case_reopen
from refunds.services.complaint_sweep import sweep_complaints
from refunds.timezones import CHINA
from tests.factories import make_case
from tests.services.test_complaints import record, with_evidence


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    return tmp_path / "private"


def overdue(order, actor, **overrides) -> Complaint:
    """Opened three days ago, its evidence due an hour ago."""
    return record(order, actor, opened_at=timezone.now() - timedelta(days=3),
                  evidence_due_at=timezone.now() - timedelta(hours=1), **overrides)


def test_evidence_cannot_be_recorded_as_submitted_after_the_deadline(order, agent):
    """complaint_submit_evidence never looks at evidence_due_at: an hour after the deadline
    the complaint goes to "evidence submitted", so the sweep never records the ruling the
    platform made at the deadline. case_submit_dispute_evidence refuses exactly this."""
    complaint = with_evidence(overdue(order, agent), agent)

    with pytest.raises(ActionNotAllowed):
        svc.complaint_submit_evidence(complaint=complaint, actor=agent)

    assert Complaint.objects.get(pk=complaint.pk).state == ComplaintState.OPEN
    assert sweep_complaints().ruled == 1


def test_the_trade_date_is_compared_with_the_china_date_of_the_opening(settings, order,
                                                                      agent):
    """_cleaned compares trade_succeeded_on with timezone.localdate(opened_at), the display
    TIME_ZONE, while window_closes counts in China time (refunds/timezones.py: TIME_ZONE
    only says how pages show times). With TIME_ZONE=UTC, a complaint opened at 02:00 China
    time on the day the trade succeeded is refused as 'succeeded after it was opened'."""
    settings.TIME_ZONE = "UTC"
    day = timezone.now().astimezone(CHINA).date() - timedelta(days=1)
    opened = datetime.combine(day, time(2, 0), tzinfo=CHINA)  # the day before, 18:00 UTC

    complaint = svc.complaint_create(shop=order.shop, order=order, actor=agent,
                                     kind="refund", buyer_claim="交易成功当天就投诉",
                                     opened_at=opened, trade_succeeded_on=day)

    assert complaint.trade_succeeded_on == day


def test_a_rulings_payment_keeps_the_orders_paid_amount_read_only_in_the_admin(
        client, manager, order, agent, supervisor):
    """Order.has_after_sales() looks at cases, refunds and compensation only: an order whose
    only after-sales money is a complaint ruling's payment can have its paid amount (and its
    shop) edited in the admin, below what the ruling paid — the money rule broken."""
    from tests.test_admin import _change_form_data

    complaint = record(order, agent)
    svc.complaint_rule_for_buyer(complaint=complaint, actor=supervisor, ruling="支持买家",
                                 refund_amount="150.00")
    client.force_login(manager)
    url = f"/admin/refunds/order/{order.pk}/change/"
    data = _change_form_data(client, url)
    data.update({"paid_amount": "10.00", "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0",
                 "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "1000"})
    client.post(url, data)

    assert Order.objects.get(pk=order.pk).paid_amount == Decimal("188.00")


def test_a_case_reopened_after_a_complaint_paid_its_refund_asks_for_a_further_amount(
        order, agent, supervisor):
    """case_reopen refuses a 复核 without a further amount when the case already refunded
    (given_back), so that one click on Agree does not pay it twice. A complaint about the
    case (售后维权) ruled for the buyer paid the same refund, but given_back ignores
    complaint rulings: the case reopens asking the ¥50 again and Agree pays ¥100 in all."""
    case = make_case(order=order, amount="50.00")
    case_refuse(case=case, actor=supervisor, reason="商品无质量问题")
    case_close(case=case, actor=supervisor, reason="other")
    complaint = record(order, agent, case=case, kind="refund")
    svc.complaint_rule_for_buyer(complaint=complaint, actor=supervisor, ruling="支持买家退款",
                                 refund_amount="50.00")

    with pytest.raises(AmountError, match="already refunded"):
        case_reopen(case=case, actor=supervisor, reason="买家申请复核")


def test_a_complaint_changed_since_it_was_listed_is_counted_as_skipped(order, agent,
                                                                      monkeypatch):
    """ComplaintSweepResult.skipped is 'locked by someone else, or changed meanwhile: next
    run', but _each counts only a lock it could not take: a complaint answered between the
    listing and the lock is in no count at all (0 ruled, 0 skipped, 0 failed)."""
    from refunds.locks import try_lock_complaint

    complaint = with_evidence(overdue(order, agent), agent)

    def answered_meanwhile(pk):
        Complaint.objects.filter(pk=pk).update(state=ComplaintState.EVIDENCE_SUBMITTED)
        return try_lock_complaint(pk)

    monkeypatch.setattr("refunds.services.complaint_sweep.try_lock_complaint",
                        answered_meanwhile)
    result = sweep_complaints()

    assert Complaint.objects.get(pk=complaint.pk).state == ComplaintState.EVIDENCE_SUBMITTED
    assert (result.ruled, result.skipped, result.failed) == (0, 1, 0)

