"""Private files served to the staff of their shop only (the caller checks the shop)."""

from __future__ import annotations

from django.http import FileResponse, Http404


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
