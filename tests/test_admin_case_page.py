"""The admin's case page: its inlines (refunds, compensation, payouts) are read with what each
row shows, so the page's query count does not grow with the case's money rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds.models import Payout
from refunds.services import cases as case_services
from refunds.services import compensation as comp_services
from refunds.services import payouts as payout_services
from tests.factories import OrderFactory, make_case, make_staff


def _count(client, url, allow_forbidden=False) -> int | None:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    if allow_forbidden and response.status_code == 403:
        return None
    assert response.status_code == 200, url
    return len(captured.captured_queries)


@pytest.fixture
def agent2(roles, shop):
    return make_staff("agent2", "agent", shop, staff_number="A1002")


def _case_with_paid_compensations(shop, agent, agent2, finance, count, approver=None):
    """One case with `count` cash compensations (a case takes one postage compensation at a
    time, so partial refunds), approved, exported in a batch each."""
    case = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("5000.00")), amount="10")
    case = case_services.case_agree(case=case, actor=agent)  # one refund (approved_by agent)
    for n in range(count):
        comp = comp_services.compensation_propose(case=case, actor=agent2,
                                                  kind="partial_refund", amount="1.00",
                                                  reason=f"部分退款 {n}")
        comp_services.compensation_approve(compensation=comp, actor=approver or agent)
        payout_services.payout_batch_export(shop=shop, actor=finance)
    return case


def test_admin_case_change_page_query_count_does_not_grow_with_its_payouts(
        client, manager, agent, agent2, supervisor, finance, shop):
    client.force_login(manager)
    few = _case_with_paid_compensations(shop, agent, agent2, finance, 2, supervisor)
    many = _case_with_paid_compensations(shop, agent, agent2, finance, 10, supervisor)
    assert Payout.objects.filter(case=many, batch__isnull=False).count() == 11
    few_count = _count(client, f"/admin/refunds/case/{few.pk}/change/")
    many_count = _count(client, f"/admin/refunds/case/{many.pk}/change/")
    assert many_count == few_count, (few_count, many_count)


def test_admin_case_change_page_query_count_does_not_grow_with_its_refunds(
        client, manager, agent, supervisor, finance, shop):
    """Each reopen (复核) and new agreement adds a refund row, approved by someone."""
    client.force_login(manager)

    def case_with_refunds(count):
        case = make_case(order=OrderFactory(shop=shop, paid_amount=Decimal("5000.00")),
                         amount="10")
        for n in range(count):
            case = case_services.case_agree(case=case, actor=agent, amount=Decimal("1.00"))
            payout = Payout.objects.filter(case=case, state="pending").get()
            payout_services.payout_batch_export(shop=shop, actor=finance)
            payout.refresh_from_db()
            payout_services.payout_mark_paid(payout=payout, actor=finance,
                                             payment_reference=f"P{case.pk}-{n}")
            case.refresh_from_db()
            if n < count - 1:
                case = case_services.case_reopen(case=case, actor=supervisor, reason="复核",
                                                 requested_amount="1.00")
        return case

    few, many = case_with_refunds(2), case_with_refunds(6)
    assert many.refunds.count() == 6
    few_count = _count(client, f"/admin/refunds/case/{few.pk}/change/")
    many_count = _count(client, f"/admin/refunds/case/{many.pk}/change/")
    assert many_count == few_count, (few_count, many_count)


def test_the_case_page_shows_the_dispute_and_photo_dates(client, manager, shop, agent):
    """What the desk's clocks count from (平台介入, the buyer's photos) is on the manager's
    page too, read only."""
    case = make_case(order=OrderFactory(shop=shop), amount="88.00")
    case_services.case_request_photos(case=case, actor=agent)
    case_services.case_open_dispute(case=case, actor=agent, note="买家申请平台介入")
    client.force_login(manager)
    page = client.get(f"/admin/refunds/case/{case.pk}/change/").content.decode()
    for label in ("Dispute opened:", "Dispute evidence submitted:", "Quality photos asked for:",
                  "Quality photos due:", "Quality photos received:", "Platform status:"):
        assert label in page, label
    assert 'name="dispute_opened_at"' not in page  # read only
