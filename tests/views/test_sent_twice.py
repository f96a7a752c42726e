"""A form that creates something, sent twice (a double click, a browser retry, Back and
submit): done once, and the second sending says so (refunds/submissions.py)."""

from __future__ import annotations

import re
import threading
import uuid

import pytest
from django.db import connection

from refunds.models import Case, Compensation, FormSubmission, Payout, Refund
from refunds.services import cases as case_services
from tests.factories import OrderFactory, make_case

from .helpers import alert_texts

TOKEN = re.compile(r'name="(?:compensation-)?submission" value="([0-9a-f-]{36})"')


def _token(page) -> str:
    return TOKEN.search(page.content.decode()).group(1)


def _new_case(order, token):
    return {"shop": order.shop_id, "order_id": order.platform_order_id, "kind": "refund_only",
            "reason": "quality", "requested_amount": "60.00",
            "goods_status": "buyer_not_received", "description": "坏了", "submission": token}


def test_each_new_case_form_carries_its_own_token(login, agent, shop):
    client = login(agent)
    first, second = _token(client.get("/cases/new/")), _token(client.get("/cases/new/"))
    assert uuid.UUID(first) and first != second


def test_the_new_case_form_sent_twice_opens_one_case_and_refunds_once(login, agent, shop):
    """An unshipped order within the instant limit is agreed at once: sent twice, it once
    made two cases, two refunds and two payouts for one request."""
    order = OrderFactory(shop=shop, unshipped=True)
    client = login(agent)
    post = _new_case(order, _token(client.get("/cases/new/")))

    first = client.post("/cases/new/", post)
    second = client.post("/cases/new/", post, follow=True)

    case = Case.objects.get()
    assert first["Location"] == second.redirect_chain[-1][0] == f"/cases/{case.pk}/"
    assert "already sent and opened this case" in alert_texts(second, "info")
    assert Refund.objects.filter(order=order).count() == 1
    assert Payout.objects.filter(order=order).count() == 1
    # a new form is a new request: another case for the same order can be opened
    client.post("/cases/new/", _new_case(order, _token(client.get("/cases/new/"))))
    assert Case.objects.count() == 2


def test_a_refused_sending_leaves_the_form_to_be_sent_again(login, agent, shop):
    """The money rule refuses the first sending: nothing is kept of it, the token included,
    so the corrected form (same token) is done."""
    order = OrderFactory(shop=shop)
    client = login(agent)
    post = _new_case(order, _token(client.get("/cases/new/")))
    post["requested_amount"] = str(order.paid_amount + 1)

    refused = client.post("/cases/new/", post)

    assert refused.status_code == 400 and not Case.objects.exists()
    assert not FormSubmission.objects.exists()
    post["requested_amount"] = "10.00"
    assert client.post("/cases/new/", post).status_code == 302
    assert Case.objects.count() == 1


def test_a_form_without_a_token_is_done_as_before(login, agent, shop):
    order = OrderFactory(shop=shop)
    post = _new_case(order, "")
    assert login(agent).post("/cases/new/", post).status_code == 302
    assert Case.objects.count() == 1 and not FormSubmission.objects.exists()


def test_another_users_token_is_not_theirs_to_follow(login, agent, supervisor, shop):
    """The token of someone else's form says "already sent" without leading to their case."""
    order = OrderFactory(shop=shop)
    post = _new_case(order, str(uuid.uuid4()))
    login(agent).post("/cases/new/", post)
    response = login(supervisor).post("/cases/new/", post)
    assert response.status_code == 302 and response["Location"] == "/cases/"
    assert Case.objects.count() == 1


def test_a_compensation_proposal_sent_twice_is_proposed_once(login, agent, shop):
    case = make_case(order=OrderFactory(shop=shop), amount="50.00")
    client = login(agent)
    post = {"compensation-kind": "postage", "compensation-amount": "8.00",
            "compensation-reason": "运费补偿", "compensation-note": "",
            "compensation-submission": _token(client.get(f"/cases/{case.pk}/"))}

    client.post(f"/cases/{case.pk}/compensation/", post)
    second = client.post(f"/cases/{case.pk}/compensation/", post, follow=True)

    assert Compensation.objects.filter(case=case).count() == 1
    assert second.redirect_chain[-1][0] == f"/cases/{case.pk}/"
    assert "already sent, so nothing was done again" in alert_texts(second, "danger")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks")
@pytest.mark.django_db(transaction=True)
def test_two_sendings_at_the_same_moment_open_one_case(agent, shop):
    """Both requests are in flight at once: the token's unique index makes the second wait
    for the first and then refuse."""
    from django.db import connections

    from refunds.submissions import AlreadySent, once

    order = OrderFactory(shop=shop, unshipped=True)
    token = uuid.uuid4()
    outcomes, barrier = [], threading.Barrier(2)

    def send():
        try:
            barrier.wait()
            once(token=token, user=agent, what="case_create",
                 perform=lambda: case_services.case_create(
                     shop=shop, order=order, kind="refund_only", reason="quality",
                     requested_amount="60.00", goods_status="buyer_not_received",
                     description="", actor=agent, source="manual"),
                 url_of=lambda case: case.get_absolute_url())
            outcomes.append("done")
        except AlreadySent:
            outcomes.append("already sent")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["already sent", "done"]
    assert Case.objects.count() == 1 and Refund.objects.count() == 1
