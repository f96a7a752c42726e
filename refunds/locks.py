"""Row locks, always taken in the same order: the order row first, then its cases by pk.

One fixed order means two services can never wait on each other (no deadlock). On SQLite
`select_for_update` is a no-op; the database-wide write lock and `ConcurrentTransitionMixin`
keep the same guarantee there.
"""

from __future__ import annotations

from .models import Case, Order, Shop


def lock_order(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def lock_case(case_id: int) -> tuple[Case, Order]:
    """Lock a case and its order; returns fresh rows read under the lock."""
    order_id = Case.objects.values_list("order_id", flat=True).get(pk=case_id)
    order = lock_order(order_id)
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("shop__policy")
        .get(pk=case_id)
    )
    case.order = order
    return case, order


def try_lock_cases(case_ids: list[int]) -> dict[int, tuple[Case, Order]]:
    """Lock a group of cases for a nightly command (the sweep), never waiting: their order
    rows in pk order, then the cases in pk order, each `skip_locked` — a case someone is
    working on right now, or that a concurrent run is handling, is left for the next run.
    Returns {case id: (case, order)} for the cases it could lock, with the shop's policy and
    the assignee read too; the others are held by someone else.

    The locks last until the caller's transaction ends, and this never waits for a lock, so
    holding several cases at once cannot deadlock with a service locking one of them.
    """
    order_of = dict(Case.objects.filter(pk__in=case_ids).values_list("pk", "order_id"))
    orders = {order.pk: order for order in Order.objects.select_for_update(skip_locked=True)
              .filter(pk__in=set(order_of.values())).order_by("pk")}
    cases = list(Case.objects.select_for_update(skip_locked=True, of=("self",))
                 .select_related("assignee")
                 .filter(pk__in=[pk for pk, order_id in order_of.items() if order_id in orders])
                 .order_by("pk"))
    # a group's cases belong to a few shops: each shop and its policy read once, not per case
    shops = Shop.objects.select_related("policy").in_bulk({case.shop_id for case in cases})
    locked = {}
    for case in cases:
        case.order = orders[case.order_id]
        case.shop = shops[case.shop_id]
        locked[case.pk] = (case, case.order)
    return locked


def lock_compensation(compensation_id: int):
    """Lock a compensation after its order and case (the same fixed order as every service)."""
    from .models import Compensation

    case_id = Compensation.objects.values_list("case_id", flat=True).get(pk=compensation_id)
    case, order = lock_case(case_id)
    compensation = Compensation.objects.select_for_update().get(pk=compensation_id)
    compensation.case, compensation.order = case, order
    return compensation, case, order


def lock_payout(payout_id: int):
    """Lock a payout after its order and case; returns (payout, case, order)."""
    from .models import Payout

    case_id = Payout.objects.values_list("case_id", flat=True).get(pk=payout_id)
    case, order = lock_case(case_id)
    compensation_id = Payout.objects.values_list("compensation_id", flat=True).get(pk=payout_id)
    if compensation_id is not None:
        lock_compensation(compensation_id)
    payout = Payout.objects.select_for_update(of=("self",)).select_related(
        "refund", "compensation").get(pk=payout_id)
    payout.case, payout.order = case, order
    if payout.compensation is not None:
        payout.compensation.case, payout.compensation.order = case, order
    return payout, case, order


def lock_followup(follow_up_id: int):
    """Lock a review follow-up after its order row (the same fixed order as every service):
    a remedy opens a case on that order inside the same transaction."""
    from .models import ReviewFollowUp

    order_id = ReviewFollowUp.objects.values_list("order_id", flat=True).get(pk=follow_up_id)
    order = lock_order(order_id)
    follow_up = (ReviewFollowUp.objects.select_for_update(of=("self",))
                 .select_related("shop__policy", "review", "buyer").get(pk=follow_up_id))
    follow_up.order = order
    return follow_up


def try_lock_followup(follow_up_id: int):
    """`lock_followup` for nightly commands: None at once if anyone else holds either row."""
    from .models import ReviewFollowUp

    order_id = (ReviewFollowUp.objects.filter(pk=follow_up_id)
                .values_list("order_id", flat=True).first())
    if order_id is None:
        return None
    order = Order.objects.select_for_update(skip_locked=True).filter(pk=order_id).first()
    if order is None:
        return None
    follow_up = (ReviewFollowUp.objects.select_for_update(skip_locked=True, of=("self",))
                 .select_related("shop__policy", "review", "buyer")
                 .filter(pk=follow_up_id).first())
    if follow_up is None:
        return None
    follow_up.order = order
    return follow_up


