"""Nightly: apply what the platform does when a deadline passes, and warn before it does.

    python manage.py sweep_deadlines [--dry-run] [--now 2026-11-22T02:00:00+08:00]

The work is `refunds.services.sweep.sweep_deadlines`; this command parses the options,
shows progress and the summary line, and exits 1 when any case failed (after handling all
the others) or an email could not be sent (the work and the in-app notifications are
committed: the operator must still hear of it), 2 when the options are wrong, 0 otherwise.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from refunds.management.options import (
    USAGE_ERROR,
    add_sweep_arguments,
    sweep_time,
    warn_without_calendar,
)
from refunds.management.progress import Progress
from refunds.services.sweep import CHUNK_SIZE, COMMIT_EVERY, FAILED, Outcome, sweep_deadlines


class Command(BaseCommand):
    # argparse help stays plain text, like the other commands (it cannot take lazy strings).
    help = ("Apply the platform's rules to passed deadlines (auto-agree, close, auto-refund) "
            "and warn the people of cases due soon. Safe to run again or twice at once.")

    def add_arguments(self, parser):
        add_sweep_arguments(parser, items="cases", every=1000)
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, metavar="N",
                            help="cases read per query")
        parser.add_argument("--commit-every", type=int, default=COMMIT_EVERY, metavar="N",
                            help="cases per transaction (1: a transaction per case); a "
                                 "group that fails is done again case by case")

    def handle(self, *args, dry_run: bool, now: str | None, progress_every: int,
               chunk_size: int, commit_every: int, verbosity: int, **options):
        at = sweep_time(now, dry_run=dry_run)
        if chunk_size < 1:
            raise CommandError(_("--chunk-size must be at least 1."), returncode=USAGE_ERROR)
        if commit_every < 1:
            raise CommandError(_("--commit-every must be at least 1."), returncode=USAGE_ERROR)
        self.verbosity = verbosity
        self.progress = Progress(self.stdout, every=progress_every, verbosity=verbosity)
        if verbosity >= 1:
            self.stdout.write(
                (_("Sweeping deadlines as of %(now)s (dry run: nothing is written).")
                 if dry_run else _("Sweeping deadlines as of %(now)s."))
                % {"now": timezone.localtime(at).isoformat()}
            )

        warn_without_calendar(self, at)
        report = sweep_deadlines(now=at, dry_run=dry_run, chunk_size=chunk_size,
                                 commit_every=commit_every, on_outcome=self.outcome,
                                 on_progress=self.progress)

        self.progress.end()
        if report.photos_missing and report.dry_run:
            self.stdout.write(ngettext(
                "Quality photos not received in time: %(count)s case (its people would be "
                "notified).",
                "Quality photos not received in time: %(count)s cases (their people would be "
                "notified).", report.photos_missing) % {"count": report.photos_missing})
        elif report.photos_missing:
            self.stdout.write(ngettext(
                "Quality photos not received in time: %(count)s case (its people notified).",
                "Quality photos not received in time: %(count)s cases (their people notified).",
                report.photos_missing) % {"count": report.photos_missing})
        style = self.style.ERROR if report.failures else self.style.SUCCESS
        self.stdout.write(style(report.summary()))
        if report.email_failures:
            self.stderr.write(self.style.WARNING(
                _("Could not send the email to %(addresses)s: their notifications are on the "
                  "queue page.") % {"addresses": ", ".join(report.email_failures)}))
        if report.failures:
            raise CommandError(
                ngettext("%(count)s case failed (listed above).",
                         "%(count)s cases failed (listed above).", len(report.failures))
                % {"count": len(report.failures)},
                returncode=1,
            )
        if report.email_failures:
            raise CommandError(
                ngettext("The email to %(count)s person could not be sent (listed above).",
                         "The emails to %(count)s people could not be sent (listed above).",
                         len(report.email_failures))
                % {"count": len(report.email_failures)},
                returncode=1,
            )

    # --- output ---------------------------------------------------------------------------

    def outcome(self, outcome: Outcome) -> None:
        if outcome.status == FAILED:
            self.progress.end()
            self.stderr.write(outcome.describe())
        elif self.verbosity >= 2:
            self.progress.end()
            self.stdout.write(outcome.describe())
