"""`lean_field` / `lean_form` write the same markup as crispy's bootstrap5 pack.

The queue and the case page render their forms through refunds/templatetags/lean_forms.py
(for speed); these tests render each of those forms both ways, unbound and bound with errors,
and compare the HTML once whitespace between tags is set aside.
"""

from __future__ import annotations

import re

import pytest
from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from crispy_forms.utils import render_crispy_form
from django.test import RequestFactory

from refunds.filters import CaseFilter
from refunds.forms import (
    ACTION_FORMS,
    PAYOUT_FORMS,
    AssignForm,
    AttachParcelForm,
    BuyerPaidForm,
    ChooseReplacementForm,
    CompensationProposeForm,
    ContactForm,
    NoteForm,
    PayoutRouteForm,
    ReturnPostageForm,
)
from refunds.models import Case, Payout, ReturnParcel
from refunds.services.cases import case_agree
from refunds.templatetags.lean_forms import lean_field, render_field, render_form
from tests.factories import make_case

TOKEN = "t0ken"


def _normal(html: str) -> str:
    html = re.sub(r"\s+", " ", str(html))
    html = re.sub(r"\s*(<|>|/>)\s*", lambda m: m.group(1).replace("/>", ">"), html)
    return html.replace(f'<input type="hidden" name="csrfmiddlewaretoken" value="{TOKEN}">', "")


def _crispy_form(form) -> str:
    return _normal(render_crispy_form(form))


def _lean_form(form) -> str:
    html = render_form(form, csrf_token=None)
    assert html is not None, f"{type(form).__name__} fell back to crispy"
    return _normal(html)


def _filter(user, data=None) -> CaseFilter:
    request = RequestFactory().get("/cases/", data or {})
    request.user = user
    return CaseFilter(data or None, queryset=Case.objects.all(), request=request)


@pytest.mark.parametrize("data", [
    None,
    {"q": "<b>x</b>", "state": ["requested", "refused"], "kind": "return", "mine": "true",
     "sort": "-amount", "due": "overdue"},
    {"state": ["nonsense"], "kind": "nope", "shop": "999", "assignee": "x", "sort": "bad"},
])
def test_queue_filter_fields_match_crispy(agent, shop, data):
    case_filter = _filter(agent, data)
    if data and "nonsense" in data["state"]:
        assert not case_filter.form.is_valid()  # the invalid fields show their errors
    for field in case_filter.form:
        assert render_field(field) is not None, field.name
        assert _normal(lean_field(field)) == _normal(as_crispy_field(field)), field.name


def _action_forms(case, data=None):
    for name, form_class in ACTION_FORMS.items():
        bound = {} if data is None else {f"{name}-{key}": value for key, value in data.items()}
        yield form_class(bound or None, case=case)


@pytest.mark.parametrize("kind", ["refund_only", "return", "exchange"])
@pytest.mark.parametrize("data", [None, {"expected_state": "requested", "amount": "-1",
                                         "reason": "x" * 3000, "note": "<i>n</i>"}])
def test_case_page_forms_match_crispy(shop, order, kind, data):
    case = make_case(order=order, kind=kind)
    forms = [
        *_action_forms(case, data),
        ContactForm(case=case), ContactForm(case=case, can_override=True),
        ContactForm({"contact-channel": "fax", "contact-override": "on"}, case=case,
                    can_override=True),
        NoteForm(case=case), NoteForm({"note-note": ""}, case=case),
        AssignForm(case=case), AssignForm({"assign-assignee": "0"}, case=case),
        CompensationProposeForm(case=case), CompensationProposeForm({"compensation-amount": "x"},
                                                                    case=case),
        ChooseReplacementForm(case=case), BuyerPaidForm(case=case),
        ReturnPostageForm({"postage-amount": "1.234", "postage-freight_insurance": "on"},
                          case=case),
    ]
    for form in forms:
        if data is not None or form.is_bound:
            form.is_valid()
        assert _lean_form(form) == _crispy_form(form), type(form).__name__


def test_lean_form_writes_the_csrf_token_of_a_post_form(shop, order):
    html = render_form(NoteForm(case=make_case(order=order)), csrf_token=TOKEN)
    assert html.startswith('<form action="/cases/')
    assert f'<input type="hidden" name="csrfmiddlewaretoken" value="{TOKEN}">' in html


def test_a_form_with_a_layout_of_its_own_is_left_to_crispy(shop, order):
    from crispy_forms.layout import Div, Layout

    form = NoteForm(case=make_case(order=order))
    form.helper.layout = Layout(Div("note"))
    assert render_form(form, csrf_token=TOKEN) is None


def _payout_forms(payout, data=None):
    for name, form_class in PAYOUT_FORMS.items():
        prefix = f"p{payout.pk}-{name}"
        bound = None if data is None else {f"{prefix}-{key}": value
                                            for key, value in data.items()}
        yield form_class(bound, payout=payout, next_url="/finance/?state=pending")
    yield PayoutRouteForm(payout=payout, next_url="/finance/")
    yield PayoutRouteForm({f"p{payout.pk}-route-route": "nowhere"}, payout=payout)


@pytest.mark.parametrize("data", [None, {"expected_state": "", "payment_reference": "x" * 500,
                                         "failure_reason": ""}])
def test_payout_row_forms_match_crispy(shop, order, data):
    """The finance page renders two or three of these per payout row (50 rows a page)."""
    case = make_case(order=order, amount="20.00")
    case_agree(case=case, actor=None)
    payout = Payout.objects.get(case=case)
    for form in _payout_forms(payout, data):
        if form.is_bound:
            form.is_valid()
        assert _lean_form(form) == _crispy_form(form), type(form).__name__


def test_unmatched_parcel_row_form_matches_crispy():
    parcel = ReturnParcel(pk=41)  # the form reads only its id
    for form in (AttachParcelForm(parcel=parcel),
                 AttachParcelForm({f"parcel{parcel.pk}-reference": ""}, parcel=parcel)):
        form.is_valid()
        assert _lean_form(form) == _crispy_form(form)
