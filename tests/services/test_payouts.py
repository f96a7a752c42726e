"""Finance payouts: one per refund, compensation or reimbursement; pending → exported → paid /
failed → retried; batches; the case refund path (one path, never two); the export files and
the cron command; concurrency on PostgreSQL."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from refunds.exceptions import ActionNotAllowed, AmountError, CaseChanged, PermissionDeniedError
from refunds.exports import csv_bytes, neutralise, payout_batch_file, xlsx_bytes
from refunds.models import (
    Case,
    CaseEvent,
    CaseKind,
    CaseState,
    Compensation,
    CompensationKind,
    EventKind,
    Payout,
    PayoutBatch,
    PayoutBatchItem,
    PayoutKind,
    PayoutRoute,
    PayoutState,
    Refund,
)
from refunds.services import cases as case_svc
from refunds.services import compensation as comp_svc
from refunds.services import payouts as svc
from refunds.services.money import money_breakdown, refundable_amount
from tests.factories import BuyerFactory, OrderFactory, ShopFactory, make_case, make_staff


@pytest.fixture
def agent2(roles, shop):
    return make_staff("agent2", "agent", shop, staff_number="A1002")


@pytest.fixture
def refund_pending(shop, agent):
    case = make_case(order=OrderFactory(shop=shop), amount="188.00")
    return case_svc.case_agree(case=case, actor=agent)


def payout_of(case) -> Payout:
    return Payout.objects.get(case=case, kind=PayoutKind.REFUND)


def fresh(payout) -> Payout:
    return Payout.objects.get(pk=payout.pk)


def case_state(case) -> str:
    return Case.objects.values_list("state", flat=True).get(pk=case.pk)


# --- one payout per refund --------------------------------------------------------------------


def test_every_approved_refund_gets_exactly_one_payout(shop, agent, warehouse):
    instant = make_case(order=OrderFactory(shop=shop, unshipped=True, paid_amount=Decimal("50")),
                        amount="50.00")
    agreed = case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop)), actor=agent)
    returned = make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN)
    returned = case_svc.case_agree(case=returned, actor=agent)
    assert not Payout.objects.filter(case=returned).exists()  # no money until approved
    returned = case_svc.case_receive(case=returned, actor=warehouse, resellable=True)
    case_svc.case_approve_refund(case=returned, actor=agent, amount="150.00")
    for case, amount in ((instant, "50.00"), (agreed, "188.00"), (returned, "150.00")):
        payout = payout_of(case)
        assert payout.refund == Refund.objects.get(case=case)
        assert (payout.amount, payout.state, payout.route) == (Decimal(amount), "pending",
                                                               PayoutRoute.ORIGINAL)
    assert payout_of(instant).staff_number == "SYSTEM"
    assert payout_of(agreed).staff_number == "A1001"


# --- paying a case refund: one path --------------------------------------------------------


def test_paying_a_refund_payout_moves_the_case_to_refunded(refund_pending, finance):
    payout = payout_of(refund_pending)
    paid = svc.payout_mark_paid(payout=payout, actor=finance, payment_reference="ALI-001")
    assert paid.state == PayoutState.PAID and paid.payment_reference == "ALI-001"
    assert paid.settled_staff_number == "F5001"
    assert case_state(refund_pending) == CaseState.REFUNDED
    refund = Refund.objects.get(case=refund_pending)
    assert refund.status == "paid" and refund.payment_reference == "ALI-001"
    # one timeline row: the case's own transition, nothing written twice
    event = CaseEvent.objects.get(case=refund_pending, transition="mark_refunded")
    assert event.staff_number == "F5001"
    assert not CaseEvent.objects.filter(case=refund_pending, kind=EventKind.PAYOUT,
                                        transition="mark_paid").exists()


def test_a_payout_cannot_be_marked_paid_twice(refund_pending, finance, manager):
    payout = payout_of(refund_pending)
    svc.payout_mark_paid(payout=payout, actor=finance, payment_reference="ALI-001")
    with pytest.raises(ActionNotAllowed, match="not possible"):
        svc.payout_mark_paid(payout=payout, actor=manager, payment_reference="ALI-002")
    with pytest.raises(ActionNotAllowed):
        case_svc.case_mark_refunded(case=refund_pending, actor=manager,
                                    payment_reference="ALI-003")
    assert fresh(payout).payment_reference == "ALI-001"
    assert CaseEvent.objects.filter(case=refund_pending, transition="mark_refunded").count() == 1


def test_paying_from_the_case_page_settles_the_payout_too(refund_pending, finance):
    case_svc.case_mark_refunded(case=refund_pending, actor=finance, payment_reference="ALI-9")
    payout = payout_of(refund_pending)
    assert payout.state == PayoutState.PAID and payout.payment_reference == "ALI-9"
    with pytest.raises(ActionNotAllowed):
        svc.payout_mark_paid(payout=payout, actor=finance, payment_reference="ALI-10")


def test_failed_refund_payout_is_retried_into_a_new_batch(shop, refund_pending, finance):
    first = svc.payout_batch_export(shop=shop, actor=finance)
    payout = payout_of(refund_pending)
    assert payout.state == PayoutState.EXPORTED and payout.batch == first
    svc.payout_mark_failed(payout=payout, actor=finance, reason="账户冻结")
    assert case_state(refund_pending) == CaseState.REFUND_FAILED
    assert Refund.objects.get(case=refund_pending).status == "failed"
    assert fresh(payout).failure_reason == "账户冻结"
    assert PayoutBatch.objects.get(pk=first.pk).closed_at is not None

    svc.payout_retry(payout=payout, actor=finance)
    assert case_state(refund_pending) == CaseState.REFUND_PENDING
    assert fresh(payout).state == PayoutState.PENDING and fresh(payout).batch is None

    second = svc.payout_batch_export(shop=shop, actor=finance)
    assert fresh(payout).batch == second
    # the first batch still lists it as it went out
    assert PayoutBatchItem.objects.filter(payout=payout).count() == 2
    svc.payout_mark_paid(payout=payout, actor=finance, payment_reference="ALI-2")
    assert case_state(refund_pending) == CaseState.REFUNDED


def test_platform_refund_settles_the_payout_so_finance_never_pays_it(shop, refund_pending,
                                                                     finance):
    svc.payout_batch_export(shop=shop, actor=finance)
    case_svc.case_platform_refund(case=refund_pending)
    payout = payout_of(refund_pending)
    assert payout.state == PayoutState.PAID and payout.payment_reference == "PLATFORM"
    with pytest.raises(ActionNotAllowed):
        svc.payout_mark_paid(payout=payout, actor=finance, payment_reference="ALI")


def test_platform_refund_of_a_failed_refund_settles_its_failed_payout(refund_pending, finance):
    svc.payout_mark_failed(payout=payout_of(refund_pending), actor=finance, reason="bank")
    case_svc.case_platform_refund(case=refund_pending)
    assert payout_of(refund_pending).state == PayoutState.PAID


def test_stale_payout_page_is_refused(refund_pending, finance):
    payout = payout_of(refund_pending)
    svc.payout_mark_failed(payout=payout, actor=finance, reason="bank")
    with pytest.raises(CaseChanged):
        svc.payout_mark_paid(payout=payout, actor=finance, payment_reference="X",
                             expected_state="pending")
    assert fresh(payout).state == PayoutState.FAILED


def test_paid_needs_a_reference_and_failed_a_reason(refund_pending, finance):
    payout = payout_of(refund_pending)
    with pytest.raises(ActionNotAllowed):
        svc.payout_mark_paid(payout=payout, actor=finance, payment_reference="  ")
    with pytest.raises(ActionNotAllowed):
        svc.payout_mark_failed(payout=payout, actor=finance, reason="")
    assert fresh(payout).state == PayoutState.PENDING


@pytest.mark.parametrize("role", ["agent", "supervisor", "warehouse"])
def test_only_finance_and_managers_pay(request, refund_pending, role):
    user = request.getfixturevalue(role)
    payout = payout_of(refund_pending)
    with pytest.raises(PermissionDeniedError):
        svc.payout_mark_paid(payout=payout, actor=user, payment_reference="X")
    with pytest.raises(PermissionDeniedError):
        svc.payout_batch_export(shop=payout.shop, actor=user)
    assert fresh(payout).state == PayoutState.PENDING


def test_finance_of_another_shop_cannot_pay_or_export(refund_pending, roles, other_shop):
    outsider = make_staff("finance_b", "finance", other_shop)
    payout = payout_of(refund_pending)
    with pytest.raises(PermissionDeniedError):
        svc.payout_mark_paid(payout=payout, actor=outsider, payment_reference="X")
    with pytest.raises(PermissionDeniedError):
        svc.payout_batch_export(shop=payout.shop, actor=outsider)
    assert fresh(payout).state == PayoutState.PENDING


# --- compensation and reimbursement payouts ---------------------------------------------------


def _approved_compensation(case, proposer, approver, amount="8.00",
                           kind=CompensationKind.POSTAGE) -> Compensation:
    compensation = comp_svc.compensation_propose(case=case, actor=proposer, kind=kind,
                                                 amount=amount, reason="运费")
    return comp_svc.compensation_approve(compensation=compensation, actor=approver)


def test_compensation_payout_paid_marks_the_compensation_paid(shop, agent, agent2, finance):
    case = make_case(order=OrderFactory(shop=shop), amount="50.00")
    compensation = _approved_compensation(case, agent2, agent)
    payout = Payout.objects.get(compensation=compensation)
    svc.payout_mark_failed(payout=payout, actor=finance, reason="bank")
    assert Compensation.objects.get(pk=compensation.pk).state == "approved"
    svc.payout_retry(payout=payout, actor=finance)
    svc.payout_mark_paid(payout=payout, actor=finance, payment_reference="ALI-5")
    compensation.refresh_from_db()
    assert compensation.state == "paid" and compensation.payment_reference == "ALI-5"
    kinds = list(CaseEvent.objects.filter(case=case, kind__in=["payout", "compensation"])
                 .values_list("kind", "transition"))
    assert kinds == [("compensation", "propose"), ("compensation", "approve"),
                     ("payout", "mark_failed"), ("payout", "retry"),
                     ("compensation", "mark_paid"), ("payout", "mark_paid")]
    assert case_state(case) == CaseState.REQUESTED  # the case itself does not move


def test_compensation_goes_to_the_buyers_alipay_when_known(shop, agent, agent2):
    order = OrderFactory(shop=shop, buyer=BuyerFactory(alipay_account="buyer@alipay"))
    case = make_case(order=order, amount="50.00")
    # together within the agents' limit (the order's postage, 8.00): no supervisor needed
    postage = Payout.objects.get(compensation=_approved_compensation(case, agent2, agent,
                                                                     amount="3.00"))
    assert (postage.route, postage.account) == (PayoutRoute.ALIPAY, "buyer@alipay")
    partial = Payout.objects.get(compensation=_approved_compensation(
        case, agent2, agent, amount="5.00", kind=CompensationKind.PARTIAL_REFUND))
    assert (partial.route, partial.account) == (PayoutRoute.ORIGINAL, "")


def test_reimbursement_counts_against_the_money_rule(shop, agent):
    order = OrderFactory(shop=shop, paid_amount=Decimal("100.00"))
    case = case_svc.case_agree(case=make_case(order=order, amount="90.00"), actor=agent)
    with pytest.raises(AmountError, match="10.00"):
        svc.reimbursement_create(case=case, order=order, kind=PayoutKind.POSTAGE,
                                 amount="10.01", reason="退货运费", actor=agent)
    payout = svc.reimbursement_create(case=case, order=order, kind=PayoutKind.POSTAGE,
                                      amount="10.00", reason="退货运费", actor=agent)
    assert payout.state == PayoutState.PENDING
    figures = money_breakdown(order)
    assert figures["reimbursements"] == Decimal("10.00")
    assert refundable_amount(order) == Decimal("0.00")


def test_route_changes_only_before_export_and_alipay_needs_an_account(shop, refund_pending,
                                                                      finance):
    payout = payout_of(refund_pending)
    with pytest.raises(ActionNotAllowed):
        svc.payout_change_route(payout=payout, actor=finance, route=PayoutRoute.ALIPAY)
    svc.payout_change_route(payout=payout, actor=finance, route=PayoutRoute.ALIPAY,
                            account="13800000000")
    assert (fresh(payout).route, fresh(payout).account) == (PayoutRoute.ALIPAY, "13800000000")
    svc.payout_batch_export(shop=shop, actor=finance)
    with pytest.raises(ActionNotAllowed, match="before"):
        svc.payout_change_route(payout=payout, actor=finance, route=PayoutRoute.ORIGINAL)


# --- batches ----------------------------------------------------------------------------------


def test_export_takes_every_pending_payout_once(shop, other_shop, agent, finance):
    cases = [case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop), amount="20"),
                                 actor=agent) for _ in range(3)]
    make_case(order=OrderFactory(shop=other_shop, unshipped=True), amount="20")  # instant
    batch = svc.payout_batch_export(shop=shop, actor=finance)
    assert batch.payout_count == 3 and batch.total == Decimal("60.00")
    assert batch.staff_number == "F5001" and batch.is_open
    assert set(batch.payouts.values_list("case", flat=True)) == {c.pk for c in cases}
    assert set(Payout.objects.filter(shop=shop).values_list("state", flat=True)) == {"exported"}
    assert Payout.objects.get(shop=other_shop).state == "pending"  # another shop's
    assert svc.payout_batch_export(shop=shop, actor=finance) is None  # nothing twice
    assert PayoutBatch.objects.count() == 1
    assert CaseEvent.objects.filter(kind=EventKind.PAYOUT, transition="export").count() == 3

    for n, case in enumerate(cases):
        svc.payout_mark_paid(payout=payout_of(case), actor=finance, payment_reference=f"P{n}")
        assert PayoutBatch.objects.get(pk=batch.pk).is_open is (n < 2)


def test_batch_file_neutralises_formula_cells(shop, agent, finance):
    buyer = BuyerFactory(nick="=HYPERLINK(\"http://evil\")", alipay_account="+8613800000000")
    case = make_case(order=OrderFactory(shop=shop, buyer=buyer), amount="12.50")
    case_svc.case_agree(case=case, actor=agent)
    svc.payout_change_route(payout=payout_of(case), actor=finance, route=PayoutRoute.ALIPAY,
                            account="@cmd")
    batch = svc.payout_batch_export(shop=shop, actor=finance)

    content, content_type, name = payout_batch_file(batch, "csv")
    assert content.startswith(b"\xef\xbb\xbf") and name.endswith(".csv")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Payout no.", "Shop", "Order no.", "Buyer"]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Buyer"] == "'=HYPERLINK(\"http://evil\")"
    assert row["Account"] == "'@cmd"
    assert row["Amount (¥)"] == "12.50" and row["Staff number"] == "A1001"

    content, content_type, name = payout_batch_file(batch, "xlsx")
    sheet = load_workbook(io.BytesIO(content)).active
    values = [cell.value for cell in sheet[2]]
    assert "'=HYPERLINK(\"http://evil\")" in values and "'@cmd" in values
    assert Decimal(str(values[7])) == Decimal("12.50")
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_every_formula_trigger_is_neutralised(value):
    assert neutralise(value) == "'" + value
    assert csv_bytes(["h"], [[value]]).decode("utf-8-sig").splitlines()[1].lstrip('"')[0] == "'"
    sheet = load_workbook(io.BytesIO(xlsx_bytes("t", ["h"], [[value]]))).active
    assert sheet["A2"].value.startswith("'")  # XML turns a lone CR into LF


@pytest.mark.parametrize("value", ["普通文本", "a=b", "12.50", ""])
def test_harmless_text_is_left_alone(value):
    assert neutralise(value) == value


# --- the cron command -------------------------------------------------------------------------


def _pending(shop, agent, count=2):
    return [case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop), amount="10"),
                                actor=agent) for _ in range(count)]


def test_export_command_is_safe_to_run_twice(shop, agent, tmp_path, capsys):
    _pending(shop, agent)
    out = tmp_path / "batch.xlsx"
    call_command("export_payouts", "--shop", shop.code, "--out", str(out))
    assert out.exists()
    assert load_workbook(out).active.max_row == 3  # header + 2
    batch = PayoutBatch.objects.get()
    assert batch.source == "command" and batch.staff_number == "SYSTEM"
    out.unlink()
    call_command("export_payouts", "--shop", shop.code, "--out", str(out))
    assert not out.exists() and PayoutBatch.objects.count() == 1
    assert "exported 0 batch(es), 0 failed" in capsys.readouterr().out
    assert not list(tmp_path.glob(".payouts-*"))


def test_export_command_one_file_per_shop_and_csv(roles, agent, tmp_path):
    second = ShopFactory(code="shop-c")
    agent.staff_profile.shops.add(second)
    _pending(agent.staff_profile.shops.get(code="shop-a"), agent, 1)
    _pending(second, agent, 1)
    call_command("export_payouts", "--out", str(tmp_path / "pay.csv"))
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["pay-shop-a.csv", "pay-shop-c.csv"]
    assert (tmp_path / "pay-shop-a.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_export_command_dry_run_changes_nothing(shop, agent, tmp_path, capsys):
    _pending(shop, agent)
    call_command("export_payouts", "--dry-run", "--out", str(tmp_path / "x.xlsx"))
    assert "2 pending payout(s) would be exported" in capsys.readouterr().out
    assert not PayoutBatch.objects.exists() and not list(tmp_path.iterdir())


def test_export_command_fails_loudly_and_exports_nothing_when_it_cannot_write(shop, agent,
                                                                            tmp_path):
    _pending(shop, agent)
    missing = tmp_path / "no-such-dir" / "batch.xlsx"
    with pytest.raises(CommandError):
        call_command("export_payouts", "--shop", shop.code, "--out", str(missing))
    assert not PayoutBatch.objects.exists()
    assert set(Payout.objects.values_list("state", flat=True)) == {"pending"}
    out = tmp_path / "batch.xlsx"
    call_command("export_payouts", "--shop", shop.code, "--out", str(out))  # the re-run works
    assert out.exists() and PayoutBatch.objects.get().payout_count == 2


def test_a_second_export_the_same_day_never_replaces_the_first_batchs_file(
        shop, agent, tmp_path, capsys):
    """cron's `--out payouts-$(date +%F).xlsx` run twice in a day (by hand after new
    approvals): the first batch's payouts are exported for good, so its file must stay."""
    out = tmp_path / "payouts-2026-11-20.xlsx"
    _pending(shop, agent, 2)
    call_command("export_payouts", "--shop", shop.code, "--out", str(out))
    first = PayoutBatch.objects.get()
    _pending(shop, agent, 1)

    call_command("export_payouts", "--shop", shop.code, "--out", str(out))

    second = PayoutBatch.objects.exclude(pk=first.pk).get()
    beside = tmp_path / f"payouts-2026-11-20-batch{second.pk}.xlsx"
    assert load_workbook(out).active.max_row == 3  # the first batch's two payouts, still
    assert load_workbook(beside).active.max_row == 2  # the second's one, beside it
    assert f"{shop.code}: {beside}" in capsys.readouterr().out
    assert not list(tmp_path.glob(".payouts-*"))


