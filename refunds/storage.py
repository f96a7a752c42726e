"""Private file storage: uploaded photos live outside MEDIA_ROOT and have no public URL.

They are served only by a view that checks the user serves the file's shop. The folder is
settings.PRIVATE_MEDIA_ROOT (default: <project>/private_media), read on every access so tests
can point it elsewhere.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


@deconstructible
class PrivateStorage(FileSystemStorage):
    def __init__(self):
        super().__init__(base_url=None)

    @property
    def base_location(self):
        return getattr(settings, "PRIVATE_MEDIA_ROOT",
                       os.path.join(settings.BASE_DIR, "private_media"))

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Private files have no URL: serve them through a view.")


private_storage = PrivateStorage()
