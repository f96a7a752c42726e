"""The warehouse pages: scan → inspect, several matches, unmatched parcels (无主件) and
attaching them, the returns batch (退货明细表) page and downloads, private photos; shop
scoping, server-side permissions, bad input, query counts."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from refunds.models import Case, CaseKind, CaseState, ParcelPhoto, ReturnParcel
from refunds.services import cases as case_services
from refunds.services.warehouse import parcel_inspect, parcel_register_unmatched
from tests.factories import BuyerFactory, OrderFactory, make_case, make_staff
from tests.services.test_warehouse import image_upload

from .helpers import alert_texts, text

SHANGHAI = ZoneInfo("Asia/Shanghai")
_PARCEL = re.compile(r'<tr data-parcel="(\d+)">')


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")


def in_transit(shop, tracking="SF1001", buyer=None) -> Case:
    order = OrderFactory(shop=shop, **({"buyer": buyer} if buyer else {}))
    case = case_services.case_agree(case=make_case(order=order, kind=CaseKind.RETURN),
                                    actor=None)
    return case_services.case_record_return_shipment(case=case, actor=None, carrier="顺丰",
                                                     tracking_no=tracking)


def _inspect_post(case, **data):
    post = {"expected_state": case.state, "quantity": "1", "condition": "resellable",
            "tracking_no": case.return_tracking_no, "carrier": "顺丰", "note": ""}
    post.update(data)
    return post


# --- scanning --------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["SF1001", " sf 1001 ", "No:SF1001", "no： sf1001"])
def test_scanning_one_match_opens_its_inspection(login, warehouse, shop, typed):
    case = in_transit(shop)
    response = login(warehouse).get("/warehouse/", {"tracking_no": typed})
    assert response.status_code == 302
    assert response.url == f"/warehouse/cases/{case.pk}/inspect/?tracking_no=SF1001"


def test_scanning_several_matches_lets_the_user_choose(login, warehouse, shop):
    first, second = in_transit(shop, "YT9"), in_transit(shop, "YT9")
    page = login(warehouse).get("/warehouse/", {"tracking_no": "yt9"})
    assert page.status_code == 200
    chosen = re.findall(r'data-case="(\d+)"', text(page))
    assert chosen == [str(first.pk), str(second.pk)]


def test_scanning_no_match_offers_the_unmatched_list(login, warehouse, shop, agent):
    received = in_transit(shop, "ZT1")
    parcel_inspect(case=received, actor=warehouse, condition="resellable", quantity=1)
    page = text(login(warehouse).get("/warehouse/", {"tracking_no": "ZT1"}))
    assert 'id="no-match"' in page and 'id="unmatched"' in page
    assert f"Case #{received.pk} has this tracking number" in page


def test_another_shops_parcel_is_not_found(login, warehouse, other_shop):
    in_transit(other_shop, "SF777")
    page = login(warehouse).get("/warehouse/", {"tracking_no": "SF777"})
    assert page.status_code == 200 and 'id="no-match"' in text(page)


@pytest.mark.parametrize("role", ["agent", "finance", "supervisor"])
def test_the_station_is_for_the_warehouse(request, login, shop, role):
    client = login(request.getfixturevalue(role))
    case = in_transit(shop)
    assert client.get("/warehouse/").status_code == 403
    assert client.post(f"/warehouse/cases/{case.pk}/inspect/",
                       _inspect_post(case)).status_code == 403
    assert client.post("/warehouse/unmatched/new/", {"tracking_no": "X"}).status_code == 403
    assert Case.objects.get(pk=case.pk).state == CaseState.RETURN_IN_TRANSIT
    assert client.get("/warehouse/batch/").status_code == 200  # after-sales reads the sheet


# --- inspecting -----------------------------------------------------------------------------


def test_inspection_through_the_page(login, warehouse, shop):
    case = in_transit(shop)
    client = login(warehouse)
    page = client.get(f"/warehouse/cases/{case.pk}/inspect/?tracking_no=SF1001")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in text(page)
    post = _inspect_post(case, condition="quality_defect", note="开线",
                         photos=[image_upload(), image_upload(name="b.png", fmt="PNG")])
    response = client.post(f"/warehouse/cases/{case.pk}/inspect/", post, follow=True)
    assert "received" in alert_texts(response, "success")
    case.refresh_from_db()
    assert case.state == CaseState.RECEIVED and case.resellable is False
    parcel = ReturnParcel.objects.get(case=case)
    assert parcel.condition == "quality_defect" and parcel.photos.count() == 2


@pytest.mark.parametrize("data", [
    {"condition": ""}, {"quantity": "-1"}, {"quantity": "abc"}, {"condition": "lost"},
])
def test_bad_inspection_shows_errors_and_changes_nothing(login, warehouse, shop, data):
    case = in_transit(shop)
    response = login(warehouse).post(f"/warehouse/cases/{case.pk}/inspect/",
                                      _inspect_post(case, **data))
    assert response.status_code == 400
    assert "Please correct the errors below." in alert_texts(response)
    assert Case.objects.get(pk=case.pk).state == CaseState.RETURN_IN_TRANSIT
    assert not ReturnParcel.objects.exists()


def test_a_file_that_is_not_a_photo_is_refused_with_a_message(login, warehouse, shop):
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = in_transit(shop)
    evil = SimpleUploadedFile("shell.jpg", b"#!/bin/sh\nrm -rf /", content_type="image/jpeg")
    response = login(warehouse).post(f"/warehouse/cases/{case.pk}/inspect/",
                                      _inspect_post(case, photos=[evil]))
    assert response.status_code == 400 and "not a photo" in text(response)
    assert Case.objects.get(pk=case.pk).state == CaseState.RETURN_IN_TRANSIT
    assert not ParcelPhoto.objects.exists()


def test_case_not_waiting_for_a_parcel_is_refused(login, warehouse, shop):
    case = make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN)
    response = login(warehouse).get(f"/warehouse/cases/{case.pk}/inspect/", follow=True)
    assert "not waiting for a parcel" in alert_texts(response, "danger")


def test_another_shops_case_is_404(login, warehouse, other_shop):
    case = in_transit(other_shop)
    client = login(warehouse)
    assert client.get(f"/warehouse/cases/{case.pk}/inspect/").status_code == 404
    assert client.post(f"/warehouse/cases/{case.pk}/inspect/",
                       _inspect_post(case)).status_code == 404
    assert Case.objects.get(pk=case.pk).state == CaseState.RETURN_IN_TRANSIT


# --- unmatched parcels -----------------------------------------------------------------------


def test_unmatched_parcel_registered_listed_attached(login, warehouse, shop):
    client = login(warehouse)
    response = client.post("/warehouse/unmatched/new/", {
        "shop": shop.pk, "tracking_no": "jd 42", "carrier": "京东", "note": "灰色卫衣",
        "photos": [image_upload()]}, follow=True)
    assert "unmatched list" in alert_texts(response, "success")
    parcel = ReturnParcel.objects.get()
    assert parcel.tracking_no == "JD42" and parcel.case is None
    assert _PARCEL.findall(text(response)) == [str(parcel.pk)]

    case = case_services.case_agree(
        case=make_case(order=OrderFactory(shop=shop, platform_order_id="88001"),
                       kind=CaseKind.RETURN), actor=None)
    response = client.post(f"/warehouse/unmatched/{parcel.pk}/attach/",
                           {f"parcel{parcel.pk}-reference": "88001"})
    assert response.url == f"/warehouse/cases/{case.pk}/inspect/?parcel={parcel.pk}"
    page = client.get(response.url)
    assert "Attaching unmatched parcel JD42" in text(page)
    done = client.post(f"/warehouse/cases/{case.pk}/inspect/",
                       {**_inspect_post(case, condition="wrong_item"), "parcel": parcel.pk},
                       follow=True)
    assert done.status_code == 200
    parcel.refresh_from_db()
    assert parcel.case == case and parcel.condition == "wrong_item"
    assert _PARCEL.findall(text(client.get("/warehouse/unmatched/"))) == []


def test_attach_needs_a_matching_case_of_the_parcels_shop(login, warehouse, shop, other_shop):
    parcel = parcel_register_unmatched(shop=shop, actor=warehouse, tracking_no="JD43")
    case_services.case_agree(case=make_case(order=OrderFactory(shop=other_shop,
                                                               platform_order_id="99"),
                                            kind=CaseKind.RETURN), actor=None)
    response = login(warehouse).post(f"/warehouse/unmatched/{parcel.pk}/attach/",
                                     {f"parcel{parcel.pk}-reference": "99"}, follow=True)
    assert "No single case" in alert_texts(response, "danger")


def test_bad_unmatched_registration_changes_nothing(login, warehouse, shop, other_shop):
    client = login(warehouse)
    assert client.post("/warehouse/unmatched/new/", {"shop": shop.pk,
                                                     "tracking_no": ""}).status_code == 400
    assert client.post("/warehouse/unmatched/new/", {"shop": other_shop.pk,
                                                     "tracking_no": "X1"}).status_code == 400
    assert not ReturnParcel.objects.exists()


def test_another_shops_unmatched_parcel_is_invisible(login, warehouse, roles, other_shop):
    outsider = make_staff("wh_b", "warehouse", other_shop)
    parcel = parcel_register_unmatched(shop=other_shop, actor=outsider, tracking_no="Q1")
    client = login(warehouse)
    assert _PARCEL.findall(text(client.get("/warehouse/unmatched/"))) == []
    assert client.post(f"/warehouse/unmatched/{parcel.pk}/attach/",
                       {f"parcel{parcel.pk}-reference": "1"}).status_code == 404


# --- the batch sheet ----------------------------------------------------------------------------


def test_batch_sheet_page_and_downloads_follow_the_cutoff(login, warehouse, agent, shop):
    day = timezone.localdate()
    before = datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(hours=15)
    after = before + timedelta(hours=2)  # 17:00: tomorrow's batch
    early = in_transit(shop, "SF1", buyer=BuyerFactory(nick="=evil()"))
    late = in_transit(shop, "SF2")
    parcel_inspect(case=early, actor=warehouse, condition="resellable", quantity=1, now=before)
    parcel_inspect(case=late, actor=warehouse, condition="damaged_by_buyer", quantity=2,
                   now=after, note="+1 划痕")
    client = login(agent)
    today = client.get("/warehouse/batch/", {"date": day.isoformat()})
    tomorrow = client.get("/warehouse/batch/", {"date": (day + timedelta(days=1)).isoformat()})
    assert len(_PARCEL.findall(text(today))) == 1 and "SF1" in text(today)
    assert len(_PARCEL.findall(text(tomorrow))) == 1 and "SF2" in text(tomorrow)

    xlsx = client.get("/warehouse/batch/download.xlsx",
                      {"date": (day + timedelta(days=1)).isoformat()})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    row = [cell.value for cell in sheet[2]]
    assert "SF2" in row and "'+1 划痕" in row and 2 in row
    csv_response = client.get("/warehouse/batch/download.csv", {"date": day.isoformat()})
    assert csv_response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and "'=evil()" in rows[1]
    assert client.get("/warehouse/batch/", {"date": "yesterday"}).status_code == 404


def test_batch_sheet_shows_only_the_users_shops(login, warehouse, roles, shop, other_shop):
    outsider = make_staff("wh_b", "warehouse", other_shop)
    parcel_register_unmatched(shop=other_shop, actor=outsider, tracking_no="OTHER1")
    mine = parcel_register_unmatched(shop=shop, actor=warehouse, tracking_no="MINE1")
    page = login(warehouse).get("/warehouse/batch/", {"date": mine.batch_date.isoformat()})
    assert _PARCEL.findall(text(page)) == [str(mine.pk)]
    assert login(warehouse).get("/warehouse/batch/", {"shop": other_shop.pk}).status_code == 404


# --- photos --------------------------------------------------------------------------------------


def test_photos_are_served_only_to_staff_of_the_shop(login, client, warehouse, agent, agent_b,
                                                     shop):
    case = in_transit(shop)
    parcel = parcel_inspect(case=case, actor=warehouse, condition="quality_defect", quantity=1,
                            photos=[image_upload()])
    photo = parcel.photos.get()
    url = f"/warehouse/photos/{photo.pk}/"
    response = login(agent).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\xff\xd8")
    assert login(agent_b).get(url).status_code == 404
    assert client.get(url).status_code == 302  # anonymous: to the login page
    assert url in text(login(agent).get(f"/cases/{case.pk}/"))  # linked on the case page


# --- query counts --------------------------------------------------------------------------------


def _count(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params or {}).status_code == 200
    return len(captured.captured_queries)


def test_warehouse_pages_query_count_does_not_grow(login, warehouse, shop,
                                                  django_assert_max_num_queries):
    client = login(warehouse)
    day = timezone.localdate().isoformat()

    def fill(count, start):
        for n in range(start, start + count):
            case = in_transit(shop, f"T{n}")
            parcel_inspect(case=case, actor=warehouse, condition="resellable", quantity=1,
                           photos=[image_upload()] if n % 2 else [])
            parcel_register_unmatched(shop=shop, actor=warehouse, tracking_no=f"U{n}",
                                      photos=[image_upload()])
            in_transit(shop, "DUP")

    fill(2, 0)
    counts = {url: _count(client, url, params) for url, params in (
        ("/warehouse/batch/", {"date": day}), ("/warehouse/unmatched/", None),
        ("/warehouse/", {"tracking_no": "DUP"}))}
    fill(12, 2)
    for (url, params), few in zip(
            (("/warehouse/batch/", {"date": day}), ("/warehouse/unmatched/", None),
             ("/warehouse/", {"tracking_no": "DUP"})), counts.values(), strict=True):
        with django_assert_max_num_queries(few):
            client.get(url, params or {})
        assert _count(client, url, params) == few, url


@pytest.mark.parametrize("reference", ["²", "①", "١٢"])
def test_attach_with_digits_that_are_not_ascii_is_a_message(login, warehouse, shop, reference):
    """"²" or "①" are digits to str.isdigit(), not to int(): once a 500."""
    parcel = parcel_register_unmatched(shop=shop, actor=warehouse, tracking_no="JD44")
    response = login(warehouse).post(f"/warehouse/unmatched/{parcel.pk}/attach/",
                                     {f"parcel{parcel.pk}-reference": reference}, follow=True)
    assert "No single case" in alert_texts(response, "danger")
    parcel.refresh_from_db()
    assert parcel.case_id is None


def test_the_unmatched_list_is_paged(login, warehouse, shop, monkeypatch):
    from refunds.views import warehouse as views

    monkeypatch.setattr(views, "UNMATCHED_PER_PAGE", 3)
    for n in range(4):
        parcel_register_unmatched(shop=shop, actor=warehouse, tracking_no=f"UP{n}")
    client = login(warehouse)

    first = text(client.get("/warehouse/unmatched/"))
    second = text(client.get("/warehouse/unmatched/", {"page": "2"}))
    beyond = client.get("/warehouse/unmatched/", {"page": "abc"})

    assert re.findall(r"<td>(UP\d)</td>", first) == ["UP3", "UP2", "UP1"]  # newest first
    assert re.findall(r"<td>(UP\d)</td>", second) == ["UP0"]
    assert "Page 1 of 2" in first and "page=2" in first
    assert beyond.status_code == 200 and "Page 1 of 2" in text(beyond)
