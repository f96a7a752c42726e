"""Quality photos through the case page: asked for, received, and the buyer's time shown."""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from django.utils import timezone

from refunds.models import Case
from refunds.services import cases as services
from tests.factories import OrderFactory, make_case, make_staff

from .helpers import alert_texts, text


def test_photos_through_the_page(login, agent, shop):
    case = make_case(order=OrderFactory(shop=shop), amount="188.00")
    client = login(agent)
    page = client.get(f"/cases/{case.pk}/")
    assert f'action="/cases/{case.pk}/photos/"' in page.content.decode()

    page = client.post(f"/cases/{case.pk}/photos/", {"photos-note": "请拍摄开线处"}, follow=True)
    assert alert_texts(page, "success").startswith("Photos asked for, due ")
    case.refresh_from_db()
    assert case.photos_pending
    assert "asked for; the buyer has until " in text(page)
    body = page.content.decode()
    assert f'action="/cases/{case.pk}/photos/received/"' in body
    assert f'action="/cases/{case.pk}/photos/"' not in body  # asked once until due

    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        late = client.get(f"/cases/{case.pk}/")
        assert "the request may be refused (凭证不足)" in text(late)
        assert f'action="/cases/{case.pk}/photos/"' in late.content.decode()  # ask again

    page = client.post(f"/cases/{case.pk}/photos/received/", {"photos_received-note": "开线"},
                       follow=True)
    assert alert_texts(page, "success") == "Photos received."
    assert "received " in text(page)
    assert Case.objects.get(pk=case.pk).photos_received_at is not None


def test_a_second_ask_is_refused_with_a_message_and_changes_nothing(login, agent, shop):
    case = make_case(order=OrderFactory(shop=shop), amount="188.00")
    services.case_request_photos(case=case, actor=agent)
    due = Case.objects.get(pk=case.pk).photos_due_at
    page = login(agent).post(f"/cases/{case.pk}/photos/", {}, follow=True)
    assert "already asked for" in alert_texts(page, "danger")
    assert Case.objects.get(pk=case.pk).photos_due_at == due


def test_another_shops_case_is_a_404(login, roles, shop, other_shop):
    case = make_case(order=OrderFactory(shop=shop), amount="188.00")
    outsider = make_staff("outsider", "agent", other_shop)
    assert login(outsider).post(f"/cases/{case.pk}/photos/", {}).status_code == 404
    assert Case.objects.get(pk=case.pk).photos_requested_at is None


def test_a_post_to_a_form_the_page_does_not_show_says_why_and_changes_nothing(
        login, agent, shop):
    """Photos already asked for (not yet due), a request already decided: the forms are not
    on the page, so a post (even one with a bad note) gets the reason, not a form's errors."""
    case = make_case(order=OrderFactory(shop=shop), amount="188.00")
    services.case_request_photos(case=case, actor=agent)
    client = login(agent)
    page = client.post(f"/cases/{case.pk}/photos/", {"photos-note": "x" * 2001}, follow=True)
    assert page.status_code == 200
    assert "already asked for" in alert_texts(page, "danger")

    decided = services.case_refuse(case=make_case(order=OrderFactory(shop=shop),
                                                  amount="188.00"), actor=agent, reason="凭证不足")
    page = client.post(f"/cases/{decided.pk}/photos/", {"photos-note": "x" * 2001}, follow=True)
    assert page.status_code == 200
    assert "only while the request waits" in alert_texts(page, "danger")
    page = client.post(f"/cases/{decided.pk}/photos/received/",
                       {"photos_received-note": "x" * 2001}, follow=True)
    assert page.status_code == 200
    assert "No photos are awaited" in alert_texts(page, "danger")
    assert Case.objects.get(pk=decided.pk).photos_requested_at is None


def test_a_too_long_note_on_a_shown_form_is_its_error(login, agent, shop):
    case = make_case(order=OrderFactory(shop=shop), amount="188.00")
    page = login(agent).post(f"/cases/{case.pk}/photos/", {"photos-note": "x" * 2001})
    assert page.status_code == 400
    assert f'action="/cases/{case.pk}/photos/"' in page.content.decode()
    assert "at most 2000 characters" in text(page)
    assert Case.objects.get(pk=case.pk).photos_requested_at is None


def test_an_agreed_case_whose_photos_never_came_is_no_warning(login, agent, shop):
    case = make_case(order=OrderFactory(shop=shop), amount="188.00")
    services.case_request_photos(case=case, actor=agent)
    services.case_agree(case=case, actor=agent)
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        page = login(agent).get(f"/cases/{case.pk}/")
    body = page.content.decode()
    shown = re.search(r"<dd[^>]*data-photos>(.*?)</dd>", body, re.S).group(1)
    assert "may be refused" not in shown and "text-danger" not in shown
    assert "not received" in shown
    assert f'action="/cases/{case.pk}/photos/' not in body
