"""After inspection, on the case page: the exchange (换货) replacement and its difference
(多退少补), the return postage, and the quality-problem options."""

from __future__ import annotations

from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..forms import BuyerPaidForm, ChooseReplacementForm, ReturnPostageForm
from ..models import Case, CaseKind, CaseReason, ParcelCondition
from ..permissions import user_serves_shop
from ..selectors import cases_for_user
from ..services import exchanges as exchange_services
from .actions import submit


def _can(user, case: Case, perm: str) -> bool:
    return user.has_perm(perm) and user_serves_shop(user, case.shop_id)


def after_inspection_context(request, case: Case, parcels: list, bound: dict | None = None,
                             ) -> dict:
    """The exchange card, the postage form and the quality options. No query of its own:
    the exchange and "postage settled" come with the case's query (selectors.case_detail)."""
    bound = bound or {}
    user = request.user
    exchange = getattr(case, "exchange", None) if case.kind == CaseKind.EXCHANGE else None
    context: dict = {"exchange": exchange}
    if case.kind == CaseKind.EXCHANGE:
        if ((exchange is None or exchange_services.ended_before(exchange))
                and case.state in exchange_services.CHOOSE_STATES
                and _can(user, case, "refunds.choose_replacement")):
            context["choose_form"] = bound.get("choose") or ChooseReplacementForm(case=case)
        if (exchange is not None and exchange.buyer_outstanding > 0
                and _can(user, case, "refunds.choose_replacement")):
            context["buyer_paid_form"] = bound.get("buyer_paid") or BuyerPaidForm(case=case)
    if (case.kind in (CaseKind.RETURN, CaseKind.EXCHANGE)
            and case.state in exchange_services.POSTAGE_STATES
            and not getattr(case, "has_postage_payout", False)
            and not getattr(case, "has_postage_compensation", False)
            and not getattr(case, "has_postage_decision", False)
            and _can(user, case, "refunds.approve_refund")):
        context["postage_form"] = bound.get("postage") or ReturnPostageForm(case=case)
        context["postage_shop_pays"] = case.reason in case.shop.policy.postage_reasons()
    quality = case.reason == CaseReason.QUALITY or any(
        p.condition == ParcelCondition.QUALITY_DEFECT for p in parcels)
    if quality and case.is_open:
        percent = case.shop.policy.quality_partial_refund_percent
        context["quality_offer"] = {
            "percent": percent,
            "amount": (case.requested_amount * Decimal(percent) / 100).quantize(Decimal("0.01")),
        }
    return context


def _case(request, pk: int) -> Case:
    return get_object_or_404(cases_for_user(request.user).select_related("shop__policy",
                                                                           "order"), pk=pk)


def _invalid(request, case: Case, name: str, form):
    from .cases import render_case_with

    return render_case_with(request, case, {name: form}, name)


@require_POST
def exchange_choose(request, pk: int):
    case = _case(request, pk)
    return submit(
        request, ChooseReplacementForm(request.POST, case=case),
        lambda data: exchange_services.exchange_choose_replacement(case=case, actor=request.user,
                                                                   **data),
        back=case, done=_("Replacement chosen."),
        invalid=lambda form: _invalid(request, case, "choose", form))


@require_POST
def exchange_buyer_paid(request, pk: int):
    case = _case(request, pk)
    return submit(
        request, BuyerPaidForm(request.POST, case=case),
        lambda data: exchange_services.exchange_buyer_paid(case=case, actor=request.user,
                                                           reference=data["reference"]),
        back=case, done=_("The buyer's payment is recorded."),
        invalid=lambda form: _invalid(request, case, "buyer_paid", form))


@require_POST
def return_postage(request, pk: int):
    case = _case(request, pk)
    return submit(
        request, ReturnPostageForm(request.POST, case=case),
        lambda data: exchange_services.return_postage_settle(case=case, actor=request.user,
                                                             **data),
        back=case,
        done=lambda payout: (_("Return postage: finance will pay ¥%(amount)s.")
                             % {"amount": payout.amount} if payout
                             else _("Return postage: recorded who pays.")),
        invalid=lambda form: _invalid(request, case, "postage", form))
