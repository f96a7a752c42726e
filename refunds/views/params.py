"""Query-string parameters shared by several pages: bad values are a 404, never a 500."""

from __future__ import annotations

from django.http import Http404

from ..permissions import user_serves_shop

MAX_ID = 2**31 - 1  # the largest id a row can have on every database we run on


def shop_param(request, name: str = "shop") -> int | None:
    """?shop=<id>: one of the user's shops (None: all of them). A shop they do not serve —
    or a number no shop can have — is a 404; a value that is not a number is ignored."""
    try:
        shop_id = int(request.GET.get(name) or 0) or None
    except ValueError:
        return None
    if shop_id is not None and not (0 < shop_id <= MAX_ID
                                    and user_serves_shop(request.user, shop_id)):
        raise Http404
    return shop_id
