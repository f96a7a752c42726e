"""Spreadsheet files (XLSX and UTF-8-with-BOM CSV) for finance's payout batches and the
warehouse's return sheet (退货明细表).

Every text cell that a spreadsheet could read as a formula (starting with = + - @, a tab or
a carriage return) is written with a leading apostrophe, so a buyer nick or a note like
`=HYPERLINK(...)` is shown, never run (CSV/formula injection). In a CSV, a long number kept
as text (an order or tracking number) is written `="…"`, so Excel does not round it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING

from .texts import words

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | Decimal | datetime | date | None

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"


def neutralise(value: str) -> str:
    """'=1+1' → "'=1+1": a text cell a spreadsheet will never evaluate."""
    return f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(
            value) else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def keep_digits(value: str) -> str:
    """'3900000000000000123' → '="3900000000000000123"' for a CSV opened in Excel.

    Excel reads a cell of digits as a number: it keeps 15 significant digits (a 19-digit
    order number opens as 3.9E+18 and is saved back as 3900000000000000000), shows 12 and
    more in scientific notation and drops leading zeros. Written as the platforms write
    them in their own exports, `="…"`, such identifiers stay text; a cell of only digits
    can hold no formula of its own, so this is no injection. Short numbers stay as they are.
    """
    if value.isascii() and value.isdigit() and (len(value) > 11 or value[:1] == "0"):
        return f'="{value}"'
    return value


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """UTF-8 with a BOM (Excel on Chinese Windows then reads it right), CRLF lines; long
    numbers written as text (`keep_digits`), other text neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(str(h)) for h in headers])
    for row in rows:
        writer.writerow([
            _text(cell) if isinstance(cell, (Decimal, int, datetime, date)) or cell is None
            else keep_digits(neutralise(_text(cell)))
            for cell in row
        ])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(title: str, headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """Numbers stay numbers, times are text in local time, other text is neutralised."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append([neutralise(str(h)) for h in headers])
    for row in rows:
        values = []
        for cell in row:
            if isinstance(cell, Decimal):
                values.append(cell)
            elif isinstance(cell, int) and not isinstance(cell, bool):
                values.append(cell)
            else:
                values.append(neutralise(_text(cell)))
        sheet.append(values)
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, str):
                cell.data_type = TYPE_STRING  # never a formula, whatever the text
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- the files ----------------------------------------------------------------------------------


def payout_batch_sheet(batch) -> tuple[list[str], list[list[Cell]]]:
    """Finance's batch file: shop, buyer, account, reason, amount, time, staff number (and
    what finance needs to report back: the payout number, order, route).

    Without the payouts the platform refunded while they were in this batch
    (`paid_by_platform_in_batch`): a file downloaded again must not pay the buyer twice."""
    from django.utils.translation import gettext as _

    from .models import PayoutRoute
    from .selectors import payout_batch_rows

    headers = [_("Payout no."), _("Shop"), _("Order no."), _("Buyer"), _("Route"),
               _("Account"), _("Reason"), _("Amount (¥)"), _("Time"), _("Staff number")]
    rows = []
    for payout in payout_batch_rows(batch).exclude(paid_by_platform_in_batch=True,
                                                   batch=batch):
        account = payout.account if payout.route == PayoutRoute.ALIPAY else _("Original route")
        rows.append([payout.pk, payout.shop.name, payout.order.platform_order_id,
                     payout.order.buyer.nick, payout.get_route_display(), account, payout.reason,
                     payout.amount, payout.created_at, payout.staff_number])
    return headers, rows


def payout_batch_file(batch, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, file name) of a batch as "xlsx" or "csv"."""
    headers, rows = payout_batch_sheet(batch)
    stamp = timezone.localtime(batch.created_at).strftime("%Y%m%d-%H%M")
    name = f"payouts-{batch.shop.code}-{batch.pk}-{stamp}.{fmt}"
    if fmt == "csv":
        return csv_bytes(headers, rows), CSV_TYPE, name
    return xlsx_bytes(f"payouts {batch.pk}", headers, rows), XLSX_TYPE, name


