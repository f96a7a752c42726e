"""Carrier claim pages (报损报失): the damage register, registering a parcel, the claim page.
Thin: parse the form, call `refunds.services.claims`, turn a domain error into a message."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ..exceptions import DomainError
from ..exports import claim_register_file
from ..filters import ClaimFilter
from ..forms import (
    CLAIM_ACTION_FORMS,
    ClaimCreateForm,
    ClaimEditForm,
    ClaimPhotosForm,
)
from ..models import CarrierClaim, ClaimDirection, ClaimPhoto
from ..permissions import user_serves_shop
from ..selectors import (
    cases_for_user,
    claim_detail,
    claim_register,
    claims_for_user,
    inquiries_for_user,
    shops_for_user,
)
from ..services import claims as services
from .actions import posted, submit
from .files import photo_response, register_download

SERVICES = {
    "submit": services.claim_submit,
    "resubmit": services.claim_resubmit,
    "accept": services.claim_accept,
    "reject": services.claim_reject,
    "record_compensation": services.claim_record_compensation,
    "close": services.claim_close,
}


def _require_view(request) -> None:
    if not request.user.has_perm("refunds.view_carrierclaim"):
        raise PermissionDenied


def _filtered(request) -> ClaimFilter:
    return ClaimFilter(request.GET or None, queryset=claim_register(request.user),
                       request=request)


def claim_list(request):
    _require_view(request)
    claim_filter = _filtered(request)
    rows = claim_filter.qs
    page = Paginator(rows, settings.CASES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "refunds/claim_list.html", {
        "filter": claim_filter, "page": page, "query": query.urlencode(),
        "received_total": services.claims_received_total(rows.order_by()),
        "can_register": request.user.has_perm("refunds.handle_claim"),
    })


def claim_register_download(request, fmt: str):
    """The damage register (报损登记) as the filters show it, every row (not one page)."""
    _require_view(request)
    return register_download(request, fmt, _filtered(request), claim_register_file,
                             back="refunds:claim_list")


def _digits(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isascii() and value.isdigit() else None  # "²".isdigit()


def _item_initial(lines) -> dict:
    """One item: what the buyer paid for it is claimed, not a rounded unit price × quantity."""
    if len(lines) != 1 or not lines[0].quantity:
        return {}
    line = lines[0]
    return {"item_model": line.title, "quantity": line.quantity,
            "item_price": (line.paid_amount / line.quantity).quantize(Decimal("0.01")),
            "claimed_amount": line.paid_amount}


def _initial_from_case(request) -> dict:
    """A claim registered from a case page: the trade's and the parcel's details filled in."""
    case_id = _digits(request, "case")
    if case_id is None:
        return _initial_from_inquiry(request)
    case = get_object_or_404(cases_for_user(request.user).select_related("order", "shop")
                             .prefetch_related("order__lines"), pk=case_id)
    order = case.order
    returned = bool(case.return_tracking_no)
    initial = {
        "shop": case.shop_id, "order_id": order.platform_order_id, "case": case.pk,
        "direction": ClaimDirection.RETURN if returned else ClaimDirection.OUTBOUND,
        "tracking_no": case.return_tracking_no if returned else order.tracking_no,
        "carrier": case.return_carrier if returned else order.carrier,
    }
    shipped = case.return_shipped_at if returned else order.shipped_at
    if shipped is not None:
        initial["ship_date"] = timezone.localdate(shipped)
    return {**initial, **_item_initial(list(case.lines.all()) or list(order.lines.all()))}


def _initial_from_inquiry(request) -> dict:
    """A claim registered from a parcel inquiry the carrier answered "lost" or "damaged":
    the trade, the parcel asked about and the carrier's answer filled in."""
    inquiry_id = _digits(request, "inquiry")
    if inquiry_id is None:
        return {}
    inquiry = get_object_or_404(inquiries_for_user(request.user)
                                .select_related("order", "case")
                                .prefetch_related("order__lines"), pk=inquiry_id)
    order, case = inquiry.order, inquiry.case
    # The parcel asked about may be the buyer's return (退件), not the order's parcel.
    returned = (case is not None and bool(case.return_tracking_no)
                and case.return_tracking_no == inquiry.parcel_tracking_no)
    initial = {
        "shop": inquiry.shop_id, "order_id": order.platform_order_id, "case": inquiry.case_id,
        "direction": ClaimDirection.RETURN if returned else ClaimDirection.OUTBOUND,
        "tracking_no": inquiry.parcel_tracking_no,
        "carrier": inquiry.parcel_carrier or (case.return_carrier if returned else order.carrier),
        "kind": inquiry.claim_kind,
        # In full: a longer answer than the claim keeps is refused by the form, never cut.
        "parcel_status": inquiry.answer,
    }
    shipped = case.return_shipped_at if returned else order.shipped_at
    if shipped is not None:
        initial["ship_date"] = timezone.localdate(shipped)
    return {**initial, **_item_initial(list(order.lines.all()))}


