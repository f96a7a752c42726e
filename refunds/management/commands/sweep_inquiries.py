"""Nightly: warn about parcel inquiries (快递查询 / 改地址) whose answer to the buyer is due,
and those whose carrier did not call back when promised.

    python manage.py sweep_inquiries [--dry-run] [--now 2026-11-22T02:00:00+08:00]

The work is `refunds.services.inquiry_sweep.sweep_inquiries`; this command parses the options
and prints the summary line. It changes no inquiry. Exit 1 when an inquiry failed, had nobody
to tell, or a warning email could not be sent (after handling all the others), 2 when the
options are wrong, 0 otherwise.
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
from refunds.services.inquiry_sweep import sweep_inquiries


class Command(BaseCommand):
    help = ("Warn about parcel inquiries (快递查询) whose answer to the buyer is due, or whose "
            "carrier did not call back. Safe to run again.")

    def add_arguments(self, parser):
        add_sweep_arguments(parser, items="inquiries", every=100)

    def handle(self, *args, dry_run: bool, now: str | None, progress_every: int = 100,
               **options):
        at = sweep_time(now, dry_run=dry_run)
        result = run_sweep(self, sweep_inquiries, at=at, dry_run=dry_run, every=progress_every,
                           verbosity=options.get("verbosity", 1))
        summary = _(
            "Parcel-inquiry sweep as of %(now)s%(dry)s: %(due)s with the answer due, %(silent)s "
            "the carrier did not call back on, %(notified)s notifications, %(unheard)s with "
            "nobody to tell, %(failed)s failed."
        ) % {**sweep_heading(at, dry_run), "due": result.due, "silent": result.silent,
             "notified": result.notified, "unheard": result.unheard, "failed": result.failed}
        end_sweep(self, summary,
                  failed=bool(result.failed or result.unheard or result.email_failures))
