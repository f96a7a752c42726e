"""Review follow-ups, contacts and canned replies: a fixed daytime clock, the shop's real
contact rules, reviews and follow-ups, clients per user."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from refunds.models import Policy, Review, ReviewFollowUp, ReviewRating
from refunds.roles import ROLE_PERMISSIONS
from refunds.services.followups import followup_create_for_review
from tests.factories import OrderFactory, ShopFactory, make_staff

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Friday, 10:00 China time (02:00 UTC): inside the contact hours.
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
GUARD_FIELDS = ("contact_hours_start", "contact_hours_end", "max_calls_per_day",
                "max_messages_per_day")


def china(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of November 2026, China time."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


def _setup_roles():
    with open(os.devnull, "w") as devnull:
        call_command("setup_roles", verbosity=0, stdout=devnull)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The role groups once per session (as tests/views does)."""
    with django_db_blocker.unblock():
        _setup_roles()


@pytest.fixture
def roles(db):
    if Group.objects.filter(name__in=list(ROLE_PERMISSIONS)).count() != len(ROLE_PERMISSIONS):
        _setup_roles()


@pytest.fixture(autouse=True)
def clock():
    """Frozen at T0 (10:00 China time); move it with clock.move_to(...)."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def guarded(shop):
    """Give the shop the real defaults of the harassment guard (the factory turns it off)."""
    policy = shop.policy
    for name in GUARD_FIELDS:
        setattr(policy, name, Policy._meta.get_field(name).get_default())
    policy.save(update_fields=list(GUARD_FIELDS))
    return shop


@pytest.fixture
def shop(db):
    return guarded(ShopFactory(code="shop-a", name="示例旗舰店"))


@pytest.fixture
def other_shop(db):
    return guarded(ShopFactory(code="shop-b", name="别家小店"))


@pytest.fixture
def login():
    def _login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login


def make_review(*, order=None, shop=None, rating: str = ReviewRating.BAD,
                content: str = "质量太差，洗一次就掉色", posted_at: datetime | None = None,
                item_title: str = "纯棉短袖T恤") -> Review:
    order = order or OrderFactory(shop=shop)
    return Review.objects.create(
        shop=order.shop, order=order, buyer_nick=order.buyer.nick, item_title=item_title,
        rating=rating, content=content, posted_at=posted_at or T0 - timedelta(days=2),
    )


def make_follow_up(*, state: str | None = None, **kwargs) -> ReviewFollowUp:
    """A follow-up of a fresh 差评 (as the import makes it), optionally put in `state`."""
    follow_up = followup_create_for_review(make_review(**kwargs))
    if state is not None:
        extra = {"appeal_evidence": "同行恶意差评：同一收货地址三单"} if state == "appealed" else {}
        ReviewFollowUp.objects.filter(pk=follow_up.pk).update(state=state, **extra)
        follow_up.refresh_from_db()
    return follow_up


@pytest.fixture
def follow_up(shop):
    return make_follow_up(shop=shop)


@pytest.fixture
def agent(roles, shop):
    return make_staff("agent", "agent", shop, staff_number="A1001")


@pytest.fixture
def agent_b(roles, other_shop):
    return make_staff("agent_b", "agent", other_shop, staff_number="B2001")


@pytest.fixture
def supervisor(roles, shop):
    return make_staff("supervisor", "supervisor", shop, staff_number="S3001")


@pytest.fixture
def warehouse(roles, shop):
    return make_staff("warehouse", "warehouse", shop, staff_number="W4001")


@pytest.fixture
def finance(roles, shop):
    return make_staff("finance", "finance", shop, staff_number="F5001")


@pytest.fixture
def manager(roles, shop):
    return make_staff("manager", "manager", shop, staff_number="M6001", is_staff=True)
