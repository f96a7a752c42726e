"""Canned replies as a page offers them: each one filled in for the case, follow-up or buyer.

A placeholder with nothing to fill it (no tracking number yet, no amount on the buyer page)
stays as it is, for staff to complete before sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from django.utils.formats import date_format

from .models import Buyer, Case, ParcelInquiry, ReplyCategory, ReviewFollowUp, StockOut
from .selectors import canned_replies
from .services.contacts import BUYER_TIMEZONE


@dataclass(frozen=True)
class OfferedReply:
    pk: int
    title: str
    category: str
    language: str
    text: str


def _when(value) -> str:
    # what the buyer reads: China time, whatever the server's TIME_ZONE
    return date_format(timezone.localtime(value, BUYER_TIMEZONE), "Y-m-d H:i") if value else ""


def values_for_case(case: Case) -> dict[str, str]:
    order = case.order
    return {
        "buyer": order.buyer.nick,
        "order": order.platform_order_id,
        "tracking": case.return_tracking_no or order.tracking_no,
        "shop": case.shop.name,
        "amount": str(case.requested_amount),
        "deadline": _when(case.deadline_at) if case.is_open else "",
    }


def values_for_followup(follow_up: ReviewFollowUp) -> dict[str, str]:
    order = follow_up.order
    amount = ""
    if follow_up.remedy_compensation_id:
        amount = str(follow_up.remedy_compensation.amount)
    elif follow_up.remedy_case_id:
        amount = str(follow_up.remedy_case.requested_amount)
    tracking = order.tracking_no
    if follow_up.remedy_case_id and follow_up.remedy_case.return_tracking_no:
        tracking = follow_up.remedy_case.return_tracking_no
    return {
        "buyer": follow_up.buyer.nick,
        "order": order.platform_order_id,
        "tracking": tracking,
        "shop": follow_up.shop.name,
        "amount": amount,
        "deadline": _when(follow_up.deadline_at),
    }


def values_for_stockout(stockout: StockOut, refund: Decimal | None) -> dict[str, str]:
    """{deadline}: the day agreed with the buyer, else the restock expected; {amount}: what a
    refund would be."""
    order = stockout.order
    day = stockout.agreed_ship_by or stockout.restock_expected
    return {
        "buyer": order.buyer.nick,
        "order": order.platform_order_id,
        "tracking": order.tracking_no,
        "shop": stockout.shop.name,
        "amount": str(refund) if refund is not None else "",
        "deadline": day.isoformat() if day else "",
    }


def values_for_inquiry(inquiry: ParcelInquiry) -> dict[str, str]:
    """{tracking}: the parcel asked about; {deadline}: when the buyer is to be answered."""
    order = inquiry.order
    return {
        "buyer": order.buyer.nick,
        "order": order.platform_order_id,
        "tracking": inquiry.parcel_tracking_no or order.tracking_no,
        "shop": inquiry.shop.name,
        "amount": "",
        "deadline": _when(inquiry.reply_by) if inquiry.is_open else "",
    }


def values_for_buyer(buyer: Buyer, shop=None) -> dict[str, str]:
    return {"buyer": buyer.nick, "shop": shop.name if shop is not None else ""}


def offered_replies(categories, values: dict[str, str]) -> list[OfferedReply]:
    return [OfferedReply(pk=reply.pk, title=reply.title, category=reply.get_category_display(),
                         language=reply.language, text=reply.render(values))
            for reply in canned_replies(categories)]


CASE_REPLY_CATEGORIES = (ReplyCategory.AFTER_SALES, ReplyCategory.LOGISTICS)
FOLLOWUP_REPLY_CATEGORIES = (ReplyCategory.REVIEW, ReplyCategory.AFTER_SALES,
                             ReplyCategory.LOGISTICS)
STOCKOUT_REPLY_CATEGORIES = (ReplyCategory.STOCKOUT, ReplyCategory.AFTER_SALES,
                             ReplyCategory.LOGISTICS)
INQUIRY_REPLY_CATEGORIES = (ReplyCategory.LOGISTICS, ReplyCategory.AFTER_SALES)
BUYER_REPLY_CATEGORIES = tuple(ReplyCategory.values)
