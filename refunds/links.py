"""Links that leave the site: an email's link is the page's path on `settings.SITE_URL`.

A path alone ("/cases/42/") is what a page links to; in an email, read in a mail client, it
leads nowhere. `manage.py check --deploy` warns when SITE_URL is not set (refunds/checks.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings


def absolute_url(path: str) -> str:
    """`path` on the site's address; `path` itself when SITE_URL is not set (or it is already
    absolute)."""
    if urlsplit(path).scheme:
        return path
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    return f"{base}{path}" if base else path
