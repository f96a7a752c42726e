"""refunds/views/actions.py: the one shape of every action POST."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.http import HttpResponse
from django.test import RequestFactory

from refunds.exceptions import DomainError
from refunds.views.actions import attempt, expected_assignee, submit


class ActionForm(forms.Form):
    expected_state = forms.CharField()
    amount = forms.IntegerField()


@pytest.fixture
def request_():
    request = RequestFactory().post("/x/")
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def said(request) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(request)]


def test_a_valid_form_calls_the_service_with_its_data_and_says_done(request_):
    calls = []
    response = submit(request_, ActionForm({"expected_state": "new", "amount": "5"}),
                      lambda data: calls.append(data), back="/back/", done="Done.",
                      invalid="Wrong.")
    assert calls == [{"expected_state": "new", "amount": 5}]
    assert (response.status_code, response["Location"]) == (302, "/back/")
    assert said(request_) == [("success", "Done.")]


def test_done_may_read_the_services_result(request_):
    submit(request_, ActionForm({"expected_state": "new", "amount": "5"}), lambda data: 42,
           back="/back/", done=lambda result: f"Got {result}.", invalid="Wrong.")
    assert said(request_) == [("success", "Got 42.")]


def test_a_refusal_is_said_and_nothing_else(request_):
    def refuse(data):
        raise DomainError("Not any more.")

    response = submit(request_, ActionForm({"expected_state": "new", "amount": "5"}), refuse,
                      back="/back/", done="Done.", invalid="Wrong.")
    assert response["Location"] == "/back/"
    assert said(request_) == [("error", "Not any more.")]


def test_an_invalid_form_never_reaches_the_service(request_):
    def never(data):
        raise AssertionError("called")

    page = HttpResponse("errors", status=400)
    response = submit(request_, ActionForm({"expected_state": "new", "amount": "x"}), never,
                      back="/back/", done="Done.", invalid=lambda form: page)
    assert response is page
    response = submit(request_, ActionForm({"expected_state": "new", "amount": "x"}), never,
                      back="/back/", done="Done.", invalid="Wrong.")
    assert response["Location"] == "/back/" and said(request_) == [("error", "Wrong.")]


def test_a_post_without_the_state_the_user_saw_says_it_changed(request_):
    response = submit(request_, ActionForm({"amount": "5"}), lambda data: None, back="/back/",
                      done="Done.", invalid=lambda form: HttpResponse(status=400),
                      changed="It changed.")
    assert response["Location"] == "/back/"
    assert said(request_) == [("error", "It changed.")]


def test_back_may_be_computed_after_the_service_ran(request_):
    state = {"now": "before"}

    def perform():
        state["now"] = "after"

    response = attempt(request_, perform, back=lambda: HttpResponse(state["now"]), done="Ok.")
    assert response.content == b"after"


@pytest.mark.parametrize("posted, expected", [({}, None), ({"expected_assignee": ""}, None),
                                              ({"expected_assignee": "7"}, 7),
                                              ({"expected_assignee": "x"}, "any")])
def test_the_assignee_the_user_saw(posted, expected):
    assert expected_assignee(posted) == expected


@pytest.mark.parametrize("filter_class, model", [("CaseFilter", "Case"),
                                                 ("FollowUpFilter", "ReviewFollowUp")])
def test_every_filter_of_a_queue_has_its_place_in_the_filter_bar(filter_class, model, agent):
    """The bar lays out `columns` only: a filter added without a place would be dropped."""
    from refunds import filters, models

    request = RequestFactory().get("/")
    request.user = agent
    queue_filter = getattr(filters, filter_class)(
        None, queryset=getattr(models, model).objects.none(), request=request)
    assert list(queue_filter.columns) == list(queue_filter.form.fields)
    assert [field.name for field, _css in queue_filter.layout] == list(queue_filter.form.fields)
