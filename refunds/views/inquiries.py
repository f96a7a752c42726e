"""Parcel-inquiry pages (快递查询 / 改地址): the list, opening one on an order, the inquiry page.
Thin: parse the form, call `refunds.services.inquiries`, turn a domain error into a message."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..exceptions import DomainError
from ..exports import inquiry_register_file
from ..filters import InquiryFilter
from ..forms import INQUIRY_ACTION_FORMS, ContactForm, InquiryOpenForm
from ..models import OPEN_INQUIRY_STATES, OPEN_STATES, Order, ParcelInquiry
from ..replies import INQUIRY_REPLY_CATEGORIES, values_for_inquiry
from ..selectors import inquiries_for_user, inquiry_detail, inquiry_register, scope_to_user
from ..services import inquiries as services
from ..services.contacts import can_override
from .actions import posted, submit, submit_transition
from .contacts import contact_context
from .files import register_download

SERVICES = {
    "ask_carrier": services.inquiry_ask_carrier,
    "record_answer": services.inquiry_record_answer,
    "tell_buyer": services.inquiry_tell_buyer,
    "withdraw": services.inquiry_withdraw,
}
CHANGED = services.InquiryChanged.default_message  # lazy: in the language of each request


def _require_view(request) -> None:
    if not request.user.has_perm("refunds.view_parcelinquiry"):
        raise PermissionDenied


def _contact_url(inquiry: ParcelInquiry) -> str:
    return reverse("refunds:inquiry_contact", args=[inquiry.pk])


def _filtered(request) -> InquiryFilter:
    return InquiryFilter(request.GET or None, queryset=inquiry_register(request.user),
                         request=request)


def inquiry_list(request):
    """Every inquiry of the user's shops: the open ones first, the answer soonest due first."""
    _require_view(request)
    inquiries = _filtered(request)
    page = Paginator(inquiries.qs, settings.CASES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "refunds/inquiry_list.html", {
        "filter": inquiries, "page": page, "query": query.urlencode(), "now": timezone.now(),
    })


def inquiry_register_download(request, fmt: str):
    """The inquiries as the filters show them, every row (not one page)."""
    _require_view(request)
    return register_download(request, fmt, _filtered(request), inquiry_register_file,
                             back="refunds:inquiry_list")


def inquiry_open(request, pk: int):
    """Open an inquiry on an order; GET shows the order, its open inquiries and the form
    (`?case=` picks the case the question comes from)."""
    if not request.user.has_perm("refunds.handle_inquiry"):
        raise PermissionDenied
    order = get_object_or_404(
        scope_to_user(Order.objects.select_related("shop", "buyer")
                      .prefetch_related("lines"), request.user), pk=pk)
    cases = list(order.cases.filter(state__in=OPEN_STATES).order_by("id"))
    initial = {}
    asked = request.GET.get("case", "") if request.method == "GET" else ""
    if asked in {str(c.pk) for c in cases}:
        initial["case"] = asked
    elif asked.isdigit() and (closed := order.cases.filter(pk=asked).first()) is not None:
        # Said, not dropped: an inquiry is tied to an open case only.
        messages.info(request, _("Case #%(id)s is “%(state)s”: the inquiry is opened on the "
                                 "order alone.") % {"id": closed.pk,
                                                    "state": closed.get_state_display()})
    form = InquiryOpenForm(posted(request), order=order, cases=cases, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            inquiry = services.inquiry_open(order=order, actor=request.user, **data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Inquiry #%(id)s opened: answer the buyer by "
                                        "%(due)s.") % {
                "id": inquiry.pk,
                "due": f"{timezone.localtime(inquiry.reply_by):%Y-%m-%d %H:%M}"})
            return redirect(inquiry)
    return render(request, "refunds/inquiry_form.html", {
        "form": form, "order": order,
        "open_inquiries": list(order.inquiries.filter(state__in=OPEN_INQUIRY_STATES)
                               .order_by("id")),
    }, status=400 if request.method == "POST" else 200)


def _detail_context(request, inquiry: ParcelInquiry, bound: dict | None = None) -> dict:
    bound = bound or {}
    user, now = request.user, timezone.now()
    actions = [bound.get(t.name) or INQUIRY_ACTION_FORMS[t.name](inquiry=inquiry)
               for t in inquiry.get_available_user_state_transitions(user)
               if t.name in INQUIRY_ACTION_FORMS]
    may_contact = inquiry.is_open and services.can_handle_inquiries(user, inquiry.shop_id)
    contact_form = bound.get("contact") or (ContactForm(
        case=None, can_override=can_override(user),
        action=_contact_url(inquiry)) if may_contact else None)
    return {
        "inquiry": inquiry,
        "order": inquiry.order,
        "events": inquiry.events.all(),
        "action_forms": actions,
        "memo": services.seller_memo(inquiry),
        "late": services.is_late(inquiry, now),
        "callback_missed": services.callback_missed(inquiry, now),
        "needs_carrier": services.needs_carrier(inquiry),
        "now": now,
        # the contact card of the case and stock-out pages: canned replies (物流 first), the
        # guard's rules, do-not-contact, every contact with the buyer in the user's shops
        **contact_context(request, buyer=inquiry.order.buyer, contact_form=contact_form,
                          replies_for=INQUIRY_REPLY_CATEGORIES,
                          values=values_for_inquiry(inquiry), policy=inquiry.shop.policy),
    }


def inquiry_detail_view(request, pk: int):
    _require_view(request)
    inquiry = inquiry_detail(request.user, pk)
    return render(request, "refunds/inquiry_detail.html", _detail_context(request, inquiry))


def _render_invalid(request, inquiry: ParcelInquiry, name: str, form):
    context = _detail_context(request, inquiry_detail(request.user, inquiry.pk), {name: form})
    context["open_form"] = name
    messages.error(request, _("Please correct the errors below."))
    return render(request, "refunds/inquiry_detail.html", context, status=400)


def _inquiry_or_404(request, pk: int) -> ParcelInquiry:
    _require_view(request)
    return get_object_or_404(
        inquiries_for_user(request.user).select_related("shop", "order__buyer"), pk=pk)


@require_POST
def inquiry_action(request, pk: int, action: str):
    inquiry = _inquiry_or_404(request, pk)
    return submit_transition(
        request, inquiry, action, INQUIRY_ACTION_FORMS,
        perform=lambda form, data: SERVICES[action](
            inquiry=inquiry, actor=request.user, expected_state=data["expected_state"],
            **form.service_kwargs()),
        done=lambda _result: _("Done: %(action)s.") % {
            "action": services.action_label(action)},
        invalid=lambda form: _render_invalid(request, inquiry, action, form),
        changed=str(CHANGED), target_name="inquiry")


@require_POST
def inquiry_contact(request, pk: int):
    inquiry = _inquiry_or_404(request, pk)
    form = ContactForm(request.POST, case=None, can_override=can_override(request.user),
                       action=_contact_url(inquiry))
    return submit(
        request, form,
        lambda data: services.inquiry_contact(inquiry=inquiry, actor=request.user, **data),
        back=inquiry, done=_("Contact logged."),
        invalid=lambda form: _render_invalid(request, inquiry, "contact", form))
