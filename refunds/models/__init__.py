from .calendar import CalendarDay
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
from .claims import (
    OPEN_CLAIM_STATES,
    CarrierClaim,
    ClaimDirection,
    ClaimEvent,
    ClaimEventKind,
    ClaimKind,
    ClaimPhoto,
    ClaimState,
)
from .compensation import (
    CASH_KINDS,
    Compensation,
    CompensationKind,
    CompensationState,
)
from .complaints import (
    OPEN_COMPLAINT_STATES,
    Complaint,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintEvidence,
    ComplaintKind,
    ComplaintState,
    EvidenceKind,
)
from .contacts import BuyerEvent, BuyerEventKind
from .events import CaseEvent, ContactChannel, ContactLog, ContactOutcome, EventKind
from .exchanges import Exchange, RefundDeduction
from .followups import (
    OPEN_FOLLOWUP_STATES,
    ComplaintCategory,
    FlagColour,
    FollowUpEvent,
    FollowUpEventKind,
    FollowUpState,
    RemedyKind,
    ReviewFollowUp,
)
from .imports import ImportKind, ImportRun
from .money import Refund, RefundStatus
from .notifications import Notification, NotificationKind
from .orders import Buyer, Order, OrderLine, OrderStatus
from .payouts import (
    Payout,
    PayoutBatch,
    PayoutBatchItem,
    PayoutKind,
    PayoutRoute,
    PayoutState,
)
from .replies import CannedReply, ReplyCategory
from .returns import ParcelCondition, ParcelPhoto, ReturnParcel
from .reviews import Review, ReviewRating
from .shops import Platform, Policy, Shop, ShopType
from .staff import StaffProfile
from .submissions import FormSubmission

__all__ = [
    "OPEN_COMPLAINT_STATES",
    "Complaint",
    "ComplaintEvent",
    "ComplaintEventKind",
    "ComplaintEvidence",
    "ComplaintKind",
    "ComplaintState",
    "EvidenceKind",
    "OPEN_CLAIM_STATES",
    "CarrierClaim",
    "ClaimDirection",
    "ClaimEvent",
    "ClaimEventKind",
    "ClaimKind",
    "ClaimPhoto",
    "ClaimState",
    "CalendarDay",
    "FormSubmission",
    "OPEN_FOLLOWUP_STATES",
    "BuyerEvent",
    "BuyerEventKind",
    "CannedReply",
    "ComplaintCategory",
    "FlagColour",
    "FollowUpEvent",
    "FollowUpEventKind",
    "FollowUpState",
    "RemedyKind",
    "ReplyCategory",
    "ReviewFollowUp",
    "CASH_KINDS",
    "Compensation",
    "CompensationKind",
    "CompensationState",
    "Payout",
    "PayoutBatch",
    "PayoutBatchItem",
    "PayoutKind",
    "PayoutRoute",
    "PayoutState",
    "ParcelCondition",
    "Exchange",
    "RefundDeduction",
    "ParcelPhoto",
    "ReturnParcel",
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
