"""Case pages. Thin: parse the form, call the service, turn a domain error into a message."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..exceptions import DomainError
from ..filters import CaseFilter
from ..forms import (
    ACTION_FORMS,
    AssignForm,
    CaseCreateForm,
    ContactForm,
    NoteForm,
    PhotoRequestForm,
    PhotosReceivedForm,
)
from ..models import Case
from ..pagination import CappedPaginator
from ..permissions import user_serves_shop
from ..replies import CASE_REPLY_CATEGORIES, values_for_case
from ..selectors import case_detail as select_case_detail
from ..selectors import (
    case_parcels,
    case_queue,
    cases_for_user,
    shops_for_user,
    unread_notifications,
)
from ..services import cases as case_services
from ..services import exchanges as exchange_services
from ..services.contacts import can_override
from ..services.money import money_breakdown
from ..submissions import AlreadySent, once
from .actions import attempt, expected_assignee, posted, submit
from .compensation import compensation_context
from .contacts import contact_context
from .exchanges import after_inspection_context

SERVICES = {
    "agree": case_services.case_agree,
    "refuse": case_services.case_refuse,
    "buyer_modify": case_services.case_buyer_modify,
    "record_return_shipment": case_services.case_record_return_shipment,
    "receive": case_services.case_receive,
    "approve_refund": case_services.case_approve_refund,
    "mark_refunded": case_services.case_mark_refunded,
    "mark_refund_failed": case_services.case_mark_refund_failed,
    "retry_refund": case_services.case_retry_refund,
    "close": case_services.case_close,
    "reopen": case_services.case_reopen,
    "ship_replacement": exchange_services.case_ship_replacement,
    "complete_exchange": exchange_services.case_complete_exchange,
    "open_dispute": case_services.case_open_dispute,
    "submit_dispute_evidence": case_services.case_submit_dispute_evidence,
    "dispute_for_buyer": case_services.case_dispute_for_buyer,
    "dispute_return_first": case_services.case_dispute_return_first,
    "dispute_for_shop": case_services.case_dispute_for_shop,
}


def case_list(request):
    case_filter = CaseFilter(request.GET or None, queryset=case_queue(request.user),
                             request=request)
    number = request.GET.get("page")
    page = CappedPaginator(case_filter.qs, settings.CASES_PER_PAGE, page=number).get_page(number)
    query = request.GET.copy()
    query.pop("page", None)
    notifications, unread_count, unread_last_id = unread_notifications(request.user)
    return render(request, "refunds/case_list.html", {
        "filter": case_filter,
        "page": page,
        "query": query.urlencode(),
        "notifications": notifications,
        "unread_count": unread_count,
        "unread_last_id": unread_last_id,
    })


def _detail_context(request, case: Case, bound: dict | None = None) -> dict:
    bound = bound or {}
    parcels = case_parcels(case)
    user = request.user
    actions = []
    for transition in case.get_available_user_state_transitions(user):
        form_class = ACTION_FORMS[transition.name]
        actions.append(bound.get(transition.name) or form_class(case=case))
    # A refund the state allows but the user may not approve: say who can, not just hide it.
    possible = {t.name for t in case.get_available_state_transitions()}
    withheld = (possible - {form.action for form in actions}) & {"agree", "approve_refund"}
    hint = None
    may_approve = user.has_perm("refunds.agree_case") or user.has_perm("refunds.approve_refund")
    if withheld and may_approve:
        hint = _("Above your approval limit of ¥%(limit)s: a supervisor must approve.") % {
            "limit": case.shop.policy.agent_approval_limit}
    can_log = user.has_perm("refunds.log_contact")
    return {
        "case": case,
        "order": case.order,
        "buyer": case.order.buyer,
        "money": money_breakdown(case.order),
        "events": case.events.all(),
        "refunds": case.refunds.all(),
        "action_forms": actions,
        "limit_hint": hint,
        **contact_context(
            request, buyer=case.order.buyer,
            contact_form=bound.get("contact") or (
                ContactForm(case=case, can_override=can_override(user)) if can_log else None),
            replies_for=CASE_REPLY_CATEGORIES, values=values_for_case(case),
            policy=case.shop.policy),
        "note_form": bound.get("note") or (NoteForm(case=case) if can_log else None),
        **_photo_forms(case, bound, can_log),
        "assign_form": AssignForm(case=case) if user.has_perm("refunds.assign_case") else None,
        "can_claim": case.is_open and case.assignee_id != user.pk
        and user.has_perm(case_services.CLAIM_PERMISSION)
        and (case.assignee_id is None or user.has_perm("refunds.assign_case")),
        **compensation_context(request, case, bound),
        "parcels": parcels,
        **after_inspection_context(request, case, parcels, bound),
    }


def _photo_forms(case: Case, bound: dict, can_log: bool) -> dict:
    """Ask for quality photos while the request waits for the shop (again once the buyer's
    time is up); say they came."""
    forms = {"photo_form": None, "photos_received_form": None}
    if not can_log:
        return forms
    if case_services.photos_received_refusal(case) is None:
        forms["photos_received_form"] = (bound.get("photos_received")
                                         or PhotosReceivedForm(case=case))
    if case_services.photos_request_refusal(case, timezone.now()) is None:
        forms["photo_form"] = bound.get("photos") or PhotoRequestForm(case=case)
    return forms


def case_detail(request, pk: int):
    case = select_case_detail(request.user, pk)
    return render(request, "refunds/case_detail.html", _detail_context(request, case))


def _render_invalid(request, case: Case, name: str, form):
    return render_case_with(request, case, {name: form}, name)


def render_case_with(request, case: Case, bound: dict, open_form: str):
    """The case page again, with the user's invalid form(s) and their errors (400)."""
    context = _detail_context(request, select_case_detail(request.user, case.pk), bound)
    context["open_form"] = open_form
    messages.error(request, _("Please correct the errors below."))
    return render(request, "refunds/case_detail.html", context, status=400)


