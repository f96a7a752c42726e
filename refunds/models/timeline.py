"""What every object's own timeline row holds (a complaint's, a follow-up's, a claim's, a
stock-out's, a parcel inquiry's): written by its service in the transaction of the change,
never edited or deleted. A concrete timeline adds the object it belongs to, its `kind`
choices, its index, and — where its states are longer — wider `from_state`/`to_state`."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TimelineEvent(models.Model):
    transition = models.CharField(_("transition"), max_length=40, blank=True)
    from_state = models.CharField(_("from"), max_length=12, blank=True)
    to_state = models.CharField(_("to"), max_length=12, blank=True)
    # empty for what the platform or an import did (staff number SYSTEM)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                              blank=True, related_name="+", verbose_name=_("by"))
    staff_number = models.CharField(_("staff number"), max_length=20)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.staff_number} {self.get_kind_display()}"
