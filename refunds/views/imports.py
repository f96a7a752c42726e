"""The managers' upload page for platform exports: thin, the import service does the work."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from ..exceptions import DomainError, PermissionDeniedError
from ..forms import IMPORT_MAX_BYTES, ImportForm, import_too_large_message
from ..selectors import import_runs_for_user, shops_for_user
from ..services.imports import IMPORTERS

HISTORY_ROWS = 20
FORM_FIELDS_ALLOWANCE = 64 * 1024  # the multipart envelope and the other fields


def _declared_length(request) -> int:
    """The body's declared size; a header that is not a number counts as too large (it is
    refused like an oversized upload, not a 500)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return IMPORT_MAX_BYTES + FORM_FIELDS_ALLOWANCE + 1


def import_upload(request):
    if not request.user.has_perm("refunds.add_importrun"):
        raise PermissionDenied
    shops = shops_for_user(request.user)
    result, status = None, 200
    if request.method != "POST":
        form = ImportForm(shops=shops)
    elif _declared_length(request) > IMPORT_MAX_BYTES + FORM_FIELDS_ALLOWANCE:
        # Refused before Django reads the body: an oversized upload is never spooled to disk.
        form, status = ImportForm(shops=shops), 413
        messages.error(request, import_too_large_message())
    else:
        form = ImportForm(request.POST, request.FILES, shops=shops)
        if form.is_valid():
            data = form.cleaned_data
            try:
                result = IMPORTERS[data["kind"]](shop=data["shop"], path_or_file=data["file"],
                                                 dry_run=data["dry_run"], actor=request.user)
            except PermissionDeniedError:
                raise PermissionDenied from None
            except DomainError as error:
                form.add_error("file", error.message)
                status = 400
        else:
            status = 400
    return render(request, "refunds/import_form.html", {
        "form": form,
        "result": result,
        "runs": import_runs_for_user(request.user)[:HISTORY_ROWS],
    }, status=status)
