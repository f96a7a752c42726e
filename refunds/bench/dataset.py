"""The benchmark's data: shops, staff, buyers, orders, cases over every state, their
timelines, refunds and payouts, and reviews — shaped like a busy desk, built in bulk.

Every table gets explicit ids (1, 2, 3, …), so rows refer to each other without reading
anything back; the sequences are moved past them at the end. The numbers are random but
seeded: two runs of one size build the same data.

What the measurements rely on:
- exactly `size.overdue` cases are past their deadline, all in states the sweep moves
  (requested, refused, awaiting_return, return_in_transit, received; no overdue request
  on the Kuaishou shop, which the sweep escalates instead of moving); every other open
  case is due later and was already warned for its deadline (last night's run did that),
  so the warning phase only meets the deadlines the sweep itself sets;
- the benchmark agent serves the first shop, as a one-shop agent does;
- `detail_case_id` is a returned-and-approved case of that shop with a full timeline,
  a refund and its payout.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import connection

from ..management.commands.setup_roles import setup_roles
from ..models import (
    Buyer,
    CarrierClaim,
    Case,
    CaseEvent,
    CaseKind,
    CaseReason,
    CaseState,
    CloseReason,
    DeadlineOwner,
    EventKind,
    GoodsStatus,
    Notification,
    NotificationKind,
    Order,
    OrderLine,
    OrderStatus,
    Payout,
    PayoutKind,
    PayoutState,
    Platform,
    Policy,
    Refund,
    RefundStatus,
    Review,
    ReviewRating,
    Shop,
    ShopType,
    StaffProfile,
)
from ..models.cases import OPEN_STATES
from ..roles import AGENT, FINANCE, SUPERVISOR, WAREHOUSE
from . import bulk
from .sizes import Size

SHOPS = [
    ("bench-tmall", "压测天猫旗舰店", Platform.TMALL, ShopType.B, "BENCH-TMALL"),
    ("bench-taobao", "压测淘宝小店", Platform.TAOBAO, ShopType.C, "BENCH-TAOBAO"),
    ("bench-kuaishou", "压测快手小店", Platform.KUAISHOU, ShopType.B, "BENCH-KUAISHOU"),
]
AGENTS_PER_SHOP = 8
SUPERVISORS_PER_SHOP = 2
PASSWORD = "bench-12345"  # noqa: S105 - a throwaway database's throwaway users

TITLES = ["纯棉短袖T恤 宽松百搭", "冬季加厚羽绒服", "蓝牙降噪耳机", "不锈钢保温杯 500ml",
          "真丝睡衣套装", "儿童防水雪地靴", "无线充电宝 20000mAh", "北欧风陶瓷餐具套装"]
CARRIERS = ["顺丰速运", "圆通速递", "中通快递", "韵达快递", "EMS"]
CITIES = ["浙江省 杭州市 余杭区", "广东省 深圳市 南山区", "上海市 浦东新区", "北京市 朝阳区",
          "四川省 成都市 武侯区", "江苏省 南京市 鼓楼区"]

# Cases over every state: a busy desk's mix (most are finished).
STATE_WEIGHTS = [
    (CaseState.REQUESTED, 8), (CaseState.REFUSED, 3), (CaseState.AWAITING_RETURN, 6),
    (CaseState.RETURN_IN_TRANSIT, 5), (CaseState.RECEIVED, 3), (CaseState.REFUND_PENDING, 5),
    (CaseState.REFUND_FAILED, 1), (CaseState.REFUNDED, 45), (CaseState.CLOSED, 24),
]
# The states the sweep moves when their deadline passes.
SWEPT_STATES = [CaseState.REQUESTED, CaseState.REFUSED, CaseState.AWAITING_RETURN,
                CaseState.RETURN_IN_TRANSIT, CaseState.RECEIVED]
RETURN_STATES = {CaseState.AWAITING_RETURN, CaseState.RETURN_IN_TRANSIT, CaseState.RECEIVED}
DEADLINE_RULES = {
    CaseState.REFUSED: (DeadlineOwner.BUYER, "buyer_modify_days"),
    CaseState.AWAITING_RETURN: (DeadlineOwner.BUYER, "buyer_return_days"),
    CaseState.RETURN_IN_TRANSIT: (DeadlineOwner.WAREHOUSE, "confirm_receipt_days"),
    CaseState.RECEIVED: (DeadlineOwner.SHOP, "confirm_receipt_days"),
    CaseState.REFUND_PENDING: (DeadlineOwner.FINANCE, "payout_days"),
    CaseState.REFUND_FAILED: (DeadlineOwner.FINANCE, "payout_days"),
}
RETURN_PATH = ["agree", "record_return_shipment", "receive", "approve_refund"]
# States added since (exchanges): the steps that lead there; any other new state is created
# directly in it, without a deadline.
EXCHANGE_PATHS = {
    "replacement_shipped": ["agree", "record_return_shipment", "receive", "ship_replacement"],
    "completed": ["agree", "record_return_shipment", "receive", "ship_replacement",
                  "complete_exchange"],
}
KNOWN_STATES = {state for state, _weight in STATE_WEIGHTS}
STATE_WEIGHTS += [(state, 1) for state in CaseState if state not in KNOWN_STATES]
PATH_STATES = {"agree": CaseState.AWAITING_RETURN,
               "record_return_shipment": CaseState.RETURN_IN_TRANSIT,
               "receive": CaseState.RECEIVED, "approve_refund": CaseState.REFUND_PENDING}


@dataclass
class Dataset:
    """What the measurements need to know about the data."""

    now: datetime
    shop: Shop  # the agent's shop
    agent: User
    detail_case_id: int
    search_order_id: str
    overdue: int
    counts: dict[str, int] = field(default_factory=dict)


def _staff(shops: list[Shop]) -> tuple[User, dict[int, list[int]]]:
    """Agents and supervisors per shop (plus warehouse and finance); returns the
    benchmark agent and each shop's agent ids."""
    password = make_password(PASSWORD)
    groups = {group.name: group for group in Group.objects.all()}
    agents: dict[int, list[int]] = {}
    number = 0
    first_agent = None
    for index, shop in enumerate(shops):
        roles = ([AGENT] * AGENTS_PER_SHOP + [SUPERVISOR] * SUPERVISORS_PER_SHOP
                 + [WAREHOUSE, FINANCE])
        for role in roles:
            number += 1
            user = User.objects.create(username=f"bench_{role}_{number:03d}", password=password,
                                       email=f"bench{number:03d}@example.com")
            user.groups.add(groups[role])
            profile = StaffProfile.objects.create(user=user, staff_number=f"B{number:04d}")
            profile.shops.add(shop)
            if role == AGENT:
                agents.setdefault(shop.pk, []).append(user.pk)
                if index == 0 and first_agent is None:
                    first_agent = user
    assert first_agent is not None
    return first_agent, agents


