"""The warehouse station's services: inspecting a returned parcel (the case is received),
unmatched parcels (无主件) and attaching them, the daily batch cutoff, and photo handling."""

from __future__ import annotations

import io
import os
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from refunds.exceptions import ActionNotAllowed, CaseChanged, PermissionDeniedError
from refunds.models import (
    Case,
    CaseEvent,
    CaseKind,
    CaseState,
    DeadlineOwner,
    EventKind,
    ParcelCondition,
    ParcelPhoto,
    ReturnParcel,
)
from refunds.photos import MAX_PHOTOS, PhotoError, clean_photo
from refunds.services import cases as case_svc
from refunds.services.warehouse import batch_date_for, parcel_inspect, parcel_register_unmatched
from tests.factories import OrderFactory, make_case, make_staff

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    return tmp_path / "private"


def image_upload(name="photo.jpg", fmt="JPEG", size=(64, 48), exif=False) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    kwargs = {}
    if exif:
        data = Image.Exif()
        data[0x0112] = 6  # orientation: rotate 90°
        data[0x010F] = "SecretCam"
        kwargs["exif"] = data
    image.save(buffer, format=fmt, **kwargs)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def in_transit(shop, agent, tracking="SF1001", kind=CaseKind.RETURN) -> Case:
    case = case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop), kind=kind),
                               actor=agent)
    return case_svc.case_record_return_shipment(case=case, actor=agent, carrier="顺丰",
                                                tracking_no=tracking)


def stored_files(root) -> list[str]:
    return [f for _dir, _sub, files in os.walk(root) for f in files]


# --- the batch cutoff -------------------------------------------------------------------------


@pytest.mark.parametrize("local_time,batch_day", [
    (time(9, 0), 10), (time(15, 59, 59), 10), (time(16, 0), 10), (time(16, 0, 1), 11),
    (time(23, 59), 11), (time(0, 5), 10),
])
def test_parcels_after_the_cutoff_go_to_the_next_days_batch(shop, local_time, batch_day):
    received = datetime.combine(datetime(2026, 3, 10).date(), local_time, tzinfo=SHANGHAI)
    assert batch_date_for(received, shop.policy).day == batch_day


def test_cutoff_is_the_shops_policy_and_local_time(shop):
    shop.policy.return_cutoff = time(15, 0)
    received = datetime(2026, 3, 10, 7, 30, tzinfo=ZoneInfo("UTC"))  # 15:30 in Shanghai
    assert batch_date_for(received, shop.policy).isoformat() == "2026-03-11"


# --- inspecting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("condition", ParcelCondition.values)
def test_inspection_receives_the_case_and_records_the_parcel(shop, agent, warehouse, condition,
                                                             private_media):
    case = in_transit(shop, agent)
    parcel = parcel_inspect(case=case, actor=warehouse, condition=condition, quantity=1,
                            tracking_no="sf 1001", note="外包装完好",
                            photos=[image_upload()], expected_state="return_in_transit")
    case.refresh_from_db()
    assert case.state == CaseState.RECEIVED
    assert case.resellable is (condition == ParcelCondition.RESELLABLE)
    assert case.deadline_owner == DeadlineOwner.SHOP  # after-sales decides next
    assert (parcel.case, parcel.tracking_no, parcel.condition, parcel.quantity_received) == (
        case, "SF1001", condition, 1)
    assert parcel.inspected_staff_number == "W4001" and parcel.carrier == "顺丰"
    event = CaseEvent.objects.get(case=case, kind=EventKind.INSPECTION)
    assert event.data["condition"] == condition and event.note == "外包装完好"
    assert CaseEvent.objects.filter(case=case, transition="receive").count() == 1
    photo = ParcelPhoto.objects.get(parcel=parcel)
    assert photo.image.name.endswith(".jpg") and "photo" not in photo.image.name
    assert os.path.exists(os.path.join(private_media, photo.image.name))


def test_a_case_still_awaiting_the_return_can_be_received(shop, agent, warehouse):
    case = case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop),
                                              kind=CaseKind.RETURN), actor=agent)
    parcel = parcel_inspect(case=case, actor=warehouse, condition="resellable", quantity=1,
                            tracking_no="YT77")
    assert Case.objects.get(pk=case.pk).state == CaseState.RECEIVED
    assert parcel.tracking_no == "YT77"


def test_inspection_of_a_case_not_waiting_changes_nothing(shop, agent, warehouse,
                                                          private_media):
    case = make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN)  # requested
    with pytest.raises(ActionNotAllowed):
        parcel_inspect(case=case, actor=warehouse, condition="resellable", quantity=1,
                       tracking_no="SF1", photos=[image_upload()])
    assert Case.objects.get(pk=case.pk).state == CaseState.REQUESTED
    assert not ReturnParcel.objects.exists() and not ParcelPhoto.objects.exists()
    assert stored_files(private_media) == []  # the photo written inside was removed


