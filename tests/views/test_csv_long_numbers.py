"""The CSV downloads are opened in Excel, which keeps 15 significant digits of a number:
3900000000000000123 would open as 3.9E+18 and be saved back as 3900000000000000000. Order
and tracking numbers are written as the platforms write them, `="…"`, so they stay text."""

from __future__ import annotations

import csv
import io

from django.utils import timezone

from refunds.models import CaseKind
from refunds.services import cases as svc
from refunds.services import payouts as payout_services
from refunds.services.warehouse import parcel_inspect
from tests.factories import OrderFactory, make_case

EXCEL_DIGITS = 15  # Excel keeps 15 significant digits of a number


def _survives_excel(cell: str) -> bool:
    """A cell Excel opens as the same text: not a bare run of more than 15 digits."""
    return not (cell.isdigit() and len(cell.lstrip("0")) > EXCEL_DIGITS)


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_payout_batch_csv_keeps_the_order_number(login, finance, agent, shop):
    order = OrderFactory(shop=shop, platform_order_id="3900000000000000123")
    svc.case_agree(case=make_case(order=order, amount="20.00"), actor=agent)
    batch = payout_services.payout_batch_export(shop=shop, actor=finance)
    header, row = _csv(login(finance).get(f"/finance/batches/{batch.pk}/download.csv"))
    cell = row[2]  # "Order no."
    assert "3900000000000000123" in cell
    assert _survives_excel(cell), f"order number written as a bare number: {cell!r}"


def test_the_returns_batch_csv_keeps_order_and_tracking_numbers(login, warehouse, shop):
    order = OrderFactory(shop=shop, platform_order_id="3900000000000000456")
    case = svc.case_agree(case=make_case(order=order, kind=CaseKind.RETURN), actor=None)
    case = svc.case_record_return_shipment(case=case, actor=None, carrier="中通",
                                           tracking_no="7730123456789012")  # 16 digits
    parcel_inspect(case=case, actor=warehouse, condition="resellable", quantity=1)
    day = timezone.localdate()
    rows = _csv(login(warehouse).get("/warehouse/batch/download.csv",
                                     {"date": day.isoformat()}))
    if len(rows) < 2:  # after the cutoff: tomorrow's batch
        rows = _csv(login(warehouse).get(
            "/warehouse/batch/download.csv",
            {"date": (day + timezone.timedelta(days=1)).isoformat()}))
    row = rows[1]
    tracking, order_no = row[3], row[6]
    assert "7730123456789012" in tracking and "3900000000000000456" in order_no
    assert _survives_excel(tracking) and _survives_excel(order_no), (tracking, order_no)


def test_only_identifiers_excel_would_change_are_wrapped():
    from refunds.exports import csv_bytes, keep_digits

    assert keep_digits("3900000000000000123") == '="3900000000000000123"'
    assert keep_digits("0571") == '="0571"'  # a leading zero Excel would drop
    assert keep_digits("13800001234") == "13800001234"  # 11 digits: shown as they are
    assert keep_digits("SF1000000001") == "SF1000000001"
    wide = "１２３４５６７８９０１２３"  # full-width digits: not what Excel reads as a number
    assert keep_digits(wide) == wide
    # a nick that only looks like a formula stays neutralised, and is not wrapped
    rows = list(csv.reader(io.StringIO(csv_bytes(
        ["a", "b", "c"], [["=1+2", "3900000000000000123", 5]]).decode("utf-8-sig"))))
    assert rows[1] == ["'=1+2", '="3900000000000000123"', "5"]
