"""Stock-out pages (缺货): the list, reporting one on an order to ship, the stock-out page.
Thin: parse the form, call `refunds.services.stockouts`, turn a domain error into a message."""

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
from ..exports import stockout_register_file
from ..filters import StockOutFilter
from ..forms import STOCKOUT_ACTION_FORMS, ContactForm, StockOutReportForm
from ..models import OUTSTANDING_STOCKOUT, Order, StockOut
from ..replies import STOCKOUT_REPLY_CATEGORIES, values_for_stockout
from ..selectors import (
    scope_to_user,
    stockout_detail,
    stockout_register,
    stockouts_by_item,
    stockouts_for_user,
)
from ..services import stockouts as services
from ..services.contacts import can_override
from .actions import posted, submit, submit_transition
from .contacts import contact_context
from .files import register_download

SERVICES = {
    "buyer_agreed": services.stockout_buyer_agreed,
    "refund": services.stockout_refund,
    "refund_fell_through": services.stockout_refund_fell_through,
    "ship": services.stockout_ship,
    "withdraw": services.stockout_withdraw,
}
CHANGED = services.StockOutChanged.default_message  # lazy: in the language of each request


def _contact_url(stockout: StockOut) -> str:
    return reverse("refunds:stockout_contact", args=[stockout.pk])


def _require_view(request) -> None:
    if not request.user.has_perm("refunds.view_stockout"):
        raise PermissionDenied


def _filtered(request) -> StockOutFilter:
    return StockOutFilter(request.GET or None, queryset=stockout_register(request.user),
                          request=request)


def stockout_list(request):
    """Every stock-out of the user's shops (open ones first), filtered, with the items most
    often out of stock among them."""
    _require_view(request)
    register = _filtered(request)
    rows = register.qs
    page = Paginator(rows, settings.CASES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "refunds/stockout_list.html", {
        "filter": register, "page": page, "query": query.urlencode(),
        "by_item": stockouts_by_item(rows), "today": services.china_today(timezone.now()),
    })


def stockout_register_download(request, fmt: str):
    """The stock-outs as the filters show them, every row (not one page)."""
    _require_view(request)
    return register_download(request, fmt, _filtered(request), stockout_register_file,
                             back="refunds:stockout_list")


def stockout_report(request, pk: int):
    """Report an item of a paid order out of stock; GET shows the order and the form."""
    if not request.user.has_perm("refunds.report_stockout"):
        raise PermissionDenied
    order = get_object_or_404(
        scope_to_user(Order.objects.select_related("shop__policy", "buyer")
                      .prefetch_related("lines"), request.user), pk=pk)
    form = StockOutReportForm(posted(request), order=order)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            stockout = services.stockout_report(
                order=order, actor=request.user, line=data["line"], quantity=data["quantity"],
                restock_expected=data["restock_expected"], note=data["note"])
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Stock-out #%(id)s reported: now tell the buyer.")
                             % {"id": stockout.pk})
            return redirect(stockout)
    return render(request, "refunds/stockout_form.html", {
        "form": form, "order": order, "ship_by": services.ship_by(order),
        "open_stockouts": list(order.stockouts.filter(OUTSTANDING_STOCKOUT)
                               .select_related("line")),
    }, status=400 if request.method == "POST" else 200)


def _detail_context(request, stockout: StockOut, bound: dict | None = None) -> dict:
    bound = bound or {}
    user, now = request.user, timezone.now()
    told = services.buyer_was_told(stockout)
    # what "record what they chose" waits for: reached since a refund closed unpaid, if one did
    told_now = told and services.told_since_last_choice(stockout)
    # once the buyer was told, the report cannot be withdrawn; a refund case that gave money
    # back, or an order shipped since, is not sent back to the buyer (the services say why)
    hidden = {"withdraw"} if told else set()
    if not stockout.refund_closed_unpaid:
        hidden |= {"refund_fell_through", "ship"} if stockout.state == "refund" else set()
    actions = [bound.get(t.name) or STOCKOUT_ACTION_FORMS[t.name](stockout=stockout)
               for t in stockout.get_available_user_state_transitions(user)
               if t.name in STOCKOUT_ACTION_FORMS and t.name not in hidden]
    may_contact = stockout.is_open and user.has_perm("refunds.handle_stockout")
    contact_form = bound.get("contact") or (ContactForm(
        case=None, can_override=can_override(user),
        action=_contact_url(stockout)) if may_contact else None)
    pending = refund = blocked = None
    if stockout.is_open:  # (a refund closed unpaid keeps its case: the offer is anew)
        try:
            pending = services.pending_refund_request(stockout.order, stockout)
        except DomainError as error:
            blocked = error.message  # a request refused or in dispute: the refund says so
        else:
            refund = services.refund_offer(stockout, stockout.order)
    return {
        "stockout": stockout,
        "order": stockout.order,
        "ship_by": services.ship_by(stockout.order),
        "events": stockout.events.all(),
        "told": told_now,
        "pending_request": pending,
        "action_forms": actions,
        "refund_share": refund,
        "refund_blocked": blocked,
        "now": now,
        "agreed_late": bool(stockout.agreed_ship_by)
        and stockout.agreed_ship_by < services.china_today(now),
        # the contact card of the case and follow-up pages: canned replies (缺货 first),
        # the guard's rules, do-not-contact, every contact with the buyer in the user's shops
        **contact_context(request, buyer=stockout.order.buyer, contact_form=contact_form,
                          replies_for=STOCKOUT_REPLY_CATEGORIES,
                          values=values_for_stockout(stockout, refund),
                          policy=stockout.shop.policy),
    }


def stockout_detail_view(request, pk: int):
    _require_view(request)
    stockout = stockout_detail(request.user, pk)
    return render(request, "refunds/stockout_detail.html", _detail_context(request, stockout))


def _render_invalid(request, stockout: StockOut, name: str, form):
    context = _detail_context(request, stockout_detail(request.user, stockout.pk),
                              {name: form})
    context["open_form"] = name
    messages.error(request, _("Please correct the errors below."))
    return render(request, "refunds/stockout_detail.html", context, status=400)


def _stockout_or_404(request, pk: int) -> StockOut:
    _require_view(request)
    return get_object_or_404(
        stockouts_for_user(request.user).select_related("shop", "order__buyer"), pk=pk)


@require_POST
def stockout_action(request, pk: int, action: str):
    stockout = _stockout_or_404(request, pk)
    return submit_transition(
        request, stockout, action, STOCKOUT_ACTION_FORMS,
        perform=lambda form, data: SERVICES[action](
            stockout=stockout, actor=request.user, expected_state=data["expected_state"],
            **form.service_kwargs()),
        done=lambda _result: _("Done: %(action)s.") % {
            "action": services.action_label(action)},
        invalid=lambda form: _render_invalid(request, stockout, action, form),
        changed=str(CHANGED))


@require_POST
def stockout_contact(request, pk: int):
    stockout = _stockout_or_404(request, pk)
    form = ContactForm(request.POST, case=None, can_override=can_override(request.user),
                       action=_contact_url(stockout))
    return submit(
        request, form,
        lambda data: services.stockout_contact(stockout=stockout, actor=request.user, **data),
        back=stockout, done=_("Contact logged."),
        invalid=lambda form: _render_invalid(request, stockout, "contact", form))
