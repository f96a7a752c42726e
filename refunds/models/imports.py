from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportKind(models.TextChoices):
    ORDERS = "orders", _("Orders")
    REFUNDS = "refunds", _("Refunds")
    REVIEWS = "reviews", _("Reviews")


class ImportRun(models.Model):
    """One import of a platform export file: its counts and the rows it rejected."""

    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT, related_name="imports",
                             verbose_name=_("shop"))
    kind = models.CharField(_("kind"), max_length=10, choices=ImportKind.choices)
    filename = models.CharField(_("file"), max_length=255)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("started by"))
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    imported = models.PositiveIntegerField(_("imported"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    stockouts_settled = models.PositiveIntegerField(
        _("stock-outs settled"), default=0,
        help_text=_("Open stock-outs of orders this order export showed shipped or closed."))
    errors = models.JSONField(_("errors"), default=list, blank=True)
    conflicts = models.JSONField(_("conflicts"), default=list, blank=True)
    refused = models.TextField(
        _("refused"), blank=True,
        help_text=_("Why the whole file was refused (another shop's export, unreadable, a "
                    "missing column); nothing of it was imported."))
    failure = models.TextField(
        _("stopped by an error"), blank=True,
        help_text=_("Why the import stopped part-way: the rows counted were written, the rest "
                    "of the file was not."))

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.filename}"
