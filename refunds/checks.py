"""System checks of the desk's own settings (`manage.py check`, `check --deploy`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register()
def check_site_url(app_configs, **kwargs):
    site_url = getattr(settings, "SITE_URL", "")
    if not site_url:
        return []
    parts = urlsplit(site_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
        return [Error(
            f"SITE_URL {site_url!r} is not the site's address.",
            hint="Set it to the scheme and host staff open the desk at, e.g. "
                 "https://desk.example.com (no path).",
            id="refunds.E001")]
    return []


@register(Tags.security, deploy=True)
def check_site_url_deploy(app_configs, **kwargs):
    if not getattr(settings, "SITE_URL", ""):
        return [Warning(
            "SITE_URL is not set: the links in notification emails are paths without the "
            "site's address, which a mail client cannot open.",
            hint="Set SITE_URL in the environment, e.g. https://desk.example.com.",
            id="refunds.W001")]
    if not settings.SITE_URL.startswith("https://"):
        return [Warning(
            f"SITE_URL {settings.SITE_URL!r} is not an https:// address, but the production "
            "settings serve the desk over HTTPS only.",
            id="refunds.W002")]
    return []