def test_stale_inspection_is_refused(shop, agent, warehouse):
    case = in_transit(shop, agent)
    parcel_inspect(case=case, actor=warehouse, condition="resellable", quantity=1)
    with pytest.raises((CaseChanged, ActionNotAllowed)):
        parcel_inspect(case=case, actor=warehouse, condition="resellable", quantity=1,
                       expected_state="return_in_transit")
    assert ReturnParcel.objects.count() == 1


@pytest.mark.parametrize("kwargs", [
    {"condition": "fine", "quantity": 1},
    {"condition": "resellable", "quantity": -1},
    {"condition": "resellable", "quantity": "many"},
    {"condition": "resellable", "quantity": 1, "tracking_no": "No:"},
])
def test_bad_inspection_input_changes_nothing(shop, agent, warehouse, kwargs):
    case = make_case(order=OrderFactory(shop=shop), kind=CaseKind.RETURN)
    case = case_svc.case_agree(case=case, actor=agent)  # no tracking number recorded
    with pytest.raises(ActionNotAllowed):
        parcel_inspect(case=case, actor=warehouse, **kwargs)
    assert Case.objects.get(pk=case.pk).state == CaseState.AWAITING_RETURN
    assert not ReturnParcel.objects.exists()


@pytest.mark.parametrize("role", ["agent", "finance", "supervisor"])
def test_only_the_warehouse_inspects(request, shop, agent, role):
    case = in_transit(shop, agent)
    with pytest.raises(PermissionDeniedError):
        parcel_inspect(case=case, actor=request.getfixturevalue(role),
                       condition="resellable", quantity=1)
    assert Case.objects.get(pk=case.pk).state == CaseState.RETURN_IN_TRANSIT


def test_warehouse_of_another_shop_cannot_inspect(shop, agent, roles, other_shop):
    case = in_transit(shop, agent)
    outsider = make_staff("wh_b", "warehouse", other_shop)
    with pytest.raises(PermissionDeniedError):
        parcel_inspect(case=case, actor=outsider, condition="resellable", quantity=1)
    with pytest.raises(PermissionDeniedError):
        parcel_register_unmatched(shop=shop, actor=outsider, tracking_no="X1")
    assert not ReturnParcel.objects.exists()


# --- unmatched parcels -------------------------------------------------------------------------


def test_unmatched_parcel_is_registered_then_attached(shop, agent, warehouse):
    parcel = parcel_register_unmatched(shop=shop, actor=warehouse, tracking_no=" no: zt 555 ",
                                       carrier="中通", note="一件黑色外套",
                                       photos=[image_upload()])
    assert parcel.is_unmatched and parcel.tracking_no == "ZT555"
    assert parcel.condition == "" and parcel.received_staff_number == "W4001"
    with pytest.raises(ActionNotAllowed, match="already"):
        parcel_register_unmatched(shop=shop, actor=warehouse, tracking_no="ZT555")

    case = case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop),
                                              kind=CaseKind.RETURN), actor=agent)
    attached = parcel_inspect(case=case, actor=warehouse, condition="missing_parts", quantity=1,
                              parcel=parcel, note="缺腰带")
    assert attached.pk == parcel.pk and attached.case == case
    assert attached.batch_date == parcel.batch_date  # still the day it arrived
    assert attached.note == "一件黑色外套\n缺腰带"
    assert Case.objects.get(pk=case.pk).state == CaseState.RECEIVED
    assert ParcelPhoto.objects.filter(parcel=parcel).count() == 1

    other = case_svc.case_agree(case=make_case(order=OrderFactory(shop=shop),
                                               kind=CaseKind.RETURN), actor=agent)
    with pytest.raises(ActionNotAllowed, match="already been attached"):
        parcel_inspect(case=other, actor=warehouse, condition="resellable", quantity=1,
                       parcel=parcel)
    assert Case.objects.get(pk=other.pk).state == CaseState.AWAITING_RETURN


def test_unmatched_parcel_cannot_go_to_another_shops_case(shop, other_shop, agent, roles):
    both = make_staff("wh_both", "warehouse", shop, other_shop)
    agent_b = make_staff("agent_b2", "agent", other_shop)
    parcel = parcel_register_unmatched(shop=shop, actor=both, tracking_no="JD1")
    case = case_svc.case_agree(case=make_case(order=OrderFactory(shop=other_shop),
                                              kind=CaseKind.RETURN), actor=agent_b)
    with pytest.raises(ActionNotAllowed, match="different shops"):
        parcel_inspect(case=case, actor=both, condition="resellable", quantity=1, parcel=parcel)
    assert Case.objects.get(pk=case.pk).state == CaseState.AWAITING_RETURN


