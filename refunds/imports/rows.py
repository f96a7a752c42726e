"""What the columns of each export mean: a `Record` → a typed row, or a `RowError`.

Column names are the seller centre's own (FORMATS.md). Money is yuan as `Decimal`, times are
China time (Asia/Shanghai) whatever the server's time zone, and only columns present in the
file are turned into model fields, so a narrower export never blanks what it does not carry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from ..models import CaseKind, CaseReason, CaseState, GoodsStatus, OrderStatus, ReviewRating
from ..services.cases import normalize_tracking_no
from ..services.money import CENT, MAX_AMOUNT
from ..timezones import CHINA  # the platforms' times, whatever the server's TIME_ZONE
from .reader import Record

SHOP_ID, SHOP_NAME = "店铺Id", "店铺名称"
ORDER_ID, BUYER_NICK, ITEM_TITLE = "订单编号", "买家会员名", "宝贝标题"

ORDER_REQUIRED = [ORDER_ID, BUYER_NICK, "买家实际支付金额", "订单状态"]
REFUND_REQUIRED = ["退款编号", ORDER_ID, "退款金额", "退款状态", "是否需要退货"]
REVIEW_REQUIRED = [ORDER_ID, ITEM_TITLE, "评价结果", "评价时间"]


class RowError(Exception):
    """One row cannot be imported; the message says why (the others still import)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


# --- cells ----------------------------------------------------------------------------------


def _key(text: str) -> str:
    """Status texts are matched without spaces and with either comma."""
    return re.sub(r"\s+", "", text).replace(",", "，")


def text_value(value: str, column: str, max_length: int | None = None,
               required: bool = False) -> str:
    if required and not value:
        raise RowError(_("“%(column)s” is empty.") % {"column": column})
    if max_length is not None and len(value) > max_length:
        raise RowError(_("“%(column)s” is longer than %(max)s characters.")
                       % {"column": column, "max": max_length})
    return value


def text_cell(record: Record, column: str, max_length: int | None = None,
              required: bool = False) -> str:
    return text_value(record.get(column), column, max_length, required)


# A platform's order, sub-order and refund numbers: digits (letters, - and _ tolerated).
# "3.9E+18" or "3.90000000000001E+18" is what a spreadsheet makes of a 19-digit id when the
# export is opened and saved again: every row would become the same order.
_PLATFORM_ID = re.compile(r"[0-9A-Za-z_-]+")


def id_value(value: str, column: str, required: bool = True) -> str:
    value = text_value(value, column, 64, required)
    if value and not _PLATFORM_ID.fullmatch(value):
        raise RowError(_("“%(column)s” “%(value)s” is not a platform id: the file looks "
                         "opened and saved in a spreadsheet, which rounds long numbers. Export "
                         "it again from the seller centre.") % {"column": column, "value": value})
    return value


def id_cell(record: Record, column: str, required: bool = True) -> str:
    return id_value(record.get(column), column, required)


# "188.00", "0.5", "12": what nearly every amount cell holds. Such a cell needs none of
# parse_money's cleaning and checks (it is finite, not negative, at most two decimals).
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")
ZERO = Decimal("0.00")


def parse_money(value: str, column: str, *, positive: bool = False) -> Decimal:
    """`188.00`, `¥1,188.5` → Decimal('188.00'), Decimal('1188.50'); never a float."""
    if _PLAIN_AMOUNT.fullmatch(value):
        amount = Decimal(value)
        if amount <= MAX_AMOUNT and (amount or not positive):
            return amount.quantize(CENT)
    cleaned = value.replace(",", "").replace("¥", "").replace("￥", "").strip()
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        amount = None
    if (amount is None or not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT
            or amount != amount.quantize(CENT)):
        raise RowError(_("“%(column)s” is not an amount of yuan: “%(value)s”.")
                       % {"column": column, "value": value})
    if positive and amount == 0:
        raise RowError(_("“%(column)s” must be more than zero.") % {"column": column})
    return amount.quantize(CENT)


def money_value(value: str, column: str, *, required: bool = False,
                positive: bool = False) -> Decimal:
    if not value:
        if required or positive:
            raise RowError(_("“%(column)s” is empty.") % {"column": column})
        return ZERO
    return parse_money(value, column, positive=positive)


def money_cell(record: Record, column: str, *, required: bool = False,
               positive: bool = False) -> Decimal:
    return money_value(record.get(column), column, required=required, positive=positive)


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


