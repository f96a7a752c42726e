"""The buyer page: a buyer of the user's shops, their orders, cases, follow-ups and contacts.

A buyer is visible when they have an order in one of the user's shops (404 otherwise); the
page shows only what belongs to those shops.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..forms import ContactForm, DoNotContactForm
from ..models import Buyer, BuyerEvent
from ..replies import BUYER_REPLY_CATEGORIES, values_for_buyer
from ..selectors import buyer_detail as select_buyer
from ..selectors import buyer_orders, scope_to_user, shops_for_user
from ..services import contacts as services
from .actions import submit
from .contacts import contact_context


def _buyer_shops(request, buyer: Buyer):
    """The user's shops this buyer ordered from: the page acts in the name of one of them."""
    return shops_for_user(request.user).filter(orders__buyer=buyer).distinct().order_by("name")


def _context(request, buyer: Buyer, bound: dict | None = None) -> dict:
    bound = bound or {}
    user = request.user
    shops = _buyer_shops(request, buyer)
    shop_list = list(shops)
    can_log = user.has_perm("refunds.log_contact")
    contact_form = bound.get("contact")
    if contact_form is None and can_log:
        contact_form = ContactForm(action=reverse("refunds:buyer_contact", args=[buyer.pk]),
                                   can_override=services.can_override(user), shops=shops)
    dnc_form = lift_form = None
    if buyer.do_not_contact and user.has_perm("refunds.lift_do_not_contact"):
        lift_form = bound.get("lift") or DoNotContactForm(buyer=buyer, shops=shops, lift=True)
    elif not buyer.do_not_contact and can_log:
        dnc_form = bound.get("dnc") or DoNotContactForm(buyer=buyer, shops=shops)
    return {
        "orders": buyer_orders(user, buyer.pk),
        "buyer_events": scope_to_user(BuyerEvent.objects.filter(buyer=buyer), user)
        .select_related("shop"),
        "dnc_form": dnc_form,
        "lift_form": lift_form,
        **contact_context(request, buyer=buyer, contact_form=contact_form,
                          replies_for=BUYER_REPLY_CATEGORIES,
                          values=values_for_buyer(
                              buyer, shop_list[0] if len(shop_list) == 1 else None),
                          policy=shop_list[0].policy if len(shop_list) == 1 else None),
    }


def buyer_detail(request, pk: int):
    buyer = select_buyer(request.user, pk)
    return render(request, "refunds/buyer_detail.html", _context(request, buyer))


def _invalid(request, buyer: Buyer, name: str, form):
    context = _context(request, buyer, {name: form})
    messages.error(request, _("Please correct the errors below."))
    return render(request, "refunds/buyer_detail.html", context, status=400)


@require_POST
def buyer_contact(request, pk: int):
    buyer = select_buyer(request.user, pk)
    form = ContactForm(request.POST, action=reverse("refunds:buyer_contact", args=[buyer.pk]),
                       can_override=services.can_override(request.user),
                       shops=_buyer_shops(request, buyer))
    return submit(
        request, form,
        lambda data: services.buyer_contact_log_create(buyer=buyer, actor=request.user, **data),
        back=buyer, done=_("Contact logged."),
        invalid=lambda form: _invalid(request, buyer, "contact", form))


def _do_not_contact(request, pk: int, *, lift: bool):
    buyer = select_buyer(request.user, pk)
    form = DoNotContactForm(request.POST, buyer=buyer, shops=_buyer_shops(request, buyer),
                            lift=lift)
    service = services.buyer_lift_do_not_contact if lift else services.buyer_set_do_not_contact
    return submit(
        request, form, lambda data: service(buyer=buyer, actor=request.user, **data),
        back=buyer, done=_("Contact is allowed again.") if lift
        else _("The buyer will not be contacted any more."),
        invalid=lambda form: _invalid(request, buyer, "lift" if lift else "dnc", form))


@require_POST
def buyer_do_not_contact(request, pk: int):
    return _do_not_contact(request, pk, lift=False)


@require_POST
def buyer_allow_contact(request, pk: int):
    return _do_not_contact(request, pk, lift=True)