def return_batch_sheet(parcels) -> tuple[list[str], list[list[Cell]]]:
    """The returns batch (退货明细表): each parcel, its case, condition and staff."""
    from django.utils.translation import gettext as _
    from django.utils.translation import pgettext

    headers = [_("Batch"), pgettext("date", "Received"), _("Shop"), _("Tracking no."), _("Carrier"),
               _("Case"), _("Order no."), _("Buyer"), _("Items"), _("Quantity received"),
               _("Condition"), _("Note"), _("Photos"), _("Received by"), _("Inspected by")]
    rows = []
    for parcel in parcels:
        case = parcel.case
        if case is not None:
            lines = list(case.lines.all()) or list(case.order.lines.all())
            items = "; ".join(f"{line.title} {line.sku} ×{line.quantity}".replace("  ", " ")
                              for line in lines)
            case_no, order_no, buyer = case.pk, case.order.platform_order_id, case.order.buyer.nick
        else:
            items, case_no, order_no, buyer = "", _("unmatched (无主件)"), "", ""
        rows.append([parcel.batch_date, parcel.received_at, parcel.shop.name, parcel.tracking_no,
                     parcel.carrier, case_no, order_no, buyer, items, parcel.quantity_received,
                     parcel.get_condition_display(), parcel.note, len(parcel.photos.all()),
                     parcel.received_staff_number, parcel.inspected_staff_number])
    return headers, rows


def return_batch_file(parcels, batch_date, fmt: str) -> tuple[bytes, str, str]:
    headers, rows = return_batch_sheet(parcels)
    name = f"returns-{batch_date.isoformat()}.{fmt}"
    if fmt == "csv":
        return csv_bytes(headers, rows), CSV_TYPE, name
    return xlsx_bytes(f"returns {batch_date.isoformat()}", headers, rows), XLSX_TYPE, name


def claim_register_sheet(claims) -> tuple[list[str], list[list[Cell]]]:
    """The damage register (报损登记): report date, tracking number, parcel status, checking
    staff number, item price and model, handling staff — and the claim's course."""
    from django.utils.translation import gettext as _

    headers = [_("Claim no."), _("Report date"), _("Shop"), _("Order no."), _("Tracking no."),
               _("Carrier"), _("Damaged or lost"), _("Parcel status"), _("Checked by"),
               _("Item model"), _("Item price (¥)"), _("Quantity"), _("Amount claimed (¥)"),
               _("State"), _("Result"), _("Amount received (¥)"), _("Handled by")]
    rows = [[claim.pk, claim.reported_on, claim.shop.name, claim.order.platform_order_id,
             claim.tracking_no, claim.carrier, claim.get_kind_display(), claim.parcel_status,
             claim.checked_staff_number, claim.item_model, claim.item_price, claim.quantity,
             claim.claimed_amount, claim.get_state_display(), claim.result,
             claim.compensated_amount, claim.handler_staff_number]
            for claim in claims.iterator(chunk_size=500)]
    return headers, rows


def _register_file(title: str, sheet: tuple[list[str], list[list[Cell]]], fmt: str,
                   now: datetime) -> tuple[bytes, str, str]:
    """(content, content type, file name) of a register as "xlsx" or "csv", named after
    `title` and the time it was made."""
    headers, rows = sheet
    name = f"{title.replace(' ', '-')}-{now:%Y%m%d-%H%M}.{fmt}"
    if fmt == "csv":
        return csv_bytes(headers, rows), CSV_TYPE, name
    return xlsx_bytes(title, headers, rows), XLSX_TYPE, name


def claim_register_file(claims, fmt: str, now: datetime) -> tuple[bytes, str, str]:
    return _register_file("carrier claims", claim_register_sheet(claims), fmt, now)


def complaint_register_sheet(complaints) -> tuple[list[str], list[list[Cell]]]:
    """The complaints (维权/投诉): what the buyer complained of, the deadline, the ruling, what
    it paid and the penalty — for the monthly review of what complaints cost the shop."""
    from django.utils.translation import gettext as _
    from django.utils.translation import pgettext

    from .models import ComplaintState

    headers = [_("Complaint no."), _("Complaint number (投诉编号)"), _("Opened"), _("Shop"),
               _("Order no."), _("Buyer"), pgettext("complaint", "Kind"),
               _("What the buyer says"),
               _("Amount the buyer asks (¥)"), _("Evidence due"), _("Evidence submitted"),
               _("State"), _("Ruled"), _("The platform's ruling"),
               _("Paid to the buyer by the ruling (¥)"), _("Penalty points"), _("Appeal made"),
               _("Handled by")]
    rows = [[complaint.pk, complaint.platform_reference, complaint.opened_at,
             complaint.shop.name, complaint.order.platform_order_id,
             complaint.order.buyer.nick, complaint.get_kind_display(), complaint.buyer_claim,
             complaint.amount_claimed, complaint.evidence_due_at,
             complaint.evidence_submitted_at, complaint.get_state_display(),
             complaint.ruled_at, words(complaint.ruling_data, complaint.ruling),
             complaint.refund_amount,
             # points an upheld appeal lifted no longer stand: the column sums what does
             None if complaint.state == ComplaintState.FOR_SHOP else complaint.penalty_points,
             complaint.appealed_at,
             complaint.handler.get_username()]
            for complaint in complaints.iterator(chunk_size=500)]
    return headers, rows