# The platforms' exports hold dates of the shops' lifetime; anything outside is a broken cell.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def parse_time(value: str, column: str) -> datetime:
    """`2026-10-28 23:29:00` (China time) → an aware datetime."""
    moment = None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        normalised = value.replace("/", "-").replace("T", " ")
        for fmt in _TIME_FORMATS:
            try:
                moment = datetime.strptime(normalised, fmt)
                break
            except ValueError:
                continue
    if moment is None:
        raise RowError(_("“%(column)s” is not a date and time: “%(value)s”.")
                       % {"column": column, "value": value})
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        # year 1 or 9999 cannot be moved to UTC or have a deadline added to it
        raise RowError(_("“%(column)s” is not a plausible date: “%(value)s” (expected a year "
                         "from %(earliest)s to %(latest)s).")
                       % {"column": column, "value": value, "earliest": EARLIEST_YEAR,
                          "latest": LATEST_YEAR})
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


def time_value(value: str, column: str, *, required: bool = False) -> datetime | None:
    if not value:
        if required:
            raise RowError(_("“%(column)s” is empty.") % {"column": column})
        return None
    return parse_time(value, column)


def time_cell(record: Record, column: str, *, required: bool = False) -> datetime | None:
    return time_value(record.get(column), column, required=required)


def quantity_value(value: str, column: str) -> int:
    if not value:
        return 1
    try:
        quantity = int(value)
    except ValueError:
        quantity = -1
    if quantity < 1:
        raise RowError(_("“%(column)s” is not a quantity: “%(value)s”.")
                       % {"column": column, "value": value})
    return quantity


def quantity_cell(record: Record, column: str) -> int:
    return quantity_value(record.get(column), column)


def tracking_value(value: str, column: str) -> str:
    """`No:74683427276077` → `74683427276077` (the services' normalisation)."""
    tracking = normalize_tracking_no(value)
    if len(tracking) > 64:
        raise RowError(_("“%(column)s” is longer than %(max)s characters.")
                       % {"column": column, "max": 64})
    return tracking


def tracking_cell(record: Record, column: str) -> str:
    return tracking_value(record.get(column), column)


# --- orders (订单报表) ------------------------------------------------------------------------

ORDER_STATUSES = {
    _key(text): status for text, status in {
        "等待买家付款": OrderStatus.AWAITING_PAYMENT,
        "WAIT_BUYER_PAY": OrderStatus.AWAITING_PAYMENT,
        "买家已付款，等待卖家发货": OrderStatus.PAID,
        "WAIT_SELLER_SEND_GOODS": OrderStatus.PAID,
        "卖家已发货，等待买家确认": OrderStatus.SHIPPED,
        "WAIT_BUYER_CONFIRM_GOODS": OrderStatus.SHIPPED,
        "交易成功": OrderStatus.COMPLETED,
        "TRADE_FINISHED": OrderStatus.COMPLETED,
        "交易关闭": OrderStatus.CLOSED,
        "TRADE_CLOSED": OrderStatus.CLOSED,
        "TRADE_CLOSED_BY_TAOBAO": OrderStatus.CLOSED,
    }.items()
}

# column → (Order field, kind, max length)
ORDER_COLUMNS: dict[str, tuple[str, str, int | None]] = {
    "买家应付货款": ("goods_amount", "money", None),
    "买家应付邮费": ("postage", "money", None),
    "买家实际支付金额": ("paid_amount", "money", None),
    "订单状态": ("status", "status", None),
    "买家留言": ("buyer_message", "text", None),
    "收货人姓名": ("receiver_name", "text", 50),
    "收货地址": ("receiver_address", "text", 300),
    "订单创建时间": ("created_at", "time", None),
    "订单付款时间": ("paid_at", "time", None),
    "发货时间": ("shipped_at", "time", None),
    "物流单号": ("tracking_no", "tracking", None),
    "物流公司": ("carrier", "text", 50),
    "订单备注": ("note", "text", None),
}


ORDER_USED = [*ORDER_REQUIRED, *ORDER_COLUMNS, "联系手机", "联系电话", "买家支付宝账号",
              ITEM_TITLE, "宝贝总数量"]


@dataclass(slots=True)
class OrderRow:
    line: int
    order_id: str
    buyer_nick: str
    fields: dict[str, Any]  # Order field → value, for the columns the file has
    mobile: str = ""
    alipay_account: str = ""
    item_title: str = ""
    quantity: int = 1


def order_status(text: str) -> str:
    """订单状态 → OrderStatus; the exact text first, then without spaces / with either comma."""
    status = ORDER_STATUSES.get(text) or ORDER_STATUSES.get(_key(text))
    if status is None:
        raise RowError(_("Unknown order status “%(status)s”.") % {"status": text})
    return status


