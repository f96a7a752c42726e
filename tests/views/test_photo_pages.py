"""Quality photos through the case page: asked for, received, and the buyer's time shown."""

from __future__ import annotations

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
    assert "(the buyer's)" in text(page)
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