def complaint_register_file(complaints, fmt: str, now: datetime) -> tuple[bytes, str, str]:
    return _register_file("complaints", complaint_register_sheet(complaints), fmt, now)


def stockout_register_sheet(stockouts) -> tuple[list[str], list[list[Cell]]]:
    """The stock-outs (缺货): what was missing, when the buyer was told, what they chose and
    how it ended — for the warehouse's review of what its stock counts miss."""
    from django.utils.translation import gettext as _

    headers = [_("Stock-out no."), _("Reported"), _("Shop"), _("Order no."), _("Buyer"),
               _("Item"), _("SKU"), _("Quantity missing"), _("Restock expected"),
               _("Reported by"), _("Buyer told"), _("The buyer's choice"),
               _("Ship by (agreed with the buyer)"), _("State"), _("Refund case"),
               _("Refund asked (¥)"), _("Resolved")]
    rows = [[stockout.pk, stockout.reported_at, stockout.shop.name,
             stockout.order.platform_order_id, stockout.order.buyer.nick,
             stockout.line.title if stockout.line else _("The whole order"),
             stockout.line.sku if stockout.line else "", stockout.quantity,
             stockout.restock_expected, stockout.reported_by.get_username(),
             stockout.buyer_told_at, stockout.get_remedy_display(), stockout.agreed_ship_by,
             stockout.get_state_display(), stockout.case_id,
             stockout.case.requested_amount if stockout.case else None, stockout.resolved_at]
            for stockout in stockouts.iterator(chunk_size=500)]
    return headers, rows


def stockout_register_file(stockouts, fmt: str, now: datetime) -> tuple[bytes, str, str]:
    return _register_file("stock-outs", stockout_register_sheet(stockouts), fmt, now)


def inquiry_register_sheet(inquiries) -> tuple[list[str], list[list[Cell]]]:
    """The parcel inquiries (快递查询 / 改地址): what the buyer asked, who at the carrier
    answered what, and when the buyer was told — for the team lead's review of the carriers
    and of how promptly buyers are answered."""
    from django.utils.translation import gettext as _
    from django.utils.translation import pgettext

    headers = [_("Inquiry no."), _("Opened"), _("Shop"), _("Order no."), _("Buyer"),
               _("The buyer asks"), _("What the buyer said"), _("New address"),
               _("Tracking number"), _("Carrier"), _("Answer the buyer by"), _("State"),
               _("Carrier's staff number"), _("Outcome"), _("Carrier's answer"),
               _("Answered"), _("Answer recorded by"), _("Buyer told"), _("Case no."),
               _("Opened by"), pgettext("register column", "Closed")]
    rows = [[inquiry.pk, inquiry.opened_at, inquiry.shop.name,
             inquiry.order.platform_order_id, inquiry.order.buyer.nick,
             inquiry.get_kind_display(), inquiry.question, inquiry.new_address,
             inquiry.parcel_tracking_no, inquiry.parcel_carrier, inquiry.reply_by,
             inquiry.get_state_display(), inquiry.carrier_staff, inquiry.get_outcome_display(),
             inquiry.answer, inquiry.answered_at, inquiry.answered_staff, inquiry.buyer_told_at,
             inquiry.case_id, inquiry.opened_by.get_username(), inquiry.closed_at]
            for inquiry in inquiries.iterator(chunk_size=500)]
    return headers, rows


def inquiry_register_file(inquiries, fmt: str, now: datetime) -> tuple[bytes, str, str]:
    return _register_file("parcel inquiries", inquiry_register_sheet(inquiries), fmt, now)
