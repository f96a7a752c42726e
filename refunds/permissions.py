"""Who may see and touch what: the user's shops and the role permissions.

Roles are Django groups (see `setup_roles`); permissions are the `refunds.*` codenames
declared on `Case.Meta.permissions`. Every transition's permission callable goes through
`user_serves_shop`, so a user can never act on another shop's case, whatever the entry
point (page, admin action, shell).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

_CACHE_ATTR = "_refunds_shop_ids"


def user_shop_ids(user: User | AnonymousUser) -> frozenset[int] | None:
    """The ids of the shops this user serves; None means all shops (superuser)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return None
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        from .models import Shop

        cached = frozenset(
            Shop.objects.filter(staff__user=user).values_list("id", flat=True)
        )
        setattr(user, _CACHE_ATTR, cached)
    return cached


def user_serves_shop(user: User | AnonymousUser, shop_id: int) -> bool:
    shop_ids = user_shop_ids(user)
    return shop_ids is None or shop_id in shop_ids


def staff_number_of(user: User | None) -> str:
    """The 工号 printed on everything a user touches; "SYSTEM" for the platform rules."""
    if user is None:
        return "SYSTEM"
    profile = getattr(user, "staff_profile", None)
    return profile.staff_number if profile else user.get_username()
