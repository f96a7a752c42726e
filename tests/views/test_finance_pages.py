"""The finance pages (/finance/): payouts by state, export a batch, download it, mark paid /
failed / retry; shop scoping, permissions on the server, bad input, query counts."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from refunds.models import Case, CaseState, Payout, PayoutBatch, PayoutState
from refunds.services import cases as case_services
from refunds.services import payouts as payout_services
from tests.factories import BuyerFactory, OrderFactory, make_case

from .helpers import alert_texts, text

_ROW = re.compile(r'<tr data-payout="(\d+)" data-state="(\w+)">')


def _refund(shop, agent, amount="50.00", **order):
    case = make_case(order=OrderFactory(shop=shop, **order), amount=amount)
    case = case_services.case_agree(case=case, actor=agent)
    return case, Payout.objects.get(case=case)


def _act(client, payout, action, next=None, **data):
    post = {f"p{payout.pk}-{action}-{key}": value for key, value in data.items()}
    if next:
        post["next"] = next
    post.setdefault(f"p{payout.pk}-{action}-expected_state", payout.state)
    return client.post(f"/finance/payouts/{payout.pk}/actions/{action}/", post, follow=True)


def _rows(response) -> dict[int, str]:
    return {int(pk): state for pk, state in _ROW.findall(text(response))}


def test_finance_sees_its_shops_pending_payouts(login, finance, agent, agent_b, shop,
                                                other_shop):
    _case, mine = _refund(shop, agent)
    _case_b, theirs = _refund(other_shop, agent_b)
    page = login(finance).get("/finance/")
    assert page.status_code == 200
    assert _rows(page) == {mine.pk: "pending"}
    assert 'id="payout-export"' in text(page)
    assert 'href="/finance/"' in text(page)  # the navbar link
    assert theirs.pk not in _rows(login(finance).get("/finance/?state=pending"))


@pytest.mark.parametrize("role", ["agent", "warehouse", "supervisor"])
def test_finance_pages_are_for_finance(request, login, role, shop, agent):
    user = request.getfixturevalue(role)
    _case, payout = _refund(shop, agent)
    client = login(user)
    assert client.get("/finance/").status_code == 403
    assert client.post("/finance/export/", {"shop": shop.pk}).status_code == 403
    response = _act(client, payout, "mark_paid", payment_reference="X")
    assert response.status_code == 403
    assert Payout.objects.get(pk=payout.pk).state == PayoutState.PENDING
    assert 'href="/finance/"' not in text(client.get("/cases/"))


def test_export_then_download_then_pay(login, finance, agent, shop):
    buyer = BuyerFactory(nick="=cmd|calc")
    case, payout = _refund(shop, agent, buyer=buyer)
    client = login(finance)
    response = client.post("/finance/export/", {"shop": shop.pk}, follow=True)
    batch = PayoutBatch.objects.get()
    assert response.redirect_chain[-1][0] == f"/finance/batches/{batch.pk}/"
    assert "Batch #" in alert_texts(response, "success")
    assert _rows(response) == {payout.pk: "exported"}

    xlsx = client.get(f"/finance/batches/{batch.pk}/download.xlsx")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in xlsx["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert "'=cmd|calc" in [c.value for c in sheet[2]]
    csv_file = client.get(f"/finance/batches/{batch.pk}/download.csv")
    assert csv_file.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and "'=cmd|calc" in rows[1]
    assert client.get(f"/finance/batches/{batch.pk}/download.pdf").status_code == 404

    # a second export finds nothing new
    again = client.post("/finance/export/", {"shop": shop.pk}, follow=True)
    assert "No pending payouts to export." in alert_texts(again)
    assert PayoutBatch.objects.count() == 1

    exported = Payout.objects.get(pk=payout.pk)
    response = _act(client, exported, "mark_paid", payment_reference="ALI-123",
                    next=f"/finance/batches/{batch.pk}/")
    assert response.redirect_chain[-1][0] == f"/finance/batches/{batch.pk}/"
    assert "Payout #" in alert_texts(response, "success")
    assert Case.objects.get(pk=case.pk).state == CaseState.REFUNDED
    assert Payout.objects.get(pk=payout.pk).payment_reference == "ALI-123"
    # the same click again (a second tab, a double submit) changes nothing
    response = _act(client, exported, "mark_paid", payment_reference="ALI-999")
    assert "changed while you were looking" in alert_texts(response, "danger")
    assert Payout.objects.get(pk=payout.pk).payment_reference == "ALI-123"


def test_bad_input_changes_nothing(login, finance, agent, shop):
    _case, payout = _refund(shop, agent)
    client = login(finance)
    response = _act(client, payout, "mark_paid", payment_reference="")
    assert "Mark paid" in alert_texts(response, "danger")
    response = _act(client, payout, "mark_failed", reason="")
    assert alert_texts(response, "danger")
    assert client.post(f"/finance/payouts/{payout.pk}/actions/delete/", {}).status_code == 404
    assert client.post("/finance/export/", {"shop": "abc"}, follow=True).status_code == 200
    assert Payout.objects.get(pk=payout.pk).state == PayoutState.PENDING
    assert not PayoutBatch.objects.exists()


def test_fail_then_retry_through_the_page(login, finance, agent, shop):
    case, payout = _refund(shop, agent)
    client = login(finance)
    _act(client, payout, "mark_failed", reason="支付宝账户不存在")
    payout.refresh_from_db()
    assert payout.state == PayoutState.FAILED
    assert Case.objects.get(pk=case.pk).state == CaseState.REFUND_FAILED
    page = client.get("/finance/?state=failed")
    assert _rows(page) == {payout.pk: "failed"} and "支付宝账户不存在" in text(page)
    _act(client, payout, "retry")
    assert Payout.objects.get(pk=payout.pk).state == PayoutState.PENDING
    assert Case.objects.get(pk=case.pk).state == CaseState.REFUND_PENDING


def test_route_change_through_the_page(login, finance, agent, shop):
    _case, payout = _refund(shop, agent)
    client = login(finance)
    response = client.post(f"/finance/payouts/{payout.pk}/route/", {
        f"p{payout.pk}-route-expected_state": "pending", f"p{payout.pk}-route-route": "alipay",
        f"p{payout.pk}-route-account": ""}, follow=True)
    assert "Alipay account" in alert_texts(response, "danger")
    client.post(f"/finance/payouts/{payout.pk}/route/", {
        f"p{payout.pk}-route-expected_state": "pending", f"p{payout.pk}-route-route": "alipay",
        f"p{payout.pk}-route-account": "buyer@example.com"})
    assert Payout.objects.get(pk=payout.pk).account == "buyer@example.com"


def test_another_shops_payout_and_batch_are_404(login, finance, agent_b, other_shop):
    _case, payout = _refund(other_shop, agent_b)
    batch = payout_services.payout_batch_export(shop=other_shop, actor=None)
    client = login(finance)
    assert client.get(f"/finance/batches/{batch.pk}/").status_code == 404
    assert client.get(f"/finance/batches/{batch.pk}/download.xlsx").status_code == 404
    assert client.post(f"/finance/payouts/{payout.pk}/actions/mark_paid/", {
        f"p{payout.pk}-mark_paid-expected_state": "exported",
        f"p{payout.pk}-mark_paid-payment_reference": "X"}).status_code == 404
    assert client.post(f"/finance/payouts/{payout.pk}/route/", {}).status_code == 404
    assert client.post("/finance/export/", {"shop": other_shop.pk}, follow=True).status_code == 200
    assert Payout.objects.get(pk=payout.pk).state == PayoutState.EXPORTED
    assert PayoutBatch.objects.count() == 1


def test_unsafe_next_is_ignored(login, finance, agent, shop):
    _case, payout = _refund(shop, agent)
    response = login(finance).post(f"/finance/payouts/{payout.pk}/actions/mark_paid/", {
        f"p{payout.pk}-mark_paid-expected_state": "pending",
        f"p{payout.pk}-mark_paid-payment_reference": "X", "next": "https://evil.example/"})
    assert response.status_code == 302 and response.url.startswith("/finance/")


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_finance_pages_query_count_does_not_grow_with_rows(login, finance, agent, shop,
                                                           django_assert_max_num_queries):
    client = login(finance)
    for _ in range(3):
        _refund(shop, agent, amount="10.00", paid_amount=Decimal("100"))
    few_home = _count(client, "/finance/")
    first = payout_services.payout_batch_export(shop=shop, actor=finance)
    few_batch = _count(client, f"/finance/batches/{first.pk}/")
    few_exported = _count(client, "/finance/?state=exported")

    for n in range(30):
        _refund(shop, agent, amount="10.00", buyer=BuyerFactory(alipay_account=f"a{n}@x"))
    with django_assert_max_num_queries(few_home):
        client.get("/finance/")
    assert _count(client, "/finance/") == few_home
    second = payout_services.payout_batch_export(shop=shop, actor=finance)
    assert _count(client, f"/finance/batches/{second.pk}/") == few_batch
    assert _count(client, "/finance/?state=exported") == few_exported


def test_a_large_batch_is_paged_and_every_payout_is_on_one_page(login, finance, agent, shop,
                                                                monkeypatch):
    monkeypatch.setattr("refunds.views.finance.PAYOUTS_PER_PAGE", 4)
    client = login(finance)
    for _ in range(10):
        _refund(shop, agent, amount="10.00", paid_amount=Decimal("100"))
    batch = payout_services.payout_batch_export(shop=shop, actor=finance)
    seen = []
    for page in (1, 2, 3):
        response = client.get(f"/finance/batches/{batch.pk}/", {"page": page})
        rows = _rows(response)
        assert len(rows) == (4 if page < 3 else 2)
        seen += list(rows)
    assert sorted(seen) == sorted(batch.items.values_list("payout_id", flat=True))
    assert len(set(seen)) == 10
    page_two = text(client.get(f"/finance/batches/{batch.pk}/", {"page": 2}))
    assert "Page 2 of 3" in page_two
    # every payout form brings the clerk back to the page they were on
    nexts = re.findall(r'<input type="hidden" name="next" value="([^"]*)"', page_two)
    assert nexts and set(nexts) == {f"/finance/batches/{batch.pk}/?page=2"}


def test_the_payout_list_pages_keep_its_state_and_shop(login, finance, agent, shop,
                                                       monkeypatch):
    monkeypatch.setattr("refunds.views.finance.PAYOUTS_PER_PAGE", 2)
    for _ in range(3):
        _refund(shop, agent, amount="10.00", paid_amount=Decimal("100"))
    page = text(login(finance).get("/finance/", {"state": "pending", "shop": shop.pk}))
    assert f'href="?state=pending&amp;shop={shop.pk}&amp;page=2"' in page
    assert "Page 1 of 2" in page