# --- photos --------------------------------------------------------------------------------------


def test_photo_is_re_encoded_without_exif_and_turned_upright():
    content, width, height = clean_photo(image_upload(size=(80, 40), exif=True))
    image = Image.open(io.BytesIO(content.read()))
    assert image.format == "JPEG"
    assert (width, height) == (40, 80)  # rotated by its orientation tag
    assert not image.getexif()


def test_large_photo_is_shrunk():
    _content, width, height = clean_photo(image_upload(size=(5000, 1000), fmt="PNG"))
    assert max(width, height) == 2560


@pytest.mark.parametrize("upload", [
    SimpleUploadedFile("evil.jpg", b"<?php system($_GET['c']); ?>", content_type="image/jpeg"),
    SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg"),
    SimpleUploadedFile("cut.jpg", image_upload().read()[:200], content_type="image/jpeg"),
])
def test_non_images_are_refused(upload):
    with pytest.raises(PhotoError):
        clean_photo(upload)


def test_gif_and_too_many_pixels_and_too_many_bytes_are_refused(monkeypatch):
    with pytest.raises(PhotoError, match="JPEG, PNG or WebP"):
        clean_photo(image_upload(name="a.gif", fmt="GIF"))
    with pytest.raises(PhotoError, match="pixels"):
        clean_photo(image_upload(size=(8000, 6000), fmt="PNG"))  # 48 million
    monkeypatch.setattr("refunds.photos.MAX_UPLOAD_BYTES", 100)
    with pytest.raises(PhotoError, match="larger"):
        clean_photo(image_upload())


def test_a_bad_photo_among_good_ones_stops_the_inspection(shop, agent, warehouse,
                                                          private_media):
    case = in_transit(shop, agent)
    bad = SimpleUploadedFile("x.png", b"not a png", content_type="image/png")
    with pytest.raises(PhotoError):
        parcel_inspect(case=case, actor=warehouse, condition="resellable", quantity=1,
                       photos=[image_upload(), bad])
    assert Case.objects.get(pk=case.pk).state == CaseState.RETURN_IN_TRANSIT
    assert not ReturnParcel.objects.exists() and stored_files(private_media) == []
    with pytest.raises(PhotoError, match="At most"):
        parcel_inspect(case=case, actor=warehouse, condition="resellable", quantity=1,
                       photos=[image_upload() for _ in range(MAX_PHOTOS + 1)])


def test_a_tracking_number_too_long_is_refused_not_cut(shop, warehouse):
    from refunds.models import ReturnParcel

    long_number = "ZT" + "1" * 63  # 65 characters once the spaces are gone
    with pytest.raises(ActionNotAllowed, match="at most 64 characters; this one has 65"):
        parcel_register_unmatched(shop=shop, actor=warehouse, tracking_no=f" {long_number} ")
    assert not ReturnParcel.objects.exists()
    parcel = parcel_register_unmatched(shop=shop, actor=warehouse,
                                       tracking_no="No: " + long_number[:64])
    assert parcel.tracking_no == long_number[:64]  # 64 is fine, and kept whole


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks")
@pytest.mark.django_db(transaction=True)
def test_two_people_registering_one_unmatched_parcel_at_once_register_it_once(
        shop, warehouse, monkeypatch):
    """The first registration is held inside its transaction until the second has checked
    the list: without the lock both found it empty and both registered the parcel."""
    import threading

    from django.db import connections

    from refunds.services import warehouse as service

    first_inside, second_started = threading.Event(), threading.Event()
    save_photos = service._save_photos

    def held(parcel, *args):
        first_inside.set()
        second_started.wait(5)
        threading.Event().wait(0.5)  # the second is now past its check, or waiting for it
        return save_photos(parcel, *args)

    outcomes = []

    def register(hold: bool):
        try:
            if not hold:
                first_inside.wait(5)
                second_started.set()
            parcel_register_unmatched(shop=shop, actor=warehouse, tracking_no="SF4040404040")
            outcomes.append("registered")
        except ActionNotAllowed as error:
            outcomes.append(str(error.message))
        finally:
            connections.close_all()

    monkeypatch.setattr(service, "_save_photos", lambda parcel, *args: (
        held(parcel, *args) if threading.current_thread().name == "first"
        else save_photos(parcel, *args)))
    threads = [threading.Thread(target=register, args=(True,), name="first"),
               threading.Thread(target=register, args=(False,), name="second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["Parcel SF4040404040 is already on the unmatched list.",
                                "registered"]
    assert ReturnParcel.objects.filter(tracking_no="SF4040404040").count() == 1
