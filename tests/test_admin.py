"""The managers' admin: scoped to their shops, state read-only, actions through the services."""

from __future__ import annotations

from decimal import Decimal

import pytest

from refunds.models import Case, CaseEvent, Refund
from refunds.services import cases as svc
from tests.factories import OrderFactory, make_case, make_staff


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_manager_sees_only_their_shops_cases(manager_client, shop, other_shop):
    mine = make_case(order=OrderFactory(shop=shop))
    theirs = make_case(order=OrderFactory(shop=other_shop))
    page = manager_client.get("/admin/refunds/case/").content.decode()
    assert f"/admin/refunds/case/{mine.pk}/change/" in page
    assert f"/admin/refunds/case/{theirs.pk}/change/" not in page
    response = manager_client.get(f"/admin/refunds/case/{theirs.pk}/change/")
    assert response.status_code == 302  # Django admin: "doesn't exist", back to the index
    assert manager_client.get(f"/admin/refunds/case/{mine.pk}/change/").status_code == 200


def test_case_state_is_read_only_in_the_admin(manager_client, shop):
    case = make_case(order=OrderFactory(shop=shop))
    page = manager_client.get(f"/admin/refunds/case/{case.pk}/change/").content.decode()
    assert 'name="state"' not in page
    manager_client.post(f"/admin/refunds/case/{case.pk}/change/", {"state": "refunded"})
    assert Case.objects.get(pk=case.pk).state == "requested"


@pytest.mark.parametrize("url", ["/admin/refunds/case/{case}/delete/",
                                 "/admin/refunds/caseevent/{event}/delete/",
                                 "/admin/refunds/refund/{refund}/delete/"])
def test_cases_timeline_and_money_cannot_be_deleted(manager_client, shop, url):
    case = make_case(order=OrderFactory(shop=shop, unshipped=True, paid_amount=Decimal("50")),
                     amount="50.00")  # 极速退款 makes a refund row
    event = CaseEvent.objects.filter(case=case).first()
    refund = Refund.objects.get(case=case)
    response = manager_client.post(url.format(case=case.pk, event=event.pk, refund=refund.pk),
                                   {"post": "yes"})
    assert response.status_code == 403
    assert Case.objects.filter(pk=case.pk).exists()
    assert CaseEvent.objects.filter(pk=event.pk).exists() and Refund.objects.exists()


def test_admin_action_goes_through_the_service(manager_client, shop):
    case = make_case(order=OrderFactory(shop=shop))
    response = manager_client.post("/admin/refunds/case/", {
        "action": "close_cases", "_selected_action": [case.pk], "close_reason": "withdrawn",
        "note": "买家撤销",
    }, follow=True)
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.state == "closed" and case.close_reason == "withdrawn"
    event = CaseEvent.objects.get(case=case, transition="close")
    assert event.staff_number == "M6001" and event.note == "买家撤销"


def test_admin_action_checks_the_transition_permission(client, roles, shop):
    """A staff agent (no reopen_case) is neither offered nor allowed to reopen in the admin."""
    clerk = make_staff("clerk", "agent", shop, is_staff=True)
    case = make_case(order=OrderFactory(shop=shop))
    svc.case_close(case=case, actor=None, reason="withdrawn")
    client.force_login(clerk)
    page = client.get("/admin/refunds/case/").content.decode()
    assert "close_cases" in page and "reopen_cases" not in page
    client.post("/admin/refunds/case/", {
        "action": "reopen_cases", "_selected_action": [case.pk], "note": "复核",
    })
    assert Case.objects.get(pk=case.pk).state == "closed"
    assert not CaseEvent.objects.filter(case=case, transition="reopen").exists()


def test_admin_action_refuses_a_case_the_state_no_longer_allows(manager_client, shop):
    case = make_case(order=OrderFactory(shop=shop))
    svc.case_close(case=case, actor=None, reason="withdrawn")
    response = manager_client.post("/admin/refunds/case/", {
        "action": "agree_cases", "_selected_action": [case.pk],
    }, follow=True)
    assert "not possible" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == "closed"


