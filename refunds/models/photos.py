"""What every stored photo (a returned parcel's, a carrier claim's) records besides its owner
and its file: re-encoded by `refunds.photos`, kept in the private storage under a random name,
served only to the owner's shop's staff (`refunds.views.files`)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def random_photo_name(folder: str, shop_id: int) -> str:
    """A random name: nothing of the uploader's file name or content reaches the disk name."""
    return f"{folder}/{shop_id}/{timezone.now():%Y/%m}/{secrets.token_hex(16)}.jpg"


class StoredPhoto(models.Model):
    """Subclasses add the owner's foreign key and `image` (with their own `upload_to`)."""

    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    size = models.PositiveIntegerField(_("bytes"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["id"]
