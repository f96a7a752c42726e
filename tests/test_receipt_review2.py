"""Review of the confirm-receipt pages (延长收货): /receipts/, /orders/<id>/receipt/ and its
two POSTs. Each test fails because of a defect its docstring describes."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from refunds.models import CaseKind, Order, ReceiptWindowChange
from refunds.services.cases import case_close
from refunds.timezones import CHINA
from tests.factories import OrderFactory, make_case
from tests.views.helpers import alert_texts, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def login():
    def _login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login


def _with_case(shop, days_left: float = 2, estimated: bool = False, **kwargs):
    order = OrderFactory(shop=shop, **kwargs)
    order.confirm_receipt_by = timezone.now() + timedelta(days=days_left)
    order.confirm_receipt_estimated = estimated
    order.save(update_fields=["confirm_receipt_by", "confirm_receipt_estimated"])
    case = make_case(order=order, kind=CaseKind.RETURN, amount="50.00")
    return order, case


def test_no_extension_form_once_the_date_has_passed(login, agent, shop):
    """WRONG: an order whose confirm-receipt date has passed still gets the "Record the
    extension" form (`_page` checks only that a date exists and extensions are left); every
    submission is then refused by the service ("it can no longer be extended"). The page itself
    says the trade has probably completed and to record a later date if the seller centre
    shows one. RIGHT: only the read-the-date form is offered when the date has passed."""
    order, case = _with_case(shop, days_left=-1)
    page = text(login(agent).get(f"/orders/{order.pk}/receipt/", {"case": case.pk}))
    assert "The date has passed" in page
    assert 'id="receipt-read"' in page
    assert 'id="receipt-extend"' not in page


def test_a_case_closed_meanwhile_is_said_not_hidden(login, agent, supervisor, shop):
    """WRONG: the agent opens the window from case #N (?case=N); a colleague closes the case;
    the agent records the extension. The hidden `case` field fails ("That case is not an open
    case of this order."), but crispy does not render a hidden field's error: the page says
    only "Please correct the errors below." with nothing marked, and the re-rendered form
    posts the same closed case again, so every retry fails the same way until the agent
    guesses to reload. RIGHT: the user is told what is wrong (or the extension is recorded
    without the closed case)."""
    order, case = _with_case(shop, days_left=1)
    client = login(agent)
    client.get(f"/orders/{order.pk}/receipt/", {"case": case.pk})
    case_close(case=case, actor=supervisor, reason="withdrawn", expected_state=case.state)
    response = client.post(f"/orders/{order.pk}/receipt/extend/", {
        "extend-expected_confirm_by": order.confirm_receipt_by.isoformat(), "extend-days": "5",
        "extend-case": str(case.pk), "extend-note": ""}, follow=True)
    recorded = ReceiptWindowChange.objects.filter(order=order).exists()
    assert recorded or "not an open case of this order" in text(response)


def test_the_two_forms_do_not_share_element_ids(login, agent, shop):
    """WRONG: the extend and read forms have no prefix, so the page holds two
    id="id_note", id="id_case", id="id_expected_confirm_by" (and two submit-id-submit): the
    read form's "Note" label points at the extend form's textarea (a click on it, a screen
    reader and any script reach the wrong field). RIGHT: each form's ids are unique on the
    page (a prefix or auto_id per form)."""
    order, case = _with_case(shop, days_left=2)
    page = text(login(agent).get(f"/orders/{order.pk}/receipt/", {"case": case.pk}))
    assert 'id="receipt-extend"' in page and 'id="receipt-read"' in page
    import re

    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    # and each label points at its own form's field
    assert 'for="id_extend-note"' in page and 'for="id_read-note"' in page


@override_settings(TIME_ZONE="UTC")  # a server left at UTC (TIME_ZONE is a setting, README)
def test_the_date_read_is_china_time_on_a_utc_server(login, agent, shop):
    """WRONG: the read form's help text says "China time, as the order's page in the seller
    centre shows it", and refunds/timezones.py makes the platforms' times China time whatever
    the server's TIME_ZONE; but the DateTimeField reads the datetime-local value in the
    current time zone, so on a UTC server 10:00 China time is stored as 18:00 China time: the
    desk believes the order completes 8 hours later than it does and warns too late. RIGHT:
    the entered time is read as China time (Asia/Shanghai)."""
    order, _case = _with_case(shop, days_left=1)
    day = (timezone.now().astimezone(CHINA) + timedelta(days=5)).date()
    client = login(agent)
    response = client.post(f"/orders/{order.pk}/receipt/read/", {
        "read-expected_confirm_by": order.confirm_receipt_by.isoformat(),
        "read-confirm_by": f"{day:%Y-%m-%d}T10:00", "read-note": ""})
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).confirm_receipt_by == datetime.combine(
        day, time(10, 0), tzinfo=CHINA)


def test_extending_an_estimated_date_does_not_announce_a_firm_date(login, agent, shop):
    """WRONG: extending an order whose date is an estimate (counted from the payment: the
    real date is later) says "Extension recorded: the order now confirms receipt by itself at
    <date>." as if the date were known; the order stays estimated, and the case timeline
    rightly says "not before … (estimated)". RIGHT: the success message says the new date is
    an estimate (not before it), as the page and the timeline do."""
    order, _case = _with_case(shop, days_left=2, estimated=True)
    client = login(agent)
    response = client.post(f"/orders/{order.pk}/receipt/extend/", {
        "extend-expected_confirm_by": order.confirm_receipt_by.isoformat(), "extend-days": "5",
        "extend-note": ""}, follow=True)
    assert Order.objects.get(pk=order.pk).confirm_receipt_estimated
    success = alert_texts(response, "success")
    assert "Recorded" in success
    assert "not before" in success and "estimated" in success