def test_admin_action_without_required_reason_changes_nothing(manager_client, shop):
    case = make_case(order=OrderFactory(shop=shop))
    manager_client.post("/admin/refunds/case/", {
        "action": "close_cases", "_selected_action": [case.pk], "close_reason": "",
    })
    assert Case.objects.get(pk=case.pk).state == "requested"
    assert not CaseEvent.objects.filter(case=case, kind="transition").exists()


# --- a manager's reach: their shops' staff, orders and names only ---------------------------


def _change_form_data(client, url):
    """What the admin change form at `url` would post back unchanged."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None:
            continue
        widget = form.fields[name].widget
        if hasattr(widget, "widgets"):  # a split date and time
            parts = value if isinstance(value, (list, tuple)) else widget.decompress(value)
            for n, part in enumerate(parts):
                data[f"{name}_{n}"] = part or ""
        else:
            data[name] = value
    return data


def test_a_manager_cannot_make_anyone_superuser_or_give_single_permissions(
        manager_client, manager, agent):
    from django.contrib.auth.models import Permission, User

    url = f"/admin/auth/user/{agent.pk}/change/"
    page = manager_client.get(url)
    assert page.status_code == 200
    assert 'name="is_superuser"' not in page.content.decode()
    assert 'name="user_permissions"' not in page.content.decode()
    data = _change_form_data(manager_client, url)
    anything = Permission.objects.get(codename="delete_case")
    data.update({"is_superuser": "on", "user_permissions": [anything.pk],
                 "first_name": "小王"})
    response = manager_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    agent = User.objects.get(pk=agent.pk)
    assert agent.first_name == "小王"  # the edit itself went through
    assert not agent.is_superuser and not agent.user_permissions.exists()


def test_a_manager_gives_only_the_role_groups(manager_client, agent):
    from django.contrib.auth.models import Group

    Group.objects.create(name="site admins")
    form = manager_client.get(f"/admin/auth/user/{agent.pk}/change/").context[
        "adminform"].form
    assert set(form.fields["groups"].queryset.values_list("name", flat=True)) == {
        "agent", "supervisor", "warehouse", "finance", "manager"}


def test_a_manager_sees_only_their_shops_staff_accounts_and_no_superuser(
        manager_client, agent, agent_b):
    from django.contrib.auth.models import User

    root = User.objects.create_superuser("root", "root@example.com", "pw-12345-test")
    newcomer = User.objects.create_user("newcomer")  # no staff profile yet: being set up
    page = manager_client.get("/admin/auth/user/").content.decode()
    assert f"/admin/auth/user/{agent.pk}/change/" in page
    assert f"/admin/auth/user/{newcomer.pk}/change/" in page
    for theirs in (agent_b, root):
        assert f"/admin/auth/user/{theirs.pk}/change/" not in page
        assert manager_client.get(f"/admin/auth/user/{theirs.pk}/change/").status_code == 302
        assert manager_client.get(
            f"/admin/auth/user/{theirs.pk}/password/").status_code in (302, 404)


def test_a_manager_cannot_join_another_shop_and_keeps_the_shops_they_cannot_see(
        manager_client, manager, agent, shop, other_shop):
    from refunds.models import StaffProfile

    own = StaffProfile.objects.get(user=manager)
    url = f"/admin/refunds/staffprofile/{own.pk}/change/"
    form = manager_client.get(url).context["adminform"].form
    assert list(form.fields["shops"].queryset) == [shop]
    response = manager_client.post(url, {"staff_number": own.staff_number, "user": manager.pk,
                                         "shops": [shop.pk, other_shop.pk]})
    assert response.status_code == 200  # the form refuses the unknown choice
    assert list(StaffProfile.objects.get(pk=own.pk).shops.all()) == [shop]

    # an agent serving both shops, edited by shop A's manager, still serves shop B
    both = StaffProfile.objects.get(user=agent)
    both.shops.add(other_shop)
    url = f"/admin/refunds/staffprofile/{both.pk}/change/"
    response = manager_client.post(url, {"staff_number": "A1002", "user": agent.pk,
                                         "shops": [shop.pk]})
    assert response.status_code == 302
    both.refresh_from_db()
    assert both.staff_number == "A1002" and set(both.shops.all()) == {shop, other_shop}


def test_a_shop_a_manager_opens_is_theirs_to_staff(manager_client, manager):
    from refunds.models import Shop, StaffProfile

    response = manager_client.post("/admin/refunds/shop/add/", {
        "code": "shop-new", "name": "新店", "platform": "taobao", "shop_type": "C",
        "platform_shop_id": "", "policy-TOTAL_FORMS": "0", "policy-INITIAL_FORMS": "0",
        "policy-MIN_NUM_FORMS": "0", "policy-MAX_NUM_FORMS": "1"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Shop.objects.get(code="shop-new") in StaffProfile.objects.get(user=manager).shops.all()


def test_a_shop_saved_without_touching_its_policy_gets_the_default_one(manager_client, manager):
    """The admin saves no inline form left untouched: the shop would have no policy, and
    every page reading its deadlines (orders to ship, the warehouse) would fail on it."""
    from refunds.models import Policy, Shop

    response = manager_client.post("/admin/refunds/shop/add/", {
        "code": "shop-bare", "name": "空店", "platform": "taobao", "shop_type": "C",
        "platform_shop_id": "", "policy-TOTAL_FORMS": "0", "policy-INITIAL_FORMS": "0",
        "policy-MIN_NUM_FORMS": "0", "policy-MAX_NUM_FORMS": "1"})
    assert response.status_code == 302
    shop = Shop.objects.get(code="shop-bare")
    policy = Policy.objects.get(shop=shop)
    assert policy.ship_within_hours == Policy._meta.get_field("ship_within_hours").default
    OrderFactory(shop=shop, unshipped=True)
    for due in ("", "overdue", "24h"):
        assert manager_client.get(f"/orders/unshipped/?due={due}").status_code == 200


def test_the_migration_gives_a_shop_without_policy_the_default_one(shop, other_shop):
    import importlib

    from django.apps import apps

    from refunds.models import Policy

    Policy.objects.filter(shop=other_shop).delete()
    kept = Policy.objects.get(shop=shop)
    migration = importlib.import_module("refunds.migrations.0017_every_shop_has_a_policy")
    migration.give_every_shop_a_policy(apps, None)
    assert Policy.objects.get(shop=shop) == kept
    assert Policy.objects.get(shop=other_shop).quality_photo_hours == 24


def test_a_manager_cannot_put_a_line_on_another_shops_order(manager_client, other_shop):
    from refunds.models import OrderLine

    theirs = OrderFactory(shop=other_shop)
    lines = list(OrderLine.objects.filter(order=theirs))
    response = manager_client.post("/admin/refunds/orderline/add/", {
        "order": theirs.pk, "platform_sub_order_id": "X1", "title": "x", "sku": "",
        "quantity": 1, "paid_amount": "1.00"})
    assert response.status_code == 200 and "order" in response.context["adminform"].form.errors
    assert list(OrderLine.objects.filter(order=theirs)) == lines


def test_an_orders_paid_amount_is_read_only_once_after_sales_hangs_on_it(manager_client, shop):
    untouched = OrderFactory(shop=shop)
    page = manager_client.get(f"/admin/refunds/order/{untouched.pk}/change/").content.decode()
    assert 'name="paid_amount"' in page  # a plain order can be corrected by hand

    order = OrderFactory(shop=shop, paid_amount=Decimal("188.00"))
    case = make_case(order=order, amount="150.00")
    svc.case_agree(case=case, actor=None)
    url = f"/admin/refunds/order/{order.pk}/change/"
    page = manager_client.get(url).content.decode()
    for name in ("paid_amount", "postage", "shop", "buyer"):
        assert f'name="{name}"' not in page
    data = _change_form_data(manager_client, url)
    data.update({"paid_amount": "10.00", "lines-TOTAL_FORMS": "0", "lines-INITIAL_FORMS": "0",
                 "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "1000"})
    manager_client.post(url, data)
    order.refresh_from_db()
    assert order.paid_amount == Decimal("188.00")


@pytest.mark.parametrize("url", ["/admin/refunds/case/", "/admin/refunds/order/",
                                 "/admin/refunds/payout/", "/admin/refunds/staffprofile/",
                                 "/admin/refunds/orderline/", "/admin/refunds/importrun/"])
def test_the_shop_filters_do_not_name_other_shops(manager_client, shop, other_shop, agent_b,
                                                  url):
    make_case(order=OrderFactory(shop=shop))
    make_case(order=OrderFactory(shop=other_shop))
    page = manager_client.get(url)
    assert page.status_code == 200
    assert other_shop.name not in page.content.decode()


def test_a_profile_is_not_moved_to_another_account_by_a_manager(manager_client, agent, shop,
                                                                 other_shop):
    """Re-pointing a profile that also serves shop B at a fresh account would hand shop B to
    whoever holds that account."""
    from django.contrib.auth.models import User

    from refunds.models import StaffProfile

    both = StaffProfile.objects.get(user=agent)
    both.shops.add(other_shop)
    mine = User.objects.create_user("sockpuppet", password="pw-12345-test")  # no profile
    # the agent serves shop B too: not the manager's to edit at all
    url = f"/admin/refunds/staffprofile/{both.pk}/change/"
    manager_client.post(url, {"staff_number": both.staff_number, "user": mine.pk,
                              "shops": [shop.pk]})
    assert not StaffProfile.objects.filter(user=mine).exists()
    # a profile of the manager's own shop: its user is shown, not editable
    only_mine = StaffProfile.objects.create(user=User.objects.create_user("agent_c"),
                                            staff_number="A1003")
    only_mine.shops.add(shop)
    url = f"/admin/refunds/staffprofile/{only_mine.pk}/change/"
    assert "user" not in manager_client.get(url).context["adminform"].form.fields
    manager_client.post(url, {"staff_number": "A1003", "user": mine.pk, "shops": [shop.pk]})
    assert StaffProfile.objects.get(pk=only_mine.pk).user.username == "agent_c"


def test_a_manager_cannot_reset_the_password_of_someone_who_also_serves_another_shop(
        manager_client, agent, other_shop):
    from refunds.models import StaffProfile

    StaffProfile.objects.get(user=agent).shops.add(other_shop)
    manager_client.post(f"/admin/auth/user/{agent.pk}/password/", {
        "password1": "Taken-over-123", "password2": "Taken-over-123",
        "usable_password": "true"})
    agent.refresh_from_db()
    assert not agent.check_password("Taken-over-123")
    assert f"/admin/auth/user/{agent.pk}/change/" not in manager_client.get(
        "/admin/auth/user/").content.decode()


def test_a_manager_editing_a_user_keeps_the_groups_they_cannot_give(manager_client, agent):
    from django.contrib.auth.models import Group, User

    auditors = Group.objects.create(name="auditors")  # given by a superuser
    agent.groups.add(auditors)
    url = f"/admin/auth/user/{agent.pk}/change/"
    data = _change_form_data(manager_client, url)
    data["first_name"] = "小王"
    # the browser posts only the options the widget shows (the role groups)
    data["groups"] = [pk for pk in data.get("groups", []) if pk != auditors.pk]
    assert manager_client.post(url, data).status_code == 302
    assert User.objects.get(pk=agent.pk).first_name == "小王"
    assert agent.groups.filter(name="auditors").exists()


def test_the_staff_list_names_only_the_managers_shops(manager_client, agent, shop, other_shop,
                                                     roles):
    """A colleague who also works for another shop is listed, that shop only counted."""
    from refunds.models import Shop, StaffProfile

    StaffProfile.objects.get(user=agent).shops.add(other_shop)
    third = Shop.objects.create(code="shop-c", name="第三店", platform="taobao")
    StaffProfile.objects.get(user=agent).shops.add(third)

    page = manager_client.get("/admin/refunds/staffprofile/").content.decode()

    assert agent.staff_profile.staff_number in page
    assert f"{shop.code}, and 2 other shops" in page
    assert other_shop.code not in page and third.code not in page
