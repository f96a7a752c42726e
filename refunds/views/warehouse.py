"""The warehouse station (/warehouse/): scan a parcel, inspect it, the unmatched list (无主件),
the day's returns batch (退货明细表) and its downloads, and the parcel photos.

Thin: forms collect, the services in refunds.services.warehouse decide and change.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..exceptions import DomainError
from ..exports import return_batch_file
from ..forms import AttachParcelForm, InspectionForm, ScanForm, UnmatchedParcelForm
from ..models import Case, ParcelPhoto
from ..permissions import user_serves_shop
from ..selectors import (
    AWAITING_PARCEL_STATES,
    batch_parcels,
    cases_awaiting_parcel,
    cases_for_user,
    cases_with_tracking_no,
    parcels_for_user,
    shops_for_user,
    unmatched_parcels,
)
from ..services.cases import normalize_tracking_no
from ..services.warehouse import batch_date_for, parcel_inspect, parcel_register_unmatched
from ..timezones import CHINA
from .files import photo_response
from .params import shop_param


def _require_station(user) -> None:
    if not user.has_perm("refunds.receive_return"):
        raise PermissionDenied


def _require_view(user) -> None:
    if not user.has_perm("refunds.view_returnparcel"):
        raise PermissionDenied


def warehouse_home(request):
    """Scan: one case → its inspection; several → choose; none → the unmatched form."""
    _require_station(request.user)
    form = ScanForm(request.GET or None)
    context = {"form": form, "today": timezone.localdate(timezone=CHINA)}
    if form.is_valid():
        tracking_no = normalize_tracking_no(form.cleaned_data["tracking_no"])
        if not tracking_no:
            form.add_error("tracking_no", _("Enter the return tracking number."))
        else:
            matches = list(cases_awaiting_parcel(request.user, tracking_no))
            if len(matches) == 1:
                return redirect(f"{reverse('refunds:parcel_inspect', args=[matches[0].pk])}"
                                f"?tracking_no={tracking_no}")
            context.update(tracking_no=tracking_no, matches=matches)
            if not matches:
                context["earlier"] = list(cases_with_tracking_no(request.user, tracking_no)[:5])
                context["unmatched_form"] = UnmatchedParcelForm(
                    initial={"tracking_no": tracking_no},
                    shops=shops_for_user(request.user))
    return render(request, "refunds/warehouse_home.html", context)


def _inspect_context(request, case: Case, form, parcel) -> dict:
    return {"case": case, "order": case.order, "form": form, "parcel": parcel}


def parcel_inspect_view(request, pk: int):
    _require_station(request.user)
    case = get_object_or_404(
        cases_for_user(request.user).select_related("shop__policy", "order", "order__buyer")
        .prefetch_related("lines", "order__lines"), pk=pk)
    parcel = None
    parcel_id = request.POST.get("parcel") or request.GET.get("parcel")
    if parcel_id:
        try:
            parcel = get_object_or_404(parcels_for_user(request.user), pk=int(parcel_id),
                                       case__isnull=True)
        except ValueError:
            raise Http404 from None
    if case.state not in AWAITING_PARCEL_STATES:
        messages.error(request, _("Case #%(case)s is not waiting for a parcel (it is "
                                  "“%(state)s”).")
                       % {"case": case.pk, "state": case.get_state_display()})
        return redirect("refunds:warehouse_home")
    initial = {}
    if request.GET.get("tracking_no"):
        initial["tracking_no"] = normalize_tracking_no(request.GET["tracking_no"])
    if request.method != "POST":
        form = InspectionForm(case=case, parcel=parcel, initial=initial)
        return render(request, "refunds/parcel_inspect.html",
                      _inspect_context(request, case, form, parcel))
    form = InspectionForm(request.POST, request.FILES, case=case, parcel=parcel)
    if form.is_valid():
        data = form.cleaned_data
        try:
            parcel = parcel_inspect(
                case=case, actor=request.user, condition=data["condition"],
                quantity=data["quantity"], tracking_no=data.get("tracking_no") or "",
                carrier=data["carrier"], note=data["note"], photos=data["photos"],
                parcel=parcel, expected_state=data["expected_state"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Case #%(case)s received: %(condition)s, batch "
                                        "%(batch)s.") % {
                "case": case.pk, "condition": parcel.get_condition_display(),
                "batch": parcel.batch_date.isoformat()})
            return redirect("refunds:warehouse_home")
    messages.error(request, _("Please correct the errors below."))
    return render(request, "refunds/parcel_inspect.html",
                  _inspect_context(request, case, form, parcel), status=400)


@require_POST
def parcel_unmatched_create(request):
    _require_station(request.user)
    shops = shops_for_user(request.user)
    form = UnmatchedParcelForm(request.POST, request.FILES, shops=shops)
    if form.is_valid():
        data = form.cleaned_data
        try:
            parcel = parcel_register_unmatched(
                shop=data["shop"], actor=request.user, tracking_no=data["tracking_no"],
                carrier=data["carrier"], note=data["note"], photos=data["photos"])
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Parcel %(tracking)s is on the unmatched list.")
                             % {"tracking": parcel.tracking_no})
            return redirect("refunds:parcel_unmatched")
    messages.error(request, _("Please correct the errors below."))
    return render(request, "refunds/warehouse_home.html", {
        "form": ScanForm(), "unmatched_form": form, "matches": [],
        "tracking_no": request.POST.get("tracking_no", ""),
        "today": timezone.localdate(timezone=CHINA),
    }, status=400)


UNMATCHED_PER_PAGE = 50


def parcel_unmatched(request):
    _require_view(request.user)
    page = Paginator(unmatched_parcels(request.user), UNMATCHED_PER_PAGE).get_page(
        request.GET.get("page"))
    can_attach = request.user.has_perm("refunds.receive_return")
    return render(request, "refunds/parcel_unmatched.html", {
        "page": page,
        "rows": [{"parcel": p, "form": AttachParcelForm(parcel=p) if can_attach else None}
                 for p in page.object_list],
    })


@require_POST
def parcel_attach(request, pk: int):
    """Find the parcel's case by its number or its order id, then inspect it there."""
    _require_station(request.user)
    parcel = get_object_or_404(parcels_for_user(request.user), pk=pk, case__isnull=True)
    form = AttachParcelForm(request.POST, parcel=parcel)
    if not form.is_valid():
        messages.error(request, _("Enter a case number or an order id."))
        return redirect("refunds:parcel_unmatched")
    reference = form.cleaned_data["reference"].strip().lstrip("#")
    cases = cases_for_user(request.user).filter(shop_id=parcel.shop_id,
                                                state__in=AWAITING_PARCEL_STATES)
    found = list(cases.filter(order__platform_order_id=reference)[:2])
    # ASCII digits only: "²" or "①" are digits to str.isdigit() but not to int()
    if not found and reference.isascii() and reference.isdigit() and len(reference) < 12:
        found = list(cases.filter(pk=int(reference))[:2])
    if len(found) != 1:
        messages.error(request, _("No single case of %(shop)s waiting for a parcel matches "
                                  "“%(reference)s”.") % {"shop": parcel.shop.name,
                                                        "reference": reference})
        return redirect("refunds:parcel_unmatched")
    return redirect(f"{reverse('refunds:parcel_inspect', args=[found[0].pk])}"
                    f"?parcel={parcel.pk}")


