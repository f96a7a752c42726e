from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .shops import Platform, Shop


def mask_mobile(mobile: str) -> str:
    """138****1234: enough for staff to recognise a number, not enough to leak it."""
    digits = mobile.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


class Buyer(models.Model):
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    nick = models.CharField(_("buyer nick (会员名)"), max_length=100)
    mobile = models.CharField(_("mobile"), max_length=20, blank=True)
    mobile_last4 = models.CharField(_("mobile last 4 digits"), max_length=4, blank=True,
                                    db_index=True, editable=False)
    alipay_account = models.CharField(_("Alipay account"), max_length=100, blank=True)
    is_vip = models.BooleanField(_("VIP"), default=False)
    do_not_contact = models.BooleanField(
        _("do not contact"), default=False, editable=False,
        help_text=_("The buyer asked not to be contacted: no call or message is logged any more "
                    "(set and lifted from the buyer page, with a reason)."),
    )
    do_not_contact_reason = models.TextField(_("do-not-contact reason"), blank=True,
                                             editable=False)
    do_not_contact_at = models.DateTimeField(_("do not contact since"), null=True, blank=True,
                                             editable=False)

    class Meta:
        verbose_name = _("buyer")
        verbose_name_plural = _("buyers")
        constraints = [
            models.UniqueConstraint(fields=["platform", "nick"], name="buyer_unique_nick"),
        ]
        indexes = [models.Index(fields=["nick"], name="buyer_nick_idx")]

    def __str__(self) -> str:
        return self.nick

    def save(self, *args, **kwargs):
        self.mobile_last4 = self.mobile.strip()[-4:] if self.mobile else ""
        if kwargs.get("update_fields") is not None and "mobile" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "mobile_last4"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("refunds:buyer_detail", args=[self.pk])

    @property
    def masked_mobile(self) -> str:
        return mask_mobile(self.mobile)


class OrderStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment (等待买家付款)")
    PAID = "paid", _("Paid, awaiting shipment (买家已付款，等待卖家发货)")
    SHIPPED = "shipped", _("Shipped, awaiting confirmation (卖家已发货，等待买家确认)")
    COMPLETED = "completed", _("Completed (交易成功)")
    CLOSED = "closed", _("Closed (交易关闭)")


class Order(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders",
                             verbose_name=_("shop"))
    platform_order_id = models.CharField(_("order id (订单编号)"), max_length=64)
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="orders",
                              verbose_name=_("buyer"))
    goods_amount = models.DecimalField(_("goods amount"), max_digits=12, decimal_places=2,
                                       default=Decimal("0"))
    postage = models.DecimalField(_("postage"), max_digits=12, decimal_places=2,
                                  default=Decimal("0"))
    paid_amount = models.DecimalField(_("paid by buyer"), max_digits=12, decimal_places=2)
    status = models.CharField(_("platform status"), max_length=20, choices=OrderStatus.choices,
                              default=OrderStatus.PAID)
    created_at = models.DateTimeField(_("created"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered (签收)"), null=True, blank=True)
    # The buyer's confirm-receipt window (refunds/models/receipts.py): when the platform
    # completes the trade by itself. From the ship time when the export has one, else an
    # estimate from the payment (never later than the real date); a person's record of the
    # seller centre (extended, or read) replaces either.
    confirm_receipt_by = models.DateTimeField(
        _("auto-confirms receipt (自动确认收货)"), null=True, blank=True, editable=False)
    confirm_receipt_estimated = models.BooleanField(
        _("auto-confirm date estimated"), default=False, editable=False,
        help_text=_("Counted from the payment (the export had no ship time): the real date "
                    "is later. Read it in the seller centre."))
    receipt_extensions = models.PositiveSmallIntegerField(
        _("confirm-receipt extensions"), default=0, editable=False)
    carrier = models.CharField(_("carrier"), max_length=50, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=64, blank=True)
    receiver_name = models.CharField(_("receiver"), max_length=50, blank=True)
    receiver_address = models.CharField(_("address"), max_length=300, blank=True)
    buyer_message = models.TextField(_("buyer message"), blank=True)
    note = models.TextField(_("seller note"), blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=["shop", "platform_order_id"],
                                    name="order_unique_per_shop"),
            models.CheckConstraint(condition=Q(paid_amount__gte=0), name="order_paid_not_negative"),
            models.CheckConstraint(condition=Q(postage__gte=0), name="order_postage_not_negative"),
        ]
        indexes = [
            models.Index(fields=["platform_order_id"], name="order_platform_id_idx"),
            # the queue's search by the order's tracking number (docs/PERFORMANCE.md)
            models.Index(fields=["tracking_no"], name="order_tracking_no_idx"),
            # A buyer's orders in the user's shops (the buyer page, "is this buyer one of my
            # shops'?", the search by nick): with buyer_id alone, SQLite (no statistics) took
            # the shop's index instead and read the shop's 333,000 orders for each buyer.
            models.Index(fields=["buyer", "shop"], name="order_buyer_shop_idx"),
            # orders to ship (paid, not shipped), paid first first, per shop
            models.Index(fields=["shop", "status", "paid_at", "id"],
                         name="order_shop_status_paid_idx"),
            # a shop's shipped orders by the day they complete by themselves (the receipt
            # windows page and `sweep_receipts`); with the shop first, the page reads only
            # the user's shops' orders, not every shop's by date (docs/PERFORMANCE.md)
            models.Index(fields=["shop", "status", "confirm_receipt_by"],
                         name="order_shop_confirm_idx"),
        ]

    def __str__(self) -> str:
        return self.platform_order_id

    def has_after_sales(self) -> bool:
        """A case, refund, compensation, complaint, stock-out, confirm-receipt record or parcel
        inquiry hangs on this order (its paid amount bounds them: a complaint's ruling may pay
        the buyer, a stock-out's refund asks its share; and they belong to its shop)."""
        return (self.cases.exists() or self.refunds.exists()
                or self.compensations.exists() or self.complaints.exists()
                or self.stockouts.exists() or self.receipt_changes.exists()
                or self.inquiries.exists())

    @property
    def is_shipped(self) -> bool:
        # Exports often carry the status but no ship time (no 发货时间 column).
        return self.shipped_at is not None or self.status in (OrderStatus.SHIPPED,
                                                              OrderStatus.COMPLETED)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines",
                              verbose_name=_("order"))
    platform_sub_order_id = models.CharField(_("sub-order id (子订单编号)"), max_length=64,
                                             blank=True)
    title = models.CharField(_("item"), max_length=200)
    sku = models.CharField(_("SKU"), max_length=100, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    paid_amount = models.DecimalField(_("paid"), max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.CheckConstraint(condition=Q(paid_amount__gte=0),
                                   name="orderline_paid_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.title} × {self.quantity}"
