"""The current user's notifications: marking them read (the list is on the queue page)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ..services.notifications import notifications_mark_read


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@require_POST
def notifications_read(request):
    """Mark one notification (`notification`) or all up to the newest shown (`up_to`) read."""
    count = notifications_mark_read(
        user=request.user,
        notification_id=_int_or_none(request.POST.get("notification")),
        up_to_id=_int_or_none(request.POST.get("up_to")),
    )
    if count > 1:
        messages.success(request, ngettext("%(count)s notification marked as read.",
                                           "%(count)s notifications marked as read.", count)
                         % {"count": count})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "refunds:case_list"
    return redirect(target)