def test_an_export_with_no_free_name_exports_nothing(shop, agent, tmp_path, monkeypatch):
    from refunds.management.commands import export_payouts as command

    out = tmp_path / "payouts.xlsx"
    out.write_bytes(b"an earlier file")
    _pending(shop, agent, 1)
    export = command.payout_batch_export

    def export_and_take_the_other_name(**kwargs):
        batch = export(**kwargs)
        (tmp_path / f"payouts-batch{batch.pk}.xlsx").write_bytes(b"another")
        return batch

    monkeypatch.setattr(command, "payout_batch_export", export_and_take_the_other_name)

    with pytest.raises(CommandError):
        call_command("export_payouts", "--shop", shop.code, "--out", str(out))

    assert out.read_bytes() == b"an earlier file"
    assert not PayoutBatch.objects.exists()
    assert set(Payout.objects.values_list("state", flat=True)) == {"pending"}


def test_export_command_unknown_shop(db):
    with pytest.raises(CommandError, match="No shop"):
        call_command("export_payouts", "--shop", "nope")


def test_export_command_exit_code_is_non_zero_on_failure(shop, agent, tmp_path, monkeypatch):
    from django.core.management import ManagementUtility

    # run_from_argv closes every connection when it ends: keep the test's own open
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    _pending(shop, agent, 1)
    missing = tmp_path / "missing" / "x.xlsx"
    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "export_payouts", "--out", str(missing)]).execute()
    assert exit_info.value.code == 1
    assert not PayoutBatch.objects.exists()