def _order_cell_reader(column: str, name: str, kind: str,
                       max_length: int | None) -> Callable[[str], Any]:
    """How a cell of `column` becomes the value of Order field `name`."""
    if kind == "money":
        required = name == "paid_amount"
        return lambda value: money_value(value, column, required=required)
    if kind == "time":
        return lambda value: parse_time(value, column) if value else None
    if kind == "tracking":
        return lambda value: tracking_value(value, column)
    if kind == "status":
        return order_status
    return lambda value: text_value(value, column, max_length)


def order_parser(columns: set[str]) -> Callable[[Record], OrderRow]:
    """`parse_order` for the records of one file, with the work that depends only on its
    columns (which ORDER_COLUMNS it has, how each is read) done once, not once per row:
    an order export is read 100,000 rows at a time (docs/PERFORMANCE.md)."""
    readers = [(name, column, _order_cell_reader(column, name, kind, max_length))
               for column, (name, kind, max_length) in ORDER_COLUMNS.items()
               if column in columns]

    def parse(record: Record) -> OrderRow:
        cells = record.cells
        get = cells.get
        order_id = id_value(get(ORDER_ID, ""), ORDER_ID)
        nick = text_value(get(BUYER_NICK, ""), BUYER_NICK, 100, required=True)
        fields = {name: read(get(column, "")) for name, column, read in readers}
        mobile = (text_value(get("联系手机", ""), "联系手机", 20)
                  or text_value(get("联系电话", ""), "联系电话", 20))
        return OrderRow(
            line=record.line, order_id=order_id, buyer_nick=nick, fields=fields,
            mobile=mobile,
            alipay_account=text_value(get("买家支付宝账号", ""), "买家支付宝账号", 100),
            item_title=text_value(get(ITEM_TITLE, ""), ITEM_TITLE, 200),
            quantity=quantity_value(get("宝贝总数量", ""), "宝贝总数量"),
        )

    return parse


def parse_order(record: Record, columns: set[str]) -> OrderRow:
    """One order record of a file with `columns` (a whole file: `order_parser`)."""
    return order_parser(columns)(record)


# --- refunds (退款管理) -----------------------------------------------------------------------

# The platform's refund status (API name) → our state; matched on the Chinese text too.
PLATFORM_STATES = {
    "WAIT_SELLER_AGREE": CaseState.REQUESTED,
    "WAIT_BUYER_RETURN_GOODS": CaseState.AWAITING_RETURN,
    "WAIT_SELLER_CONFIRM_GOODS": CaseState.RETURN_IN_TRANSIT,
    "SELLER_REFUSE_BUYER": CaseState.REFUSED,
    "CLOSED": CaseState.CLOSED,
    "SUCCESS": CaseState.REFUNDED,
}
REFUND_STATUS_TEXTS = {
    "买家已经申请退款，等待卖家同意": "WAIT_SELLER_AGREE",
    "卖家已经同意退款，等待买家退货": "WAIT_BUYER_RETURN_GOODS",
    "买家已经退货，等待卖家确认收货": "WAIT_SELLER_CONFIRM_GOODS",
    "卖家拒绝退款": "SELLER_REFUSE_BUYER",
    "退款关闭": "CLOSED",
    "退款成功": "SUCCESS",
}
_REFUND_STATUSES = {
    **{_key(text): api for text, api in REFUND_STATUS_TEXTS.items()},
    **{api: api for api in PLATFORM_STATES},
}

GOODS_STATUSES = {
    "买家未收到货": GoodsStatus.NOT_RECEIVED,
    "买家已收到货": GoodsStatus.RECEIVED,
    "买家已退货": GoodsStatus.RETURNED,
    "卖家已收到退货": GoodsStatus.SELLER_RECEIVED,
}

# First match wins: "多拍/拍错/不想要" is a no-reason return before anything else.
REASON_KEYWORDS: list[tuple[str, str]] = [
    ("七天无理由", CaseReason.NO_REASON), ("不想要", CaseReason.NO_REASON),
    ("拍错", CaseReason.NO_REASON), ("多拍", CaseReason.NO_REASON),
    ("质量", CaseReason.QUALITY),
    ("缺货", CaseReason.OUT_OF_STOCK),
    ("发错", CaseReason.WRONG_ITEM), ("错发", CaseReason.WRONG_ITEM),
    ("漏发", CaseReason.WRONG_ITEM), ("少件", CaseReason.WRONG_ITEM),
    ("描述不符", CaseReason.NOT_AS_DESCRIBED), ("色差", CaseReason.NOT_AS_DESCRIBED),
    ("未收到", CaseReason.NOT_RECEIVED), ("未送达", CaseReason.NOT_RECEIVED),
    ("破损", CaseReason.DAMAGED),
    ("尺码", CaseReason.SIZE), ("尺寸", CaseReason.SIZE),
]


