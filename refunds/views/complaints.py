"""Complaint pages (维权 / 投诉): the list, recording one, the complaint page.
Thin: parse the form, call `refunds.services.complaints`, turn a domain error into a message."""

from __future__ import annotations

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
from ..exports import complaint_register_file
from ..filters import ComplaintFilter
from ..forms import COMPLAINT_ACTION_FORMS, ComplaintCreateForm, ComplaintEvidenceForm
from ..models import Complaint, ComplaintEvidence, ComplaintKind, Order, OrderStatus
from ..permissions import user_serves_shop
from ..selectors import (
    buyer_contacts_in_shop,
    cases_for_user,
    complaint_detail,
    complaint_register,
    complaints_for_user,
    followups_for_user,
    scope_to_user,
    shops_for_user,
)
from ..services import complaints as services
from ..submissions import AlreadySent, once
from .actions import posted, submit, submit_transition
from .files import photo_response, register_download

SERVICES = {
    "submit_evidence": services.complaint_submit_evidence,
    "rule_for_shop": services.complaint_rule_for_shop,
    "rule_for_buyer": services.complaint_rule_for_buyer,
    "withdraw": services.complaint_withdraw,
    "appeal": services.complaint_appeal,
    "uphold_appeal": services.complaint_uphold_appeal,
    "reject_appeal": services.complaint_reject_appeal,
}


def _require_view(request) -> None:
    if not request.user.has_perm("refunds.view_complaint"):
        raise PermissionDenied


def _filtered(request) -> ComplaintFilter:
    return ComplaintFilter(request.GET or None, queryset=complaint_register(request.user),
                           request=request)


def complaint_list(request):
    _require_view(request)
    complaint_filter = _filtered(request)
    rows = complaint_filter.qs
    page = Paginator(rows, settings.CASES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "refunds/complaint_list.html", {
        "filter": complaint_filter, "page": page, "query": query.urlencode(),
        "paid_total": services.paid_by_rulings(rows.order_by()),
        "now": timezone.now(),
        "can_record": request.user.has_perm("refunds.handle_dispute"),
    })


def complaint_register_download(request, fmt: str):
    """The complaints as the filters show them, every row (not one page)."""
    _require_view(request)
    return register_download(request, fmt, _filtered(request), complaint_register_file,
                             back="refunds:complaint_list")


def _digits(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isascii() and value.isdigit() else None  # "²".isdigit()


def _initial(request) -> dict:
    """A complaint recorded from a case, a review follow-up or an order to ship: the trade
    filled in (and a kind that fits)."""
    user, initial = request.user, {}
    order = None
    if (case_id := _digits(request, "case")) is not None:
        case = get_object_or_404(cases_for_user(user).select_related("order"), pk=case_id)
        order, initial["case"], initial["kind"] = case.order, case.pk, ComplaintKind.REFUND
    elif (follow_up_id := _digits(request, "follow_up")) is not None:
        follow_up = get_object_or_404(followups_for_user(user).select_related("order"),
                                      pk=follow_up_id)
        order, initial["follow_up"] = follow_up.order, follow_up.pk
        initial["kind"] = ComplaintKind.HARASSMENT
    elif (order_pk := _digits(request, "order")) is not None:
        order = get_object_or_404(scope_to_user(Order.objects.all(), user), pk=order_pk)
        if order.status == OrderStatus.PAID:
            initial["kind"] = ComplaintKind.LATE_SHIPMENT
    if order is not None:
        initial.update(shop=order.shop_id, order_id=order.platform_order_id)
    return initial


def complaint_create(request):
    if not request.user.has_perm("refunds.handle_dispute"):
        raise PermissionDenied
    shops = shops_for_user(request.user)
    initial = _initial(request) if request.method == "GET" else {}
    form = ComplaintCreateForm(posted(request), shops=shops, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not user_serves_shop(request.user, data["shop"].pk):
            raise Http404
        try:
            complaint = once(
                token=data["submission"], user=request.user, what="complaint_create",
                perform=lambda: services.complaint_create(
                    shop=data["shop"], order=data["order"], case=data["case"],
                    follow_up=data["follow_up"], actor=request.user,
                    **form.complaint_values()),
                url_of=lambda complaint: complaint.get_absolute_url())
        except AlreadySent as sent:  # a double click: show what the first one recorded
            messages.info(request, _("This form was already sent and recorded this complaint; "
                                     "to record another, start a new form."))
            return redirect(sent.result_url or "refunds:complaint_list")
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Complaint #%(id)s recorded; evidence due %(due)s.") % {
                "id": complaint.pk,
                "due": f"{timezone.localtime(complaint.evidence_due_at):%Y-%m-%d %H:%M}"})
            return redirect(complaint)
    return render(request, "refunds/complaint_form.html", {"form": form},
                  status=400 if request.method == "POST" else 200)


