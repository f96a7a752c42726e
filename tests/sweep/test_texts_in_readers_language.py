"""What the nightly sweep writes in LANGUAGE_CODE is read in the reader's language: its
notifications on the queue page and its notes on the case timeline (refunds/texts.py)."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import translation

from refunds.models import CaseEvent, Notification, NotificationKind
from refunds.services import cases as svc
from refunds.texts import TEXT, said, words

from .conftest import MINUTE, T0, requested_refund


def test_sweep_warning_and_timeline_are_shown_in_the_readers_language(clock, sweep, shop,
                                                                     people):
    case = requested_refund(shop)
    svc.case_assign(case=case, actor=people["assignee"], assignee=people["assignee"])
    with translation.override("en"):  # the cron job's language
        clock.move_to(T0 + timedelta(days=5) - 2 * MINUTE)  # inside the 24h warning window
        sweep()
        clock.move_to(T0 + timedelta(days=5) + MINUTE)  # passed: the platform agrees
        sweep()
    warning = Notification.objects.filter(user=people["assignee"],
                                          kind=NotificationKind.DEADLINE_WARNING).first()
    assert "must act by" in warning.message  # the words of the moment are kept, in English

    client = Client()
    client.force_login(people["assignee"])
    queue = client.get("/cases/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    detail = client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<html lang="zh-hans">' in queue
    with translation.override("zh-hans"):
        expected_warning = words(warning.data)
        event = CaseEvent.objects.filter(case=case, transition="agree").get()
        expected_note = words(event.data)
    assert "must act by" not in queue and expected_warning in queue
    assert "passed at" not in detail and expected_note.split("：")[0] in detail
    assert "自动同意" in expected_note or "同意" in expected_note


def test_a_row_without_a_stored_text_shows_its_own_words():
    assert words({}, "written by hand") == "written by hand"
    assert words({TEXT: {"code": "no such code", "params": {}}}, "fallback") == "fallback"
    assert words({TEXT: {"code": "deadline_warning", "params": {}}}, "old row") == "old row"


def test_a_stored_text_follows_the_language():
    stored = {TEXT: said("deadline_passed", rule="buyer_return_days", value=7,
                         deadline="2026-11-09T02:00:00+00:00", then="awaiting_return")}
    with translation.override("en"):
        english = words(stored)
    with translation.override("zh-hans"):
        chinese = words(stored)
    assert "2026-11-09 10:00" in english and "2026-11-09 10:00" in chinese  # China time
    assert "the request is closed" in english
    assert chinese != english and "buyer_return_days = 7" in chinese
