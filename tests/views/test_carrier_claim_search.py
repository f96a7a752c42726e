"""The damage register's search reads a tracking number as the warehouse reads it (from a
review: it matched only the stored form)."""

from __future__ import annotations

import pytest

from refunds.services import claims as svc
from tests.services.test_carrier_claims import details
from tests.views.helpers import text


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    return tmp_path / "private"


def register(order, actor, **overrides):
    return svc.claim_create(shop=order.shop, order=order, actor=actor, **details(**overrides))


def claim_rows(response) -> list[int]:
    import re

    return [int(pk) for pk in re.findall(r'<tr data-claim="(\d+)">', text(response))]


# --- tracking numbers read as the warehouse reads them ------------------------------------------


def test_the_register_search_finds_a_tracking_number_written_as_scanned(login, order,
                                                                          warehouse):
    """The claim stores 'SF1234567890' (normalize_tracking_no); the register's search box
    ("Tracking number or order id") must read 'sf 1234 567890' / 'No: sf1234567890' the same
    way the warehouse station and the case queue do (selectors.search_filter)."""
    claim = register(order, warehouse, tracking_no="sf 1234 567890")
    assert claim.tracking_no == "SF1234567890"
    client = login(warehouse)

    assert claim_rows(client.get("/carrier-claims/", {"q": "SF1234567890"})) == [claim.pk]
    for written in ("sf1234567890", "SF 1234 567890", "No: SF1234567890"):
        page = client.get("/carrier-claims/", {"q": written})
        assert page.status_code == 200
        assert claim_rows(page) == [claim.pk], written
    export = client.get("/carrier-claims/register.csv", {"q": "sf1234567890"})
    assert "SF1234567890" in export.content.decode("utf-8-sig")


def test_the_admin_finds_a_claim_by_its_waybill_written_as_scanned(login, order, warehouse,
                                                                  manager):
    claim = register(order, warehouse, tracking_no="SF1234567890")
    page = login(manager).get("/admin/refunds/carrierclaim/", {"q": "no: sf 1234567890"})
    assert page.status_code == 200
    assert f"/admin/refunds/carrierclaim/{claim.pk}/change/" in text(page)
    by_order = login(manager).get("/admin/refunds/carrierclaim/",
                                  {"q": order.platform_order_id})
    assert f"/admin/refunds/carrierclaim/{claim.pk}/change/" in text(by_order)