def case_reason(text: str) -> str:
    for keyword, reason in REASON_KEYWORDS:
        if keyword in text:
            return reason
    return CaseReason.OTHER


@dataclass(slots=True)
class RefundRow:
    line: int
    refund_id: str
    order_id: str
    amount: Decimal
    platform_status: str  # API name, e.g. WAIT_SELLER_AGREE
    state: str
    kind: str
    reason: str
    description: str
    goods_status: str
    sub_order_id: str = ""
    requested_at: datetime | None = None
    modified_at: datetime | None = None
    deadline_at: datetime | None = None
    return_carrier: str = ""
    return_tracking_no: str = ""


def _goods_status(text: str | None) -> str:
    """货物状态: an empty cell is "not received" (what a request before shipping has); a
    value the platform does not write is an error, not silently "not received"."""
    key = _key(text or "")
    if not key:
        return GoodsStatus.NOT_RECEIVED
    status = GOODS_STATUSES.get(key)
    if status is None:
        raise RowError(_("Unknown goods status “%(status)s” (货物状态).") % {"status": text})
    return status


def parse_refund(record: Record, columns: set[str]) -> RefundRow:
    refund_id = id_cell(record, "退款编号")
    order_id = id_cell(record, ORDER_ID)
    amount = money_cell(record, "退款金额", positive=True)
    status_text = record.get("退款状态")
    platform_status = _REFUND_STATUSES.get(_key(status_text))
    if platform_status is None:
        raise RowError(_("Unknown refund status “%(status)s”.") % {"status": status_text})
    state = PLATFORM_STATES[platform_status]
    needs_return = record.get("是否需要退货")
    if needs_return not in ("是", "否", ""):
        raise RowError(_("“%(column)s” must be 是 or 否, not “%(value)s”.")
                       % {"column": "是否需要退货", "value": needs_return})
    # A status that waits for the buyer's parcel is a return, whatever the flag says.
    is_return = needs_return == "是" or state in (CaseState.AWAITING_RETURN,
                                                  CaseState.RETURN_IN_TRANSIT)
    reason_text = text_cell(record, "退款原因")
    explanation = text_cell(record, "退款说明")
    return RefundRow(
        line=record.line, refund_id=refund_id, order_id=order_id, amount=amount,
        platform_status=platform_status, state=state,
        kind=CaseKind.RETURN if is_return else CaseKind.REFUND_ONLY,
        reason=case_reason(reason_text),
        description="\n".join(text for text in (reason_text, explanation) if text),
        goods_status=_goods_status(record.get("货物状态")),
        sub_order_id=id_cell(record, "子订单编号", required=False),
        requested_at=time_cell(record, "申请时间"),
        modified_at=time_cell(record, "修改时间"),
        deadline_at=time_cell(record, "超时时间"),
        return_carrier=text_cell(record, "退货物流公司", 50),
        return_tracking_no=tracking_cell(record, "退货物流单号"),
    )


# --- reviews (评价管理) -----------------------------------------------------------------------

RATINGS = {"好评": ReviewRating.GOOD, "中评": ReviewRating.NEUTRAL, "差评": ReviewRating.BAD}


@dataclass(slots=True)
class ReviewRow:
    line: int
    order_id: str
    item_title: str
    fields: dict[str, Any]  # Review field → value


def parse_review(record: Record, columns: set[str]) -> ReviewRow:
    order_id = id_cell(record, ORDER_ID)
    title = text_cell(record, ITEM_TITLE, 200, required=True)
    rating_text = record.get("评价结果")
    rating = RATINGS.get(rating_text)
    if rating is None:
        raise RowError(_("Unknown review rating “%(rating)s” (expected 好评, 中评 or 差评).")
                       % {"rating": rating_text})
    fields: dict[str, Any] = {
        "rating": rating,
        "posted_at": time_cell(record, "评价时间", required=True),
    }
    for column, name, max_length in ((BUYER_NICK, "buyer_nick", 100),
                                     ("评价内容", "content", None),
                                     ("追评内容", "follow_up_content", None)):
        if column in columns:
            fields[name] = text_cell(record, column, max_length)
    return ReviewRow(line=record.line, order_id=order_id, item_title=title, fields=fields)
