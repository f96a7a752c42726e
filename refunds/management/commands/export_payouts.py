"""Export every pending payout into a batch file, one batch per shop (for cron).

    python manage.py export_payouts [--shop CODE] [--out FILE] [--format xlsx|csv] [--dry-run]

Safe to re-run: only pending payouts are exported, so nothing is exported twice. Each shop's
batch and its file are one unit: the file is written to a temporary name inside the
transaction that marks the payouts exported, and takes its name once it has committed; when the
file cannot be written nothing is marked exported, the error is reported and the exit code
is 1. A batch's file can be written again at any time from /finance/batches/<id>/.

A file is never replaced: when FILE exists already (an earlier batch of the same day, with
cron's `payouts-$(date +%F).xlsx`), the batch's file is FILE-batch<id> beside it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from refunds.exports import payout_batch_file
from refunds.models import Payout, PayoutState, Shop
from refunds.services.payouts import payout_batch_export


def _target(out: str | None, shop: Shop, batch_id: int, fmt: str, several: bool) -> Path:
    """--out FILE for one shop; with several shops, FILE gets the shop code before its
    extension; without --out, a name with the shop, the batch and the time."""
    if not out:
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        return Path(f"payouts-{shop.code}-{batch_id}-{stamp}.{fmt}")
    path = Path(out)
    if several:
        return path.with_name(f"{path.stem}-{shop.code}{path.suffix or '.' + fmt}")
    return path


class Command(BaseCommand):
    help = "Export pending payouts (one batch and one file per shop). Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument("--shop", help="Only this shop (its code).")
        parser.add_argument("--out", help="File to write (with several shops: FILE-<shop>).")
        parser.add_argument("--format", choices=["xlsx", "csv"],
                            help="Default: from --out's extension, else xlsx.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Say what would be exported; change and write nothing.")

    def handle(self, *args, shop=None, out=None, format=None, dry_run=False, **options):
        fmt = format or ("csv" if out and out.lower().endswith(".csv") else "xlsx")
        shops = Shop.objects.order_by("code")
        if shop:
            shops = shops.filter(code=shop)
            if not shops.exists():
                raise CommandError(f"No shop with code {shop!r}.")
        shop_ids = set(Payout.objects.filter(state=PayoutState.PENDING, shop__in=shops)
                       .values_list("shop_id", flat=True).distinct())
        targets = [s for s in shops if s.pk in shop_ids]
        if dry_run:
            for each in targets:
                count = Payout.objects.filter(state=PayoutState.PENDING, shop=each).count()
                self.stdout.write(f"{each.code}: {count} pending payout(s) would be exported")
            self.stdout.write(f"dry run: {len(targets)} shop(s), nothing changed")
            return
        exported = failed = 0
        for each in targets:
            try:
                path = self._export(each, out, fmt, several=len(targets) > 1)
            except Exception as error:  # noqa: BLE001 - report, go on with the other shops
                failed += 1
                self.stderr.write(f"{each.code}: not exported ({type(error).__name__}: {error})")
                continue
            if path is not None:
                exported += 1
                self.stdout.write(f"{each.code}: {path}")
        self.stdout.write(f"exported {exported} batch(es), {failed} failed")
        if failed:
            raise CommandError(f"{failed} shop(s) could not be exported; see above.")

    def _export(self, shop: Shop, out: str | None, fmt: str, several: bool) -> Path | None:
        temporary = None
        try:
            with transaction.atomic():
                batch = payout_batch_export(shop=shop, actor=None, source="command")
                if batch is None:  # a concurrent run took them
                    return None
                content, _type, _name = payout_batch_file(batch, fmt)
                path = _target(out, shop, batch.pk, fmt, several)
                names = [path, path.with_name(f"{path.stem}-batch{batch.pk}{path.suffix}")]
                names = [name for name in names if not name.exists()]
                if not names:  # rolls the batch back: its payouts stay pending
                    raise CommandError(f"{path} and its -batch{batch.pk} name exist already; "
                                       "a bank file is never replaced")
                handle, temporary = tempfile.mkstemp(prefix=".payouts-",
                                                     dir=path.parent or Path("."))
                with os.fdopen(handle, "wb") as file:
                    file.write(content)
            # committed: only now does the file take its name, one that no file has
            path = _link(temporary, names)
            if path == Path(temporary):
                temporary = None  # the batch's only file: kept under its temporary name
        finally:
            if temporary and os.path.exists(temporary):
                os.unlink(temporary)  # rolled back (or linked): leave no half file
        return path


def _link(temporary: str, names: list[Path]) -> Path:
    """Give the written file the first of `names` that is still free. A hard link, unlike a
    rename, never replaces a file that took the name meanwhile; when every name is taken the
    file keeps its temporary name (the batch is committed: its file must not be lost)."""
    for name in names:
        try:
            os.link(temporary, name)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: a rename, checked just before
            if name.exists():
                continue
            os.replace(temporary, name)
        return name
    return Path(temporary)
