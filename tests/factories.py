"""Factories for the tests: build shops, staff with roles, orders and cases."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from refunds.models import (
    Buyer,
    CaseKind,
    CaseReason,
    Order,
    OrderLine,
    OrderStatus,
    Platform,
    Policy,
    Shop,
    ShopType,
    StaffProfile,
)
from refunds.services.cases import case_create


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop
        django_get_or_create = ["code"]
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"shop-{n}")
    name = factory.Sequence(lambda n: f"测试店铺{n}")
    platform = Platform.TMALL
    shop_type = ShopType.B
    platform_shop_id = factory.Sequence(lambda n: f"SHOP-{n}")
    policy = factory.RelatedFactory(
        "tests.factories.PolicyFactory", factory_related_name="shop"
    )


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Policy

    return_address = "浙江省杭州市余杭区文一西路 998 号 售后仓"
    instant_refund_limit = Decimal("100.00")
    agent_approval_limit = Decimal("500.00")
    # The harassment guard stays out of tests about other things: contact at any hour, no
    # daily cap (a suite run at night must not fail). tests/reviews/ restores the shop
    # defaults (09:00–21:00, 2 calls, 3 messages) with `guarded_policy`.
    contact_hours_start = datetime.time(0, 0)
    contact_hours_end = datetime.time.max
    max_calls_per_day = 999
    max_messages_per_day = 999


class BuyerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Buyer

    platform = Platform.TMALL
    nick = factory.Sequence(lambda n: f"买家{n}")
    mobile = factory.Sequence(lambda n: f"138{n:08d}")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order
        skip_postgeneration_save = True

    shop = factory.SubFactory(ShopFactory)
    platform_order_id = factory.Sequence(lambda n: f"39000000000{n:08d}")
    buyer = factory.SubFactory(BuyerFactory)
    goods_amount = Decimal("180.00")
    postage = Decimal("8.00")
    paid_amount = Decimal("188.00")
    status = OrderStatus.SHIPPED
    paid_at = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(days=5))
    shipped_at = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(days=4))
    delivered_at = None
    carrier = "顺丰速运"
    tracking_no = factory.Sequence(lambda n: f"SF{n:012d}")
    line = factory.RelatedFactory(
        "tests.factories.OrderLineFactory", factory_related_name="order"
    )

    class Params:
        unshipped = factory.Trait(status=OrderStatus.PAID, shipped_at=None, carrier="",
                                  tracking_no="")


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    title = "纯棉短袖T恤"
    quantity = 1
    paid_amount = Decimal("180.00")


def make_staff(username: str, role: str, *shops: Shop, staff_number: str | None = None,
               **extra) -> User:
    """A user with a 工号, one role group (setup_roles must have run) and their shops."""
    user = User.objects.create_user(username=username, password="pw-12345-test", **extra)
    user.groups.add(Group.objects.get(name=role))
    profile = StaffProfile.objects.create(user=user, staff_number=staff_number or username.upper())
    profile.shops.set(shops)
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


def make_case(*, order: Order | None = None, shop: Shop | None = None,
              kind: str = CaseKind.REFUND_ONLY, reason: str = CaseReason.QUALITY,
              amount: Decimal | str | None = None, actor=None, now=None, **kwargs):
    """Open a case the way the desk does (through the service), as "system" by default."""
    if order is None:
        order = OrderFactory(shop=shop) if shop else OrderFactory()
    amount = Decimal(str(amount)) if amount is not None else order.paid_amount
    return case_create(shop=order.shop, order=order, kind=kind, reason=reason,
                       requested_amount=amount, actor=actor, now=now, **kwargs)
