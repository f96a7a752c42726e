"""Choice labels, cheaply: `choice_label(case, "state")` is `case.get_state_display()`.

Django's `get_FOO_display()` translates every label of the field on each call (it builds a
dict of all the lazy labels first). The queue shows ~100 labels and the nightly sweep writes
thousands of texts, so the labels are read from a dict made once per field and language.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import get_language

_LABELS: dict[tuple, dict] = {}


def choice_label(obj: models.Model, field_name: str):
    """The label of `obj`'s value of the choice field `field_name`, in the active language
    (the value itself when it is not one of the choices, as Django does)."""
    return value_label(type(obj), field_name, getattr(obj, field_name))


def value_label(model: type[models.Model], field_name: str, value):
    """The label of `value` of `model`'s choice field `field_name` (a stored value, no
    object at hand: refunds/texts.py), in the active language."""
    key = (model, field_name, get_language())
    labels = _LABELS.get(key)
    if labels is None:
        field = model._meta.get_field(field_name)
        labels = _LABELS[key] = {value: str(label) for value, label in field.flatchoices}
    return labels.get(value, value)
