"""Nightly: warn about shipped orders with an open case whose confirm-receipt window closes
soon (延长收货), so that it is extended in the seller centre before the platform completes the
trade.

    python manage.py sweep_receipts [--dry-run] [--now 2026-11-22T02:00:00+08:00]

The work is `refunds.services.receipt_sweep.sweep_receipts`; this command parses the options
and prints the summary line. It changes no order and no case. Exit 1 when an order failed,
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
from refunds.services.receipt_sweep import sweep_receipts


class Command(BaseCommand):
    help = ("Warn about shipped orders with an open case that confirm receipt by themselves "
            "soon (延长收货). Safe to run again.")

    def add_arguments(self, parser):
        add_sweep_arguments(parser, items="orders", every=200)

    def handle(self, *args, dry_run: bool, now: str | None, progress_every: int = 200,
               **options):
        at = sweep_time(now, dry_run=dry_run)
        result = run_sweep(self, sweep_receipts, at=at, dry_run=dry_run, every=progress_every,
                           verbosity=options.get("verbosity", 1))
        summary = _(
            "Confirm-receipt sweep as of %(now)s%(dry)s: %(orders)s orders warned of, "
            "%(notified)s notifications, %(emails)s emails, %(unheard)s with nobody to tell, "
            "%(failed)s failed."
        ) % {**sweep_heading(at, dry_run), "orders": result.orders,
             "notified": result.notified, "emails": result.emails,
             "unheard": result.unheard, "failed": result.failed}
        end_sweep(self, summary,
                  failed=bool(result.failed or result.unheard or result.email_failures))