def build(size: Size, *, seed: int = 6, log: Callable[[str], None] = print) -> Dataset:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    naive_now = now.replace(tzinfo=None)
    ts = bulk.timestamp
    counts: dict[str, int] = {}

    setup_roles()
    shops = []
    for code, name, platform, shop_type, platform_id in SHOPS[:size.shops]:
        shop = Shop.objects.create(code=code, name=name, platform=platform, shop_type=shop_type,
                                   platform_shop_id=platform_id)
        Policy.objects.create(shop=shop, return_address=f"{CITIES[0]} 退货仓 {name} 收")
        shops.append(shop)
    shop_ids = [shop.pk for shop in shops]
    agent, agents = _staff(shops)
    system_number = "SYSTEM"
    staff_numbers = dict(StaffProfile.objects.values_list("user_id", "staff_number"))

    # --- buyers: about three orders each, each shop its own buyers (one per platform) ---
    buyers_per_shop = max(1, size.orders // 3 // size.shops)
    n_buyers = buyers_per_shop * size.shops
    buyer_mobile = array("q", (13000000000 + rng.randrange(10**9) for _ in range(n_buyers)))

    def buyer_rows() -> Iterator[tuple]:
        for n in range(n_buyers):
            shop_index = n // buyers_per_shop
            mobile = str(buyer_mobile[n])
            nick = f"buyer{n + 1:07d}"
            yield (n + 1, shops[shop_index].platform, nick, mobile, mobile[-4:],
                   f"{nick}@alipay.example" if n % 2 else "", n % 40 == 0)

    counts["buyers"] = bulk.insert(Buyer, ["id", "platform", "nick", "mobile", "mobile_last4",
                                           "alipay_account", "is_vip"], buyer_rows())
    log(f"  buyers: {counts['buyers']:,}")

    # --- orders and their one line each ---
    n_orders = size.orders
    order_paid = array("l", bytes(8 * (n_orders + 1)))  # cents, by order id
    order_buyer = array("l", bytes(8 * (n_orders + 1)))
    order_shipped = bytearray(n_orders + 1)
    order_title = bytearray(n_orders + 1)
    base_order_id = 2_800_000_000_000_000_000

    def order_rows() -> Iterator[tuple]:
        for pk in range(1, n_orders + 1):
            shop_index = pk % size.shops
            goods = rng.randrange(1_900, 99_900)
            postage = rng.choice((0, 0, 800, 1200))
            buyer = shop_index * buyers_per_shop + rng.randrange(buyers_per_shop) + 1
            created = naive_now - timedelta(seconds=rng.randrange(3, 120 * 86_400))
            roll = rng.random()
            status = (OrderStatus.PAID if roll < 0.08 else OrderStatus.SHIPPED if roll < 0.25
                      else OrderStatus.CLOSED if roll < 0.28 else OrderStatus.COMPLETED)
            shipped = status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED)
            delivered = status == OrderStatus.COMPLETED
            order_paid[pk] = goods + postage
            order_buyer[pk] = buyer
            order_shipped[pk] = shipped
            order_title[pk] = rng.randrange(len(TITLES))
            paid_at = created + timedelta(minutes=20)
            shipped_at = paid_at + timedelta(hours=30) if shipped else None
            yield (pk, shop_ids[shop_index], str(base_order_id + pk), buyer, bulk.money(goods),
                   bulk.money(postage), bulk.money(goods + postage), status, ts(created),
                   ts(paid_at), ts(shipped_at) if shipped_at else None,
                   ts(shipped_at + timedelta(days=2)) if delivered else None,
                   CARRIERS[pk % len(CARRIERS)] if shipped else "",
                   f"SF{rng.randrange(10**11, 10**12)}" if shipped else "",
                   "张三", f"{CITIES[pk % len(CITIES)]} 某某路{pk % 999}号",
                   "请尽快发货" if pk % 7 == 0 else "", "",
                   # the confirm-receipt window the import starts (services.receipts)
                   ts(shipped_at + timedelta(days=10))
                   if status == OrderStatus.SHIPPED else None)

    counts["orders"] = bulk.insert(Order, [
        "id", "shop_id", "platform_order_id", "buyer_id", "goods_amount", "postage",
        "paid_amount", "status", "created_at", "paid_at", "shipped_at", "delivered_at",
        "carrier", "tracking_no", "receiver_name", "receiver_address", "buyer_message", "note",
        "confirm_receipt_by",
    ], order_rows())
    log(f"  orders: {counts['orders']:,}")

    def line_rows() -> Iterator[tuple]:
        for pk in range(1, n_orders + 1):
            title = order_title[pk]
            yield (pk, pk, str(base_order_id + pk) + "1", TITLES[title], f"SKU-{title:03d}", 1,
                   bulk.money(order_paid[pk]))

    counts["order lines"] = bulk.insert(OrderLine, [
        "id", "order_id", "platform_sub_order_id", "title", "sku", "quantity", "paid_amount",
    ], line_rows())
    log(f"  order lines: {counts['order lines']:,}")

    # --- cases over every state, with their timelines, refunds and payouts ---
    n_cases = min(size.cases, n_orders)
    case_orders = rng.sample(range(1, n_orders + 1), n_cases)
    states, weights = zip(*STATE_WEIGHTS, strict=True)
    events: list[tuple] = []
    refunds: list[tuple] = []
    payouts: list[tuple] = []
    overdue = min(size.overdue, n_cases)
    detail_case_id = 0
    reasons = list(CaseReason.values)

    def event(case_id, kind, at, actor=None, transition="", source="", target="", note="",
              data="{}"):
        events.append((case_id, kind, transition, source, target, actor,
                       staff_numbers.get(actor, system_number), note, data, ts(at)))

    def case_rows() -> Iterator[tuple]:
        nonlocal detail_case_id
        for index, order_id in enumerate(case_orders):
            pk = index + 1
            shop_index = order_id % size.shops
            shop_id = shop_ids[shop_index]
            is_overdue = index < overdue
            kuaishou = SHOPS[shop_index][2] == Platform.KUAISHOU
            if is_overdue:
                state = SWEPT_STATES[index % len(SWEPT_STATES)]
                if kuaishou and state == CaseState.REQUESTED:
                    # Kuaishou escalates an overdue request, it does not agree to it: the
                    # benchmark's overdue cases are all transitions (its budget's unit)
                    state = CaseState.REFUSED
            else:
                state = rng.choices(states, weights)[0]
            if state in EXCHANGE_PATHS:
                kind = CaseKind.EXCHANGE
            elif state in RETURN_STATES or state not in KNOWN_STATES:
                kind = CaseKind.RETURN
            elif state == CaseState.REQUESTED:
                kind = CaseKind.REFUND_ONLY if rng.random() < 0.6 else CaseKind.RETURN
            else:
                kind = rng.choices([CaseKind.REFUND_ONLY, CaseKind.RETURN, CaseKind.EXCHANGE],
                                   [50, 45, 5])[0]
            if kind == CaseKind.EXCHANGE and state in (CaseState.REFUND_PENDING,
                                                       CaseState.REFUND_FAILED,
                                                       CaseState.REFUNDED):
                kind = CaseKind.RETURN
            paid = order_paid[order_id]
            amount = paid if rng.random() < 0.7 else max(100, paid // 2)
            if is_overdue:
                deadline = naive_now - timedelta(seconds=rng.randrange(60, 3 * 86_400))
            elif state in (CaseState.REFUND_PENDING, CaseState.REFUND_FAILED):
                deadline = naive_now + timedelta(seconds=rng.randrange(3_600, 86_400))
            elif state in (CaseState.REFUNDED, CaseState.CLOSED) or (
                    state not in DEADLINE_RULES and state != CaseState.REQUESTED):
                deadline = None
            else:
                deadline = naive_now + timedelta(seconds=rng.randrange(2 * 3_600, 10 * 86_400))
            if deadline is None:
                owner, rule = "", ""
                requested_at = naive_now - timedelta(seconds=rng.randrange(86_400, 90 * 86_400))
            else:
                if state == CaseState.REQUESTED:
                    owner = DeadlineOwner.SHOP
                    if kuaishou:
                        rule = "platform_review_working_days"
                    else:
                        rule = ("agree_shipped_days" if order_shipped[order_id]
                                else "agree_unshipped_days")
                else:
                    owner, rule = DEADLINE_RULES[state]
                requested_at = deadline - timedelta(days=rng.randrange(5, 20))
            agents_here = agents[shop_id]
            assignee = agents_here[pk % len(agents_here)] if rng.random() < 0.4 else None
            tracking = ""
            shipped_at = None
            path: list[str] = []
            if kind in (CaseKind.RETURN, CaseKind.EXCHANGE):
                target_steps = {CaseState.AWAITING_RETURN: 1, CaseState.RETURN_IN_TRANSIT: 2,
                                CaseState.RECEIVED: 3, CaseState.REFUND_PENDING: 4,
                                CaseState.REFUND_FAILED: 4, CaseState.REFUNDED: 4}
                path = RETURN_PATH[:target_steps.get(state, 0)]
            elif state in (CaseState.REFUND_PENDING, CaseState.REFUND_FAILED,
                           CaseState.REFUNDED):
                path = ["agree"]
            if "record_return_shipment" in path:
                tracking = f"YT{rng.randrange(10**12, 10**13)}"
                shipped_at = requested_at + timedelta(days=2)
            if state == CaseState.REFUND_FAILED:
                path = path + ["mark_refund_failed"]
            elif state == CaseState.REFUNDED:
                path = path + ["mark_refunded"]
            elif state == CaseState.REFUSED:
                path = ["refuse"]
            elif state == CaseState.CLOSED:
                path = (["refuse"] if rng.random() < 0.5 else []) + ["close"]
            elif state in EXCHANGE_PATHS:
                path = EXCHANGE_PATHS[state]
            # the timeline: created, then each step an hour apart, maybe a note
            event(pk, EventKind.CREATED, requested_at, target=CaseState.REQUESTED,
                  data='{"source": "import"}')
            previous = CaseState.REQUESTED
            at = requested_at
            for step in path:
                at = at + timedelta(hours=1)
                target = {"refuse": CaseState.REFUSED, "close": CaseState.CLOSED,
                          "mark_refund_failed": CaseState.REFUND_FAILED,
                          "mark_refunded": CaseState.REFUNDED,
                          "ship_replacement": "replacement_shipped",
                          "complete_exchange": "completed"}.get(step, PATH_STATES.get(step))
                if step == "agree" and kind == CaseKind.REFUND_ONLY:
                    target = CaseState.REFUND_PENDING
                event(pk, EventKind.TRANSITION, at, actor=assignee, transition=step,
                      source=previous, target=target)
                previous = target
            if rng.random() < 0.3:
                event(pk, EventKind.NOTE, at + timedelta(minutes=5), actor=assignee,
                      note="买家来电询问进度，已告知处理时效。")
            if state in (CaseState.REFUND_PENDING, CaseState.REFUND_FAILED, CaseState.REFUNDED):
                status = {CaseState.REFUND_PENDING: RefundStatus.PENDING,
                          CaseState.REFUND_FAILED: RefundStatus.FAILED}.get(state,
                                                                            RefundStatus.PAID)
                paid_at = ts(at) if status == RefundStatus.PAID else None
                reference = f"PAY{pk:09d}" if status == RefundStatus.PAID else ""
                refund_id = len(refunds) + 1
                refunds.append((refund_id, pk, order_id, bulk.money(amount), status, reference,
                                "账户异常" if status == RefundStatus.FAILED else "", assignee,
                                ts(at), paid_at))
                payouts.append((refund_id, shop_id, order_id, pk, PayoutKind.REFUND, refund_id,
                                bulk.money(amount), "Refund", PayoutState(status), assignee,
                                staff_numbers.get(assignee, system_number), ts(at), reference,
                                paid_at))
                if (not detail_case_id and shop_index == 0 and kind == CaseKind.RETURN
                        and state == CaseState.REFUND_PENDING):
                    detail_case_id = pk
            dl = ts(deadline) if deadline is not None else None
            yield (pk, shop_id, order_id, f"RF{pk:012d}", kind, reasons[pk % len(reasons)],
                   "收到的商品有问题，申请售后。", bulk.money(amount),
                   GoodsStatus.RETURNED if tracking else GoodsStatus.RECEIVED,
                   CloseReason.TIMEOUT if state == CaseState.CLOSED else "",
                   "凭证不足" if "refuse" in path else "", tracking,
                   "圆通速递" if tracking else "",
                   ts(shipped_at) if shipped_at else None, state, dl, owner, rule,
                   None if is_overdue else dl, assignee, ts(requested_at),
                   ts(at))

    counts["cases"] = bulk.insert(Case, [
        "id", "shop_id", "order_id", "platform_refund_id", "kind", "reason", "description",
        "requested_amount", "goods_status", "close_reason", "refusal_reason",
        "return_tracking_no", "return_carrier", "return_shipped_at", "state", "deadline_at",
        "deadline_owner", "deadline_rule", "warned_deadline_at", "assignee_id", "requested_at",
        "updated_at",
    ], case_rows())
    log(f"  cases: {counts['cases']:,} ({overdue:,} overdue)")
    counts["events"] = bulk.insert(CaseEvent, [
        "case_id", "kind", "transition", "from_state", "to_state", "actor_id", "staff_number",
        "note", "data", "created_at",
    ], iter(events))
    events.clear()
    counts["refunds"] = bulk.insert(Refund, [
        "id", "case_id", "order_id", "amount", "status", "payment_reference", "failure_reason",
        "approved_by_id", "approved_at", "paid_at",
    ], iter(refunds))
    counts["payouts"] = bulk.insert(Payout, [
        "id", "shop_id", "order_id", "case_id", "kind", "refund_id", "amount", "reason",
        "state", "created_by_id", "staff_number", "created_at", "payment_reference", "paid_at",
    ], iter(payouts))
    log(f"  events: {counts['events']:,}, refunds and payouts: {counts['refunds']:,}")

    # --- reviews on other orders ---
    n_reviews = min(size.reviews, n_orders)
    review_orders = rng.sample(range(1, n_orders + 1), n_reviews)
    ratings = [ReviewRating.GOOD] * 16 + [ReviewRating.NEUTRAL] * 2 + [ReviewRating.BAD] * 2

    def review_rows() -> Iterator[tuple]:
        for order_id in review_orders:
            rating = ratings[order_id % len(ratings)]
            text = "质量很好，物流很快。" if rating == ReviewRating.GOOD else "和描述不符，有色差。"
            yield (shop_ids[order_id % size.shops], order_id,
                   f"buyer{order_buyer[order_id]:07d}", TITLES[order_title[order_id]], rating,
                   text,
                   ts(naive_now - timedelta(seconds=rng.randrange(0, 60 * 86_400))))

    counts["reviews"] = bulk.insert(Review, [
        "shop_id", "order_id", "buyer_nick", "item_title", "rating", "content", "posted_at",
    ], review_rows())
    log(f"  reviews: {counts['reviews']:,}")

    # --- carrier claims (报损报失): one for every twenty cases, over every state ---
    n_claims = max(2, len(case_orders) // 20)
    claim_states = ["draft", "submitted", "accepted", "rejected", "compensated", "closed",
                    "closed", "closed"]
    agent_number = staff_numbers[agent.pk]

    def claim_rows() -> Iterator[tuple]:
        for n in range(n_claims):
            order_id = case_orders[(n * 7) % len(case_orders)]
            state = claim_states[n % len(claim_states)]
            price = order_paid[order_id]
            at = naive_now - timedelta(seconds=rng.randrange(0, 90 * 86_400))
            yield (shop_ids[order_id % size.shops], order_id, "lost" if n % 3 else "damaged",
                   "outbound", "中通快递", f"ZTC{n:010d}", "包裹破损" if n % 3 == 0 else "物流停滞",
                   TITLES[order_title[order_id]], bulk.money(price), 1, bulk.money(price),
                   bulk.money(price) if state in ("compensated", "closed") and n % 2 else None,
                   at.date().isoformat(), agent_number, agent.pk, agent_number, state,
                   agent.pk, ts(at), ts(at))

    counts["carrier claims"] = bulk.insert(CarrierClaim, [
        "shop_id", "order_id", "kind", "direction", "carrier", "tracking_no", "parcel_status",
        "item_model", "item_price", "quantity", "claimed_amount", "compensated_amount",
        "reported_on", "checked_staff_number", "handler_id", "handler_staff_number", "state",
        "created_by_id", "created_at", "updated_at",
    ], claim_rows())
    log(f"  carrier claims: {counts['carrier claims']:,}")

    # --- the agent's unread notifications (the queue shows the newest five) ---
    own_cases = [pk for pk, order_id in enumerate(case_orders, start=1)
                 if order_id % size.shops == 0][:12]
    Notification.objects.bulk_create([
        Notification(user=agent, case_id=pk, kind=NotificationKind.DEADLINE_WARNING,
                     message="Deadline approaching", deadline_at=now + timedelta(hours=n))
        for n, pk in enumerate(own_cases)
    ])

    bulk.reset_sequences(Buyer, Order, OrderLine, Case, Refund, Payout)
    if connection.vendor == "postgresql":
        # what autovacuum does to a live database: statistics, and the visibility map
        # that lets an index-only scan skip the table (a freshly loaded table has none)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    if not detail_case_id:  # a tiny run may lack such a case: take any of the agent's shop
        detail_case_id = own_cases[0] if own_cases else 1
    order_pk = Case.objects.values_list("order_id", flat=True).get(pk=detail_case_id)
    return Dataset(now=now, shop=shops[0], agent=agent, detail_case_id=detail_case_id,
                   search_order_id=str(base_order_id + order_pk), overdue=overdue,
                   counts=counts)


def load() -> Dataset:
    """The Dataset of a database `build` made earlier (`bench --reuse`)."""
    shop = Shop.objects.get(code=SHOPS[0][0])
    agent = User.objects.filter(username__startswith=f"bench_{AGENT}_").order_by("pk").first()
    first = (Case.objects.filter(shop=shop, kind=CaseKind.RETURN,
                                 state=CaseState.REFUND_PENDING).order_by("pk").first()
             or Case.objects.filter(shop=shop).order_by("pk").first())
    now = datetime.now(UTC).replace(microsecond=0)
    # what the sweep's measurement counts: every open state (time has passed since the
    # build, so a few more deadlines than the build's may have passed)
    overdue = Case.objects.filter(state__in=OPEN_STATES, deadline_at__lt=now).count()
    return Dataset(now=now, shop=shop, agent=agent, detail_case_id=first.pk,
                   search_order_id=first.order.platform_order_id, overdue=overdue,
                   counts={"orders": Order.objects.count(), "cases": Case.objects.count(),
                           "reviews": Review.objects.count()})