def try_lock_followups(follow_up_ids: list[int]) -> dict:
    """`try_lock_cases` for review follow-ups (the review sweep): their order rows in pk
    order, then the follow-ups in pk order, each `skip_locked`. Returns {id: follow-up} for
    those it could lock, their review read too; the others are left for the next run."""
    from .models import ReviewFollowUp

    order_of = dict(ReviewFollowUp.objects.filter(pk__in=follow_up_ids)
                    .values_list("pk", "order_id"))
    orders = {order.pk: order for order in Order.objects.select_for_update(skip_locked=True)
              .filter(pk__in=set(order_of.values())).order_by("pk")}
    follow_ups = (ReviewFollowUp.objects.select_for_update(skip_locked=True, of=("self",))
                  .select_related("review")
                  .filter(pk__in=[pk for pk, order_id in order_of.items() if order_id in orders])
                  .order_by("pk"))
    locked = {}
    for follow_up in follow_ups:
        follow_up.order = orders[follow_up.order_id]
        locked[follow_up.pk] = follow_up
    return locked


def lock_buyer(buyer_id: int):
    """Lock a buyer, always last: the harassment guard counts the day's contacts under it, so
    two colleagues logging at once cannot both make the third call."""
    from .models import Buyer

    return Buyer.objects.select_for_update().get(pk=buyer_id)


def lock_claim(claim_id: int):
    """Lock a carrier claim after its order row (the same fixed order as every service: a
    second claim for the trade's parcel waits on the order)."""
    from .models import CarrierClaim

    order_id = CarrierClaim.objects.values_list("order_id", flat=True).get(pk=claim_id)
    order = lock_order(order_id)
    claim = (CarrierClaim.objects.select_for_update(of=("self",))
             .select_related("shop").get(pk=claim_id))
    claim.order = order
    return claim


def lock_complaint(complaint_id: int):
    """Lock a complaint after its order row (the fixed order of every service: a ruling that
    pays the buyer checks the money rule on the locked order)."""
    from .models import Complaint

    order_id = Complaint.objects.values_list("order_id", flat=True).get(pk=complaint_id)
    order = lock_order(order_id)
    complaint = (Complaint.objects.select_for_update(of=("self",))
                 .select_related("shop__policy").get(pk=complaint_id))
    complaint.order = order
    return complaint


def try_lock_complaint(complaint_id: int):
    """`lock_complaint` for nightly commands: None at once if anyone else holds either row."""
    from .models import Complaint

    order_id = (Complaint.objects.filter(pk=complaint_id)
                .values_list("order_id", flat=True).first())
    if order_id is None:
        return None
    order = Order.objects.select_for_update(skip_locked=True).filter(pk=order_id).first()
    if order is None:
        return None
    complaint = (Complaint.objects.select_for_update(skip_locked=True, of=("self",))
                 .select_related("shop__policy", "handler").filter(pk=complaint_id).first())
    if complaint is not None:
        complaint.order = order
    return complaint


def lock_stockout(stockout_id: int):
    """Lock a stock-out after its order row (the fixed order: a refund it opens locks the
    order for the money rule)."""
    from .models import StockOut

    order_id = StockOut.objects.values_list("order_id", flat=True).get(pk=stockout_id)
    order = lock_order(order_id)
    stockout = (StockOut.objects.select_for_update(of=("self",))
                .select_related("shop__policy", "line").get(pk=stockout_id))
    stockout.order = order
    return stockout


def lock_inquiry(inquiry_id: int):
    """Lock a parcel inquiry after its order row (the fixed order of every lock on an order)."""
    from .models import ParcelInquiry

    order_id = ParcelInquiry.objects.values_list("order_id", flat=True).get(pk=inquiry_id)
    order = lock_order(order_id)
    inquiry = (ParcelInquiry.objects.select_for_update(of=("self",))
               .select_related("shop__policy").get(pk=inquiry_id))
    inquiry.order = order
    return inquiry
