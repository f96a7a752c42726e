"""The authentication backend: Django's ModelBackend, reading the user's 工号 with the user.

Every page shows the staff number in the navbar and stamps it on what the user does; reading
the staff profile in the same query as the user saves a query on every request (issue 6,
docs/PERFORMANCE.md). Permissions, passwords and inactive users work exactly as in
ModelBackend.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class StaffBackend(ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        try:
            user = model._default_manager.select_related("staff_profile").get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
