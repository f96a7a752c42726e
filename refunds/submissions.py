"""A form that creates something does it once, however often it is sent.

A double click, a browser that sends again after a slow answer, or Back and submit would
otherwise open a second case (with an instant refund, a second refund and payout for one
request) or propose a compensation twice. Each such form carries a fresh token
(`submission_field`); `once` writes the token in the same transaction as the work, so of
two sendings one does the work and the other is refused (`AlreadySent`), however close
together: the token's unique index decides, on PostgreSQL and SQLite alike. Work that is
refused (a money rule, a permission) rolls the token back with it, so the corrected form can
be sent again.

A form posted without a token (a script, an old page) is done as before: the guard is for
people's browsers, never a condition of the work.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from .exceptions import DomainError
from .models import FormSubmission

T = TypeVar("T")


def submission_field() -> forms.UUIDField:
    """The hidden token; a new one each time the unbound form is shown."""
    return forms.UUIDField(required=False, widget=forms.HiddenInput, initial=uuid.uuid4)


class AlreadySent(DomainError):
    default_message = _("This form was already sent, so nothing was done again.")

    def __init__(self, result_url: str = "") -> None:
        super().__init__()
        self.result_url = result_url  # what the first sending made ("" if unknown)


def once(*, token: uuid.UUID | None, user, what: str, perform: Callable[[], T],
         url_of: Callable[[T], str]) -> T:
    """`perform()` unless a form with this `token` was already sent; then `AlreadySent`
    with the URL of what the first sending made (`url_of(result)`)."""
    if token is None:
        return perform()
    with transaction.atomic():
        try:
            with transaction.atomic():
                submission = FormSubmission.objects.create(token=token, user=user, what=what)
        except IntegrityError:
            first = FormSubmission.objects.filter(token=token, user=user).first()
            raise AlreadySent(first.result_url if first else "") from None
        result = perform()
        submission.result_url = url_of(result)
        submission.save(update_fields=["result_url"])
    return result
