"""Returns in a real browser: the warehouse scans a parcel and inspects it (with a photo), the
agent approves the refund, finance exports the batch and marks the payout paid."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from refunds.models import Case, CaseKind, Payout
from refunds.services import cases as case_services
from tests.factories import OrderFactory, make_case
from tests.services.test_warehouse import image_upload

PASSWORD = "pw-12345-test"


def log_in(page, user):
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/cases/$"))


@pytest.mark.browser
def test_warehouse_inspects_a_parcel_and_finance_pays_it(transactional_db, live_server, page,
                                                         settings, tmp_path, warehouse, agent,
                                                         finance, shop):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    case = case_services.case_agree(case=make_case(order=order, kind=CaseKind.RETURN),
                                    actor=None)
    case_services.case_record_return_shipment(case=case, actor=None, carrier="顺丰",
                                              tracking_no="SF7788")
    photo = tmp_path / "parcel.jpg"
    photo.write_bytes(image_upload().read())

    # The warehouse scans the parcel (typed loosely) and lands on its inspection.
    log_in(page, warehouse)
    page.get_by_role("link", name="Warehouse").click()
    page.get_by_label("Return tracking number").fill(" no: sf 7788 ")
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(rf"/warehouse/cases/{case.pk}/inspect/"))
    page.get_by_label("Condition").select_option("resellable")
    page.get_by_label("Photos").set_input_files(str(photo))
    page.get_by_role("button", name="Received: record the inspection").click()
    expect(page.locator(".alert-success")).to_contain_text(f"Case #{case.pk} received")
    assert Case.objects.get(pk=case.pk).state == "received"

    # The agent approves the refund on the case page.
    log_in(page, agent)
    page.goto(f"/cases/{case.pk}/")
    page.locator('summary[data-action="approve_refund"]').click()
    page.locator("#action-approve_refund").get_by_role("button").click()
    expect(page.locator("#case-state")).to_have_attribute("data-state", "refund_pending")

    # Finance exports the batch and marks the payout paid: the case is refunded.
    log_in(page, finance)
    page.get_by_role("link", name="Finance").click()
    page.locator("#payout-export").get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/finance/batches/\d+/$"))
    payout = Payout.objects.get(case=case)
    row = page.locator(f'tr[data-payout="{payout.pk}"]')
    row.locator('summary[data-payout-action="mark_paid"]').click()
    row.get_by_label("Payment reference").fill("ALIPAY-2026-0001")
    row.locator(f"#payout-{payout.pk}-mark_paid").get_by_role("button").click()
    expect(page.locator(".alert-success")).to_contain_text(f"Payout #{payout.pk}")
    assert Case.objects.get(pk=case.pk).state == "refunded"
    assert Payout.objects.get(pk=payout.pk).payment_reference == "ALIPAY-2026-0001"
