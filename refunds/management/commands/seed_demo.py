"""Demo data: two shops, six users (password demo12345), orders and cases in every state.

Idempotent: shops, users and orders are keyed on their codes; the demo cases are created
only for orders that have none yet, always through the services, so the timeline and
money rows are exactly what staff would produce.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from refunds.models import (
    Buyer,
    CannedReply,
    CarrierClaim,
    Case,
    CaseReason,
    CaseState,
    CloseReason,
    Complaint,
    ComplaintKind,
    ContactChannel,
    ContactOutcome,
    GoodsStatus,
    InquiryKind,
    InquiryOutcome,
    Order,
    OrderLine,
    OrderStatus,
    ParcelInquiry,
    Platform,
    Policy,
    ReplyCategory,
    Shop,
    ShopType,
    StaffProfile,
    StockOut,
    StockOutRemedy,
)
from refunds.services import cases as svc
from refunds.services import claims as claim_svc
from refunds.services import complaints as complaint_svc
from refunds.services import exchanges as exchange_svc
from refunds.services import inquiries as inquiry_svc
from refunds.services import stockouts as stockout_svc
from refunds.services.contacts import BUYER_TIMEZONE
from refunds.services.money import refundable_amount
from refunds.services.receipts import start_window

DEMO_PASSWORD = "demo12345"  # noqa: S105 - printed by `make run`, documented in README

SHOPS = [
    {"code": "tmall-flagship", "name": "示例旗舰店", "platform": Platform.TMALL,
     "shop_type": ShopType.B, "platform_shop_id": "SHOP-A",
     "return_address": "浙江省杭州市余杭区仓前街道文一西路 998 号 售后仓 收件人：售后组 0571-88880000"},
    {"code": "taobao-cshop", "name": "小林的淘宝小店", "platform": Platform.TAOBAO,
     "shop_type": ShopType.C, "platform_shop_id": "SHOP-C",
     "return_address": "广东省广州市白云区太和镇龙归路 12 号 林小姐 13800001111"},
]

# username, staff number, role, first name, shop codes
USERS = [
    ("agent", "A1001", "agent", "客服小王", ["tmall-flagship"]),
    ("agent_b", "B2001", "agent", "客服小林", ["taobao-cshop"]),
    ("supervisor", "S3001", "supervisor", "主管陈姐", ["tmall-flagship", "taobao-cshop"]),
    ("warehouse", "W4001", "warehouse", "仓库老赵", ["tmall-flagship", "taobao-cshop"]),
    ("finance", "F5001", "finance", "财务刘会计", ["tmall-flagship", "taobao-cshop"]),
    ("manager", "M6001", "manager", "经理周总", ["tmall-flagship", "taobao-cshop"]),
]

ITEMS = [
    ("纯棉短袖T恤 宽松百搭", Decimal("89.00")),
    ("儿童防水雪地靴", Decimal("167.00")),
    ("不锈钢保温杯 500ml", Decimal("69.00")),
    ("真丝睡衣套装", Decimal("459.00")),
    ("羊毛针织开衫 秋冬新款", Decimal("599.00")),
    ("降噪蓝牙耳机", Decimal("899.00")),
    ("加厚羽绒服 男女同款", Decimal("1299.00")),
    ("手工陶瓷茶具套装", Decimal("328.00")),
]
NAMES = ["张伟", "李娜", "王芳", "刘洋", "陈静", "杨磊", "赵敏", "黄丽", "周杰", "吴霞", "孙强", "郑爽"]
NICKS = ["小鹿乱撞的猫", "tb_王小明", "爱喝奶茶的兔子", "江南烟雨", "momo购物狂", "北方的狼",
         "一只快乐的鱼", "青青子衿", "草莓味的夏天", "老李家的闺女", "数码控阿杰", "慢慢走2019"]
CITIES = ["浙江省 杭州市 西湖区", "江苏省 南京市 鼓楼区", "广东省 深圳市 南山区", "湖北省 武汉市 洪山区",
          "四川省 成都市 武侯区", "北京 北京市 朝阳区"]
CARRIERS = ["顺丰速运", "中通快递", "圆通速递", "韵达快递", "EMS"]

# (kind, reason, shipped?, amount factor, path of steps, days ago requested)
SCENARIOS = [
    ("refund_only", CaseReason.OTHER, False, "1", [], 0.2),                 # requested, unshipped
    ("refund_only", CaseReason.QUALITY, True, "0.5", [], 1),                # requested, shipped
    ("return", CaseReason.NO_REASON, True, "1", [], 4.5),                   # due within 24h
    ("return", CaseReason.SIZE, True, "1", [], 6),                          # overdue
    ("refund_only", CaseReason.NOT_RECEIVED, True, "1", [], 0.5),           # big: needs supervisor
    ("refund_only", CaseReason.OTHER, False, "small", [], 0.1),             # 极速退款 → refund_pending
    ("refund_only", CaseReason.NOT_AS_DESCRIBED, True, "1", ["refuse"], 2),
    ("return", CaseReason.QUALITY, True, "1", ["agree"], 3),
    ("return", CaseReason.WRONG_ITEM, True, "1", ["agree", "ship"], 5),
    ("return", CaseReason.NO_REASON, True, "1", ["agree", "ship", "receive"], 8),
    ("exchange", CaseReason.SIZE, True, "1", ["agree", "ship", "receive"], 7),
    ("return", CaseReason.DAMAGED, True, "1", ["agree", "ship", "receive", "approve"], 9),
    ("refund_only", CaseReason.QUALITY, True, "0.3", ["agree", "fail"], 3),
    ("return", CaseReason.QUALITY, True, "1", ["agree", "ship", "receive", "approve", "pay"], 12),
    ("refund_only", CaseReason.OTHER, True, "1", ["close"], 4),
    ("refund_only", CaseReason.QUALITY, True, "0.5", ["agree", "pay", "reopen"], 10),
    ("exchange", CaseReason.SIZE, True, "1", ["agree", "ship", "receive", "replace"], 9),
    ("exchange", CaseReason.QUALITY, True, "1",
     ["agree", "ship", "receive", "replace", "complete"], 14),
    # refused, then the buyer asked the platform to step in (平台介入): evidence is due
    ("refund_only", CaseReason.NOT_AS_DESCRIBED, True, "1", ["refuse", "dispute"], 3),
]


def _within_contact_hours(moment):
    """The latest time at or before `moment` that the harassment guard allows with the default
    policy (09:00–21:00 China time): a demo contact "at night" is moved to 20:30."""
    local = timezone.localtime(moment, BUYER_TIMEZONE)
    if 9 <= local.hour < 21:
        return moment
    evening = local if local.hour >= 21 else local - timedelta(days=1)
    return evening.replace(hour=20, minute=30, second=0, microsecond=0)


class Command(BaseCommand):
    help = "Load demo shops, users (password demo12345), orders and cases. Safe to run again."

    def handle(self, *args, **options):
        call_command("setup_roles", stdout=self.stdout)
        rng = random.Random(20261122)
        with transaction.atomic():
            shops = [self._shop(spec) for spec in SHOPS]
            users = {spec[0]: self._user(*spec) for spec in USERS}
        created = 0
        for shop in shops:
            created += self._cases(shop, users, rng)
            self._claims(shop, users)
            self._complaints(shop, users)
            self._stockouts(shop, users, rng)
            self._inquiries(shop, users, rng)
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready: {len(shops)} shops, {len(users)} users, {created} new cases "
            f"({Case.objects.count()} in all)."
        ))
        self.stdout.write("Logins (password demo12345): " + ", ".join(u[0] for u in USERS))

    def _shop(self, spec: dict) -> Shop:
        spec = dict(spec)
        return_address = spec.pop("return_address")
        shop, _created = Shop.objects.update_or_create(code=spec.pop("code"), defaults=spec)
        Policy.objects.get_or_create(shop=shop, defaults={"return_address": return_address})
        return shop

    def _user(self, username, staff_number, role, first_name, shop_codes) -> User:
        user, created = User.objects.get_or_create(username=username,
                                                   defaults={"first_name": first_name})
        if created:
            user.set_password(DEMO_PASSWORD)
        user.is_staff = role == "manager"
        user.email = f"{username}@example.com"
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        profile, _ = StaffProfile.objects.get_or_create(
            user=user, defaults={"staff_number": staff_number})
        profile.shops.set(Shop.objects.filter(code__in=shop_codes))
        return user

    def _cases(self, shop: Shop, users: dict[str, User], rng: random.Random) -> int:
        agent = users["agent"] if shop.code == "tmall-flagship" else users["agent_b"]
        now = timezone.now()
        created = 0
        prefix = "39" if shop.platform == Platform.TMALL else "28"
        for index, (kind, reason, shipped, factor, steps, days_ago) in enumerate(SCENARIOS):
            order_id = f"{prefix}0000{shop.pk:02d}{index:06d}"
            if Case.objects.filter(shop=shop, order__platform_order_id=order_id).exists():
                continue
            requested_at = now - timedelta(days=days_ago)
            order = self._order(shop, order_id, shipped, requested_at, index, rng)
            if factor == "small":
                amount = min(order.paid_amount, shop.policy.instant_refund_limit)
            elif factor == "1":
                amount = order.paid_amount
            else:
                amount = (order.paid_amount * Decimal(factor)).quantize(Decimal("0.01"))
            if index == 4:  # above the agent's limit: waits for a supervisor
                amount = order.paid_amount
            with transaction.atomic():
                case = svc.case_create(
                    shop=shop, order=order, kind=kind, reason=reason, requested_amount=amount,
                    actor=None, source="platform", now=requested_at,
                    platform_refund_id=f"18{shop.pk:02d}{index:011d}",
                    goods_status=GoodsStatus.RECEIVED if shipped else GoodsStatus.NOT_RECEIVED,
                    description=rng.choice(["尺码偏小，穿不上", "颜色和图片差太多", "收到就坏了",
                                            "不想要了", "快递太慢，等不及了", ""]),
                )
                self._walk(case, steps, users, agent, requested_at)
                if index % 3 == 0:
                    svc.contact_log_create(
                        case=case, actor=agent, channel=ContactChannel.IM,
                        outcome=ContactOutcome.REACHED, note="已联系买家，说明处理进度",
                        now=_within_contact_hours(requested_at + timedelta(hours=2)),
                    )
                if index % 4 == 1:
                    svc.case_assign(case=case, actor=agent, assignee=agent)
            created += 1
        return created

    def _claims(self, shop: Shop, users: dict[str, User]) -> None:
        """Two carrier claims (报损报失) per shop: a damaged parcel still a draft (it lacks its
        photos) and a lost one the carrier accepted. Once: not again on a second run."""
        if CarrierClaim.objects.filter(shop=shop).exists():
            return
        orders = list(Order.objects.filter(shop=shop, shipped_at__isnull=False)
                      .prefetch_related("lines").order_by("id")[:2])
        warehouse = users["warehouse"]
        for order, kind, status in zip(orders, ["damaged", "lost"],
                                       ["外箱压扁，杯身凹陷", "物流显示签收，买家未收到"],
                                       strict=False):
            line = order.lines.all()[0]
            claim = claim_svc.claim_create(
                shop=shop, order=order, actor=warehouse, kind=kind,
                tracking_no=order.tracking_no, carrier=order.carrier,
                ship_date=timezone.localdate(order.shipped_at), region="浙江 杭州",
                sender_id_number="330106199001011234" if kind == "lost" else "",
                parcel_status=status, item_model=line.title,
                item_price=line.paid_amount / line.quantity, quantity=line.quantity)
            if kind == "lost":
                claim = claim_svc.claim_submit(claim=claim, actor=warehouse,
                                               carrier_reference="PC" + order.tracking_no[-8:])
                claim_svc.claim_accept(claim=claim, actor=users["supervisor"],
                                       result="快递公司同意按商品价值赔付，7个工作日内到账")

    def _complaints(self, shop: Shop, users: dict[str, User]) -> None:
        """Two complaints after the trade (维权/投诉) per shop: one whose evidence is due
        tomorrow, with none added yet, and one the platform ruled for the buyer, paying ¥10.
        Once: not again on a second run."""
        if Complaint.objects.filter(shop=shop).exists():
            return
        agent = users["agent"] if shop.code == "tmall-flagship" else users["agent_b"]
        now = timezone.now()
        orders = [order for order in Order.objects.filter(shop=shop, shipped_at__isnull=False)
                  .order_by("-id")[:10] if refundable_amount(order) >= Decimal("10.00")][:2]
        for number, order in enumerate(orders):
            opened = now - timedelta(days=4 if number == 0 else 9)
            complaint = complaint_svc.complaint_create(
                shop=shop, order=order, actor=agent, opened_at=opened,
                kind=ComplaintKind.NOT_RECEIVED if number == 0 else ComplaintKind.BREACH_OF_PROMISE,
                platform_reference=f"TS{shop.pk:02d}{order.pk:08d}",
                buyer_claim="物流显示已签收，但我没有收到包裹" if number == 0
                else "客服承诺赠送的小样没有发", amount_claimed=Decimal("10.00"),
                evidence_due_at=now + timedelta(days=1) if number == 0 else None)
            if number == 1:
                complaint_svc.complaint_rule_for_buyer(
                    complaint=complaint, actor=users["supervisor"],
                    ruling="商家未能提供已发赠品的凭证，支持买家", refund_amount=Decimal("10.00"),
                    penalty_points=1)

    def _stockouts(self, shop: Shop, users: dict[str, User], rng: random.Random) -> None:
        """Three orders to ship out of stock (缺货) per shop: one just reported, the buyer not
        told yet, one whose buyer agreed on the phone to wait three more days, and one whose
        buyer took a refund and then withdrew the request (the refund closed unpaid: to be
        sent back to the buyer's choice). Once: not again on a second run."""
        CannedReply.objects.get_or_create(
            category=ReplyCategory.STOCKOUT, language="zh-hans", title="缺货通知",
            defaults={"text": "亲，非常抱歉，您订单 {order} 的宝贝暂时缺货，预计 {deadline} 到货后"
                              "立即为您发出。您也可以换款，或申请退款 ¥{amount}，您看怎么方便？"})
        if StockOut.objects.filter(shop=shop).exists():
            return
        agent = users["agent"] if shop.code == "tmall-flagship" else users["agent_b"]
        told_at = _within_contact_hours(timezone.now())
        for number in range(3):
            order = self._order(shop, f"{shop.pk}8800000000{number:02d}", False,
                                told_at - timedelta(hours=2), number + 1, rng)
            stockout = stockout_svc.stockout_report(
                order=order, actor=users["warehouse"], line=order.lines.all()[0], quantity=1,
                restock_expected=told_at.astimezone(BUYER_TIMEZONE).date() + timedelta(days=3),
                note="库存盘点为 0，供应商三天后到货", now=told_at - timedelta(hours=1))
            if number == 1:
                stockout_svc.stockout_contact(
                    stockout=stockout, actor=agent, channel=ContactChannel.PHONE,
                    outcome=ContactOutcome.REACHED, note="告知缺货，买家愿意等三天", now=told_at)
                stockout_svc.stockout_buyer_agreed(
                    stockout=stockout, actor=agent, remedy=StockOutRemedy.WAIT,
                    agreed_ship_by=stockout.restock_expected, now=told_at)
            elif number == 2:
                stockout_svc.stockout_contact(
                    stockout=stockout, actor=agent, channel=ContactChannel.IM,
                    outcome=ContactOutcome.REACHED, note="告知缺货，买家选择退款", now=told_at)
                stockout = stockout_svc.stockout_refund(stockout=stockout, actor=agent,
                                                        now=told_at)
                if stockout.case.state == CaseState.REQUESTED:  # not refunded at once (极速退款)
                    svc.case_close(case=stockout.case, actor=agent,
                                   reason=CloseReason.WITHDRAWN, note="买家撤销退款申请，想再等等",
                                   now=told_at + timedelta(minutes=30))

    def _inquiries(self, shop: Shop, users: dict[str, User], rng: random.Random) -> None:
        """Three parcel inquiries per shop (快递查询 / 改地址): one waiting for the carrier to
        call back, one answered and the buyer still to be told, one address change on an order
        to ship. Once: not again on a second run."""
        CannedReply.objects.get_or_create(
            category=ReplyCategory.LOGISTICS, language="zh-hans", title="查件回复",
            defaults={"text": "亲，已为您查询，订单 {order} 的快递单号 {tracking}，快递正在派送中，"
                              "请您保持电话畅通，有问题随时联系我们～"})
        if ParcelInquiry.objects.filter(shop=shop).exists():
            return
        agent = users["agent"] if shop.code == "tmall-flagship" else users["agent_b"]
        now = _within_contact_hours(timezone.now())
        opened = now - timedelta(hours=3)
        where = self._order(shop, f"{shop.pk}7700000000{0:02d}", True, opened, 1, rng)
        inquiry = inquiry_svc.inquiry_open(
            order=where, actor=agent, kind=InquiryKind.WHERE, question="三天了物流没更新，快递到哪了？",
            now=opened)
        inquiry_svc.inquiry_ask_carrier(
            inquiry=inquiry, actor=agent, carrier_staff="851", note="网点说在中转站滞留",
            callback_by=opened + timedelta(hours=5), now=opened + timedelta(minutes=20))
        missing = self._order(shop, f"{shop.pk}7700000000{1:02d}", True, opened, 2, rng)
        inquiry = inquiry_svc.inquiry_open(
            order=missing, actor=agent, kind=InquiryKind.NOT_RECEIVED,
            question="显示已签收，但我没收到", now=opened)
        inquiry_svc.inquiry_record_answer(
            inquiry=inquiry, actor=agent, outcome=InquiryOutcome.AT_STATION, carrier_staff="302",
            answer="快递员放在小区菜鸟驿站，取件码已补发短信", now=opened + timedelta(hours=1))
        moved = self._order(shop, f"{shop.pk}7700000000{2:02d}", False, opened, 3, rng)
        inquiry_svc.inquiry_open(
            order=moved, actor=agent, kind=InquiryKind.ADDRESS, question="地址写错了，请改一下",
            new_address="张三 138****0000 浙江省杭州市西湖区文三路 100 号", now=opened)

    def _walk(self, case, steps, users, agent, start) -> None:
        at = start
        for step in steps:
            at = at + timedelta(hours=5)
            if step == "agree":
                svc.case_agree(case=case, actor=users["supervisor"], now=at)
            elif step == "refuse":
                svc.case_refuse(case=case, actor=agent, now=at,
                                reason=case.shop.policy.refusal_reasons[4],
                                note="买家未提供商品问题照片")
            elif step == "ship":
                svc.case_record_return_shipment(
                    case=case, actor=agent, carrier=random.choice(CARRIERS),
                    tracking_no=f"SF{case.pk:04d}{case.order_id:08d}", now=at)
            elif step == "receive":
                svc.case_receive(case=case, actor=users["warehouse"], resellable=True,
                                 note="包装完好，吊牌在", now=at)
            elif step == "approve":
                svc.case_approve_refund(case=case, actor=users["supervisor"], now=at)
            elif step == "pay":
                svc.case_mark_refunded(case=case, actor=users["finance"], now=at,
                                       payment_reference=f"ALIPAY{case.pk:010d}")
            elif step == "fail":
                svc.case_mark_refund_failed(case=case, actor=users["finance"], now=at,
                                            reason="买家支付宝账户异常")
            elif step == "close":
                svc.case_close(case=case, actor=agent, reason=CloseReason.WITHDRAWN,
                               note="买家已撤销申请", now=at)
            elif step == "replace":  # 换货: same item, one size up, then shipped
                exchange_svc.exchange_choose_replacement(
                    case=case, actor=agent, title=case.order.lines.first().title + " (换大一码)",
                    sku="XL", price=case.requested_amount, now=at)
                exchange_svc.case_ship_replacement(
                    case=case, actor=users["warehouse"], carrier=random.choice(CARRIERS),
                    tracking_no=f"YT{case.pk:04d}{case.order_id:08d}", now=at)
            elif step == "dispute":
                svc.case_open_dispute(case=case, actor=agent, now=at,
                                      note="买家申请平台介入：称商品与描述不符（纠纷单号 JF20261120001）")
            elif step == "complete":
                exchange_svc.case_complete_exchange(case=case, actor=agent, now=at)
            elif step == "reopen":
                # the buyer disputes the half refunded: asks for a further part of the rest
                further = (refundable_amount(case.order) / 4).quantize(Decimal("0.01"))
                svc.case_reopen(case=case, actor=users["supervisor"], now=at,
                                reason="买家申请复核：质量问题补充了照片", requested_amount=further)
            case.refresh_from_db()

    def _order(self, shop, order_id, shipped, requested_at, index, rng) -> Order:
        title, price = ITEMS[index % len(ITEMS)]
        if index == 4:
            title, price = ITEMS[6]  # the expensive one: above the agent approval limit
        quantity = 1 if price > 300 else rng.choice([1, 1, 2])
        postage = Decimal("0.00") if price > 99 else Decimal("8.00")
        goods = price * quantity
        nick_index = (index + (0 if shop.platform == Platform.TMALL else 5)) % len(NICKS)
        buyer, _ = Buyer.objects.get_or_create(
            platform=shop.platform, nick=NICKS[nick_index],
            defaults={"mobile": f"1{rng.choice('35789')}{rng.randrange(10**8, 10**9)}",
                      "is_vip": nick_index % 5 == 0,
                      "alipay_account": f"{NICKS[nick_index][:2]}***@example.com"},
        )
        paid_at = requested_at - timedelta(days=3 if shipped else 0.2)
        order, _ = Order.objects.get_or_create(
            shop=shop, platform_order_id=order_id,
            defaults={
                "buyer": buyer, "goods_amount": goods, "postage": postage,
                "paid_amount": goods + postage,
                "status": OrderStatus.SHIPPED if shipped else OrderStatus.PAID,
                "created_at": paid_at - timedelta(minutes=7), "paid_at": paid_at,
                "shipped_at": paid_at + timedelta(hours=20) if shipped else None,
                "delivered_at": paid_at + timedelta(days=2) if shipped else None,
                "carrier": rng.choice(CARRIERS) if shipped else "",
                "tracking_no": str(rng.randrange(7 * 10**13, 8 * 10**13)) if shipped else "",
                "receiver_name": NAMES[index % len(NAMES)],
                "receiver_address": f"{rng.choice(CITIES)} 某某路{rng.randrange(1, 999)}号",
                "buyer_message": rng.choice(["", "请尽快发货", "要顺丰快递谢谢"]),
            },
        )
        if not order.lines.exists():
            OrderLine.objects.create(order=order, platform_sub_order_id=order_id, title=title,
                                     quantity=quantity, paid_amount=goods)
        started = start_window(order, shop.policy)  # as the import does for a shipped order
        if started:
            order.save(update_fields=started)
        return order
