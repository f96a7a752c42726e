"""Review follow-up pages (中差评). Thin: parse the form, call the service, turn a domain error
into a message."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..exceptions import DomainError
from ..filters import FollowUpFilter
from ..forms import (
    FOLLOWUP_ACTION_FORMS,
    ContactForm,
    FollowUpAssignForm,
    FollowUpCreateForm,
    FollowUpDetailsForm,
)
from ..models import ReviewFollowUp
from ..permissions import user_serves_shop
from ..replies import FOLLOWUP_REPLY_CATEGORIES, values_for_followup
from ..selectors import (
    followup_detail,
    followup_queue,
    followups_for_user,
    shops_for_user,
)
from ..services import followups as services
from ..services.contacts import can_override
from .actions import attempt, expected_assignee, posted, submit
from .contacts import contact_context

SERVICES = {
    "start_contact": services.followup_start_contact,
    "offer_remedy": services.followup_offer_remedy,
    "mark_revised": services.followup_mark_revised,
    "buyer_refuse": services.followup_buyer_refuse,
    "mark_unreachable": services.followup_mark_unreachable,
    "appeal": services.followup_appeal,
    "appeal_won": services.followup_appeal_won,
    "appeal_lost": services.followup_appeal_lost,
    "close": services.followup_close,
}


def _require_view(request) -> None:
    if not request.user.has_perm("refunds.view_reviewfollowup"):
        raise PermissionDenied


def followup_list(request):
    _require_view(request)
    followup_filter = FollowUpFilter(request.GET or None, queryset=followup_queue(request.user),
                                     request=request)
    page = Paginator(followup_filter.qs, settings.CASES_PER_PAGE).get_page(
        request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "refunds/followup_list.html", {
        "filter": followup_filter, "page": page, "query": query.urlencode(),
    })


def _detail_context(request, follow_up: ReviewFollowUp, bound: dict | None = None) -> dict:
    bound = bound or {}
    user = request.user
    actions = [bound.get(t.name) or FOLLOWUP_ACTION_FORMS[t.name](follow_up=follow_up)
               for t in follow_up.get_available_user_state_transitions(user)
               if t.name in FOLLOWUP_ACTION_FORMS]
    can_work = user.has_perm("refunds.work_followup") and user_serves_shop(user, follow_up.shop_id)
    contact_form = bound.get("contact")
    if contact_form is None and user.has_perm("refunds.log_contact"):
        contact_form = ContactForm(action=follow_up_url(follow_up, "followup_contact"),
                                   can_override=can_override(user))
    policy = follow_up.shop.policy
    return {
        "follow_up": follow_up,
        "review": follow_up.review,
        "order": follow_up.order,
        "events": follow_up.events.all(),
        "action_forms": actions,
        "details_form": bound.get("details") or (
            FollowUpDetailsForm(follow_up=follow_up) if can_work else None),
        "assign_form": (FollowUpAssignForm(follow_up=follow_up)
                        if user.has_perm("refunds.assign_followup") else None),
        "can_claim": follow_up.is_open and follow_up.assignee_id != user.pk and can_work
        and (follow_up.assignee_id is None or user.has_perm("refunds.assign_followup")),
        "unreachable_after": policy.review_unreachable_attempts,
        **contact_context(request, buyer=follow_up.buyer, contact_form=contact_form,
                          replies_for=FOLLOWUP_REPLY_CATEGORIES,
                          values=values_for_followup(follow_up), policy=policy),
    }


def follow_up_url(follow_up: ReviewFollowUp, name: str) -> str:
    return reverse(f"refunds:{name}", args=[follow_up.pk])


def followup_detail_view(request, pk: int):
    _require_view(request)
    follow_up = followup_detail(request.user, pk)
    return render(request, "refunds/followup_detail.html", _detail_context(request, follow_up))


def _render_invalid(request, follow_up: ReviewFollowUp, name: str, form):
    context = _detail_context(request, followup_detail(request.user, follow_up.pk),
                              {name: form})
    context["open_form"] = name
    messages.error(request, _("Please correct the errors below."))
    return render(request, "refunds/followup_detail.html", context, status=400)


def _followup_or_404(request, pk: int) -> ReviewFollowUp:
    _require_view(request)
    return get_object_or_404(
        followups_for_user(request.user).select_related("shop__policy", "order", "review",
                                                         "buyer"), pk=pk)


@require_POST
def followup_action(request, pk: int, action: str):
    follow_up = _followup_or_404(request, pk)
    form_class = FOLLOWUP_ACTION_FORMS.get(action)
    if form_class is None:
        raise Http404
    form = form_class(request.POST, follow_up=follow_up)
    return submit(
        request, form,
        lambda data: SERVICES[action](follow_up=follow_up, actor=request.user,
                                      expected_state=data["expected_state"],
                                      **form.service_kwargs()),
        back=follow_up, done=_("Done: %(action)s.") % {"action": services.action_label(action)},
        invalid=lambda form: _render_invalid(request, follow_up, action, form),
        changed=_("This follow-up changed while you were looking at it. Reload and try again."))


@require_POST
def followup_contact(request, pk: int):
    follow_up = _followup_or_404(request, pk)
    form = ContactForm(request.POST, action=follow_up_url(follow_up, "followup_contact"),
                       can_override=can_override(request.user))
    return submit(
        request, form,
        lambda data: services.followup_contact_log_create(follow_up=follow_up,
                                                          actor=request.user, **data),
        back=follow_up, done=_("Contact logged."),
        invalid=lambda form: _render_invalid(request, follow_up, "contact", form))


@require_POST
def followup_details(request, pk: int):
    follow_up = _followup_or_404(request, pk)
    return submit(
        request, FollowUpDetailsForm(request.POST, follow_up=follow_up),
        lambda data: services.followup_update_details(follow_up=follow_up, actor=request.user,
                                                      **data),
        back=follow_up, done=_("Saved."),
        invalid=lambda form: _render_invalid(request, follow_up, "details", form))


@require_POST
def followup_assign(request, pk: int):
    follow_up = _followup_or_404(request, pk)
    return submit(
        request, FollowUpAssignForm(request.POST, follow_up=follow_up),
        lambda data: services.followup_assign(follow_up=follow_up, actor=request.user,
                                              assignee=data["assignee"]),
        back=follow_up, done=_("Follow-up assigned."),
        invalid=_("Choose a colleague who serves this shop."))


@require_POST
def followup_claim(request, pk: int):
    follow_up = _followup_or_404(request, pk)
    return attempt(
        request,
        lambda: services.followup_assign(follow_up=follow_up, actor=request.user,
                                         assignee=request.user,
                                         expected_assignee_id=expected_assignee(request.POST)),
        back=follow_up, done=_("The follow-up is yours."))


def followup_create(request):
    if not request.user.has_perm("refunds.add_reviewfollowup"):
        raise PermissionDenied
    shops = list(shops_for_user(request.user))
    form = FollowUpCreateForm(posted(request), shops=shops_for_user(request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not user_serves_shop(request.user, data["shop"].pk):
            raise Http404
        try:
            follow_up = services.followup_create(
                shop=data["shop"], order=data["order"], rating=data["rating"],
                item_title=data["item_title"], content=data["content"],
                posted_at=data["posted_at"], category=data["category"], actor=request.user,
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Follow-up #%(id)s opened.") % {"id": follow_up.pk})
            return redirect(follow_up)
    return render(request, "refunds/followup_form.html", {"form": form, "shops": shops},
                  status=400 if request.method == "POST" else 200)
