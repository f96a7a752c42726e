from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class CalendarDay(models.Model):
    """A day that breaks the rule "Monday to Friday are working days" in China: a public
    holiday on a weekday (working=False), or a weekend day worked in exchange (调休,
    working=True). Managers enter the State Council's list in the admin each year; the
    platforms count their "working days" (Kuaishou's review, a dispute's evidence) by it."""

    date = models.DateField(_("date"), unique=True)
    working = models.BooleanField(
        _("working day"),
        help_text=_("Ticked: a weekend day that is worked (调休). Not ticked: a holiday."),
    )
    name = models.CharField(_("name"), max_length=60, blank=True,
                            help_text=_("e.g. 春节, 国庆节 or 春节调休."))

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days (holidays and worked weekends)")
        ordering = ["date"]

    def __str__(self) -> str:
        kind = _("working day") if self.working else _("holiday")
        return f"{self.date:%Y-%m-%d} {kind}" + (f" ({self.name})" if self.name else "")

    def clean(self) -> None:
        super().clean()
        if self.date is None or self.working is None:
            return
        weekend = self.date.weekday() >= 5
        if weekend and not self.working:
            raise ValidationError({"working": _(
                "%(date)s is a Saturday or Sunday, already a day off: only a weekend day that "
                "is worked (调休) needs an entry.") % {"date": f"{self.date:%Y-%m-%d}"}})
        if not weekend and self.working:
            raise ValidationError({"working": _(
                "%(date)s is a weekday, already a working day: only a holiday on a weekday "
                "needs an entry.") % {"date": f"{self.date:%Y-%m-%d}"}})
