"""Carrier claims (报损报失), from a review of the first version: each test states a rule that
its first version broke."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from refunds.exceptions import ActionNotAllowed, AmountError
from refunds.models import CarrierClaim, OrderLine
from refunds.photos import PhotoError
from refunds.services import claims as svc
from tests.factories import OrderFactory, make_case
from tests.services.test_carrier_claims import details
from tests.services.test_warehouse import image_upload
from tests.views.helpers import alert_texts, text

FIRST_ID = "330106199001011234"
SECOND_ID = "310101198812120011"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    return tmp_path / "private"


def client_for(user, **defaults) -> Client:
    client = Client(**defaults)
    client.force_login(user)
    return client


def register(order, actor, **overrides):
    return svc.claim_create(shop=order.shop, order=order, actor=actor, **details(**overrides))


def edit_data(claim: CarrierClaim, **overrides) -> dict:
    """The edit form as the claim page renders it (its initial values), posted back."""
    values = {
        "kind": claim.kind, "direction": claim.direction, "tracking_no": claim.tracking_no,
        "carrier": claim.carrier,
        "ship_date": claim.ship_date.isoformat() if claim.ship_date else "",
        "region": claim.region, "sender_id_number": claim.sender_id_number,
        "parcel_status": claim.parcel_status, "item_model": claim.item_model,
        "item_price": str(claim.item_price), "quantity": str(claim.quantity),
        "claimed_amount": str(claim.claimed_amount),
        "checked_staff_number": claim.checked_staff_number,
        "reported_on": claim.reported_on.isoformat(), "details": claim.details,
    }
    values.update(overrides)
    data = {f"edit-{k}": v for k, v in values.items()}
    data["edit-expected_state"] = claim.state
    return data


# --- one claim per parcel --------------------------------------------------------------------


def test_a_parcel_the_carrier_paid_for_cannot_be_claimed_again_once_the_claim_is_closed(
        order, warehouse, finance):
    claim = register(order, warehouse, tracking_no="YT5050")
    claim = svc.claim_submit(claim=claim, actor=warehouse)
    claim = svc.claim_accept(claim=claim, actor=warehouse, result="同意赔付")
    claim = svc.claim_record_compensation(claim=claim, actor=finance, amount="90.00")
    svc.claim_close(claim=claim, actor=warehouse)  # the normal end of a paid claim

    # "a second claim for a tracking number whose claim ... was compensated is refused"
    with pytest.raises(ActionNotAllowed, match="claimed once"):
        register(order, warehouse, tracking_no="YT5050")
    assert CarrierClaim.objects.filter(tracking_no="YT5050").count() == 1


# --- the sender's ID (身份证): masked on pages, not in the admin -------------------------------


def test_a_corrected_sender_id_is_not_shown_in_full_on_the_claim_timeline(order, warehouse):
    claim = register(order, warehouse, sender_id_number=FIRST_ID)
    svc.claim_update(claim=claim, actor=warehouse, sender_id_number=SECOND_ID)
    svc.claim_submit(claim=claim, actor=warehouse)  # no edit form on the page any more

    page = client_for(warehouse).get(f"/carrier-claims/{claim.pk}/")
    assert page.status_code == 200
    assert "310***********0011" in text(page)  # the masked value is there
    assert FIRST_ID not in text(page)
    assert SECOND_ID not in text(page)


def test_a_corrected_sender_id_stays_off_the_admin(order, warehouse, manager):
    claim = register(order, warehouse, sender_id_number=FIRST_ID)
    svc.claim_update(claim=claim, actor=warehouse, sender_id_number=SECOND_ID)

    page = client_for(manager).get(f"/admin/refunds/carrierclaim/{claim.pk}/change/")
    assert page.status_code == 200
    assert FIRST_ID not in text(page)
    assert SECOND_ID not in text(page)


# --- messages in the user's language ---------------------------------------------------------


def test_the_changed_claim_message_is_in_the_users_language(order, warehouse):
    with translation.override("en"):
        import refunds.views.claims  # noqa: F401  (the module as the first English page loads it)
    claim = register(order, warehouse)
    url = f"/carrier-claims/{claim.pk}/actions/submit/"

    english = client_for(warehouse, HTTP_ACCEPT_LANGUAGE="en").post(url, {}, follow=True)
    assert "This claim changed while you were looking at it" in alert_texts(english, "danger")

    chinese = client_for(warehouse, HTTP_ACCEPT_LANGUAGE="zh-hans").post(url, {}, follow=True)
    assert "您查看期间这条理赔已被修改" in alert_texts(chinese, "danger")
    claim.refresh_from_db()
    assert claim.state == "draft"


# --- bad input: a message, never a 500 -------------------------------------------------------


def test_a_case_number_in_other_digits_on_the_new_claim_page_is_not_a_500(agent, shop):
    make_case(order=OrderFactory(shop=shop))
    client = client_for(agent, raise_request_exception=False)
    response = client.get("/carrier-claims/new/", {"case": "²"})  # str.isdigit() says yes
    assert response.status_code in (200, 404)


def test_a_claimed_amount_too_large_for_the_column_is_refused_with_a_message(shop, warehouse):
    order = OrderFactory(shop=shop)
    OrderLine.objects.create(order=order, platform_sub_order_id="2", title="袜子", quantity=1,
                             paid_amount=Decimal("20.00"))
    # each field fits (12 digits); price × quantity does not: 19,999,999,999.98
    with pytest.raises((ActionNotAllowed, AmountError)):
        register(order, warehouse, item_price=Decimal("9999999999.99"), quantity=2,
                 claimed_amount=None)
    assert not CarrierClaim.objects.exists()


# --- the damage register keeps who checked the parcel ----------------------------------------


def test_clearing_who_checked_the_parcel_on_a_correction_keeps_a_staff_number(order, warehouse):
    claim = register(order, warehouse)
    assert claim.checked_staff_number == "W4001"
    # the form's help text: "Who checked the parcel (工号); empty: you."
    claim = svc.claim_update(claim=claim, actor=warehouse, checked_staff_number="")
    claim.refresh_from_db()
    assert claim.checked_staff_number != ""


# --- photos as on the warehouse pages: at most 10 per parcel ---------------------------------


def test_a_claim_holds_at_most_ten_photos(order, warehouse):
    claim = register(order, warehouse, kind="damaged")
    assert svc.claim_add_photos(claim=claim, actor=warehouse,
                                photos=[image_upload() for _ in range(10)]) == 10
    with pytest.raises((PhotoError, ActionNotAllowed)):
        svc.claim_add_photos(claim=claim, actor=warehouse, photos=[image_upload()])
    assert claim.photos.count() == 10


# --- two people at once: one wins, the other is told -----------------------------------------


def test_a_stale_correction_does_not_silently_undo_a_colleagues_correction(
        order, warehouse, supervisor):
    claim = register(order, warehouse, region="浙江 杭州")
    stale_form = edit_data(claim, details="补充: 外箱有水渍")  # the warehouse's page, as loaded

    svc.claim_update(claim=claim, actor=supervisor, region="江苏 南京")  # meanwhile

    response = client_for(warehouse).post(f"/carrier-claims/{claim.pk}/edit/", stale_form,
                                          follow=True)
    assert response.status_code == 200
    claim.refresh_from_db()
    assert claim.region == "江苏 南京"  # or the warehouse is told the claim changed


# --- the timeline speaks the staff's words ---------------------------------------------------


def test_a_corrected_kind_shows_its_label_on_the_timeline_not_the_stored_code(order, warehouse):
    claim = register(order, warehouse, kind="lost")
    svc.claim_update(claim=claim, actor=warehouse, kind="damaged", direction="return")

    page = client_for(warehouse, HTTP_ACCEPT_LANGUAGE="zh-hans").get(
        f"/carrier-claims/{claim.pk}/")
    assert page.status_code == 200
    assert "lost → damaged" not in text(page)
    assert "outbound → return" not in text(page)
