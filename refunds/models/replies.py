"""Canned replies (快捷短语): the team's standard texts for logistics, after-sales and review
conversations, with placeholders filled from the case or follow-up they are used on."""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

# The only placeholders a reply may use, and what fills them.
PLACEHOLDERS = {
    "buyer": _("the buyer's nick"),
    "order": _("the order id"),
    "tracking": _("the tracking number (the return's, else the order's)"),
    "shop": _("the shop's name"),
    "amount": _("the amount (the case's or the remedy's)"),
    "deadline": _("the deadline (the case's next one, or the review revision window)"),
}

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def placeholder_errors(text: str) -> list[str]:
    """What is wrong with the placeholders of `text`: unknown names, stray braces."""
    errors: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        if "{" in text[position:match.start()] or "}" in text[position:match.start()]:
            errors.append(str(_("A brace that opens or closes no placeholder")))
        name = match.group(1)
        if name not in PLACEHOLDERS:
            errors.append(str(_("Unknown placeholder “{%(name)s}”") % {"name": name}))
        position = match.end()
    if "{" in text[position:] or "}" in text[position:]:
        errors.append(str(_("A brace that opens or closes no placeholder")))
    return list(dict.fromkeys(errors))


def validate_reply_text(text: str) -> None:
    errors = placeholder_errors(text or "")
    if errors:
        allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise ValidationError(
            _("%(errors)s. Allowed placeholders: %(allowed)s.")
            % {"errors": "; ".join(errors), "allowed": allowed},
            code="placeholder",
        )


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace each placeholder with its value; one without a value stays for staff to fill."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1)) or m.group(0)), text)


class ReplyCategory(models.TextChoices):
    LOGISTICS = "logistics", _("Logistics (物流)")
    AFTER_SALES = "after_sales", _("After-sales (售后)")
    REVIEW = "review", _("Review follow-up (中差评)")
    STOCKOUT = "stockout", _("Out of stock (缺货)")


class CannedReply(models.Model):
    title = models.CharField(_("title"), max_length=80)
    category = models.CharField(_("category"), max_length=12, choices=ReplyCategory.choices)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES,
                                default="zh-hans")
    text = models.TextField(
        _("text"), validators=[validate_reply_text],
        help_text=_("Placeholders: {buyer}, {order}, {tracking}, {shop}, {amount}, {deadline}."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0,
                                                help_text=_("Lower comes first."))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("canned reply (快捷短语)")
        verbose_name_plural = _("canned replies (快捷短语)")
        ordering = ["category", "language", "position", "title"]
        constraints = [
            models.UniqueConstraint(fields=["category", "language", "title"],
                                    name="cannedreply_unique_title"),
        ]

    def __str__(self) -> str:
        return f"[{self.get_category_display()} · {self.language}] {self.title}"

    def save(self, *args, **kwargs):
        # Refused when saved, whatever the entry point (admin, shell, fixture), never when used.
        validate_reply_text(self.text)
        super().save(*args, **kwargs)

    def render(self, values: Mapping[str, str]) -> str:
        return fill_placeholders(self.text, values)
