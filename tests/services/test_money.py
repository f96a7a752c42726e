"""The money rule: refundable = paid − approved refunds (pending, failed or paid); Decimal only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from refunds.exceptions import AmountError
from refunds.models import Case, CaseEvent, CaseKind, Refund
from refunds.services import cases as svc
from refunds.services.money import clean_amount, money_summary, refundable_amount
from tests.factories import OrderFactory, make_case


@pytest.fixture
def paid_188(shop):
    return OrderFactory(shop=shop, paid_amount=Decimal("188.00"))


@pytest.mark.parametrize("value", [
    "-1", "0", "0.00", "NaN", "nan", "Infinity", "-inf", "1e309", "12.345", "0.001", "abc", "",
    "1,000", "10000000000.00", 12.5,
])
def test_bad_amounts_are_refused(value):
    with pytest.raises(AmountError):
        clean_amount(value)


@pytest.mark.parametrize("value,expected", [
    ("12.5", Decimal("12.50")), (Decimal("188"), Decimal("188.00")), ("0.01", Decimal("0.01")),
    (" 99.90 ", Decimal("99.90")), (7, Decimal("7.00")),
])
def test_good_amounts_become_two_decimal_decimals(value, expected):
    amount = clean_amount(value)
    assert isinstance(amount, Decimal) and amount == expected
    assert amount.as_tuple().exponent == -2


def test_request_above_what_was_paid_is_refused_and_nothing_is_created(paid_188):
    with pytest.raises(AmountError, match="refundable"):
        make_case(order=paid_188, amount="188.01")
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


def test_partial_refunds_add_up_to_at_most_what_was_paid(paid_188, agent):
    first = make_case(order=paid_188, amount="100.00")
    svc.case_agree(case=first, actor=agent)
    assert refundable_amount(paid_188) == Decimal("88.00")

    with pytest.raises(AmountError, match="88.00"):
        make_case(order=paid_188, amount="100.00")

    second = make_case(order=paid_188, amount="88.00")
    svc.case_agree(case=second, actor=agent)
    assert refundable_amount(paid_188) == Decimal("0.00")
    assert sum(r.amount for r in Refund.objects.filter(order=paid_188)) == Decimal("188.00")


def test_two_open_requests_cannot_both_be_agreed_past_what_was_paid(paid_188, agent):
    first = make_case(order=paid_188, amount="150.00")
    second = make_case(order=paid_188, amount="150.00")  # each fits alone: both are requests
    svc.case_agree(case=first, actor=agent)
    with pytest.raises(AmountError, match="still refundable"):
        svc.case_agree(case=second, actor=agent)
    assert Case.objects.get(pk=second.pk).state == "requested"
    assert Refund.objects.filter(order=paid_188).count() == 1


def test_agreeing_a_lower_amount_is_a_partial_refund(paid_188, agent):
    case = make_case(order=paid_188, amount="188.00")
    svc.case_agree(case=case, actor=agent, amount="50.00")
    assert Refund.objects.get(case=case).amount == Decimal("50.00")
    assert money_summary(paid_188)["refundable"] == Decimal("138.00")


def test_agreeing_more_than_requested_is_refused(paid_188, agent):
    case = make_case(order=paid_188, amount="100.00")
    with pytest.raises(AmountError, match="asked for"):
        svc.case_agree(case=case, actor=agent, amount="120.00")
    assert Case.objects.get(pk=case.pk).state == "requested"
    assert not Refund.objects.exists()


@pytest.mark.parametrize("amount", ["-5", "0", "NaN", "1e309", "12.345"])
def test_bad_agree_amount_changes_nothing(paid_188, agent, amount):
    case = make_case(order=paid_188, amount="100.00")
    with pytest.raises(AmountError):
        svc.case_agree(case=case, actor=agent, amount=amount)
    assert Case.objects.get(pk=case.pk).state == "requested"
    assert not Refund.objects.exists()
    assert CaseEvent.objects.filter(case=case).count() == 1  # only "created"


def test_failed_refund_still_counts_until_paid(paid_188, agent, finance):
    case = make_case(order=paid_188, amount="188.00")
    svc.case_agree(case=case, actor=agent)
    svc.case_mark_refund_failed(case=case, actor=finance, reason="账户冻结")
    assert refundable_amount(paid_188) == Decimal("0.00")
    svc.case_retry_refund(case=case, actor=finance)
    svc.case_mark_refunded(case=case, actor=finance, payment_reference="ALI-1")
    summary = money_summary(paid_188)
    assert summary == {"paid": Decimal("188.00"), "refunded": Decimal("188.00"),
                       "pending": Decimal("0.00"), "refundable": Decimal("0.00")}
    refund = Refund.objects.get(case=case)
    assert refund.status == "paid" and refund.payment_reference == "ALI-1"
    assert refund.paid_at is not None


def test_reopening_a_refunded_case_keeps_its_money_and_checks_the_further_amount(
        paid_188, agent, finance, supervisor):
    case = make_case(order=paid_188, amount="100.00")
    svc.case_agree(case=case, actor=agent)
    svc.case_mark_refunded(case=case, actor=finance, payment_reference="ALI-2")
    with pytest.raises(AmountError):
        svc.case_reopen(case=case, actor=supervisor, reason="复核", requested_amount="100.00")
    case = svc.case_reopen(case=case, actor=supervisor, reason="复核：补退差价",
                           requested_amount="88.00")
    assert case.state == "requested" and case.requested_amount == Decimal("88.00")
    assert refundable_amount(paid_188) == Decimal("88.00")  # the paid 100 still counts
    svc.case_agree(case=case, actor=agent)
    assert refundable_amount(paid_188) == Decimal("0.00")
    assert [r.amount for r in Refund.objects.filter(case=case)] == [Decimal("100.00"),
                                                                    Decimal("88.00")]


def test_return_refund_is_checked_when_approved(paid_188, agent, warehouse):
    ret = make_case(order=paid_188, kind=CaseKind.RETURN, amount="188.00")
    svc.case_agree(case=ret, actor=agent)
    svc.case_receive(case=ret, actor=warehouse, resellable=True)
    other = make_case(order=paid_188, amount="40.00")
    svc.case_agree(case=other, actor=agent)
    with pytest.raises(AmountError):
        svc.case_approve_refund(case=ret, actor=agent)
    svc.case_approve_refund(case=ret, actor=agent, amount="148.00")
    assert refundable_amount(paid_188) == Decimal("0.00")


def test_database_refuses_a_non_positive_refund(paid_188):
    case = make_case(order=paid_188, amount="10.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.create(case=case, order=paid_188, amount=Decimal("0.00"))


def test_buyer_modified_amount_is_checked(paid_188, agent):
    case = make_case(order=paid_188, amount="100.00")
    svc.case_refuse(case=case, actor=agent, reason="凭证不足")
    with pytest.raises(AmountError):
        svc.case_buyer_modify(case=case, actor=agent, requested_amount="200.00")
    assert Case.objects.get(pk=case.pk).state == "refused"
    case = svc.case_buyer_modify(case=case, actor=agent, requested_amount="60.00")
    assert case.state == "requested" and case.requested_amount == Decimal("60.00")


def test_money_summary_keeps_two_decimals(paid_188, agent):
    case = make_case(order=paid_188, amount="100.00")
    svc.case_agree(case=case, actor=agent)
    summary = money_summary(paid_188)
    assert [str(summary[k]) for k in ("paid", "refunded", "pending", "refundable")] == [
        "188.00", "0.00", "100.00", "88.00"]
