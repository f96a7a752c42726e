"""Text a service is given: stripped, required where the action needs it, and never cut.

A column has a length; text longer than it is refused with a message that says so, not
shortened to fit (a payment reference cut to 100 characters no longer finds the payment).
The forms check the same lengths, so staff see this only from callers without a form: the
imports, the commands, the demo data and code still to come.
"""

from __future__ import annotations

from django.db import models
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from ..exceptions import ActionNotAllowed


def require_text(value: str | None, message: str) -> str:
    """`value` stripped; ActionNotAllowed(`message`) when nothing is left."""
    value = (value or "").strip()
    if not value:
        raise ActionNotAllowed(message)
    return value


def column_text(value: str | None, model: type[models.Model], field: str, *,
                required: str | None = None) -> str:
    """`value` stripped, for `model.field`: ActionNotAllowed(`required`) when empty and
    required, ActionNotAllowed when longer than the column."""
    value = require_text(value, required) if required else (value or "").strip()
    return fits(value, model, field)


def fits(value: str, model: type[models.Model], field: str) -> str:
    """`value` unchanged, or ActionNotAllowed when it is longer than `model.field`."""
    column = model._meta.get_field(field)
    if column.max_length is not None and len(value) > column.max_length:
        raise ActionNotAllowed(
            _("%(field)s is too long: %(length)s characters, at most %(limit)s.")
            % {"field": capfirst(column.verbose_name), "length": len(value),
               "limit": column.max_length})
    return value
