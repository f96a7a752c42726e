"""The harassment guard (refunds.services.contacts) at its edges, through every entry point."""

from __future__ import annotations

from datetime import time

import pytest

from refunds.exceptions import ActionNotAllowed, PermissionDeniedError
from refunds.models import CaseEvent, ContactLog, Policy
from refunds.services.cases import contact_log_create
from refunds.services.contacts import (
    ContactBlocked,
    GuardRule,
    buyer_contact_log_create,
    buyer_lift_do_not_contact,
    buyer_set_do_not_contact,
)
from refunds.services.followups import followup_contact_log_create
from tests.factories import OrderFactory, make_case

from .conftest import china, make_follow_up


@pytest.fixture
def case(shop):
    return make_case(order=OrderFactory(shop=shop), amount="188.00")


def call(case, actor, **kwargs):
    kwargs.setdefault("outcome", "no_answer")
    return contact_log_create(case=case, actor=actor, channel=kwargs.pop("channel", "phone"),
                              **kwargs)


def test_the_policy_defaults_are_9_to_21_two_calls_three_messages(db):
    field = Policy._meta.get_field
    assert field("contact_hours_start").get_default() == time(9, 0)
    assert field("contact_hours_end").get_default() == time(21, 0)
    assert field("max_calls_per_day").get_default() == 2
    assert field("max_messages_per_day").get_default() == 3


# --- contact hours (China time) ---------------------------------------------------------------


@pytest.mark.parametrize("hour, minute, allowed", [
    (8, 59, False), (9, 0, True), (12, 0, True), (20, 59, True), (21, 0, False),
    (21, 1, False), (23, 30, False), (2, 0, False),
])
def test_contact_only_inside_the_contact_hours(clock, agent, case, hour, minute, allowed):
    clock.move_to(china(20, hour, minute))
    if allowed:
        contact = call(case, agent, channel="sms", outcome="left_message")
        assert contact.created_at == china(20, hour, minute)
    else:
        with pytest.raises(ContactBlocked) as error:
            call(case, agent, channel="sms")
        assert error.value.rule == GuardRule.HOURS
        assert f"It is {hour:02d}:{minute:02d} for the buyer" in error.value.message
        assert "from 09:00 to 21:00" in error.value.message
        assert not ContactLog.objects.exists()


def test_hours_are_the_buyers_china_time_whatever_the_server_time_zone(settings, clock, agent,
                                                                       case):
    settings.TIME_ZONE = "UTC"
    clock.move_to(china(20, 20, 59))  # 12:59 UTC: allowed, it is 20:59 for the buyer
    call(case, agent)
    clock.move_to(china(20, 21, 1))  # 13:01 UTC: refused, it is 21:01 for the buyer
    with pytest.raises(ContactBlocked, match="It is 21:01"):
        call(case, agent)


def test_a_shop_may_choose_its_own_hours(clock, agent, case, shop):
    shop.policy.contact_hours_start, shop.policy.contact_hours_end = time(10, 0), time(18, 0)
    shop.policy.save()
    clock.move_to(china(20, 9, 30))
    with pytest.raises(ContactBlocked, match="from 10:00 to 18:00"):
        call(case, agent)


# --- daily limits -----------------------------------------------------------------------------


def test_the_third_call_is_refused_while_an_sms_is_still_allowed(clock, agent, case):
    clock.move_to(china(20, 10, 0))
    call(case, agent)
    clock.move_to(china(20, 14, 0))
    call(case, agent)
    clock.move_to(china(20, 16, 0))
    with pytest.raises(ContactBlocked) as error:
        call(case, agent)
    assert error.value.rule == GuardRule.CALLS
    assert "already called 2 times today" in error.value.message
    assert "2 calls per buyer per day" in error.value.message
    sms = call(case, agent, channel="sms", outcome="left_message")
    assert sms.channel == "sms"
    assert ContactLog.objects.filter(channel="phone").count() == 2


def test_the_fourth_message_is_refused_and_im_sms_email_count_together(clock, agent, case):
    for channel in ("im", "sms", "email"):
        call(case, agent, channel=channel, outcome="left_message")
    for channel in ("im", "sms", "email"):
        with pytest.raises(ContactBlocked) as error:
            call(case, agent, channel=channel)
        assert error.value.rule == GuardRule.MESSAGES
    call(case, agent, channel="phone")  # calls have their own limit


