"""A carrier claim (报损报失) in a real browser: the warehouse registers a damaged parcel from
its case page (with a photo) and sends it to the carrier, records the carrier's answer;
finance records the money received; the register shows it."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from refunds.models import CarrierClaim
from tests.browser.test_returns_journey import log_in
from tests.factories import OrderFactory, make_case
from tests.services.test_warehouse import image_upload


@pytest.mark.browser
def test_a_damaged_parcel_is_claimed_from_the_carrier_and_paid(transactional_db, live_server,
                                                               page, settings, tmp_path,
                                                               warehouse, finance, shop):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"), tracking_no="SF90909090")
    case = make_case(order=order)
    photo = tmp_path / "broken.jpg"
    photo.write_bytes(image_upload().read())

    # From the case page: the trade, the waybill and the item are filled in.
    log_in(page, warehouse)
    page.goto(f"/cases/{case.pk}/")
    page.get_by_role("link", name=re.compile("claim from the carrier")).click()
    expect(page.get_by_label("Tracking number (waybill)")).to_have_value("SF90909090")
    page.get_by_label("Damaged or lost").select_option("damaged")
    page.get_by_label("Region").fill("浙江 杭州")
    page.get_by_label("Sender's ID number").fill("330106199001011234")
    page.get_by_label("Parcel status").fill("外箱压扁，商品碎裂")
    page.get_by_label("Photos of the damage").set_input_files(str(photo))
    page.get_by_role("button", name="Register the claim").click()
    expect(page.locator(".alert-success")).to_contain_text("registered")
    claim = CarrierClaim.objects.get()
    expect(page.locator("#claim-state")).to_have_attribute("data-state", "draft")
    expect(page.locator("#claim-missing")).to_have_count(0)  # nothing missing: it can go

    page.locator('summary[data-action="submit"]').click()
    page.locator("#action-submit").get_by_label("Carrier's claim number").fill("PC-2026-77")
    page.locator("#action-submit").get_by_role("button").click()
    expect(page.locator("#claim-state")).to_have_attribute("data-state", "submitted")
    page.locator('summary[data-action="accept"]').click()
    page.locator("#action-accept").get_by_label("What the carrier answered").fill("按价值赔付")
    page.locator("#action-accept").get_by_role("button").click()
    expect(page.locator("#claim-state")).to_have_attribute("data-state", "accepted")

    # Finance records what the carrier paid; the register totals it.
    log_in(page, finance)
    page.get_by_role("link", name="Carrier claims").click()
    page.locator(f'tr[data-claim="{claim.pk}"] a').first.click()
    page.locator('summary[data-action="record_compensation"]').click()
    page.locator("#action-record_compensation").get_by_label("Amount received (¥)").fill("180.00")
    page.locator("#action-record_compensation").get_by_role("button").click()
    expect(page.locator("#claim-state")).to_have_attribute("data-state", "compensated")
    expect(page.locator("#claim-received")).to_contain_text("¥180.00")
    page.get_by_role("link", name="Carrier claims").click()
    expect(page.locator("#claim-totals")).to_contain_text("carriers paid ¥180.00")
