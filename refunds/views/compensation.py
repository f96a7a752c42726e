"""Compensation (补偿) on the case page: propose, approve / decline, mark issued.

Thin like the case views: parse the form, call the service, turn a domain error into a
message and a redirect to the case.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..forms import COMPENSATION_FORMS, CompensationProposeForm
from ..models import Case
from ..models.compensation import APPROVED_STATES
from ..permissions import user_serves_shop
from ..selectors import case_compensations, cases_for_user, compensations_for_user
from ..services import compensation as compensation_services
from ..submissions import once
from .actions import submit

SERVICES = {
    "approve": compensation_services.compensation_approve,
    "decline": compensation_services.compensation_decline,
    "mark_paid": compensation_services.compensation_mark_issued,
}


def compensation_context(request, case: Case, bound: dict | None = None) -> dict:
    """The case page's compensation section: the rows, their buttons, the proposal form.

    No query when the case has none (`has_compensations` comes with the case's own query).
    """
    bound = bound or {}
    user = request.user
    rows = []
    compensations = list(case_compensations(case))
    approved = sum((c.amount for c in compensations if c.state in APPROVED_STATES), Decimal(0))
    for compensation in compensations:
        # what else is approved on the case counts towards the approval limit (no query)
        compensation.approved_before = approved - (
            compensation.amount if compensation.state in APPROVED_STATES else 0)
        forms = []
        for transition in compensation.get_available_user_state_transitions(user):
            if transition.name == "mark_paid" and compensation.is_cash:
                continue  # money is paid by finance, through the payout
            forms.append(bound.get((compensation.pk, transition.name))
                         or COMPENSATION_FORMS[transition.name](compensation=compensation))
        rows.append({"compensation": compensation, "forms": forms})
    can_propose = user.has_perm("refunds.propose_compensation") and user_serves_shop(
        user, case.shop_id)
    limit = case.shop.policy.compensation_limit
    return {
        "compensations": rows,
        "compensation_limit": case.order.postage if limit is None else limit,
        "compensation_form": bound.get("propose")
        or (CompensationProposeForm(case=case) if can_propose else None),
    }


@require_POST
def compensation_propose(request, pk: int):
    case = get_object_or_404(cases_for_user(request.user), pk=pk)
    if not request.user.has_perm("refunds.propose_compensation"):
        raise PermissionDenied

    def propose(data: dict):
        token = data.pop("submission")
        return once(token=token, user=request.user, what="compensation_propose",
                    perform=lambda: compensation_services.compensation_propose(
                        case=case, actor=request.user, **data),
                    url_of=lambda _compensation: case.get_absolute_url())

    return submit(
        request, CompensationProposeForm(request.POST, case=case), propose,
        back=case, done=_("Compensation proposed."),
        invalid=lambda form: _render_case_with(request, case, {"propose": form}))


@require_POST
def compensation_action(request, pk: int, action: str):
    compensation = get_object_or_404(
        compensations_for_user(request.user).select_related("case__shop__policy", "order"),
        pk=pk)
    form_class = COMPENSATION_FORMS.get(action)
    if form_class is None:
        raise Http404
    case = compensation.case
    form = form_class(request.POST, compensation=compensation)
    return submit(
        request, form,
        lambda data: SERVICES[action](compensation=compensation, actor=request.user,
                                      expected_state=data["expected_state"],
                                      **form.service_kwargs()),
        back=case,
        done=_("Done: %(action)s.") % {"action": compensation_services.action_label(action)},
        invalid=lambda form: _render_case_with(request, case, {(compensation.pk, action): form}),
        changed=_("This compensation changed while you were looking at it. Reload and try "
                  "again."))


def _render_case_with(request, case, bound: dict):
    from .cases import render_case_with  # cases imports this module

    return render_case_with(request, case, bound, "compensation")
