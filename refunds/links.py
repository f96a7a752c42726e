"""Links that leave the site: an email's link is the page's path on `settings.SITE_URL`.

A path alone ("/cases/42/") is what a page links to; in an email, read in a mail client, it
leads nowhere. `manage.py check --deploy` warns when SITE_URL is not set (refunds/checks.py).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse


def absolute_url(path: str) -> str:
    """`path` on the site's address; `path` itself when SITE_URL is not set (or it is already
    absolute)."""
    if urlsplit(path).scheme:
        return path
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    return f"{base}{path}" if base else path


# A number that cannot occur in the site's URLs otherwise: a URL is reversed once with it,
# then each object's URL is that one with its id in its place (reverse() per row or per
# notification was hot: 13 % of the nightly sweep, a third of the queue's rows).
_PK = 918273645


def path_maker(name: str) -> Callable[[int], str]:
    """`reverse(name, args=[pk])` for many pks at the price of one reverse()."""
    prefix, _sentinel, suffix = reverse(name, args=[_PK]).rpartition(str(_PK))
    return lambda pk: f"{prefix}{pk}{suffix}"
