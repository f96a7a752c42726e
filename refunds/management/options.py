"""Options the nightly commands share: `--now`, and the exit code of wrong options."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from refunds.imports.rows import EARLIEST_YEAR, LATEST_YEAR

USAGE_ERROR = 2  # the options are wrong: nothing was done


def parse_now(value: str) -> datetime:
    """An ISO time; without an offset it is read in settings.TIME_ZONE (China time).

    Within the years the desk's dates live in (as the imports' dates): a sweep as of year 1
    or 9999 would work out deadlines before or after any date Python can hold."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(
            _("--now: “%(value)s” is not an ISO time such as 2026-11-22T02:00:00+08:00.")
            % {"value": value}, returncode=USAGE_ERROR,
        ) from None
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise CommandError(
            _("--now: “%(value)s” is outside the years %(earliest)s to %(latest)s.")
            % {"value": value, "earliest": EARLIEST_YEAR, "latest": LATEST_YEAR},
            returncode=USAGE_ERROR,
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def warn_without_calendar(command, at) -> None:
    """Print to the command's stderr the years the working-day calendar lacks (nothing when
    none is missing or nothing counts working days)."""
    from refunds.workdays import years_without_calendar

    missing = years_without_calendar(at)
    if missing:
        command.stderr.write(command.style.WARNING(
            _("The working-day calendar has no days entered for %(years)s: Kuaishou's "
              "deadlines and the evidence deadlines of disputes and complaints there count "
              "Monday to Friday only. Enter the holidays and worked weekend days in the admin "
              "(Calendar days).") % {"years": ", ".join(str(year) for year in missing)}))


def add_sweep_arguments(parser, *, items: str, every: int) -> None:
    """--dry-run, --now and --progress-every, as every nightly sweep takes them."""
    parser.add_argument("--dry-run", action="store_true",
                        help="report what would be done; write nothing")
    parser.add_argument(
        "--now", metavar="ISO-TIME",
        help="sweep as of this time (default: now), e.g. 2026-11-22T02:00:00+08:00; "
             "without an offset it is read in TIME_ZONE; only --dry-run may look ahead")
    parser.add_argument("--progress-every", type=int, default=every, metavar="N",
                        help=f"print a progress line every N {items} when the output is not "
                             "a terminal (0: never)")


def sweep_time(now: str | None, *, dry_run: bool) -> datetime:
    """The time a sweep runs as of: `--now`, or now. Applying tomorrow's platform rules
    today would act on what the platform has not touched: only a dry run may look ahead."""
    real_now = timezone.now()
    at = parse_now(now) if now else real_now
    if at > real_now and not dry_run:
        raise CommandError(
            _("--now %(now)s is in the future: only --dry-run may sweep ahead of time.")
            % {"now": at.isoformat()}, returncode=USAGE_ERROR,
        )
    return at


def run_sweep(command, sweep, *, at: datetime, dry_run: bool, every: int,
              verbosity: int = 1):
    """Run `sweep(now=, dry_run=, on_progress=)` with the progress lines of the nightly
    commands, then print its failures and the addresses whose email could not be sent (the
    in-app notifications stay) to the command's stderr. Returns the sweep's result."""
    from refunds.management.progress import Progress

    progress = Progress(command.stdout, every=every, verbosity=verbosity)
    result = sweep(now=at, dry_run=dry_run, on_progress=progress)
    progress.end()
    for failure in result.failures:
        command.stderr.write(failure)
    if result.email_failures:
        command.stderr.write(command.style.WARNING(
            _("Could not send the email to %(addresses)s: their notifications are on the "
              "queue page.") % {"addresses": ", ".join(result.email_failures)}))
    return result


def sweep_heading(at: datetime, dry_run: bool) -> dict[str, str]:
    """The summary line's "as of %(now)s%(dry)s"."""
    return {"now": timezone.localtime(at).isoformat(timespec="minutes"),
            "dry": _(" (dry run, nothing written)") if dry_run else ""}


def end_sweep(command, summary: str, *, failed: bool) -> None:
    """Print the summary line; exit 1 with it when `failed` (after all the work was done)."""
    if failed:
        raise CommandError(summary, returncode=1)
    command.stdout.write(summary)
