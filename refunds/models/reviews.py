from django.db import models
from django.utils.translation import gettext_lazy as _


class ReviewRating(models.TextChoices):
    GOOD = "good", _("Positive (好评)")
    NEUTRAL = "neutral", _("Neutral (中评)")
    BAD = "bad", _("Negative (差评)")


class Review(models.Model):
    """A buyer's review from the platform export (评价管理).

    中评/差评 need a follow-up (issue: review follow-ups); 好评 are kept for statistics.
    """

    shop = models.ForeignKey("refunds.Shop", on_delete=models.PROTECT, related_name="reviews",
                             verbose_name=_("shop"))
    order = models.ForeignKey("refunds.Order", on_delete=models.PROTECT, related_name="reviews",
                              verbose_name=_("order"))
    buyer_nick = models.CharField(_("buyer nick"), max_length=100)
    item_title = models.CharField(_("item"), max_length=200)
    rating = models.CharField(_("rating"), max_length=10, choices=ReviewRating.choices)
    content = models.TextField(_("review"), blank=True)
    follow_up_content = models.TextField(_("follow-up review (追评)"), blank=True)
    posted_at = models.DateTimeField(_("posted"))
    imported_at = models.DateTimeField(_("imported"), auto_now_add=True)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-posted_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "item_title"], name="review_unique_per_item"),
        ]
        indexes = [models.Index(fields=["shop", "rating", "posted_at"],
                                name="review_shop_rating_idx")]

    def __str__(self) -> str:
        return f"{self.get_rating_display()} {self.order_id} {self.item_title}"

    @property
    def needs_follow_up(self) -> bool:
        return self.rating in (ReviewRating.NEUTRAL, ReviewRating.BAD)
