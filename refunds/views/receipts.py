"""The buyer's confirm-receipt window (延长收货): the orders whose window runs while a case is
open, and an order's window with the two records of the seller centre (extended, read).
Thin: parse the form, call `refunds.services.receipts`, turn a domain error into a message."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..exceptions import PermissionDeniedError
from ..forms import ReceiptExtendForm, ReceiptReadForm
from ..models import Case, Order, Policy
from ..pagination import CappedPaginator
from ..selectors import RECEIPT_FILTERS, open_cases_of, receipt_windows, scope_to_user
from ..services import receipts as services
from .actions import submit

ORDERS_PER_PAGE = 50
# Rows counted at most (five pages; further pages count further): each row counted costs an
# open-case check, and a count to the default cap took 31 ms of PostgreSQL's 48 ms floor at
# a million orders (docs/PERFORMANCE.md).
COUNT_CAP = 250
CHANGED = services.ReceiptChanged.default_message  # lazy: in the language of each request
FORMS = {"extend": ReceiptExtendForm, "read": ReceiptReadForm}


def _require_view(request) -> None:
    if not request.user.has_perm("refunds.view_order"):
        raise PermissionDenied


def receipt_list(request):
    """Shipped orders with an open case, the soonest to complete by itself first."""
    _require_view(request)
    now = timezone.now()
    due = request.GET.get("due", "")
    due = due if due in RECEIPT_FILTERS else ""
    number = request.GET.get("page")
    page = CappedPaginator(receipt_windows(request.user, now, due), ORDERS_PER_PAGE,
                           cap=COUNT_CAP, count_unordered=True, page=number).get_page(number)
    cases = open_cases_of(page.object_list)
    rows = []
    for order in page.object_list:
        window = services.window_of(order, order.shop.policy)
        rows.append({"order": order, "window": window,
                     "warn": window.warn(now, order.shop.policy),
                     "passed": window.confirm_by is not None and window.confirm_by <= now,
                     "cases": cases.get(order.pk, [])})
    return render(request, "refunds/receipt_list.html", {
        "page": page, "rows": rows, "due": due, "query": f"due={due}" if due else "",
        "may_extend": request.user.has_perm("refunds.extend_receipt"),
    })


def _order_or_404(request, pk: int) -> Order:
    _require_view(request)
    return get_object_or_404(scope_to_user(Order.objects.select_related("shop", "buyer"),
                                           request.user), pk=pk)


def _case_id(value) -> int | None:
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None


def _page(request, order: Order, bound: dict | None = None, status: int = 200):
    bound = bound or {}
    now = timezone.now()
    policy = Policy.objects.get(shop_id=order.shop_id)
    window = services.window_of(order, policy)
    cases = list(Case.objects.filter(order=order).order_by("id"))
    case_id = _case_id(request.GET.get("case"))
    for form in bound.values():  # a form posted back with its errors: the case it came with
        case_id = case_id or _case_id(form.data.get(form.add_prefix("case")))
    passed = window.confirm_by is not None and window.confirm_by <= now
    forms = {}
    if window.applies and services.can_extend_receipts(request.user, order.shop_id):
        kwargs = {"order": order, "cases": cases,
                  "case_id": case_id if case_id in {c.pk for c in cases} else None}
        # after the date only a later date read in the seller centre can be recorded
        if window.confirm_by is not None and window.extensions_left and not passed:
            forms["extend"] = bound.get("extend") or ReceiptExtendForm(**kwargs)
        forms["read"] = bound.get("read") or ReceiptReadForm(**kwargs)
    return render(request, "refunds/receipt_order.html", {
        "order": order, "policy": policy, "window": window,
        "warn": window.warn(now, policy), "passed": passed,
        "open_cases": [case for case in cases if case.is_open], "forms": forms,
        "changes": order.receipt_changes.select_related("actor", "case").order_by(
            "-created_at", "-id"),
    }, status=status)


def receipt_order(request, pk: int):
    return _page(request, _order_or_404(request, pk))


def _post(request, pk: int, name: str, perform, done):
    order = _order_or_404(request, pk)
    url = reverse("refunds:receipt_order", args=[order.pk])
    if not services.can_extend_receipts(request.user, order.shop_id):
        messages.error(request, PermissionDeniedError.default_message)
        return redirect(url)
    form = FORMS[name](request.POST, order=order, cases=Case.objects.filter(order=order))

    def back():
        case = form.cleaned_data.get("case") if form.is_valid() else None
        return redirect(f"{url}?case={case.pk}" if case else url)

    def invalid(form):
        messages.error(request, _("Please correct the errors below."))
        return _page(request, order, {name: form}, status=400)

    return submit(request, form, lambda data: perform(order, data), back=back, done=done,
                  invalid=invalid, changed=str(CHANGED))


def _recorded(change) -> str:
    when = _local(change.confirm_by)
    if change.order.confirm_receipt_estimated:
        return _("Recorded: the order confirms receipt by itself not before %(when)s "
                 "(estimated: read the date in the seller centre).") % {"when": when}
    return _("Recorded: the order confirms receipt by itself at %(when)s.") % {"when": when}


@require_POST
def receipt_extend(request, pk: int):
    return _post(request, pk, "extend", lambda order, data: services.receipt_extend(
        order=order, actor=request.user, days=data["days"], case=data["case"],
        expected_confirm_by=data["expected_confirm_by"], note=data["note"]),
        done=_recorded)


@require_POST
def receipt_read(request, pk: int):
    return _post(request, pk, "read", lambda order, data: services.receipt_read(
        order=order, actor=request.user, confirm_by=data["confirm_by"], case=data["case"],
        expected_confirm_by=data["expected_confirm_by"], note=data["note"]),
        done=_recorded)


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
