from .cases import (
    OPEN_STATES,
    Case,
    CaseKind,
    CaseReason,
    CaseState,
    CloseReason,
    DeadlineOwner,
    GoodsStatus,
)
from .imports import ImportKind, ImportRun
from .notifications import Notification, NotificationKind
from .reviews import Review, ReviewRating
from .events import CaseEvent, ContactChannel, ContactLog, ContactOutcome, EventKind
from .money import Refund, RefundStatus
from .orders import Buyer, Order, OrderLine, OrderStatus
from .shops import Platform, Policy, Shop, ShopType
from .staff import StaffProfile

__all__ = [
    "ImportKind",
    "ImportRun",
    "Notification",
    "NotificationKind",
    "Review",
    "ReviewRating",
    "OPEN_STATES",
    "CloseReason",
    "ContactChannel",
    "ContactOutcome",
    "Buyer",
    "Case",
    "CaseEvent",
    "CaseKind",
    "CaseReason",
    "CaseState",
    "ContactLog",
    "DeadlineOwner",
    "EventKind",
    "GoodsStatus",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Platform",
    "Policy",
    "Refund",
    "RefundStatus",
    "Shop",
    "ShopType",
    "StaffProfile",
]