# A batch day the desk can have: a date outside these (0001-01-01) is not a page.
FIRST_BATCH_DAY, LAST_BATCH_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _batch_date(value: str | None) -> date:
    try:
        day = date.fromisoformat(value) if value else timezone.localdate(timezone=CHINA)
    except ValueError:
        raise Http404 from None
    if not FIRST_BATCH_DAY <= day <= LAST_BATCH_DAY:
        raise Http404
    return day




def return_batch(request):
    """The day's returns batch (退货明细表); ?date=YYYY-MM-DD, ?shop=<id>."""
    _require_view(request.user)
    batch_date = _batch_date(request.GET.get("date"))
    shop_id = shop_param(request)
    shops = shops_for_user(request.user)
    parcels = list(batch_parcels(request.user, batch_date, shop_id))
    # the batch a parcel received now goes to, for each shop, to say where "now" falls
    now = timezone.now()
    return render(request, "refunds/return_batch.html", {
        "batch_date": batch_date,
        "parcels": parcels,
        "shops": shops,
        "shop_id": shop_id,
        "current_batches": [(shop, batch_date_for(now, shop.policy)) for shop in shops],
        "prev_date": date.fromordinal(batch_date.toordinal() - 1),
        "next_date": date.fromordinal(batch_date.toordinal() + 1),
    })


def return_batch_download(request, fmt: str):
    _require_view(request.user)
    if fmt not in ("xlsx", "csv"):
        raise Http404
    batch_date = _batch_date(request.GET.get("date"))
    parcels = batch_parcels(request.user, batch_date, shop_param(request))
    content, content_type, name = return_batch_file(parcels, batch_date, fmt)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


def parcel_photo(request, pk: int):
    """A parcel photo, only for staff of the parcel's shop (404 for anyone else)."""
    _require_view(request.user)
    photo = get_object_or_404(ParcelPhoto.objects.select_related("parcel"), pk=pk)
    if not user_serves_shop(request.user, photo.parcel.shop_id):
        raise Http404
    return photo_response(photo)
