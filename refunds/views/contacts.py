"""The contact card shared by the case, follow-up and buyer pages."""

from __future__ import annotations

from ..replies import offered_replies
from ..selectors import buyer_contacts


def contact_context(request, *, buyer, contact_form, replies_for, values, policy=None) -> dict:
    """What the contact card shows (shared by the case, follow-up and buyer pages): the form,
    the canned replies filled in for this page, and the buyer's contacts in the user's shops.

    `?reply=<id>` pre-fills the note with that reply (the same one click without JavaScript).
    """
    replies = offered_replies(replies_for, values) if contact_form is not None else []
    chosen = request.GET.get("reply", "")
    if contact_form is not None and not contact_form.is_bound:
        for reply in replies:
            if str(reply.pk) == chosen:
                contact_form.initial["note"] = reply.text
    return {
        "buyer": buyer,
        "contact_form": contact_form,
        "replies": replies,
        "buyer_contacts": buyer_contacts(request.user, buyer.pk),
        "contact_policy": policy,
    }