def claim_create(request):
    if not request.user.has_perm("refunds.handle_claim"):
        raise PermissionDenied
    shops = shops_for_user(request.user)
    initial = _initial_from_case(request) if request.method == "GET" else {}
    form = ClaimCreateForm(posted(request), request.FILES or None, shops=shops,
                           initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not user_serves_shop(request.user, data["shop"].pk):
            raise Http404
        try:
            claim = services.claim_create(shop=data["shop"], order=data["order"],
                                          case=data["case"], actor=request.user,
                                          photos=data["photos"], **form.claim_values())
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Claim #%(id)s registered.") % {"id": claim.pk})
            return redirect(claim)
    return render(request, "refunds/claim_form.html", {"form": form},
                  status=400 if request.method == "POST" else 200)


def _detail_context(request, claim: CarrierClaim, bound: dict | None = None) -> dict:
    bound = bound or {}
    user = request.user
    actions = [bound.get(t.name) or CLAIM_ACTION_FORMS[t.name](claim=claim)
               for t in claim.get_available_user_state_transitions(user)
               if t.name in CLAIM_ACTION_FORMS]
    can_handle = services.can_handle_claims(user, claim.shop_id)
    photos = list(claim.photos.all())
    return {
        "claim": claim,
        "order": claim.order,
        "photos": photos,
        "events": claim.events.all(),
        "missing": (services.claim_missing(claim, photo_count=len(photos))
                    if claim.state in services.EDITABLE_STATES else []),
        "action_forms": actions,
        "edit_form": bound.get("edit") or (
            ClaimEditForm(claim=claim)
            if can_handle and claim.state in services.EDITABLE_STATES else None),
        "photos_form": bound.get("photos") or (
            ClaimPhotosForm(claim=claim) if can_handle and claim.is_open else None),
    }


def claim_detail_view(request, pk: int):
    _require_view(request)
    claim = claim_detail(request.user, pk)
    return render(request, "refunds/claim_detail.html", _detail_context(request, claim))


def _render_invalid(request, claim: CarrierClaim, name: str, form):
    context = _detail_context(request, claim_detail(request.user, claim.pk), {name: form})
    context["open_form"] = name
    messages.error(request, _("Please correct the errors below."))
    return render(request, "refunds/claim_detail.html", context, status=400)


def _claim_or_404(request, pk: int) -> CarrierClaim:
    _require_view(request)
    return get_object_or_404(claims_for_user(request.user).select_related("shop", "order"),
                             pk=pk)


CHANGED = services.ClaimChanged.default_message  # lazy: in the language of each request


@require_POST
def claim_action(request, pk: int, action: str):
    claim = _claim_or_404(request, pk)
    form_class = CLAIM_ACTION_FORMS.get(action)
    if form_class is None:
        raise Http404
    form = form_class(request.POST, claim=claim)
    return submit(
        request, form,
        lambda data: SERVICES[action](claim=claim, actor=request.user,
                                      expected_state=data["expected_state"],
                                      **form.service_kwargs()),
        back=claim, done=_("Done: %(action)s.") % {"action": services.action_label(action)},
        invalid=lambda form: _render_invalid(request, claim, action, form),
        changed=str(CHANGED))


@require_POST
def claim_edit(request, pk: int):
    claim = _claim_or_404(request, pk)
    form = ClaimEditForm(request.POST, claim=claim)

    def perform(data):
        values = dict(data)
        if not values.get("sender_id_number"):  # the form shows it masked: empty keeps it
            values.pop("sender_id_number", None)
        return services.claim_update(claim=claim, actor=request.user,
                                     expected_state=values.pop("expected_state"),
                                     expected_version=values.pop("version"), **values)

    return submit(request, form, perform, back=claim, done=_("Saved."),
                  invalid=lambda form: _render_invalid(request, claim, "edit", form),
                  changed=str(CHANGED))


@require_POST
def claim_photos(request, pk: int):
    claim = _claim_or_404(request, pk)
    form = ClaimPhotosForm(request.POST, request.FILES, claim=claim)
    return submit(
        request, form,
        lambda data: services.claim_add_photos(claim=claim, actor=request.user,
                                               photos=data["photos"]),
        back=claim,
        done=lambda count: ngettext("%(count)s photo added.", "%(count)s photos added.",
                                    count) % {"count": count},
        invalid=lambda form: _render_invalid(request, claim, "photos", form))


def claim_photo(request, pk: int):
    """A claim photo, only for staff of the claim's shop (404 for anyone else)."""
    _require_view(request)
    photo = get_object_or_404(ClaimPhoto.objects.select_related("claim"), pk=pk)
    if not user_serves_shop(request.user, photo.claim.shop_id):
        raise Http404
    return photo_response(photo)

