"""What the three import commands share: arguments, output, exit codes, a progress bar.

The commands are thin: they find the shop and call `refunds.services.imports`.
"""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from refunds.exceptions import DomainError
from refunds.management.progress import Progress
from refunds.models import Shop
from refunds.services.imports import ImportStopped

EPILOG = """\
Output: one line per rejected row ("line N: reason") and per conflict
("line N: conflict: ..."), then the summary line
"imported N, updated M, unchanged K, rejected R" (followed by ", conflicts C" when a
refund row conflicted with the case: the platform says something the case cannot follow,
e.g. a refund staff already paid that the platform still shows as waiting; a conflict is
reported and not applied, and is not counted as rejected).
Exit status: 0 nothing rejected (conflicts alone do not fail the run), 1 some rows
rejected (the other rows were imported), 2 the file was refused whole (unreadable, a
required column missing, another shop's 店铺Id/店铺名称, unknown --shop): nothing written;
3 an unexpected error stopped the import part-way: the summary counts the rows written
before it (they stay), the error says why, the import history keeps both; import the
file again once the cause is fixed.
--dry-run does the whole import inside a transaction that is rolled back: nothing is
written (no ImportRun either) and the summary is what a real run would print.
Line numbers are the physical line in the file where the row starts (the header is line 1).
"""


def _plain(text: str) -> str:
    return text  # not the red of error output: progress and notes are not errors


class ProgressBar:
    """A one-line bar on a terminal's stderr; when stderr is not a terminal (cron, a log), a
    line "rows: done/total" each time another `every` rows are done."""

    def __init__(self, stream, width: int = 30, every: int = 10_000):
        self.stream, self.width = stream, width
        self.enabled = stream.isatty()
        self.lines = None if self.enabled else Progress(stream, every=every)
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if self.lines is not None:
            self.lines(_("rows"), done, total)
            return
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.2 and done < total):
            return
        self.last = now
        share = done / total if total else 1
        filled = int(self.width * share)
        rate = done / max(now - self.started, 1e-6)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%} "
                          f"{done}/{total} rows {rate:,.0f}/s", style_func=_plain, ending="")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.last:
            self.stream.write("", style_func=_plain)


class ImportCommand(BaseCommand):
    importer = None  # one of refunds.services.imports.import_*
    what = ""
    help = ""

    def create_parser(self, prog_name, subcommand, **kwargs):
        from argparse import RawDescriptionHelpFormatter

        kwargs.setdefault("epilog", EPILOG)
        kwargs.setdefault("formatter_class", RawDescriptionHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("file", help=f"the platform's {self.what} export (CSV)")
        parser.add_argument("--shop", required=True, help="the shop's code (Shop.code)")
        parser.add_argument("--dry-run", action="store_true",
                            help="read and check everything, write nothing")
        parser.add_argument("--progress-every", type=int, default=10_000, metavar="N",
                            help="print a progress line every N rows when stderr is not a "
                                 "terminal (0: never)")

    def handle(self, *args, file, shop, dry_run, progress_every=10_000, **options):
        try:
            shop_obj = Shop.objects.select_related("policy").get(code=shop)
        except Shop.DoesNotExist:
            raise CommandError(f"Unknown shop code {shop!r}.", returncode=2) from None
        bar = ProgressBar(self.stderr, every=progress_every)
        try:
            result = self.importer(shop=shop_obj, path_or_file=file, dry_run=dry_run,
                                         actor=None, progress=bar)
        except ImportStopped as error:  # what was written before it is said, then why
            bar.finish()
            self.report(error.result)
            raise CommandError(str(error.message), returncode=3) from None
        except DomainError as error:
            bar.finish()
            raise CommandError(str(error.message), returncode=2) from None
        bar.finish()
        self.report(result)
        if dry_run:
            self.stderr.write("dry run: nothing was written", style_func=_plain)
        if result.rejected:
            sys.exit(1)

    def report(self, result) -> None:
        for line, reason in result.errors:
            self.stdout.write(f"line {line}: {reason}")
        for conflict in result.conflicts:
            self.stdout.write(f"line {conflict.line}: conflict: {conflict}")
        self.stdout.write(result.summary())
