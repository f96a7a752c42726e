"""The carrier claim pages (报损报失): the register, registering from a case, the claim page."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from refunds.models import CarrierClaim, ClaimEvent, ClaimPhoto
from refunds.services import cases as case_svc
from refunds.services import claims as svc
from tests.factories import OrderFactory, make_case
from tests.services.test_carrier_claims import details
from tests.services.test_warehouse import image_upload

from .helpers import alert_texts, text


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


def register(order, actor, **overrides):
    return svc.claim_create(shop=order.shop, order=order, actor=actor, **details(**overrides))


def form_data(order, **overrides):
    data = {"shop": order.shop_id, "order_id": order.platform_order_id, "kind": "damaged",
            "direction": "outbound", "tracking_no": order.tracking_no, "carrier": "顺丰速运",
            "ship_date": (timezone.localdate() - timedelta(days=2)).isoformat(),
            "region": "浙江 杭州", "sender_id_number": "330106199001011234",
            "parcel_status": "外箱压扁", "item_model": "保温杯 500ml", "item_price": "69.00",
            "quantity": "1", "claimed_amount": "", "checked_staff_number": "",
            "reported_on": "", "details": ""}
    data.update(overrides)
    return data


def test_every_page_needs_a_login(client, order, warehouse):
    claim = register(order, warehouse)
    for url in ["/carrier-claims/", f"/carrier-claims/{claim.pk}/", "/carrier-claims/new/",
                "/carrier-claims/register.csv"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_a_claim_registered_from_a_case_page_with_a_photo(login, agent, shop):
    order = OrderFactory(shop=shop, tracking_no="SF5550001")
    case = make_case(order=order)
    page = login(agent).get(f"/cases/{case.pk}/")
    assert f"/carrier-claims/new/?case={case.pk}" in text(page)

    form = login(agent).get(f"/carrier-claims/new/?case={case.pk}")
    assert form.status_code == 200
    assert 'value="SF5550001"' in text(form)  # the trade's waybill, filled in
    assert f'value="{order.platform_order_id}"' in text(form)

    response = login(agent).post("/carrier-claims/new/", {
        **form_data(order), "case": case.pk, "photos": [image_upload()]})
    claim = CarrierClaim.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/carrier-claims/{claim.pk}/"
    assert (claim.case_id, claim.order_id, claim.kind) == (case.pk, order.pk, "damaged")
    assert claim.photos.count() == 1
    assert claim.claimed_amount == Decimal("69.00")


def test_bad_input_on_the_form_says_why_and_registers_nothing(login, agent, order):
    client = login(agent)
    response = client.post("/carrier-claims/new/", form_data(order, order_id="NOPE1"))
    assert response.status_code == 400
    assert "No order NOPE1" in text(response)
    response = client.post("/carrier-claims/new/", form_data(order, quantity="5"))
    assert response.status_code == 400
    assert "holds 1 item: a claim cannot be for 5" in text(response)
    response = client.post("/carrier-claims/new/", form_data(order, item_price="-3"))
    assert response.status_code == 400
    assert not CarrierClaim.objects.exists()


def test_a_parcel_claimed_twice_is_refused_on_the_form(login, agent, order, warehouse):
    first = register(order, warehouse, tracking_no=order.tracking_no)
    response = login(agent).post("/carrier-claims/new/", form_data(order))
    assert response.status_code == 400
    assert f"already has claim #{first.pk}" in text(response)
    assert CarrierClaim.objects.count() == 1


def test_the_page_says_what_the_claim_lacks_and_refuses_to_send_it(login, warehouse, order):
    claim = register(order, warehouse, kind="damaged", region="")
    client = login(warehouse)
    page = client.get(f"/carrier-claims/{claim.pk}/")
    assert "Before it goes to the carrier the claim needs:" in text(page)
    assert "Region" in text(page) and "photos of the damaged goods" in text(page)

    response = client.post(f"/carrier-claims/{claim.pk}/actions/submit/",
                           {"submit-expected_state": "draft"}, follow=True)
    assert "Before it goes to the carrier the claim needs" in alert_texts(response, "danger")
    claim.refresh_from_db()
    assert claim.state == "draft"

    client.post(f"/carrier-claims/{claim.pk}/edit/", {
        **{f"edit-{k}": v for k, v in form_data(order, region="上海").items()},
        "edit-expected_state": "draft", "edit-version": svc.claim_version(claim)})
    client.post(f"/carrier-claims/{claim.pk}/photos/", {"photos-photos": [image_upload()]})
    claim.refresh_from_db()
    assert claim.region == "上海" and claim.photos.count() == 1
    response = client.post(f"/carrier-claims/{claim.pk}/actions/submit/",
                           {"submit-expected_state": "draft",
                            "submit-carrier_reference": "PC-1"}, follow=True)
    assert "Done" in alert_texts(response, "success")
    claim.refresh_from_db()
    assert (claim.state, claim.carrier_reference) == ("submitted", "PC-1")


def test_a_stale_page_is_told_and_nothing_changes(login, warehouse, order):
    claim = svc.claim_submit(claim=register(order, warehouse), actor=warehouse)
    response = login(warehouse).post(
        f"/carrier-claims/{claim.pk}/actions/submit/", {"submit-expected_state": "draft"},
        follow=True)
    assert "changed while you were looking at it" in alert_texts(response, "danger")
    assert ClaimEvent.objects.filter(claim=claim, kind="transition").count() == 1


def test_the_answer_and_the_money_through_the_page(login, warehouse, finance, order):
    claim = svc.claim_submit(claim=register(order, warehouse), actor=warehouse)
    page = login(warehouse).get(f"/carrier-claims/{claim.pk}/")
    assert 'data-action="accept"' in text(page) and 'data-action="reject"' in text(page)
    response = login(warehouse).post(f"/carrier-claims/{claim.pk}/actions/accept/",
                                     {"accept-expected_state": "submitted",
                                      "accept-result": "全额赔付"})
    assert response.status_code == 302
    # the warehouse sees no compensation form; finance does
    assert 'data-action="record_compensation"' not in text(
        login(warehouse).get(f"/carrier-claims/{claim.pk}/"))
    assert 'data-action="record_compensation"' in text(
        login(finance).get(f"/carrier-claims/{claim.pk}/"))
    too_much = login(finance).post(
        f"/carrier-claims/{claim.pk}/actions/record_compensation/",
        {"record_compensation-expected_state": "accepted",
         "record_compensation-amount": "90.01"}, follow=True)
    assert "at most what was claimed" in alert_texts(too_much, "danger")
    login(finance).post(f"/carrier-claims/{claim.pk}/actions/record_compensation/",
                        {"record_compensation-expected_state": "accepted",
                         "record_compensation-amount": "90.00"})
    claim.refresh_from_db()
    assert (claim.state, claim.compensated_amount) == ("compensated", Decimal("90.00"))
    register_page = login(finance).get("/carrier-claims/")
    assert "carriers paid ¥90.00" in text(register_page)


def test_another_shops_claim_is_a_404_everywhere(login, agent_b, warehouse, order):
    claim = register(order, warehouse, kind="damaged")
    svc.claim_add_photos(claim=claim, actor=warehouse, photos=[image_upload()])
    photo = ClaimPhoto.objects.get()
    client = login(agent_b)
    for url in [f"/carrier-claims/{claim.pk}/", f"/carrier-claims/photos/{photo.pk}/"]:
        assert client.get(url).status_code == 404, url
    for url, data in [(f"/carrier-claims/{claim.pk}/actions/submit/",
                       {"submit-expected_state": "draft"}),
                      (f"/carrier-claims/{claim.pk}/edit/", {"edit-expected_state": "draft"}),
                      (f"/carrier-claims/{claim.pk}/photos/", {})]:
        assert client.post(url, data).status_code == 404, url
    listing = client.get("/carrier-claims/")
    assert f'data-claim="{claim.pk}"' not in text(listing)
    assert order.tracking_no not in client.get("/carrier-claims/register.csv").content.decode()
    claim.refresh_from_db()
    assert claim.state == "draft"
    assert login(warehouse).get(f"/carrier-claims/photos/{photo.pk}/").status_code == 200


def test_finance_reads_the_register_but_cannot_register(login, finance):
    assert login(finance).get("/carrier-claims/").status_code == 200
    assert login(finance).get("/carrier-claims/new/").status_code == 403


def test_the_register_filters_and_downloads_what_it_shows(login, warehouse, shop):
    lost = register(OrderFactory(shop=shop), warehouse, tracking_no="YT1111", kind="lost")
    damaged = register(OrderFactory(shop=shop), warehouse, tracking_no="=cmd|YT2222",
                       kind="damaged", parcel_status="=HYPERLINK(\"x\")")
    client = login(warehouse)
    page = client.get("/carrier-claims/", {"kind": "lost"})
    assert f'data-claim="{lost.pk}"' in text(page)
    assert f'data-claim="{damaged.pk}"' not in text(page)
    assert f'data-claim="{lost.pk}"' in text(client.get("/carrier-claims/", {"q": "YT1111"}))

    download = client.get("/carrier-claims/register.csv", {"kind": "damaged"})
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="carrier-claims-')
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(rows) == 2  # the header and the damaged claim only
    assert rows[1][0] == str(damaged.pk)
    assert rows[1][7].startswith("'=")  # a formula in a cell is shown, never run
    xlsx = client.get("/carrier-claims/register.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert client.get("/carrier-claims/register.pdf").status_code == 404


def test_the_register_runs_the_same_queries_for_3_rows_as_for_20(login, warehouse, shop):
    def count() -> int:
        client = login(warehouse)
        client.get("/carrier-claims/")  # session warm
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/carrier-claims/").status_code == 200
        return len(queries)

    for n in range(3):
        register(OrderFactory(shop=shop), warehouse, tracking_no=f"Q{n}")
    few = count()
    for n in range(3, 20):
        case = make_case(order=OrderFactory(shop=shop))
        svc.claim_create(shop=shop, order=case.order, case=case, actor=warehouse,
                         **details(tracking_no=f"Q{n}"))
    assert count() == few


def test_the_claim_page_runs_the_same_queries_with_a_long_timeline(login, warehouse, order):
    claim = register(order, warehouse)

    def count() -> int:
        client = login(warehouse)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/carrier-claims/{claim.pk}/").status_code == 200
        return len(queries)

    before = count()
    for n in range(6):
        svc.claim_update(claim=claim, actor=warehouse, region=f"地区{n}")
    assert count() == before


def test_the_navbar_and_the_admin_show_claims(login, agent, manager, order, warehouse):
    claim = register(order, warehouse)
    assert "/carrier-claims/" in text(login(agent).get("/cases/"))
    admin_page = login(manager).get(f"/admin/refunds/carrierclaim/{claim.pk}/change/")
    assert admin_page.status_code == 200
    assert "330106199001011234" not in text(admin_page)  # the sender's ID stays off the admin
    assert login(manager).get("/admin/refunds/carrierclaim/").status_code == 200


def test_a_return_parcels_claim_takes_the_return_waybill(login, agent, shop):
    case = case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop), kind="return"),
                               actor=agent)
    case = case_svc.case_record_return_shipment(case=case, actor=agent, carrier="中通",
                                                tracking_no="ZT31415926")
    form = login(agent).get(f"/carrier-claims/new/?case={case.pk}")
    assert 'value="ZT31415926"' in text(form)
    assert '<option value="return" selected>' in text(form)  # the buyer's parcel, not ours


def test_a_bad_filter_on_the_download_says_so(login, warehouse):
    response = login(warehouse).get("/carrier-claims/register.csv",
                                    {"reported_from": "yesterday"}, follow=True)
    assert "Please correct the filters first." in alert_texts(response, "danger")
    assert response.redirect_chain[-1][0] == "/carrier-claims/"


def test_a_bad_filter_on_the_register_is_shown_not_a_500(login, warehouse, order):
    register(order, warehouse)
    response = login(warehouse).get("/carrier-claims/", {"reported_from": "yesterday",
                                                         "state": "nonsense"})
    assert response.status_code == 200
    assert "Enter a valid date." in text(response)


def test_the_cases_timeline_follows_its_parcels_claim(login, warehouse, finance, shop):
    case = make_case(order=OrderFactory(shop=shop))
    claim = svc.claim_create(shop=shop, order=case.order, case=case, actor=warehouse,
                             **details())
    claim = svc.claim_accept(claim=svc.claim_submit(claim=claim, actor=warehouse),
                             actor=warehouse, result="同意")
    svc.claim_record_compensation(claim=claim, actor=finance, amount="88.00")
    rows = list(case.events.filter(kind="claim").values_list("transition", "to_state", "data"))
    assert [(t, s) for t, s, _ in rows] == [("create", "draft"), ("submit", "submitted"),
                                            ("accept", "accepted"),
                                            ("record_compensation", "compensated")]
    assert rows[-1][2] == {"claim_id": claim.pk, "claim_kind": "lost", "amount": "88.00"}
    page = text(login(warehouse).get(f"/cases/{case.pk}/"))
    assert f'href="/carrier-claims/{claim.pk}/">#{claim.pk}</a>: Accepted by the carrier → ' \
           "Compensated" in page
    # a claim of the order without its case writes nothing on a case
    other = register(OrderFactory(shop=shop), warehouse, tracking_no="YT-OTHER")
    svc.claim_submit(claim=other, actor=warehouse)
    assert not case.events.filter(kind="claim", data__claim_id=other.pk).exists()


def test_the_correction_form_never_writes_the_whole_sender_id_into_the_page(login, warehouse,
                                                                           order):
    claim = register(order, warehouse, sender_id_number="330106199001011234")
    client = login(warehouse)
    page = text(client.get(f"/carrier-claims/{claim.pk}/"))
    assert "330106199001011234" not in page
    assert 'placeholder="330***********1234"' in page
    data = {f"edit-{k}": v for k, v in form_data(order, tracking_no=claim.tracking_no,
                                                 kind="lost", region="上海",
                                                 sender_id_number="").items()}
    data.update({"edit-expected_state": "draft", "edit-version": svc.claim_version(claim)})
    client.post(f"/carrier-claims/{claim.pk}/edit/", data)
    claim.refresh_from_db()
    assert (claim.region, claim.sender_id_number) == ("上海", "330106199001011234")  # kept
    data.update({"edit-sender_id_number": "310101198812120011",
                 "edit-version": svc.claim_version(claim)})
    client.post(f"/carrier-claims/{claim.pk}/edit/", data)
    claim.refresh_from_db()
    assert claim.sender_id_number == "310101198812120011"
