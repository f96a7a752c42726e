"""Create the follow-ups of 中评/差评 imported before follow-ups existed. Safe to run again.

    python manage.py backfill_review_followups [--shop CODE] [--dry-run]
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from refunds.management.progress import Progress
from refunds.models import Shop
from refunds.services.followups import followups_backfill


class Command(BaseCommand):
    help = "Create missing follow-ups for neutral and negative reviews. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--shop", metavar="CODE", help="only this shop")
        parser.add_argument("--dry-run", action="store_true",
                            help="count what would be created; write nothing")
        parser.add_argument("--progress-every", type=int, default=1000, metavar="N",
                            help="print a progress line every N reviews when the output is "
                                 "not a terminal (0: never)")

    def handle(self, *args, shop: str | None, dry_run: bool, progress_every: int = 1000,
               **options):
        target = None
        if shop:
            target = Shop.objects.filter(code=shop).first()
            if target is None:
                raise CommandError(_("No shop with code “%(code)s”.") % {"code": shop},
                                   returncode=2)
        progress = Progress(self.stdout, every=progress_every,
                            verbosity=options.get("verbosity", 1))
        count = followups_backfill(shop=target, dry_run=dry_run, on_progress=progress)
        progress.end()
        message = (_("%(count)s review follow-ups would be created (dry run).") if dry_run
                   else _("%(count)s review follow-ups created."))
        self.stdout.write(message % {"count": count})
