"""Private files served to the staff of their shop only (the caller checks the shop)."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _


def photo_response(photo) -> FileResponse:
    """A stored photo (`refunds.models.photos.StoredPhoto`) inline, never sniffed or run as
    anything but a JPEG; 404 when its file is gone."""
    try:
        handle = photo.image.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


def register_download(request, fmt: str, register_filter, make_file, back: str) -> HttpResponse:
    """A register's rows as the filters show them, every row (not one page), as "xlsx" or
    "csv" (`make_file(rows, fmt, now)` → content, content type, name); wrong filters say so
    and go `back` to the list."""
    if fmt not in ("xlsx", "csv"):
        raise Http404
    if register_filter.is_bound and not register_filter.is_valid():
        messages.error(request, _("Please correct the filters first."))
        return redirect(back)
    content, content_type, name = make_file(register_filter.qs, fmt, timezone.localtime())
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