def test_the_count_restarts_on_the_buyers_next_day(clock, agent, case):
    clock.move_to(china(20, 20, 30))  # 12:30 UTC
    call(case, agent)
    call(case, agent)
    with pytest.raises(ContactBlocked):
        call(case, agent)
    clock.move_to(china(21, 9, 0))  # 01:00 UTC the next day: a new day for the buyer
    call(case, agent)


def test_answered_calls_count_as_well(clock, agent, case):
    call(case, agent, outcome="reached")
    call(case, agent, outcome="buyer_agreed")
    with pytest.raises(ContactBlocked):
        call(case, agent, outcome="reached")


def test_limits_count_every_page_of_the_same_shop(clock, agent, shop, case):
    """The case page, the follow-up page and the buyer page share one count per buyer."""
    follow_up = make_follow_up(order=case.order)
    call(case, agent)
    followup_contact_log_create(follow_up=follow_up, actor=agent, channel="phone",
                                outcome="no_answer")
    with pytest.raises(ContactBlocked):
        buyer_contact_log_create(buyer=case.order.buyer, shop=shop, actor=agent,
                                 channel="phone", outcome="no_answer")


def test_limits_count_per_shop(clock, agent, case, other_shop, agent_b):
    """Each shop answers for its own contacts (the platform judges a shop)."""
    buyer = case.order.buyer
    OrderFactory(shop=other_shop, buyer=buyer)
    call(case, agent)
    call(case, agent)
    buyer_contact_log_create(buyer=buyer, shop=other_shop, actor=agent_b, channel="phone",
                             outcome="no_answer")


# --- do not contact ---------------------------------------------------------------------------


def test_never_after_the_buyer_asked_not_to_be_contacted(clock, agent, supervisor, shop, case):
    buyer = case.order.buyer
    follow_up = make_follow_up(order=case.order)
    buyer_set_do_not_contact(buyer=buyer, shop=shop, actor=agent, reason="买家要求不要再打电话")
    for log in (
        lambda **kw: call(case, **kw),
        lambda **kw: followup_contact_log_create(follow_up=follow_up, channel="im",
                                                 outcome="reached", **kw),
        lambda **kw: buyer_contact_log_create(buyer=buyer, shop=shop, channel="email",
                                              outcome="reached", **kw),
    ):
        with pytest.raises(ContactBlocked) as error:
            log(actor=agent)
        assert error.value.rule == GuardRule.DO_NOT_CONTACT
        assert "买家要求不要再打电话" in error.value.message
        # not even a supervisor's override: the buyer's request is lifted first
        with pytest.raises(ContactBlocked):
            log(actor=supervisor, override=True, override_reason="买家主动来电要求回电")
    assert not ContactLog.objects.exists()

    buyer_lift_do_not_contact(buyer=buyer, shop=shop, actor=supervisor,
                              reason="买家在旺旺上主动要求回电")
    call(case, agent)


def test_setting_do_not_contact_needs_a_reason_and_lifting_it_a_supervisor(agent, supervisor,
                                                                          shop, case):
    buyer = case.order.buyer
    with pytest.raises(ActionNotAllowed, match="Write down what the buyer asked"):
        buyer_set_do_not_contact(buyer=buyer, shop=shop, actor=agent, reason="  ")
    buyer_set_do_not_contact(buyer=buyer, shop=shop, actor=agent, reason="投诉骚扰")
    buyer.refresh_from_db()
    assert buyer.do_not_contact and buyer.do_not_contact_reason == "投诉骚扰"
    with pytest.raises(ActionNotAllowed, match="already marked"):
        buyer_set_do_not_contact(buyer=buyer, shop=shop, actor=agent, reason="again")
    with pytest.raises(PermissionDeniedError):
        buyer_lift_do_not_contact(buyer=buyer, shop=shop, actor=agent, reason="想联系")
    with pytest.raises(ActionNotAllowed, match="Say why"):
        buyer_lift_do_not_contact(buyer=buyer, shop=shop, actor=supervisor, reason="")
    buyer_lift_do_not_contact(buyer=buyer, shop=shop, actor=supervisor, reason="买家回来了")
    events = list(buyer.events.values_list("kind", "staff_number", "note"))
    assert events == [("do_not_contact", "A1001", "投诉骚扰"),
                      ("contact_allowed", "S3001", "买家回来了")]