# --- PostgreSQL: finance clicking twice, two exports at once ---------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_people_paying_the_same_payout_at_once_pay_it_once(shop, agent, finance, manager):
    from refunds.exceptions import DomainError
    from tests.services.race import describe, race

    for round_no in range(5):
        case = case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop), amount="88"),
                                   actor=agent)
        payout = payout_of(case)
        outcomes = race([
            lambda payout=payout: svc.payout_mark_paid(payout=Payout.objects.get(pk=payout.pk),
                                         actor=finance, payment_reference="A",
                                         expected_state="pending"),
            lambda case=case: case_svc.case_mark_refunded(case=Case.objects.get(pk=case.pk),
                                                actor=manager, payment_reference="B",
                                                expected_state="refund_pending"),
        ])
        context = f"round {round_no}: {describe(outcomes)}"
        assert sum(o.ok for o in outcomes) == 1, context
        assert all(o.ok or isinstance(o.error, DomainError) for o in outcomes), context
        assert case_state(case) == CaseState.REFUNDED
        assert fresh(payout).state == PayoutState.PAID
        assert CaseEvent.objects.filter(case=case, transition="mark_refunded").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_exports_and_payouts_put_each_payout_in_one_batch(shop, agent, agent2,
                                                                    finance, manager):
    from tests.services.race import describe, race

    order = OrderFactory(shop=shop, paid_amount=Decimal("1000.00"), postage=Decimal("8.00"))
    cases = [case_svc.case_agree(case=make_case(order=order, amount="100"), actor=agent)
             for _ in range(4)]
    host = make_case(order=order, amount="100")
    compensation = _approved_compensation(host, agent2, agent)
    outcomes = race([
        lambda: svc.payout_batch_export(shop=shop, actor=finance),
        lambda: svc.payout_batch_export(shop=shop, actor=manager),
        lambda: svc.payout_mark_paid(payout=payout_of(cases[0]), actor=finance,
                                     payment_reference="P0"),
        lambda: svc.payout_mark_paid(payout=Payout.objects.get(compensation=compensation),
                                     actor=manager, payment_reference="PC"),
        lambda: comp_svc.compensation_propose(case=Case.objects.get(pk=host.pk), actor=agent2,
                                              kind=CompensationKind.PARTIAL_REFUND,
                                              amount="500.00", reason="保留商品"),
    ])
    context = describe(outcomes)
    assert outcomes[0].ok and outcomes[1].ok and outcomes[4].ok, context
    exported = Payout.objects.filter(order=order).exclude(batch=None)
    for payout in exported:
        open_items = PayoutBatchItem.objects.filter(payout=payout)
        assert open_items.count() == 1, context  # never in two batches
    figures = money_breakdown(order)
    assert figures["refunds"] + figures["compensation"] <= Decimal("1000.00"), context
    assert Payout.objects.filter(order=order, state="paid").count() == sum(
        1 for o in outcomes[2:4] if o.ok)


def test_a_long_compensation_reason_reaches_finance_whole(shop, agent, agent2):
    case = make_case(order=OrderFactory(shop=shop), amount="50.00")
    reason = "质量问题，" + "买家要求补偿运费和差价，" * 40  # 500 characters, the form's limit
    reason = reason[:500]
    compensation = comp_svc.compensation_propose(case=case, actor=agent2,
                                                 kind=CompensationKind.POSTAGE,
                                                 amount="5.00", reason=reason)
    comp_svc.compensation_approve(compensation=compensation, actor=agent)
    payout = Payout.objects.get(compensation=compensation)
    assert payout.reason.endswith(reason) and len(payout.reason) > 500
