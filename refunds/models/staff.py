from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffProfile(models.Model):
    """A staff member's 工号 and the shops they serve. Roles are Django groups (setup_roles)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    staff_number = models.CharField(_("staff number (工号)"), max_length=20, unique=True)
    shops = models.ManyToManyField("refunds.Shop", related_name="staff", blank=True,
                                   verbose_name=_("shops"))

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        return f"{self.staff_number} {self.user.get_username()}"