def test_do_not_contact_is_for_buyers_of_the_users_shops(agent_b, other_shop, case):
    with pytest.raises(ActionNotAllowed, match="has no order in"):
        buyer_set_do_not_contact(buyer=case.order.buyer, shop=other_shop, actor=agent_b,
                                 reason="x")


# --- supervisor override ------------------------------------------------------------------


def test_a_supervisor_overrides_with_a_written_reason_and_it_is_recorded(clock, supervisor,
                                                                        case):
    clock.move_to(china(20, 21, 30))
    with pytest.raises(ContactBlocked, match="You may override this with a written reason"):
        call(case, supervisor)
    with pytest.raises(ActionNotAllowed, match="An override needs a written reason"):
        call(case, supervisor, override=True, override_reason="   ")
    assert not ContactLog.objects.exists()

    contact = call(case, supervisor, override=True,
                   override_reason="买家约定今晚21:30回电确认退款")
    assert (contact.overridden_rule, contact.override_reason, contact.staff_number) == (
        "hours", "买家约定今晚21:30回电确认退款", "S3001")
    event = CaseEvent.objects.get(case=case, kind="contact")
    assert event.data["contact_id"] == contact.pk


def test_a_supervisor_overrides_the_daily_limit(clock, supervisor, case):
    call(case, supervisor)
    call(case, supervisor)
    contact = call(case, supervisor, override=True, override_reason="买家要求十分钟后再打")
    assert contact.overridden_rule == "calls"


def test_an_agent_cannot_override(clock, agent, case):
    clock.move_to(china(20, 22, 0))
    with pytest.raises(PermissionDeniedError, match="Only a supervisor"):
        call(case, agent, override=True, override_reason="买家要求")
    with pytest.raises(ContactBlocked) as error:
        call(case, agent)
    assert "override" not in error.value.message


def test_an_override_that_was_not_needed_records_nothing(supervisor, case):
    contact = call(case, supervisor, override=True, override_reason="以防万一")
    assert (contact.overridden_rule, contact.override_reason) == ("", "")


# --- the pages turn a refusal into a message --------------------------------------------------


def test_the_case_page_refuses_a_call_at_night_with_the_reason(clock, login, agent, case):
    clock.move_to(china(20, 21, 1))
    response = login(agent).post(f"/cases/{case.pk}/contact/", {
        "contact-channel": "phone", "contact-outcome": "no_answer", "contact-note": "晚上回访",
    }, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert "It is 21:01 for the buyer (China time)" in page
    assert not ContactLog.objects.exists()
    assert 'name="contact-override"' not in page  # agents get no override fields


def test_the_case_page_lets_a_supervisor_override(clock, login, supervisor, case):
    clock.move_to(china(20, 21, 1))
    client = login(supervisor)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'name="contact-override"' in page and 'name="contact-override_reason"' in page
    response = client.post(f"/cases/{case.pk}/contact/", {
        "contact-channel": "phone", "contact-outcome": "reached", "contact-override": "on",
        "contact-override_reason": "买家约定晚上联系",
    }, follow=True)
    assert "Contact logged." in response.content.decode()
    contact = ContactLog.objects.get()
    assert contact.overridden_rule == "hours"
    assert "Guard overridden (contact hours)" in response.content.decode()


def test_a_night_call_over_the_daily_limit_breaks_both_rules_and_an_override_names_both(
        clock, agent, supervisor, case, login):
    clock.move_to(china(20, 10))
    call(case, agent)  # the day's two calls
    call(case, agent)
    clock.move_to(china(20, 21, 30))
    with pytest.raises(ContactBlocked) as refused:
        call(case, supervisor)
    assert "China time" in refused.value.message  # the hours …
    assert "already called 2 times today" in refused.value.message  # … and the limit

    contact = call(case, supervisor, outcome="reached", override=True,
                   override_reason="买家约定今晚21:30回电")
    assert contact.overridden_rule == "hours,calls"
    page = login(supervisor).get(f"/cases/{case.pk}/").content.decode()
    assert "Guard overridden (contact hours, daily call limit)" in page
