"""Returned parcels (退货明细): what the warehouse received, matched to a case or not (无主件),
and what it found on inspection. Photos are private files, served only to the shop's staff."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..storage import private_storage
from .photos import StoredPhoto, random_photo_name


class ParcelCondition(models.TextChoices):
    RESELLABLE = "resellable", _("Resellable (不影响二次销售)")
    QUALITY_DEFECT = "quality_defect", _("Quality defect (质量问题)")
    DAMAGED_BY_BUYER = "damaged_by_buyer", _("Damaged by the buyer (人为损坏)")
    MISSING_PARTS = "missing_parts", _("Missing parts (缺件)")
    WRONG_ITEM = "wrong_item", _("Wrong item returned (退回商品不符)")


class ReturnParcel(models.Model):
    """One returned parcel. `case` is empty while nobody knows whose it is (无主件)."""

    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT, related_name="parcels",
                             verbose_name=_("shop"))
    case = models.ForeignKey("refunds.Case", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="parcels", verbose_name=_("case"))
    tracking_no = models.CharField(_("return tracking number"), max_length=64)
    carrier = models.CharField(_("carrier"), max_length=50, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    batch_date = models.DateField(
        _("batch"), help_text=_("The day's returns batch: after the cutoff, the next day's."))
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("received by"))
    received_staff_number = models.CharField(_("received by (staff number)"), max_length=20)

    quantity_received = models.PositiveIntegerField(_("quantity received"), null=True,
                                                    blank=True)
    condition = models.CharField(_("condition"), max_length=20, choices=ParcelCondition.choices,
                                 blank=True)
    note = models.TextField(_("note"), blank=True)
    inspected_at = models.DateTimeField(_("inspected"), null=True, blank=True)
    inspected_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     null=True, blank=True, related_name="+",
                                     verbose_name=_("inspected by"))
    inspected_staff_number = models.CharField(_("inspected by (staff number)"), max_length=20,
                                              blank=True)

    class Meta:
        verbose_name = _("returned parcel")
        verbose_name_plural = _("returned parcels")
        ordering = ["received_at", "id"]
        constraints = [
            # inspected means: a case, a quantity and a condition, all together
            models.CheckConstraint(
                condition=(Q(inspected_at__isnull=True, condition="",
                             quantity_received__isnull=True)
                           | (Q(inspected_at__isnull=False, case__isnull=False,
                                quantity_received__isnull=False) & ~Q(condition=""))),
                name="parcel_inspection_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "batch_date"], name="parcel_shop_batch_idx"),
            models.Index(fields=["tracking_no"], name="parcel_tracking_idx"),
            models.Index(fields=["shop", "case"], name="parcel_shop_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_no} ({self.batch_date})"

    @property
    def is_unmatched(self) -> bool:
        return self.case_id is None


def photo_path(photo: ParcelPhoto, filename: str) -> str:
    return random_photo_name("returns", photo.parcel.shop_id)


class ParcelPhoto(StoredPhoto):
    parcel = models.ForeignKey(ReturnParcel, on_delete=models.PROTECT, related_name="photos",
                               verbose_name=_("parcel"))
    image = models.FileField(_("photo"), storage=private_storage, upload_to=photo_path,
                             max_length=200)

    class Meta(StoredPhoto.Meta):
        verbose_name = _("parcel photo")
        verbose_name_plural = _("parcel photos")

    def __str__(self) -> str:
        return f"{self.parcel_id}/{self.pk}"