def _detail_context(request, complaint: Complaint, bound: dict | None = None) -> dict:
    bound = bound or {}
    user = request.user
    actions = [bound.get(t.name) or COMPLAINT_ACTION_FORMS[t.name](complaint=complaint)
               for t in complaint.get_available_user_state_transitions(user)
               if t.name in COMPLAINT_ACTION_FORMS]
    can_handle = services.can_handle_complaints(user, complaint.shop_id)
    may_add = complaint.state in services.EVIDENCE_STATES and not (
        complaint.state == "for_buyer" and complaint.appealed_at)
    return {
        "complaint": complaint,
        "order": complaint.order,
        "evidence": list(complaint.evidence.all()),
        "events": complaint.events.all(),
        "contacts": buyer_contacts_in_shop(complaint),
        "action_forms": actions,
        "evidence_form": bound.get("evidence") or (
            ComplaintEvidenceForm(complaint=complaint) if can_handle and may_add else None),
        "now": timezone.now(),
    }


def complaint_detail_view(request, pk: int):
    _require_view(request)
    complaint = complaint_detail(request.user, pk)
    return render(request, "refunds/complaint_detail.html", _detail_context(request, complaint))


def _render_invalid(request, complaint: Complaint, name: str, form):
    context = _detail_context(request, complaint_detail(request.user, complaint.pk),
                              {name: form})
    context["open_form"] = name
    messages.error(request, _("Please correct the errors below."))
    return render(request, "refunds/complaint_detail.html", context, status=400)


def _complaint_or_404(request, pk: int) -> Complaint:
    _require_view(request)
    return get_object_or_404(complaints_for_user(request.user).select_related("shop", "order"),
                             pk=pk)


CHANGED = services.ComplaintChanged.default_message  # lazy: in the language of each request


@require_POST
def complaint_action(request, pk: int, action: str):
    complaint = _complaint_or_404(request, pk)
    return submit_transition(
        request, complaint, action, COMPLAINT_ACTION_FORMS,
        perform=lambda form, data: SERVICES[action](
            complaint=complaint, actor=request.user, expected_state=data["expected_state"],
            **form.service_kwargs()),
        done=lambda _result: _("Done: %(action)s.") % {
            "action": services.action_label(action)},
        invalid=lambda form: _render_invalid(request, complaint, action, form),
        changed=str(CHANGED))


@require_POST
def complaint_evidence(request, pk: int):
    complaint = _complaint_or_404(request, pk)
    form = ComplaintEvidenceForm(request.POST, request.FILES, complaint=complaint)
    return submit(
        request, form,
        lambda data: services.complaint_add_evidence(
            complaint=complaint, actor=request.user, photos=data["photos"], kind=data["kind"],
            note=data["note"]),
        back=complaint,
        done=lambda count: ngettext("%(count)s screenshot added.",
                                    "%(count)s screenshots added.", count) % {"count": count},
        invalid=lambda form: _render_invalid(request, complaint, "evidence", form))


def complaint_evidence_file(request, pk: int):
    """A screenshot, only for staff of the complaint's shop (404 for anyone else)."""
    _require_view(request)
    evidence = get_object_or_404(ComplaintEvidence.objects.select_related("complaint"), pk=pk)
    if not user_serves_shop(request.user, evidence.complaint.shop_id):
        raise Http404
    return photo_response(evidence)
