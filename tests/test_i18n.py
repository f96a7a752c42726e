"""The zh_Hans translation ships complete: a new message without Chinese fails here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
PO_AT_START = PO.read_bytes()

needs_gettext = pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgattrib") is None,
    reason="GNU gettext (xgettext, msgattrib) is not installed",
)


@needs_gettext
def test_every_message_in_the_code_has_a_chinese_translation(tmp_path, monkeypatch):
    """Re-extract the messages from a copy of the code into a copy of the catalogue; none may
    be new, untranslated or fuzzy. (makemessages writes to the `locale` folder nearest to
    each source file, so the code is copied too: the real catalogue is never touched.)"""
    for folder in ("config", "refunds", "templates", "locale"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    with override_settings(LOCALE_PATHS=[tmp_path / "locale"]):
        call_command("makemessages", locale=["zh_Hans"], no_location=True, verbosity=0)
    fresh = tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    assert (ROOT / "locale/zh_Hans/LC_MESSAGES/django.po").read_bytes() == PO_AT_START
    for flag in ("--untranslated", "--only-fuzzy"):
        result = subprocess.run(["msgattrib", flag, "--no-obsolete", str(fresh)],
                                capture_output=True, text=True, check=True)
        missing = [line for line in result.stdout.splitlines() if line.startswith("msgid ")]
        assert missing in ([], ['msgid ""']) or result.stdout.strip() == "", (
            f"messages {flag.strip('-')} in zh_Hans (run `make messages-update` and translate):\n"
            + result.stdout[:3000]
        )


@needs_gettext
def test_compiled_catalogue_is_up_to_date():
    mo = PO.with_suffix(".mo")
    result = subprocess.run(["msgfmt", "--check", "-o", "-", str(PO)], capture_output=True,
                            check=True)
    assert mo.read_bytes() == result.stdout, "django.mo is stale: run `make messages`"


def test_chinese_is_served_when_the_browser_asks(client, agent):
    client.force_login(agent)
    response = client.get("/cases/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    with translation.override("zh-hans"):
        assert translation.gettext("Cases") in page
        assert translation.gettext("Cases") != "Cases"


def test_english_is_the_fallback(client, agent):
    client.force_login(agent)
    page = client.get("/cases/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="en">' in page and ">Cases<" in page


def test_language_switcher_sets_the_language(client, agent):
    client.force_login(agent)
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/cases/"})
    assert response.status_code == 302
    assert '<html lang="zh-hans">' in client.get("/cases/").content.decode()


def test_a_word_with_two_meanings_has_a_translation_for_each(client, agent, warehouse):
    """"Requested" is a state (待处理) and a sort by date (申请时间); "Received" a state and a
    date column (收货时间): one msgid each gave the sort option the state's word."""
    client.force_login(agent)
    page = client.get("/cases/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert '<option value="requested">待处理</option>' in page  # the state filter
    assert '<option value="requested">申请时间</option>' in page  # the sort
    client.force_login(warehouse)
    page = client.get(reverse("refunds:parcel_unmatched"),
                      HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "<th>收货时间</th>" in page and "<th>仓库已收货</th>" not in page


def test_refusals_raised_at_request_time_speak_the_readers_language():
    """A class-level message must be lazy: translated when raised, not when imported."""
    from django.utils import translation

    from refunds.exceptions import CaseChanged
    from refunds.photos import PhotoError
    from refunds.services.compensation import CompensationChanged
    from refunds.services.followups import FollowUpChanged
    from refunds.services.payouts import PayoutChanged

    for error_class in (CaseChanged, PayoutChanged, CompensationChanged, FollowUpChanged,
                        PhotoError):
        with translation.override("en"):
            english = str(error_class().message)
        with translation.override("zh-hans"):
            chinese = str(error_class().message)
        assert chinese != english and not chinese.isascii(), error_class.__name__
