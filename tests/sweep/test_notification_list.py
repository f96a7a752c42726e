"""The unread notifications on the queue page, and marking them read."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds.models import Notification, NotificationKind

from .conftest import requested_refund

ITEM = re.compile(r'data-notification="(\d+)"')


def _notify(user, case, n: int, kind=NotificationKind.DEADLINE_WARNING, **extra):
    return Notification.objects.create(user=user, case=case, kind=kind,
                                       message=f"消息 {n}: must act soon", **extra)


@pytest.fixture
def page(client, agent):
    client.force_login(agent)

    def get(url="/cases/"):
        response = client.get(url)
        assert response.status_code == 200
        return response, response.content.decode()

    return get


def test_queue_shows_the_users_unread_notifications_newest_first(shop, agent, supervisor, page):
    case = requested_refund(shop)
    older = _notify(agent, case, 1)
    newer = _notify(agent, case, 2, kind=NotificationKind.SWEEP_FAILURE)
    _notify(supervisor, case, 3)  # someone else's
    _notify(agent, case, 4, read_at=older.created_at)  # already read

    _response, html = page()

    assert [int(pk) for pk in ITEM.findall(html)] == [newer.pk, older.pk]
    assert "2 unread notifications" in html
    assert f'href="/cases/{case.pk}/">#{case.pk}</a>' in html
    assert "消息 2: must act soon" in html and "消息 3" not in html and "消息 4" not in html
    assert "Sweep failed" in html and "Due soon" in html


def test_no_unread_notifications_no_panel(agent, page):
    _response, html = page()
    assert 'id="notifications"' not in html


def test_only_the_newest_five_are_listed_with_the_full_count(shop, agent, page):
    case = requested_refund(shop)
    made = [_notify(agent, case, n) for n in range(8)]
    _response, html = page()
    assert [int(pk) for pk in ITEM.findall(html)] == [n.pk for n in reversed(made)][:5]
    assert "8 unread notifications" in html
    assert "The newest 5 of 8 are shown." in html
    assert f'name="up_to" value="{made[-1].pk}"' in html


def test_mark_all_read_marks_those_up_to_the_newest_shown(shop, agent, supervisor, client):
    client.force_login(agent)
    case = requested_refund(shop)
    shown = [_notify(agent, case, n) for n in range(3)]
    arrived_later = _notify(agent, case, 9)
    theirs = _notify(supervisor, case, 5)

    response = client.post("/notifications/read/", {"up_to": shown[-1].pk,
                                                    "next": "/cases/?due=overdue"})

    assert response.status_code == 302 and response.url == "/cases/?due=overdue"
    assert all(n.read_at for n in Notification.objects.filter(pk__in=[n.pk for n in shown]))
    arrived_later.refresh_from_db()
    theirs.refresh_from_db()
    assert arrived_later.read_at is None and theirs.read_at is None
    html = client.get("/cases/").content.decode()
    assert "1 unread notification" in html
    assert ITEM.findall(html) == [str(arrived_later.pk)]


def test_mark_one_read(shop, agent, client):
    client.force_login(agent)
    case = requested_refund(shop)
    first, second = _notify(agent, case, 1), _notify(agent, case, 2)
    response = client.post("/notifications/read/", {"notification": first.pk})
    assert response.status_code == 302 and response.url == "/cases/"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None


def test_nobody_marks_someone_elses_notifications(shop, agent, supervisor, client):
    client.force_login(agent)
    theirs = _notify(supervisor, requested_refund(shop), 1)
    client.post("/notifications/read/", {"notification": theirs.pk})
    client.post("/notifications/read/")
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_read_goes_back_only_to_this_site(shop, agent, client):
    client.force_login(agent)
    response = client.post("/notifications/read/", {"next": "https://evil.example/cases/"})
    assert response.url == "/cases/"


def test_mark_read_needs_a_post(agent, client):
    client.force_login(agent)
    assert client.get("/notifications/read/").status_code == 405


def test_mark_read_needs_a_login(client):
    response = client.post("/notifications/read/")
    assert response.status_code == 302 and "/accounts/login/" in response.url


def _queue_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/cases/").status_code == 200
    return len(captured.captured_queries)


def test_queue_query_count_does_not_grow_with_notifications(shop, agent, client):
    client.force_login(agent)
    cases = [requested_refund(shop) for _ in range(10)]
    none = _queue_queries(client)
    _notify(agent, cases[0], 0)
    one = _queue_queries(client)
    for n, case in enumerate(cases[1:], start=1):
        _notify(agent, case, n, kind=NotificationKind.DEADLINE_ACTION)
    ten = _queue_queries(client)
    assert none == one == ten
    html = client.get("/cases/").content.decode()
    assert "10 unread notifications" in html and len(ITEM.findall(html)) == 5


def test_notifications_about_a_shop_the_user_left_are_not_shown(shop, other_shop, agent,
                                                                 page):
    """Their cases are a 404 to the user now; the message names the order."""
    from refunds.models import StaffProfile
    from tests.reviews.conftest import make_follow_up

    left = requested_refund(shop)
    stays = requested_refund(other_shop)
    follow_up = make_follow_up(shop=shop)
    _notify(agent, left, 1)
    Notification.objects.create(user=agent, follow_up=follow_up,
                                kind=NotificationKind.REVIEW_WARNING, message="消息 2: review")
    kept = _notify(agent, stays, 3)
    StaffProfile.objects.get(user=agent).shops.set([other_shop])

    _response, html = page()

    assert [int(pk) for pk in ITEM.findall(html)] == [kept.pk]
    assert "1 unread notification" in html and "消息 1" not in html and "消息 2" not in html
    assert f'name="up_to" value="{kept.pk}"' in html


def test_mark_all_read_marks_only_what_the_list_shows(shop, other_shop, agent, client):
    """A notification about a shop the user no longer serves is not listed: "Mark all as
    read" leaves it too, and its message counts only what was shown."""
    from refunds.models import StaffProfile

    left = _notify(agent, requested_refund(shop), 1)
    shown = [_notify(agent, requested_refund(other_shop), n) for n in (2, 3)]
    StaffProfile.objects.get(user=agent).shops.set([other_shop])
    client.force_login(agent)

    response = client.post("/notifications/read/", {"up_to": shown[-1].pk}, follow=True)

    assert "2 notifications marked as read." in response.content.decode()
    assert Notification.objects.filter(pk__in=[n.pk for n in shown],
                                       read_at__isnull=False).count() == 2
    left.refresh_from_db()
    assert left.read_at is None
    # and one of them, marked by its id, is refused the same way
    client.post("/notifications/read/", {"notification": left.pk})
    left.refresh_from_db()
    assert left.read_at is None
