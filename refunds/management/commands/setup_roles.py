from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from refunds.roles import ROLE_PERMISSIONS


def setup_roles() -> dict[str, int]:
    """Create or update the role groups; returns permissions per role. Safe to run again."""
    counts = {}
    with transaction.atomic():
        for role, codenames in ROLE_PERMISSIONS.items():
            group, _created = Group.objects.get_or_create(name=role)
            perms = []
            for name in dict.fromkeys(codenames):
                app_label, codename = name.split(".") if "." in name else ("refunds", name)
                try:
                    perms.append(Permission.objects.get(content_type__app_label=app_label,
                                                        codename=codename))
                except Permission.DoesNotExist:
                    raise CommandError(f"Unknown permission {app_label}.{codename}") from None
            group.permissions.set(perms)
            counts[role] = len(perms)
    return counts


class Command(BaseCommand):
    help = "Create the role groups (agent, supervisor, warehouse, finance, manager). Idempotent."

    def handle(self, *args, **options):
        for role, count in setup_roles().items():
            self.stdout.write(f"{role}: {count} permissions")
        self.stdout.write(self.style.SUCCESS("Roles are set up."))
