"""Finance (/finance/): payouts to pay, export batches, paid / failed / retried.

Thin: the services check state, permission and shop on locked rows; a domain error becomes a
message and a redirect back to where the user was.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..exceptions import DomainError
from ..exports import payout_batch_file
from ..forms import PAYOUT_FORMS, PayoutExportForm, PayoutRouteForm
from ..models import Payout, PayoutState
from ..selectors import (
    payout_batch_rows,
    payout_batches_for_user,
    payout_list,
    payouts_for_user,
    payouts_paid_by_platform_in_batch,
    recent_payout_batches,
    shops_for_user,
)
from ..services import payouts as payout_services
from .actions import submit
from .params import shop_param

PAYOUTS_PER_PAGE = 50

SERVICES = {
    "mark_paid": payout_services.payout_mark_paid,
    "mark_failed": payout_services.payout_mark_failed,
    "retry": payout_services.payout_retry,
}

TABS = [PayoutState.PENDING, PayoutState.EXPORTED, PayoutState.FAILED, PayoutState.PAID]


def _require_view(user) -> None:
    """Finance's pages: for those who pay (finance, managers), not everyone who may read a
    payout on a case page."""
    if not (user.has_perm("refunds.view_payout") and user.has_perm("refunds.mark_refunded")):
        raise PermissionDenied


def _rows(user, payouts, next_url: str = "") -> list[dict]:
    """Each payout with the forms of what this user may do to it now."""
    can_pay = user.has_perm("refunds.mark_refunded")
    rows = []
    for payout in payouts:
        forms = []
        if can_pay:
            forms = [PAYOUT_FORMS[t.name](payout=payout, next_url=next_url)
                     for t in payout.get_available_user_state_transitions(user)
                     if t.name in PAYOUT_FORMS]
        route_form = None
        if can_pay and payout.state in (PayoutState.PENDING, PayoutState.FAILED):
            route_form = PayoutRouteForm(payout=payout, next_url=next_url)
        rows.append({"payout": payout, "forms": forms, "route_form": route_form})
    return rows


def finance_home(request):
    _require_view(request.user)
    state = request.GET.get("state") or PayoutState.PENDING
    if state not in PayoutState.values:
        state = PayoutState.PENDING
    shops = shops_for_user(request.user)
    shop_id = shop_param(request)
    page = Paginator(payout_list(request.user, state, shop_id),
                     PAYOUTS_PER_PAGE).get_page(request.GET.get("page"))
    can_export = request.user.has_perm("refunds.export_payouts")
    return render(request, "refunds/finance_home.html", {
        "tabs": [(tab.value, tab.label) for tab in TABS],
        "state": state,
        "page_query": urlencode({"state": state, **({"shop": shop_id} if shop_id else {})}),
        "shops": shops,
        "shop_id": shop_id,
        "page": page,
        "rows": _rows(request.user, page.object_list, request.get_full_path()),
        "export_form": PayoutExportForm(shops=shops) if can_export else None,
        "batches": recent_payout_batches(request.user),
    })


@require_POST
def payout_export(request):
    if not request.user.has_perm("refunds.export_payouts"):
        raise PermissionDenied
    form = PayoutExportForm(request.POST, shops=shops_for_user(request.user))
    if not form.is_valid():
        messages.error(request, _("Choose one of your shops."))
        return redirect("refunds:finance_home")
    try:
        batch = payout_services.payout_batch_export(shop=form.cleaned_data["shop"],
                                                    actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("refunds:finance_home")
    if batch is None:
        messages.info(request, _("No pending payouts to export."))
        return redirect("refunds:finance_home")
    messages.success(request, _("Batch #%(batch)s: %(count)s payouts, ¥%(total)s.") % {
        "batch": batch.pk, "count": batch.payout_count, "total": batch.total})
    return redirect("refunds:payout_batch", pk=batch.pk)


def payout_batch(request, pk: int):
    _require_view(request.user)
    batch = get_object_or_404(payout_batches_for_user(request.user), pk=pk)
    # A batch holds every payout pending at export: thousands for a busy shop (3,257 for one
    # shop of the full-size benchmark), each row with its forms — paged like the payout list.
    page = Paginator(payout_batch_rows(batch).select_related("compensation"),
                     PAYOUTS_PER_PAGE).get_page(request.GET.get("page"))
    # Every page of the batch warns of all of them: few, and the bank must not pay any.
    paid_by_platform = list(payouts_paid_by_platform_in_batch(batch))
    return render(request, "refunds/finance_batch.html", {
        "batch": batch,
        "paid_by_platform": paid_by_platform,
        "paid_by_platform_total": sum((p.amount for p in paid_by_platform), Decimal("0.00")),
        "page": page,
        "rows": _rows(request.user, page.object_list, request.get_full_path()),
    })


def payout_batch_download(request, pk: int, fmt: str):
    _require_view(request.user)
    if fmt not in ("xlsx", "csv"):
        raise Http404
    batch = get_object_or_404(payout_batches_for_user(request.user), pk=pk)
    content, content_type, name = payout_batch_file(batch, fmt)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _back(request, payout: Payout):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(f"{reverse('refunds:finance_home')}?state={payout.state}")


@require_POST
def payout_action(request, pk: int, action: str):
    _require_view(request.user)
    payout = get_object_or_404(payouts_for_user(request.user).select_related("case", "order"),
                               pk=pk)
    form_class = PAYOUT_FORMS.get(action)
    if form_class is None:
        raise Http404
    form = form_class(request.POST, payout=payout)
    return submit(
        request, form,
        lambda data: SERVICES[action](payout=payout, actor=request.user,
                                      expected_state=data["expected_state"],
                                      **form.service_kwargs()),
        back=lambda: _back(request, payout),
        done=_("Payout #%(id)s: %(action)s.") % {
            "id": payout.pk, "action": payout_services.action_label(action)},
        invalid=lambda form: _form_refused(request, payout, action, form),
        changed=_("This payout changed while you were looking at it. Reload and try again."))


def _form_refused(request, payout: Payout, action: str, form):
    """The finance list has no room for a form's errors: they are said in one message."""
    messages.error(request, _("%(action)s: %(errors)s") % {
        "action": payout_services.action_label(action),
        "errors": " ".join(str(e) for errors in form.errors.values() for e in errors)})
    return _back(request, payout)


@require_POST
def payout_route(request, pk: int):
    _require_view(request.user)
    payout = get_object_or_404(payouts_for_user(request.user), pk=pk)
    return submit(
        request, PayoutRouteForm(request.POST, payout=payout),
        lambda data: payout_services.payout_change_route(
            payout=payout, actor=request.user, route=data["route"], account=data["account"],
            expected_state=data["expected_state"]),
        back=lambda: _back(request, payout),
        done=_("Payout #%(id)s: route changed.") % {"id": payout.pk},
        invalid=_("Choose how the money is paid."))
