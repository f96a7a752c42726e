"""Forms that create something are done once per form sent (refunds/submissions.py)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class FormSubmission(models.Model):
    """One sending of a form that creates something (a case, a compensation), by its token.

    The form carries a fresh token when it is shown; the row is written in the transaction
    that does the work, so a second sending of the same form (a double click, the browser
    sending again after a timeout, Back and submit) finds it and does nothing.
    """

    token = models.UUIDField(_("token"), unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="+", verbose_name=_("user"))
    what = models.CharField(_("what"), max_length=40)
    result_url = models.CharField(_("result"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("form sent")
        verbose_name_plural = _("forms sent")

    def __str__(self) -> str:
        return f"{self.what} {self.token}"
