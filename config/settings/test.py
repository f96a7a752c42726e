"""Test settings: fast hashing, in-memory email, same database selection as base (DATABASE_URL)."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
ALLOWED_HOSTS = ["*"]
WHITENOISE_AUTOREFRESH = True  # no collectstatic in tests: serve from the finders
SITE_URL = "https://desk.example.com"  # not the DEBUG default: the emails' links are tested
