"""The one shape of the desk's action POSTs (thin views, STYLE.md): read the form, call the
service, turn a domain refusal into its message, go back to the page.

    return submit(request, form, lambda data: services.case_add_note(case=case, ...),
                  back=case, done=_("Note added."),
                  invalid=lambda form: render_case_with(request, case, {"note": form}, "note"))

Every case, follow-up, compensation, exchange, buyer and payout action goes through here, so
they all answer alike: an invalid form shows its errors (or a message) and changes nothing; a
post whose `expected_state` is missing or forged says the object changed; a `DomainError`
(the state moved on, the money rule, a permission) is shown as its message, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from ..exceptions import DomainError

# What a form carries of the object as the user saw it: missing or forged, the object changed.
STALE_FIELDS = {"expected_state", "version", "expected_confirm_by"}


def _back(back) -> HttpResponse:
    """`back` is what `redirect` takes (an object with get_absolute_url, a URL name or a URL),
    or a function that returns the response."""
    return back() if callable(back) else redirect(back)


def attempt(request: HttpRequest, perform: Callable[[], Any], *, back,
            done: str | Callable[[Any], str]) -> HttpResponse:
    """Call `perform()`; say `done` (or `done(result)`) when it succeeds, the refusal's
    message when it raises a DomainError; then go `back`."""
    try:
        result = perform()
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done(result) if callable(done) else done)
    return _back(back)


def submit(request: HttpRequest, form, perform: Callable[[dict], Any], *, back,
           done: str | Callable[[Any], str],
           invalid: str | Callable[[Any], HttpResponse],
           changed: str | None = None) -> HttpResponse:
    """`attempt(perform(form.cleaned_data))` for a valid `form`.

    An invalid one: `invalid(form)` (the page again with its errors), or `invalid` as an error
    message and back. `changed`: the message when the state (`expected_state`) or version the
    user saw is what is wrong with the post — a tampered or truncated form."""
    if not form.is_valid():
        if changed is not None and STALE_FIELDS & set(form.errors):
            messages.error(request, changed)
            return _back(back)
        if callable(invalid):
            return invalid(form)
        messages.error(request, invalid)
        return _back(back)
    return attempt(request, lambda: perform(form.cleaned_data), back=back, done=done)


def submit_transition(request: HttpRequest, target, action: str, form_classes: dict, *,
                      perform: Callable[[Any, dict], Any], done: Callable[[Any], str],
                      invalid: Callable[[Any], HttpResponse], changed: str,
                      target_name: str | None = None) -> HttpResponse:
    """The POST of one of `target`'s transition forms (`form_classes[action]`, a
    TransitionForm taking `target` by its model's name, or by `target_name`): 404 for an
    action it has not; a page older than `target`'s state says `changed` and goes back — its
    form's errors would be beside the point (the form may be gone) — else `submit`,
    `perform(form, data)` calling the service."""
    form_class = form_classes.get(action)
    if form_class is None:
        raise Http404
    form = form_class(request.POST, **{target_name or target._meta.model_name: target})
    if request.POST.get(f"{action}-expected_state") != target.state:
        messages.error(request, changed)
        return redirect(target)
    return submit(request, form, lambda data: perform(form, data), back=target, done=done,
                  invalid=invalid, changed=changed)


def posted(request: HttpRequest):
    """The data a create form is bound to: every POST, an empty one too (it then says what is
    missing instead of a bare 400), never a GET."""
    return request.POST if request.method == "POST" else None


def expected_assignee(post) -> int | str | None:
    """The assignee the user saw when claiming: an id, None (nobody), or "any" for a value
    that is not an id (the service then refuses: the page was not ours)."""
    expected = post.get("expected_assignee") or None
    try:
        return int(expected) if expected else None
    except ValueError:
        return "any"
