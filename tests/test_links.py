"""Links in emails carry the site's address (SITE_URL); the checks catch a missing or
malformed one."""

from __future__ import annotations

import pytest
from django.core.checks import Error, Warning

from refunds.checks import check_site_url, check_site_url_deploy
from refunds.links import absolute_url


def test_a_path_is_put_on_the_sites_address(settings):
    settings.SITE_URL = "https://desk.example.com"
    assert absolute_url("/cases/42/") == "https://desk.example.com/cases/42/"


def test_a_trailing_slash_of_site_url_is_not_doubled(settings):
    settings.SITE_URL = "https://desk.example.com/"
    assert absolute_url("/cases/42/") == "https://desk.example.com/cases/42/"


def test_without_site_url_the_path_stays_a_path(settings):
    settings.SITE_URL = ""
    assert absolute_url("/cases/42/") == "/cases/42/"


def test_an_absolute_address_is_left_alone(settings):
    settings.SITE_URL = "https://desk.example.com"
    assert absolute_url("https://other.example.com/x") == "https://other.example.com/x"


@pytest.mark.parametrize("value", ["desk.example.com", "ftp://desk.example.com",
                                   "https://", "https://desk.example.com/desk"])
def test_a_site_url_that_is_not_an_address_is_an_error(settings, value):
    settings.SITE_URL = value
    [error] = check_site_url(None)
    assert isinstance(error, Error) and error.id == "refunds.E001"


@pytest.mark.parametrize("value", ["", "https://desk.example.com", "http://127.0.0.1:8000"])
def test_a_site_address_or_none_passes_the_plain_check(settings, value):
    settings.SITE_URL = value
    assert check_site_url(None) == []


def test_deploy_check_warns_without_site_url(settings):
    settings.SITE_URL = ""
    [warning] = check_site_url_deploy(None)
    assert isinstance(warning, Warning) and warning.id == "refunds.W001"


def test_deploy_check_warns_about_plain_http(settings):
    settings.SITE_URL = "http://desk.example.com"
    [warning] = check_site_url_deploy(None)
    assert warning.id == "refunds.W002"


def test_deploy_check_accepts_https(settings):
    settings.SITE_URL = "https://desk.example.com"
    assert check_site_url_deploy(None) == []


def test_a_path_maker_gives_what_reverse_gives():
    from django.urls import reverse

    from refunds.links import path_maker

    for name in ("refunds:case_detail", "refunds:case_claim", "refunds:followup_detail"):
        make = path_maker(name)
        for pk in (1, 42, 918273645, 10**12):
            assert make(pk) == reverse(name, args=[pk])
