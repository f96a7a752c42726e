"""Uploaded photos: images only, decoded and re-encoded, within size and pixel limits.

Nothing the uploader sent is stored as sent: the image is decoded by Pillow (which refuses
anything that is not a JPEG, PNG or WebP picture), checked against the pixel limit before
its pixels are decoded (decompression bombs), turned upright, shrunk (to MAX_SIDE; a
screenshot to a legible size, `clean_photo`) and written
again as a fresh JPEG — no EXIF (GPS), no trailing payload, a random file name.
"""

from __future__ import annotations

import io
import warnings

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, ImageOps, UnidentifiedImageError

from .exceptions import DomainError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # per photo, as uploaded
MAX_PIXELS = 40_000_000  # width × height, before decoding
MAX_SIDE = 2560  # longest side kept
# A screenshot (a complaint's evidence) is read, not looked at: a long chat scrolled down
# (1080 × 8000) keeps its text legible — its shorter side at most SCREENSHOT_SHORT_SIDE, its
# longer at most SCREENSHOT_LONG_SIDE.
SCREENSHOT_SHORT_SIDE = 1600
SCREENSHOT_LONG_SIDE = 12000
MAX_PHOTOS = 10  # per parcel
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}


class PhotoError(DomainError):
    default_message = gettext_lazy("This file is not a photo we can accept.")


def _kept_size(width: int, height: int, screenshot: bool) -> tuple[int, int]:
    """The largest box the image is shrunk into (`Image.thumbnail`, aspect kept)."""
    if not screenshot:
        return MAX_SIDE, MAX_SIDE
    scale = min(1.0, SCREENSHOT_SHORT_SIDE / min(width, height),
                SCREENSHOT_LONG_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def clean_photo(upload, screenshot: bool = False) -> tuple[ContentFile, int, int]:
    """(re-encoded JPEG, width, height) of an uploaded file, or PhotoError. A `screenshot`
    keeps its length (a long chat stays legible); a photo is shrunk to MAX_SIDE."""
    name = getattr(upload, "name", "") or _("photo")
    if upload.size > MAX_UPLOAD_BYTES:
        raise PhotoError(_("%(name)s is larger than %(limit)s MB.")
                         % {"name": name, "limit": MAX_UPLOAD_BYTES // (1024 * 1024)})
    try:
        upload.seek(0)
        data = upload.read()
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise PhotoError(_("%(name)s is not a JPEG, PNG or WebP photo.")
                                     % {"name": name})
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise PhotoError(_("%(name)s has too many pixels (at most %(limit)s "
                                       "million).") % {"name": name,
                                                       "limit": MAX_PIXELS // 1_000_000})
                probe.verify()  # a truncated or corrupt file stops here
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
                image = image.convert("RGB")
                image.thumbnail(_kept_size(image.width, image.height, screenshot))
                out = io.BytesIO()
                image.save(out, format="JPEG", quality=85, optimize=True)
    except PhotoError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, OSError, SyntaxError, ValueError,
            EOFError):
        raise PhotoError(_("%(name)s is not a photo we can read.") % {"name": name}) from None
    return ContentFile(out.getvalue(), name="photo.jpg"), image.width, image.height


def clean_photos(uploads, screenshots: bool = False) -> list[tuple[ContentFile, int, int]]:
    uploads = list(uploads or [])
    if len(uploads) > MAX_PHOTOS:
        raise PhotoError(_("At most %(limit)s photos at a time.") % {"limit": MAX_PHOTOS})
    return [clean_photo(upload, screenshot=screenshots) for upload in uploads]


def save_photos(photo_model, photos, *, actor, now, **owner) -> list[str]:
    """Write already re-encoded `photos` (from `clean_photos`) as rows of `photo_model`
    belonging to `owner` (parcel=…, claim=…); returns the storage names written, for
    `delete_photo_files` should the transaction around it fail."""
    names = []
    for content, width, height in photos:
        photo = photo_model(width=width, height=height, size=content.size, uploaded_by=actor,
                            uploaded_at=now, **owner)
        photo.image.save("photo.jpg", content, save=False)
        names.append(photo.image.name)
        photo.save()
    return names


def delete_photo_files(photo_model, names: list[str]) -> None:
    storage = photo_model._meta.get_field("image").storage
    for name in names:
        storage.delete(name)
