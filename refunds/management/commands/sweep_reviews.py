"""Nightly: follow-ups for new 中差评, expire passed revision windows, warn before they pass.

    python manage.py sweep_reviews [--dry-run] [--now 2026-11-22T02:00:00+08:00]

The work is `refunds.services.review_sweep.sweep_reviews`; this command parses the options
and prints the summary line. Exit 1 when any follow-up failed (after handling all the
others) or a warning email could not be sent, 2 when the options are wrong, 0 otherwise.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from refunds.management.options import add_sweep_arguments, sweep_time
from refunds.management.progress import Progress
from refunds.services.review_sweep import sweep_reviews


class Command(BaseCommand):
    help = ("Create missing review follow-ups, expire those whose revision window has passed "
            "and warn their assignees before it does. Safe to run again.")

    def add_arguments(self, parser):
        add_sweep_arguments(parser, items="follow-ups", every=1000)

    def handle(self, *args, dry_run: bool, now: str | None, progress_every: int = 1000,
               **options):
        at = sweep_time(now, dry_run=dry_run)
        progress = Progress(self.stdout, every=progress_every,
                            verbosity=options.get("verbosity", 1))
        result = sweep_reviews(now=at, dry_run=dry_run, on_progress=progress)
        progress.end()
        for failure in result.failures:
            self.stderr.write(failure)
        summary = _(
            "Review sweep as of %(now)s%(dry)s: %(created)s follow-ups created, %(expired)s "
            "expired, %(warned)s warned, %(skipped)s skipped, %(failed)s failed."
        ) % {"now": timezone.localtime(at).isoformat(timespec="minutes"),
             "dry": _(" (dry run, nothing written)") if dry_run else "",
             "created": result.created, "expired": result.expired, "warned": result.warned,
             "skipped": result.skipped, "failed": result.failed}
        if result.email_failures:
            self.stderr.write(self.style.WARNING(
                _("Could not send the email to %(addresses)s: their notifications are on the "
                  "queue page.") % {"addresses": ", ".join(result.email_failures)}))
        if result.failed or result.email_failures:
            raise CommandError(summary, returncode=1)
        self.stdout.write(summary)
