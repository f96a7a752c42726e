"""The platform refunds a buyer whose payout is already in a bank batch (exported): the payout
is paid by the platform, flagged, kept in its batch, left out of the batch's file, warned
about on the batch page and on the case timeline, and the shop's payers are notified — so
the bank does not pay the buyer a second time unnoticed."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from openpyxl import load_workbook

from refunds import texts
from refunds.models import (
    CaseEvent,
    CaseState,
    EventKind,
    Notification,
    NotificationKind,
    Payout,
    PayoutBatch,
    PayoutState,
)
from refunds.services import cases as case_services
from refunds.services import payouts as payout_services
from tests.factories import OrderFactory, make_case, make_staff

from .helpers import alert_texts, text

KIND = NotificationKind.PAID_BY_PLATFORM_IN_BATCH


def _refund(shop, agent, amount="50.00", **order):
    """A refund-only case agreed by the desk: its refund waits for finance (refund_pending)."""
    case = make_case(order=OrderFactory(shop=shop, **order), amount=amount)
    case = case_services.case_agree(case=case, actor=agent)
    return case, Payout.objects.get(case=case)


def _in_batch(shop, agent, finance, count=1, amount="50.00"):
    """`count` refunds exported in one batch: (batch, [(case, payout), ...])."""
    made = [_refund(shop, agent, amount=amount) for _ in range(count)]
    batch = payout_services.payout_batch_export(shop=shop, actor=finance)
    return batch, [(case, Payout.objects.get(pk=payout.pk)) for case, payout in made]


def _csv_rows(client, batch) -> list[list[str]]:
    response = client.get(f"/finance/batches/{batch.pk}/download.csv")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _payout_numbers(rows: list[list[str]]) -> list[int]:
    return [int(row[0]) for row in rows[1:]]


@pytest.fixture
def finance_b(roles, other_shop):
    return make_staff("finance_b", "finance", other_shop, staff_number="F5002",
                      email="finance-b@example.com")


def test_platform_refund_of_an_exported_payout_flags_it_and_tells_the_shops_payers(
        finance, manager, agent, supervisor, finance_b, shop, django_capture_on_commit_callbacks):
    finance.email = "finance@example.com"
    finance.save(update_fields=["email"])
    batch, [(case, payout)] = _in_batch(shop, agent, finance)
    assert payout.state == PayoutState.EXPORTED

    with django_capture_on_commit_callbacks(execute=True):
        case_services.case_platform_refund(case=case)

    payout.refresh_from_db()
    assert payout.state == PayoutState.PAID
    assert payout.paid_by_platform_in_batch
    assert payout.batch_id == batch.pk  # the batch link is kept
    assert payout.payment_reference == "PLATFORM" and payout.settled_staff_number == "SYSTEM"
    batch.refresh_from_db()
    assert (batch.payout_count, batch.total) == (1, Decimal("50.00"))  # the export's record

    # the timeline says it, as a payout row of its own
    event = CaseEvent.objects.get(case=case, kind=EventKind.PAYOUT, transition="mark_paid")
    assert (event.from_state, event.to_state) == (PayoutState.EXPORTED, PayoutState.PAID)
    assert event.data["batch"] == batch.pk and event.data["paid_by_platform_in_batch"] is True
    assert f"bank batch #{batch.pk}" in event.note

    # finance and managers of the shop are told; not the desk, not another shop's finance
    told = set(Notification.objects.filter(kind=KIND).values_list("user__username", flat=True))
    assert told == {"finance", "manager"}
    notification = Notification.objects.get(kind=KIND, user=finance)
    assert notification.case_id == case.pk and notification.deadline_at is None
    assert (f"Payout #{payout.pk} (¥50.00, order {case.order.platform_order_id}) in bank batch "
            f"#{batch.pk} was refunded by the platform") in notification.message
    assert "recover the money from the buyer" in notification.message
    assert notification.data["text"]["code"] == "paid_by_platform_in_batch"
    # and emailed once committed (the manager has no address)
    assert [message.to for message in mail.outbox] == [["finance@example.com"]]
    assert f"/finance/batches/{batch.pk}/" in mail.outbox[0].body


def test_the_notification_is_in_the_readers_language(login, finance, agent, shop):
    _batch, [(case, _payout)] = _in_batch(shop, agent, finance)
    with translation.override("en"):  # the import or the nightly sweep's language
        case_services.case_platform_refund(case=case)
    notification = Notification.objects.get(kind=KIND, user=finance)
    page = text(login(finance).get("/cases/", HTTP_ACCEPT_LANGUAGE="zh-CN"))
    with translation.override("zh-hans"):
        chinese = texts.words(notification.data, notification.message)
        badge = translation.gettext("Not in bank file")
    assert chinese != notification.message and chinese in page
    assert badge in page


def test_platform_refund_of_a_payout_not_in_a_batch_flags_nothing_and_tells_nobody(
        finance, agent, shop):
    case, payout = _refund(shop, agent)
    assert payout.state == PayoutState.PENDING

    case_services.case_platform_refund(case=case)

    payout.refresh_from_db()
    assert payout.state == PayoutState.PAID
    assert not payout.paid_by_platform_in_batch and payout.batch_id is None
    assert not Notification.objects.filter(kind=KIND).exists()
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.PAYOUT).exists()


def test_the_batch_page_warns_and_the_file_leaves_the_line_out(login, finance, agent, shop):
    batch, [(case, paid_twice), (_c2, second), (_c3, third)] = _in_batch(
        shop, agent, finance, count=3, amount="30.00")
    client = login(finance)
    assert _payout_numbers(_csv_rows(client, batch)) == [paid_twice.pk, second.pk, third.pk]

    case_services.case_platform_refund(case=case)

    page = text(client.get(f"/finance/batches/{batch.pk}/"))
    warning = re.search(r'<div class="alert alert-danger" id="paid-by-platform">(.*?)</div>',
                        page, re.S)
    assert warning, "the batch page must warn"
    assert f'data-paid-by-platform="{paid_twice.pk}"' in warning.group(1)
    assert (f"Payout #{paid_twice.pk}: ¥30.00, order {case.order.platform_order_id}"
            in warning.group(1))
    assert "left out of the downloaded file" in warning.group(1)
    # the export's total stays; what the platform took out is said next to it
    assert "¥90.00" in page
    assert "−¥30.00: 1 payout refunded by the platform, not in the file" in page
    # the row is still listed, paid, with its badge
    assert "Refunded by the platform: not in the bank file" in page

    rows = _csv_rows(client, batch)
    assert _payout_numbers(rows) == [second.pk, third.pk]
    sheet = load_workbook(io.BytesIO(
        client.get(f"/finance/batches/{batch.pk}/download.xlsx").content)).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [second.pk,
                                                                                third.pk]
    # the case page's timeline says it too
    assert "Refunded by the platform while in a bank batch" in text(
        client.get(f"/cases/{case.pk}/"))


def test_a_batch_without_platform_refunds_has_no_warning(login, finance, agent, shop):
    batch, _made = _in_batch(shop, agent, finance, count=2)
    page = text(login(finance).get(f"/finance/batches/{batch.pk}/"))
    assert 'id="paid-by-platform"' not in page
    assert len(_csv_rows(login(finance), batch)) == 3


@pytest.mark.parametrize("action, data", [("mark_paid", {"payment_reference": "BANK-1"}),
                                          ("mark_failed", {"reason": "bank refused"})])
def test_finance_acting_on_it_afterwards_is_told_why_not(login, finance, agent, shop, action,
                                                         data):
    batch, [(case, payout)] = _in_batch(shop, agent, finance)
    case_services.case_platform_refund(case=case)
    client = login(finance)
    # the form finance opened before the platform refunded (the payout was exported then)
    post = {f"p{payout.pk}-{action}-{key}": value for key, value in data.items()}
    post[f"p{payout.pk}-{action}-expected_state"] = PayoutState.EXPORTED
    post["next"] = f"/finance/batches/{batch.pk}/"
    response = client.post(f"/finance/payouts/{payout.pk}/actions/{action}/", post, follow=True)

    assert response.status_code == 200
    message = alert_texts(response, "danger")
    assert f"Payout #{payout.pk} is already paid: the platform refunded the buyer" in message
    assert "recover the money from the buyer" in message
    payout.refresh_from_db()
    assert (payout.state, payout.payment_reference) == (PayoutState.PAID, "PLATFORM")
    # and no form is offered for it any more
    assert "data-payout-action=" not in text(response)


def test_the_batch_page_query_count_does_not_grow_with_flagged_rows(login, finance, agent,
                                                                     shop):
    client = login(finance)
    few, [(case, _payout), *_rest] = _in_batch(shop, agent, finance, count=3,
                                               amount="10.00")
    case_services.case_platform_refund(case=case)
    many, made = _in_batch(shop, agent, finance, count=12, amount="10.00")
    for case, _payout in made[:8]:
        case_services.case_platform_refund(case=case)

    def count(batch) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/finance/batches/{batch.pk}/")
        assert response.status_code == 200
        return len(captured.captured_queries)

    assert text(client.get(f"/finance/batches/{many.pk}/")).count("data-paid-by-platform=") == 8
    assert count(many) == count(few)


def test_another_payout_of_the_same_case_refunded_by_the_platform_is_told_again(
        finance, agent, supervisor, shop):
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    case = case_services.case_agree(case=make_case(order=order, amount="50.00"), actor=agent)
    first = payout_services.payout_batch_export(shop=shop, actor=finance)
    case_services.case_platform_refund(case=case)
    # 复核: the buyer asks for more; the desk agrees; it goes out in a second batch
    case = case_services.case_reopen(case=case, actor=supervisor, reason="买家申请复核",
                                     requested_amount="40.00")
    case = case_services.case_agree(case=case, actor=agent)
    second = payout_services.payout_batch_export(shop=shop, actor=finance)
    case_services.case_platform_refund(case=case)

    assert case.refresh_from_db() is None and case.state == CaseState.REFUNDED
    flagged = Payout.objects.filter(case=case, paid_by_platform_in_batch=True)
    assert sorted(flagged.values_list("batch_id", flat=True)) == [first.pk, second.pk]
    notifications = Notification.objects.filter(user=finance, case=case, kind=KIND)
    assert notifications.count() == 2
    assert sorted(n.data["text"]["params"]["batch"] for n in notifications) == [first.pk,
                                                                                 second.pk]
    assert PayoutBatch.objects.count() == 2


def test_a_manager_finds_them_in_the_admin(client, shop, agent, finance, manager):
    batch, [(case, payout), (_other_case, other)] = _in_batch(shop, agent, finance, count=2)
    case_services.case_platform_refund(case=case, amount=None)
    client.force_login(manager)
    response = client.get("/admin/refunds/payout/", {"paid_by_platform_in_batch__exact": "1"})
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert "paid_by_platform_in_batch" in [getattr(spec, "field_path", None)
                                           for spec in changelist.filter_specs]
    assert [row.pk for row in changelist.result_list] == [payout.pk]


def test_the_finance_page_marks_the_batches_that_hold_them(login, finance, agent, shop):
    client = login(finance)
    clean, _made = _in_batch(shop, agent, finance, count=2)
    marked, made = _in_batch(shop, agent, finance, count=3)
    for case, _payout in made[:2]:
        case_services.case_platform_refund(case=case)

    def page():
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/finance/")
        assert response.status_code == 200
        return response.content.decode(), len(captured.captured_queries)

    html, queries = page()
    rows = dict(re.findall(r'<tr data-batch="(\d+)">(.*?)</tr>', html, re.S))
    assert 'data-paid-by-platform="2"' in rows[str(marked.pk)]
    assert "2 refunded by the platform: not in the file" in rows[str(marked.pk)]
    assert "data-paid-by-platform" not in rows[str(clean.pk)]
    # one more flagged payout in another batch: the same number of queries
    _in_batch(shop, agent, finance, count=1)
    third = PayoutBatch.objects.order_by("-pk").first()
    case_services.case_platform_refund(case=Payout.objects.get(batch=third).case)
    assert page()[1] == queries
