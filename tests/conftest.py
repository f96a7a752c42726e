import os

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import translation

from tests.factories import OrderFactory, ShopFactory, make_staff


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests skip on SQLite, with the reason, except where PG is required (CI)."""
    on_postgres = connection.vendor == "postgresql"
    if on_postgres:
        return
    if os.environ.get("REQUIRE_POSTGRES"):
        raise pytest.UsageError("REQUIRE_POSTGRES is set but the tests are not on PostgreSQL")
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _default_language():
    """A page served in Chinese leaves Chinese active in the thread; don't leak it."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def roles(db):
    call_command("setup_roles", verbosity=0, stdout=open(os.devnull, "w"))


@pytest.fixture
def shop(db):
    return ShopFactory(code="shop-a", name="示例旗舰店")


@pytest.fixture
def other_shop(db):
    return ShopFactory(code="shop-b", name="别家小店")


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


@pytest.fixture
def order(shop):
    return OrderFactory(shop=shop)


@pytest.fixture
def unshipped_order(shop):
    return OrderFactory(shop=shop, unshipped=True)