@require_POST
def case_action(request, pk: int, action: str):
    case = get_object_or_404(cases_for_user(request.user).select_related("shop__policy", "order"),
                             pk=pk)
    form_class = ACTION_FORMS.get(action)
    if form_class is None:
        raise Http404
    form = form_class(request.POST, case=case)
    return submit(
        request, form,
        lambda data: SERVICES[action](case=case, actor=request.user,
                                      expected_state=data["expected_state"],
                                      **form.service_kwargs()),
        back=case, done=_("Done: %(action)s.") % {"action": case_services.action_label(action)},
        invalid=lambda form: _render_invalid(request, case, action, form),
        changed=_("This case changed while you were looking at it. Reload and try again."))


@require_POST
def case_contact(request, pk: int):
    case = get_object_or_404(
        cases_for_user(request.user).select_related("shop__policy", "order__buyer"), pk=pk)
    return submit(
        request, ContactForm(request.POST, case=case, can_override=can_override(request.user)),
        lambda data: case_services.contact_log_create(case=case, actor=request.user, **data),
        back=case, done=_("Contact logged."),
        invalid=lambda form: _render_invalid(request, case, "contact", form))


@require_POST
def case_note(request, pk: int):
    case = get_object_or_404(cases_for_user(request.user), pk=pk)
    return submit(
        request, NoteForm(request.POST, case=case),
        lambda data: case_services.case_add_note(case=case, actor=request.user,
                                                 note=data["note"]),
        back=case, done=_("Note added."),
        invalid=lambda form: _render_invalid(request, case, "note", form))


@require_POST
def case_request_photos(request, pk: int):
    case = get_object_or_404(cases_for_user(request.user).select_related("shop__policy"), pk=pk)
    if refusal := case_services.photos_request_refusal(case, timezone.now()):
        messages.error(request, refusal)  # the form is not on the page to show its errors
        return redirect(case)
    return submit(
        request, PhotoRequestForm(request.POST, case=case),
        lambda data: case_services.case_request_photos(case=case, actor=request.user,
                                                       note=data["note"]),
        back=case, done=lambda locked: _("Photos asked for, due %(due)s.") % {
            "due": timezone.localtime(locked.photos_due_at).strftime("%Y-%m-%d %H:%M")},
        invalid=lambda form: _render_invalid(request, case, "photos", form))


@require_POST
def case_photos_received(request, pk: int):
    case = get_object_or_404(cases_for_user(request.user), pk=pk)
    if refusal := case_services.photos_received_refusal(case):
        messages.error(request, refusal)
        return redirect(case)
    return submit(
        request, PhotosReceivedForm(request.POST, case=case),
        lambda data: case_services.case_photos_received(case=case, actor=request.user,
                                                        note=data["note"]),
        back=case, done=_("Photos received."),
        invalid=lambda form: _render_invalid(request, case, "photos_received", form))


@require_POST
def case_assign(request, pk: int):
    case = get_object_or_404(cases_for_user(request.user), pk=pk)
    return submit(
        request, AssignForm(request.POST, case=case),
        lambda data: case_services.case_assign(case=case, actor=request.user,
                                               assignee=data["assignee"]),
        back=case, done=_("Case assigned."),
        invalid=_("Choose a colleague who serves this shop."))


@require_POST
def case_claim(request, pk: int):
    case = get_object_or_404(cases_for_user(request.user), pk=pk)
    return attempt(
        request,
        lambda: case_services.case_assign(case=case, actor=request.user, assignee=request.user,
                                          expected_assignee_id=expected_assignee(request.POST)),
        back=case, done=_("The case is yours."))


def case_create(request):
    if not request.user.has_perm("refunds.add_case"):
        raise PermissionDenied
    shops = list(shops_for_user(request.user))
    form = CaseCreateForm(posted(request), shops=shops_for_user(request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not user_serves_shop(request.user, data["shop"].pk):
            raise Http404
        try:
            case = once(
                token=data["submission"], user=request.user, what="case_create",
                perform=lambda: case_services.case_create(
                    shop=data["shop"], order=data["order"], kind=data["kind"],
                    reason=data["reason"], requested_amount=data["requested_amount"],
                    goods_status=data["goods_status"], description=data["description"],
                    actor=request.user, source="manual"),
                url_of=lambda case: case.get_absolute_url(),
            )
        except AlreadySent as sent:  # a double click: show what the first one opened
            messages.info(request, _("This form was already sent and opened this case; to "
                                     "open another, start a new form."))
            return redirect(sent.result_url or "refunds:case_list")
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Case #%(id)s opened.") % {"id": case.pk})
            return redirect(case)
    return render(request, "refunds/case_form.html", {"form": form, "shops": shops},
                  status=400 if request.method == "POST" else 200)

