import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Platform(models.TextChoices):
    TAOBAO = "taobao", _("Taobao")
    TMALL = "tmall", _("Tmall")
    KUAISHOU = "kuaishou", _("Kuaishou")


class ShopType(models.TextChoices):
    C = "C", _("C-shop (individual seller)")
    B = "B", _("B-shop (mall / flagship)")


class Shop(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    shop_type = models.CharField(_("shop type"), max_length=1, choices=ShopType.choices)
    platform_shop_id = models.CharField(
        _("platform shop id"), max_length=64, blank=True, help_text=_("店铺Id in the exports.")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("shop")
        verbose_name_plural = _("shops")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


def default_refusal_reasons() -> list[str]:
    return [
        "商品已影响二次销售 / Goods no longer resellable",
        "买家未退回商品 / Goods not returned",
        "退回商品与订单不符 / Returned goods do not match the order",
        "已超过七天无理由退货期限 / Outside the 7-day no-reason window",
        "凭证不足 / Insufficient evidence",
    ]


REFUSAL_REASON_MAX = 200  # Case.refusal_reason's length


def validate_refusal_reasons(value) -> None:
    """A list of texts, each one short enough for the case that is refused with it."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("Enter a JSON list of texts."))
    for item in value:
        if len(item) > REFUSAL_REASON_MAX:
            raise ValidationError(
                _("“%(reason)s…” is longer than %(max)s characters.")
                % {"reason": item[:30], "max": REFUSAL_REASON_MAX})


def default_shop_pays_postage_reasons() -> list[str]:
    return ["quality", "not_as_described", "wrong_item", "damaged"]


def validate_postage_reasons(value) -> None:
    """A list of case reasons (their codes, as in the default)."""
    from .cases import CaseReason

    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("Enter a JSON list of case reasons, such as [\"quality\"]."))
    unknown = [item for item in value if item not in CaseReason.values]
    if unknown:
        raise ValidationError(
            _("“%(unknown)s” is not a case reason; the reasons are: %(reasons)s.")
            % {"unknown": unknown[0], "reasons": ", ".join(CaseReason.values)})


DEDUCTION_LINES = 3  # the deduction lines the refund form offers


def validate_refund_deductions(value) -> None:
    """At most DEDUCTION_LINES of {"reason": text, "percent": more than 0, at most 100}."""
    example = '[{"reason": "天猫技术服务费", "percent": "5"}]'
    if not isinstance(value, list) or not all(isinstance(line, dict) for line in value):
        raise ValidationError(_("Enter a JSON list such as %(example)s.")
                              % {"example": example})
    if len(value) > DEDUCTION_LINES:
        raise ValidationError(
            _("The refund form offers %(lines)s deduction lines: give at most %(lines)s.")
            % {"lines": DEDUCTION_LINES})
    for line in value:
        reason = line.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError(_("Every deduction needs a reason (“reason”)."))
        if len(reason) > REFUSAL_REASON_MAX:
            raise ValidationError(
                _("“%(reason)s…” is longer than %(max)s characters.")
                % {"reason": reason[:30], "max": REFUSAL_REASON_MAX})
        percent = deduction_percent(line)
        if percent is None or not 0 < percent <= 100:
            raise ValidationError(
                _("The deduction “%(reason)s” needs a percent (“percent”) more than 0 and at "
                  "most 100.") % {"reason": reason})


def deduction_percent(line) -> Decimal | None:
    """A deduction line's percent, or None when it is not a number (a bool is not one);
    "5%" (or "5％") is 5."""
    percent = line.get("percent") if isinstance(line, dict) else None
    if isinstance(percent, bool) or not isinstance(percent, str | int | float):
        return None
    try:
        value = Decimal(str(percent).strip().removesuffix("%").removesuffix("％").strip())
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


# The default times are functions: Django's check warns (fields.W161) about a fixed time
# default during the ten seconds around that time of day, a check run at 16:00 UTC included.
def default_contact_from() -> datetime.time:
    return datetime.time(9, 0)


def default_contact_until() -> datetime.time:
    return datetime.time(21, 0)


def default_return_cutoff() -> datetime.time:
    return datetime.time(16, 0)


def _days(default: int, label: str, help_text: str = "") -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        label, default=default, validators=[MinValueValidator(1)], help_text=help_text
    )


class Policy(models.Model):
    """Per-shop numbers: every deadline of DOMAIN.md's table plus the shop's money limits."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="policy")

    agree_unshipped_days = _days(
        2, _("days to decide on a request (order not shipped)"),
        _("After this the platform auto-agrees."),
    )
    agree_shipped_days = _days(
        5, _("days to decide on a request (order shipped)"),
        _("After this the platform auto-agrees."),
    )
    buyer_modify_days = _days(
        7, _("days for the buyer to modify a refused request"), _("After this the request closes.")
    )
    buyer_return_days = _days(
        7, _("days for the buyer to ship the return"), _("After this the request closes.")
    )
    confirm_receipt_days = _days(
        10, _("days to confirm receipt of a returned parcel"),
        _("After this the platform auto-refunds."),
    )
    auto_confirm_days = _days(
        10, _("days the buyer has to confirm receipt of a shipped order"),
        _("After this the platform completes the trade by itself (自动确认收货)."))
    receipt_warning_days = _days(
        3, _("days before the automatic confirmation to warn"),
        _("While the order has an open case, so that the window can be extended in time."))
    receipt_extension_limit = models.PositiveSmallIntegerField(
        _("confirm-receipt extensions per order"), default=1,
        help_text=_("How many times the shop may extend an order's window (延长收货), as the "
                    "platform allows. 0: never."))
    inquiry_reply_hours = _days(
        24, _("hours to answer a buyer's parcel inquiry"),
        _("A buyer asking where the parcel is, or for another address (快递查询 / 改地址), "
          "is answered within this."))
    quality_photo_hours = _days(24, _("hours for the buyer to send quality photos"))
    platform_review_working_days = _days(7, _("working days for a platform review (Kuaishou)"))
    platform_pay_working_days = _days(7, _("working days to pay after a platform review"))
    dispute_evidence_working_days = _days(5, _("working days to submit dispute evidence"),
                                          _("Also a complaint's (维权/投诉)."))
    complaint_window_days = _days(
        15, _("days after the trade succeeded a buyer may complain"),
        _("维权/投诉: the platform accepts complaints until then."))
    review_revision_days = _days(30, _("days a buyer may revise a negative review"))
    ship_within_hours = _days(72, _("hours to ship a paid order"))
    no_reason_return_days = _days(7, _("days of the no-reason return window (七天无理由)"))
    payout_days = _days(1, _("days for finance to pay an approved refund"))
    warning_hours = _days(24, _("hours before a deadline to warn"))
    review_unreachable_attempts = _days(
        3, _("failed contact attempts before a reviewer is unreachable"),
        _("A review follow-up may be marked unreachable after this many attempts that did not "
          "reach the buyer."),
    )
    review_warning_days = _days(3, _("days before a review's revision deadline to warn"))
    contact_hours_start = models.TimeField(
        _("contact allowed from"), default=default_contact_from,
        help_text=_("Buyer's time (China). No call or message before this."),
    )
    contact_hours_end = models.TimeField(
        _("contact allowed until"), default=default_contact_until,
        help_text=_("Buyer's time (China). No call or message from this time on."),
    )
    max_calls_per_day = _days(2, _("calls per buyer per day"),
                              _("More is harassment (恶意骚扰); a supervisor may override."))
    max_messages_per_day = _days(3, _("messages (IM, SMS, email) per buyer per day"),
                                 _("More is harassment (恶意骚扰); a supervisor may override."))

    instant_refund_limit = models.DecimalField(
        _("instant refund limit (极速退款)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("100.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_(
            "Refund-only requests on unshipped orders up to this amount are agreed on arrival."
        ),
    )
    agent_approval_limit = models.DecimalField(
        _("agent approval limit"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("500.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Refunds above this amount need a supervisor."),
    )
    compensation_limit = models.DecimalField(
        _("compensation limit"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Compensation above this needs a supervisor. Empty: the order's postage."),
    )
    return_postage_limit = models.DecimalField(
        _("return postage limit"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("30.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Return postage an agent may reimburse; above it a supervisor approves."),
    )
    shop_pays_return_postage = models.JSONField(
        _("reasons for which the shop pays return postage"),
        default=default_shop_pays_postage_reasons,
        validators=[validate_postage_reasons],
        help_text=_("A JSON list of case reasons (quality, not_as_described, wrong_item, "
                    "damaged, …). Other reasons: the buyer pays; freight insurance (运费险) "
                    "pays where the buyer had it."),
    )
    refund_deductions = models.JSONField(
        _("suggested refund deductions"),
        default=list, blank=True,
        validators=[validate_refund_deductions],
        help_text=_('A JSON list such as [{"reason": "天猫技术服务费", "percent": "5"}], offered '
                    "as deduction lines when a refund is approved after a return."),
    )
    quality_partial_refund_percent = models.PositiveSmallIntegerField(
        _("quality problem: partial refund when the buyer keeps the item (%)"), default=50,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    return_cutoff = models.TimeField(
        _("returns batch cutoff"),
        default=default_return_cutoff,
        help_text=_("Parcels received after this time (China) belong to the next day's batch."),
    )
    refusal_reasons = models.JSONField(
        _("refusal reasons"),
        default=default_refusal_reasons,
        validators=[validate_refusal_reasons],
        help_text=_("A JSON list of texts offered when refusing a request."),
    )
    return_address = models.TextField(
        _("return address"), blank=True, help_text=_("Given to the buyer when a return is agreed.")
    )

    class Meta:
        verbose_name = _("policy")
        verbose_name_plural = _("policies")

    def __str__(self) -> str:
        return str(_("Policy of %(shop)s") % {"shop": self.shop})

    # The JSON settings as the pages read them: the admin validates them, but a value saved
    # before that (or from a shell) must not turn a case page into a server error.
    def postage_reasons(self) -> list[str]:
        value = self.shop_pays_return_postage
        return [item for item in value if isinstance(item, str)] if isinstance(value, list) \
            else []

    def deduction_lines(self) -> list[tuple[str, Decimal | None]]:
        """(reason, percent or None) of each suggested deduction, at most DEDUCTION_LINES."""
        value = self.refund_deductions if isinstance(self.refund_deductions, list) else []
        lines = []
        for line in value:
            if isinstance(line, dict):
                percent = deduction_percent(line)
                usable = percent is not None and 0 < percent <= 100  # as the validator says
                lines.append((str(line.get("reason", "")), percent if usable else None))
        return lines[:DEDUCTION_LINES]

    def clean(self):
        super().clean()
        start, end = self.contact_hours_start, self.contact_hours_end
        if start is not None and end is not None and start >= end:
            raise ValidationError({"contact_hours_end": _(
                "Contact hours must end after they start (the same day).")})
