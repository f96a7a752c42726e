"""Nightly: rule for the buyer on complaints whose evidence deadline passed with none, as the
platform does, and warn before the deadline passes.

    python manage.py sweep_complaints [--dry-run] [--now 2026-11-22T02:00:00+08:00]

The work is `refunds.services.complaint_sweep.sweep_complaints`; this command parses the
options and prints the summary line. Exit 1 when a complaint failed or a ruling could not be
recorded (after handling all the others; not on a dry run, which only counts them) or a
warning email could not be sent, 2 when the options are wrong, 0 otherwise.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from refunds.management.options import (
    add_sweep_arguments,
    end_sweep,
    run_sweep,
    sweep_heading,
    sweep_time,
    warn_without_calendar,
)
from refunds.services.complaint_sweep import sweep_complaints


class Command(BaseCommand):
    help = ("Rule for the buyer on complaints (维权/投诉) whose evidence deadline passed with "
            "no evidence, and warn before it does. Safe to run again.")

    def add_arguments(self, parser):
        add_sweep_arguments(parser, items="complaints", every=100)

    def handle(self, *args, dry_run: bool, now: str | None, progress_every: int = 100,
               **options):
        at = sweep_time(now, dry_run=dry_run)
        warn_without_calendar(self, at)
        result = run_sweep(self, sweep_complaints, at=at, dry_run=dry_run, every=progress_every,
                           verbosity=options.get("verbosity", 1))
        summary = _(
            "Complaint sweep as of %(now)s%(dry)s: %(ruled)s ruled for the buyer, %(warned)s "
            "warned, %(refused)s not recorded (money rule), %(skipped)s skipped, %(failed)s "
            "failed."
        ) % {**sweep_heading(at, dry_run), "ruled": result.ruled, "warned": result.warned,
             "refused": result.refused, "skipped": result.skipped, "failed": result.failed}
        # a dry run foresees the refusals (its summary counts them) but has refused nothing
        end_sweep(self, summary, failed=bool(
            result.failed or result.email_failures or (result.refused and not dry_run)))
