"""The complaint pages (维权/投诉): the list, recording one, the complaint page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from refunds.models import Complaint, ComplaintEvent, ComplaintEvidence
from refunds.services import complaints as svc
from refunds.services.cases import contact_log_create
from tests.factories import OrderFactory, make_case
from tests.reviews.conftest import make_follow_up
from tests.services.test_complaints import record, with_evidence
from tests.services.test_warehouse import image_upload

from .helpers import alert_texts, text


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


def form_data(order, **overrides):
    data = {"shop": order.shop_id, "order_id": order.platform_order_id, "kind": "late_shipment",
            "platform_reference": "", "buyer_claim": "付款三天还没发货", "amount_claimed": "",
            "opened_at": "", "trade_succeeded_on": "", "evidence_due_at": ""}
    data.update(overrides)
    return data


def test_every_page_needs_a_login(client, order, agent):
    complaint = with_evidence(record(order, agent), agent)
    evidence = ComplaintEvidence.objects.get()
    for url in ["/complaints/", f"/complaints/{complaint.pk}/", "/complaints/new/",
                f"/complaints/evidence/{evidence.pk}/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_a_complaint_recorded_from_a_case_page(login, agent, shop):
    case = make_case(order=OrderFactory(shop=shop))
    page = text(login(agent).get(f"/cases/{case.pk}/"))
    assert f"/complaints/new/?case={case.pk}" in page

    form = text(login(agent).get(f"/complaints/new/?case={case.pk}"))
    assert f'value="{case.order.platform_order_id}"' in form
    assert '<option value="refund" selected>' in form  # a refund dispute, as it is a case's

    opened = timezone.localtime() - timedelta(hours=3)
    response = login(agent).post("/complaints/new/", form_data(
        case.order, case=case.pk, kind="refund", amount_claimed="20.00",
        opened_at=opened.strftime("%Y-%m-%dT%H:%M"), platform_reference="TS-100"))
    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/complaints/{complaint.pk}/"
    assert (complaint.case_id, complaint.kind, complaint.amount_claimed) == (
        case.pk, "refund", Decimal("20.00"))
    assert complaint.opened_at == opened.replace(second=0, microsecond=0)
    detail = text(login(agent).get(f"/complaints/{complaint.pk}/"))
    assert "The shop&#x27;s evidence is due by" in detail or "evidence is due by" in detail
    assert f'href="/complaints/{complaint.pk}/">#{complaint.pk}</a>: Open: evidence due' in \
        text(login(agent).get(f"/cases/{case.pk}/"))


def test_an_unshipped_order_suggests_a_late_shipment_complaint(login, agent, unshipped_order):
    form = text(login(agent).get(f"/complaints/new/?order={unshipped_order.pk}"))
    assert '<option value="late_shipment" selected>' in form
    assert f'value="{unshipped_order.platform_order_id}"' in form


def test_a_review_follow_up_suggests_a_harassment_complaint(login, agent, shop):
    follow_up = make_follow_up(shop=shop, posted_at=timezone.now() - timedelta(days=1))
    order = follow_up.order
    assert f"/complaints/new/?follow_up={follow_up.pk}" in text(
        login(agent).get(f"/reviews/{follow_up.pk}/"))
    form = text(login(agent).get(f"/complaints/new/?follow_up={follow_up.pk}"))
    assert '<option value="harassment" selected>' in form
    login(agent).post("/complaints/new/", form_data(order, kind="harassment",
                                                    follow_up=follow_up.pk))
    assert Complaint.objects.get().follow_up_id == follow_up.pk


def test_bad_input_on_the_form_says_why_and_records_nothing(login, agent, order):
    client = login(agent)
    response = client.post("/complaints/new/", form_data(order, order_id="NOPE1"))
    assert response.status_code == 400 and "No order NOPE1" in text(response)
    response = client.post("/complaints/new/", form_data(order, buyer_claim=""))
    assert response.status_code == 400
    old_order = OrderFactory(shop=order.shop, paid_at=timezone.now() - timedelta(days=40))
    response = client.post("/complaints/new/", form_data(
        old_order, trade_succeeded_on=(timezone.localdate() - timedelta(days=20)).isoformat()))
    assert response.status_code == 400
    assert "up to 15 days after the trade succeeded" in text(response)
    response = client.post("/complaints/new/", form_data(
        order, trade_succeeded_on=(timezone.localdate() - timedelta(days=20)).isoformat()))
    assert "cannot have succeeded before the order was paid" in text(response)
    response = client.post("/complaints/new/", form_data(order, amount_claimed="abc"))
    assert response.status_code == 400
    assert not Complaint.objects.exists()


def test_evidence_submission_and_ruling_through_the_page(login, agent, supervisor, order):
    complaint = record(order, agent, amount_claimed="30.00")
    client = login(agent)
    page = text(client.get(f"/complaints/{complaint.pk}/"))
    assert 'data-action="submit_evidence"' in page and 'data-action="withdraw"' in page
    assert 'data-action="rule_for_buyer"' not in page  # rulings are a supervisor's

    response = client.post(f"/complaints/{complaint.pk}/actions/submit_evidence/",
                           {"submit_evidence-expected_state": "open"}, follow=True)
    assert "Add the evidence first" in alert_texts(response, "danger")
    response = client.post(f"/complaints/{complaint.pk}/evidence/",
                           {"evidence-kind": "chat", "evidence-photos": [image_upload()],
                            "evidence-note": "聊天记录"}, follow=True)
    assert "1 screenshot added." in alert_texts(response, "success")
    evidence = ComplaintEvidence.objects.get()
    assert client.get(f"/complaints/evidence/{evidence.pk}/").status_code == 200
    client.post(f"/complaints/{complaint.pk}/actions/submit_evidence/",
                {"submit_evidence-expected_state": "open"})
    complaint.refresh_from_db()
    assert complaint.state == "evidence"

    boss = login(supervisor)
    too_much = boss.post(f"/complaints/{complaint.pk}/actions/rule_for_buyer/",
                         {"rule_for_buyer-expected_state": "evidence",
                          "rule_for_buyer-ruling": "支持买家",
                          "rule_for_buyer-refund_amount": "188.01"}, follow=True)
    assert "still refundable" in alert_texts(too_much, "danger")
    boss.post(f"/complaints/{complaint.pk}/actions/rule_for_buyer/",
              {"rule_for_buyer-expected_state": "evidence", "rule_for_buyer-ruling": "支持买家",
               "rule_for_buyer-refund_amount": "30.00", "rule_for_buyer-penalty_points": "2"})
    complaint.refresh_from_db()
    assert (complaint.state, complaint.refund_amount, complaint.penalty_points) == (
        "for_buyer", Decimal("30.00"), 2)
    assert "rulings paid buyers ¥30.00" in text(boss.get("/complaints/"))


def test_an_invalid_action_form_shows_its_errors_and_changes_nothing(login, agent,
                                                                     supervisor, order):
    complaint = record(order, agent)
    response = login(supervisor).post(
        f"/complaints/{complaint.pk}/actions/rule_for_buyer/",
        {"rule_for_buyer-expected_state": "open", "rule_for_buyer-ruling": "",
         "rule_for_buyer-penalty_points": "1000"})
    assert response.status_code == 400
    assert "Please correct the errors below." in alert_texts(response, "danger")
    complaint.refresh_from_db()
    assert complaint.state == "open"
    assert login(agent).post(f"/complaints/{complaint.pk}/actions/nonsense/",
                             {}).status_code == 404


def test_a_stale_page_is_told_and_nothing_changes(login, agent, order):
    complaint = with_evidence(record(order, agent), agent)
    svc.complaint_submit_evidence(complaint=complaint, actor=agent)
    response = login(agent).post(f"/complaints/{complaint.pk}/actions/withdraw/",
                                 {"withdraw-expected_state": "open", "withdraw-note": "撤诉"},
                                 follow=True)
    assert "changed while you were looking at it" in alert_texts(response, "danger")
    assert Complaint.objects.get(pk=complaint.pk).state == "evidence"


def test_another_shops_complaint_is_a_404_everywhere(login, agent, agent_b, order):
    complaint = with_evidence(record(order, agent), agent)
    evidence = ComplaintEvidence.objects.get()
    client = login(agent_b)
    for url in [f"/complaints/{complaint.pk}/", f"/complaints/evidence/{evidence.pk}/"]:
        assert client.get(url).status_code == 404, url
    for url, data in [(f"/complaints/{complaint.pk}/actions/withdraw/",
                       {"withdraw-expected_state": "open", "withdraw-note": "x"}),
                      (f"/complaints/{complaint.pk}/evidence/", {})]:
        assert client.post(url, data).status_code == 404, url
    assert client.get(f"/complaints/new/?order={order.pk}").status_code == 404
    assert f'data-complaint="{complaint.pk}"' not in text(client.get("/complaints/"))
    # recording one on another shop's order: the shop is not among the user's choices
    response = client.post("/complaints/new/", form_data(order))
    assert response.status_code == 400
    assert Complaint.objects.count() == 1
    complaint.refresh_from_db()
    assert complaint.state == "open"


def test_the_warehouse_and_finance_read_complaints_but_cannot_act(login, warehouse, finance,
                                                                  agent, order):
    complaint = record(order, agent)
    for user in (warehouse, finance):
        client = login(user)
        assert client.get("/complaints/").status_code == 200
        assert client.get("/complaints/new/").status_code == 403
        page = text(client.get(f"/complaints/{complaint.pk}/"))
        assert "Nothing for you to do on this complaint now." in page
        assert 'id="complaint-evidence-form"' not in page
        response = client.post(f"/complaints/{complaint.pk}/actions/withdraw/",
                               {"withdraw-expected_state": "open", "withdraw-note": "x"},
                               follow=True)
        assert "permission" in alert_texts(response, "danger").lower()
    complaint.refresh_from_db()
    assert complaint.state == "open"


def test_the_list_filters_open_first_and_searches(login, agent, supervisor, shop):
    soon = record(OrderFactory(shop=shop), agent,
                  evidence_due_at=timezone.now() + timedelta(hours=5))
    later = record(OrderFactory(shop=shop), agent, kind="breach",
                   evidence_due_at=timezone.now() + timedelta(days=3),
                   platform_reference="TS-LATER")
    done = svc.complaint_withdraw(complaint=record(OrderFactory(shop=shop), agent),
                                  actor=agent, note="撤诉")
    # answered long ago, its old deadline the soonest: it waits for the platform, not us
    waiting = with_evidence(record(OrderFactory(shop=shop), agent,
                                   evidence_due_at=timezone.now() + timedelta(hours=1)), agent)
    svc.complaint_submit_evidence(complaint=waiting, actor=agent)
    client = login(agent)
    page = text(client.get("/complaints/"))
    positions = [page.index(f'data-complaint="{c.pk}"') for c in (soon, later, waiting, done)]
    # evidence due first, the soonest deadline first; then waiting for the platform; then done
    assert positions == sorted(positions)
    due = text(client.get("/complaints/", {"due": "24h"}))
    assert f'data-complaint="{soon.pk}"' in due and f'data-complaint="{later.pk}"' not in due
    kind = text(client.get("/complaints/", {"kind": "breach"}))
    assert f'data-complaint="{later.pk}"' in kind and f'data-complaint="{soon.pk}"' not in kind
    found = text(client.get("/complaints/", {"q": "TS-LATER"}))
    assert f'data-complaint="{later.pk}"' in found and f'data-complaint="{soon.pk}"' not in found
    by_order = text(client.get("/complaints/", {"q": soon.order.platform_order_id}))
    assert f'data-complaint="{soon.pk}"' in by_order
    bad = client.get("/complaints/", {"state": "nonsense"})
    assert bad.status_code == 200


def test_the_list_runs_the_same_queries_for_3_rows_as_for_20(login, agent, shop):
    def count() -> int:
        client = login(agent)
        client.get("/complaints/")
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/complaints/").status_code == 200
        return len(queries)

    for _n in range(3):
        record(OrderFactory(shop=shop), agent)
    few = count()
    for _n in range(17):
        record(OrderFactory(shop=shop), agent)
    assert count() == few


def test_the_complaint_page_runs_the_same_queries_with_more_evidence_and_contacts(
        login, agent, order):
    complaint = record(order, agent)
    case = make_case(order=order)

    def count() -> int:
        client = login(agent)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/complaints/{complaint.pk}/").status_code == 200
        return len(queries)

    before = count()
    with_evidence(complaint, agent, count=3)
    for hours in (30, 50, 70):
        contact_log_create(case=case, actor=agent, channel="im", outcome="reached",
                           note="说明进度", now=timezone.now() - timedelta(hours=hours))
    assert count() == before
    assert ComplaintEvent.objects.filter(complaint=complaint).count() == 2


def test_the_buyers_contacts_are_on_the_complaint_page(login, agent, order):
    case = make_case(order=order)
    contact_log_create(case=case, actor=agent, channel="phone", outcome="reached",
                       note="电话说明换货安排", now=timezone.now() - timedelta(hours=30))
    complaint = record(order, agent, kind="harassment")
    page = text(login(agent).get(f"/complaints/{complaint.pk}/"))
    assert "电话说明换货安排" in page  # the record a harassment complaint is answered with


def test_the_buyer_page_lists_the_orders_complaints(login, agent, order):
    complaint = record(order, agent)
    page = text(login(agent).get(f"/buyers/{order.buyer_id}/"))
    row = page.split(f'<tr data-order="{order.pk}">')[1].split("</tr>")[0]
    assert f'data-complaint="{complaint.pk}">complaint #{complaint.pk}</a>' in row


def test_the_navbar_the_notifications_and_the_admin_show_complaints(login, agent, manager,
                                                                   order):
    complaint = record(order, agent)
    assert "/complaints/" in text(login(agent).get("/cases/"))
    assert login(manager).get(f"/admin/refunds/complaint/{complaint.pk}/change/"
                              ).status_code == 200
    assert login(manager).get("/admin/refunds/complaint/").status_code == 200


def test_the_complaint_page_shows_the_buyers_mobile_masked(login, agent, order):
    complaint = record(order, agent)
    page = text(login(agent).get(f"/complaints/{complaint.pk}/"))
    assert order.buyer.mobile not in page
    assert order.buyer.masked_mobile in page


def test_the_list_downloads_every_row_its_filters_show(login, agent, agent_b, supervisor,
                                                       shop, other_shop):
    import csv
    import io

    ruled = record(OrderFactory(shop=shop), agent, kind="breach",
                   buyer_claim="=HYPERLINK(\"x\")", platform_reference="TS-DL")
    svc.complaint_rule_for_buyer(complaint=ruled, actor=supervisor, ruling="支持买家",
                                 refund_amount="12.00", penalty_points=2)
    record(OrderFactory(shop=shop), agent, kind="not_received")
    theirs = record(OrderFactory(shop=other_shop), agent_b, kind="breach")
    client = login(agent)
    download = client.get("/complaints/register.csv", {"kind": "breach"})
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="complaints-')
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == [str(ruled.pk)]  # not the other kind, nor shop
    assert str(theirs.pk) not in [row[0] for row in rows[1:]]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Complaint number (投诉编号)"] == "TS-DL"
    assert row["What the buyer says"].startswith("'=")  # a formula is shown, never run
    assert (row["Paid to the buyer by the ruling (¥)"], row["Penalty points"]) == ("12.00", "2")
    assert row["The platform's ruling"] == "支持买家"
    xlsx = client.get("/complaints/register.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert client.get("/complaints/register.pdf").status_code == 404
    bad = client.get("/complaints/register.csv", {"due": "whenever"}, follow=True)
    assert "Please correct the filters first." in alert_texts(bad, "danger")


@pytest.mark.parametrize("url", ["/complaints/new/", "/cases/new/", "/carrier-claims/new/",
                                 "/reviews/new/"])
def test_an_empty_post_to_a_create_form_says_what_is_missing(login, manager, url):
    response = login(manager).post(url, {})
    assert response.status_code == 400
    assert "This field is required." in text(response)
