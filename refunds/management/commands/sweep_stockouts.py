"""Nightly: warn about open stock-outs (缺货) before the platform's ship-by passes with the
buyer's choice unrecorded, when the date agreed with the buyer has passed unshipped, and when
the buyer's refund for the missing goods was closed without paying them.

    python manage.py sweep_stockouts [--dry-run] [--now 2026-11-22T02:00:00+08:00]

The work is `refunds.services.stockout_sweep.sweep_stockouts`; this command parses the
options and prints the summary line. It changes no stock-out. Exit 1 when a stock-out failed,
had nobody to tell, or a warning email could not be sent (after handling all the others),
2 when the options are wrong, 0 otherwise.
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
)
from refunds.services.stockout_sweep import sweep_stockouts


class Command(BaseCommand):
    help = ("Warn about stock-outs (缺货) whose ship-by is near with the buyer's choice not "
            "recorded, whose date agreed with the buyer passed, or whose refund was closed "
            "unpaid. Safe to run again.")

    def add_arguments(self, parser):
        add_sweep_arguments(parser, items="stock-outs", every=100)

    def handle(self, *args, dry_run: bool, now: str | None, progress_every: int = 100,
               **options):
        at = sweep_time(now, dry_run=dry_run)
        result = run_sweep(self, sweep_stockouts, at=at, dry_run=dry_run, every=progress_every,
                           verbosity=options.get("verbosity", 1))
        summary = _(
            "Stock-out sweep as of %(now)s%(dry)s: %(due)s near their ship-by, %(late)s past "
            "the agreed date, %(unpaid)s with a refund closed unpaid, %(notified)s "
            "notifications, %(unheard)s with nobody to tell, %(failed)s failed."
        ) % {**sweep_heading(at, dry_run), "due": result.due, "late": result.late,
             "unpaid": result.unpaid,
             "notified": result.notified, "unheard": result.unheard, "failed": result.failed}
        end_sweep(self, summary,
                  failed=bool(result.failed or result.unheard or result.email_failures))
