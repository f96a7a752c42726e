"""The authentication backend: Django's ModelBackend, reading the user's 工号 with the user,
and the user's own and group permissions in one query.

Every page shows the staff number in the navbar and stamps it on what the user does; reading
the staff profile in the same query as the user saves a query on every request (issue 6,
docs/PERFORMANCE.md). Every page also checks permissions (navbar, buttons); ModelBackend
reads them in two queries (the user's, then the groups'), each costing more Python than SQL.
Permissions, passwords and inactive users work exactly as in ModelBackend.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q


class StaffBackend(ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        try:
            user = model._default_manager.select_related("staff_profile").get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        """ModelBackend's set ("app_label.codename", the user's and their groups'), one query."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            permissions = Permission.objects.all()
            if not user_obj.is_superuser:
                permissions = permissions.filter(Q(user=user_obj) | Q(group__user=user_obj))
            rows = (permissions.order_by().distinct()
                    .values_list("content_type__app_label", "codename"))
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in rows}
        return user_obj._perm_cache
