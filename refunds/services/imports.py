"""Platform imports: the seller centre's order, refund and review exports into the desk.

Each import reads the whole file first (`refunds.imports`): a file that cannot be read, lacks
a required column or carries another shop's 店铺Id / 店铺名称 on any row is refused whole
(`ImportFileError`) before anything is written. Then every row is upserted on the platform's
id; a row that cannot be imported is reported with its line number and the others go on.

- Orders are written in bulk, chunk by chunk: one query per chunk for its existing orders
  and buyers (`_keyed_rows`), new rows inserted in one go (`_insert_rows`: executemany,
  COPY on PostgreSQL), changed orders in one bulk_update; no query per row (`make bench`).
  On PostgreSQL the next chunk is parsed in a thread while the database saves this one
  (`_read_ahead`).
- Refund rows create cases directly in the platform's state, or move existing cases only
  along the moves the platform itself can make, through the same services as staff, as
  "system" (actor=None). Anything else is a *conflict*: reported, never applied.
- Review rows are upserted on (order, 宝贝标题); 中评/差评 are kept for their follow-ups.

Counts: every row ends as exactly one of imported, updated, unchanged, rejected (a row
error) or conflict (refunds only; not counted as rejected). A real import records one
`ImportRun`; a dry run does all the work inside a transaction that is rolled back, so it
writes nothing at all (no ImportRun either) and reports exactly what a real run would.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import (
    DatabaseError,
    IntegrityError,
    connections,
    models,
    router,
    transaction,
)
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .. import events, workdays
from ..bulk import insert_many
from ..deadlines import deadline_for
from ..exceptions import ActionNotAllowed, AmountError, DomainError, PermissionDeniedError
from ..fsmlog import batched_state_logs
from ..imports.reader import ExportFile, ImportFileError, Record, read_export
from ..imports.rows import (
    ORDER_REQUIRED,
    ORDER_USED,
    REFUND_REQUIRED,
    REFUND_STATUS_TEXTS,
    REVIEW_REQUIRED,
    SHOP_ID,
    SHOP_NAME,
    OrderRow,
    RefundRow,
    ReviewRow,
    RowError,
    order_parser,
    parse_refund,
    parse_review,
)
from ..locks import lock_case, lock_order
from ..models import (
    Buyer,
    Case,
    CaseKind,
    CaseState,
    CloseReason,
    GoodsStatus,
    ImportKind,
    ImportRun,
    Order,
    OrderLine,
    OrderStatus,
    Payout,
    Refund,
    RefundStatus,
    Review,
    ReviewRating,
    Shop,
)
from ..models.cases import DISPUTABLE_STATES, OPEN_STATES
from ..permissions import user_serves_shop
from . import cases as case_services
from . import payouts as payout_services
from .followups import (
    followups_create_for_reviews,
    followups_follow_review_date,
    followups_follow_review_revised,
)
from .money import (
    clean_amount,
    committed_amounts,
    ensure_refundable,
    ensure_within,
    refundable_amounts,
)
from .receipts import NOTHING_RECORDED, WINDOW_FIELDS, imported_window, recorded_windows
from .stockouts import stockouts_follow_orders

logger = logging.getLogger(__name__)

PLATFORM_STATUS_TEXTS = {api: text for text, api in REFUND_STATUS_TEXTS.items()}
CHUNK_SIZE = 5000  # rows per transaction: fewer commits and lookups (docs/PERFORMANCE.md)
MAX_STORED_ISSUES = 1000  # per ImportRun; the counts stay exact
# an order in one of these is no longer to be shipped: its open stock-outs follow it
LEFT_TO_SHIP = (OrderStatus.SHIPPED, OrderStatus.COMPLETED, OrderStatus.CLOSED)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Conflict:
    """A refund row the platform says one thing about and the case another: not applied."""

    line: int
    refund_id: str
    state: str  # our case state
    platform_status: str  # the platform's, e.g. WAIT_SELLER_AGREE
    reason: str
    case_id: int | None = None

    @property
    def state_label(self) -> str:
        return str(CaseState(self.state).label)

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "refund_id": self.refund_id, "state": self.state,
                "platform_status": self.platform_status, "reason": self.reason,
                "case_id": self.case_id}

    def __str__(self) -> str:
        return _("refund %(refund)s: the platform says %(status)s, the case is %(state)s — "
                 "%(reason)s") % {"refund": self.refund_id, "status": self.platform_status,
                                  "state": self.state, "reason": self.reason}


@dataclass
class ImportResult:
    kind: str
    filename: str = ""
    encoding: str = ""
    dry_run: bool = False
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    stockouts_settled: int = 0  # open stock-outs of orders the export shows shipped or closed
    errors: list[tuple[int, str]] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    run: ImportRun | None = None
    failure: str = ""  # why it stopped part-way (the counts are what was written)

    @property
    def rejected(self) -> int:
        return len(self.errors)

    def reject(self, line: int, reason: str) -> None:
        self.errors.append((line, reason))

    def add(self, other: ImportResult) -> None:
        """Count a committed part of the import (`other`) in this result."""
        self.imported += other.imported
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.stockouts_settled += other.stockouts_settled
        self.errors.extend(other.errors)
        self.conflicts.extend(other.conflicts)

    def summary(self) -> str:
        """The command's summary line; a fixed format that scripts read, so never translated."""
        line = (f"imported {self.imported}, updated {self.updated}, "
                f"unchanged {self.unchanged}, rejected {self.rejected}")
        if self.conflicts:
            line += f", conflicts {len(self.conflicts)}"
        if self.stockouts_settled:
            line += f", stock-outs settled {self.stockouts_settled}"
        return line


class ImportStopped(DomainError):
    """An unexpected error stopped an import part-way; `result` counts what was written
    before it (its chunks committed) and `result.failure` says why (in the history too)."""

    def __init__(self, result: ImportResult):
        super().__init__(_("The import stopped part-way: %(failure)s") % {
            "failure": result.failure})
        self.result = result


# --- the frame every import runs in ---------------------------------------------------------


def _check_actor(actor: User | None, shop: Shop) -> None:
    if actor is not None and not (
        actor.has_perm("refunds.add_importrun") and user_serves_shop(actor, shop.pk)
    ):
        raise PermissionDeniedError()


class _ShopCheck:
    """Refuses a record that names another shop (店铺Id / 店铺名称), as ImportFileError.

    Run over the whole file before any row is written (`_check_shop`), and again on each
    record the import reads: the file is read a pass at a time, so one replaced after its
    check (another shop's export dropped in its place) still brings none of its rows."""

    COLUMNS = (SHOP_ID, SHOP_NAME)

    def __init__(self, export: ExportFile, shop: Shop) -> None:
        self.check_id, self.check_name = SHOP_ID in export.columns, SHOP_NAME in export.columns
        self.expected_id, self.expected_name = shop.platform_shop_id.strip(), shop.name.strip()
        self.shop = shop

    def __call__(self, record: Record) -> None:
        found_id = record.get(SHOP_ID) if self.check_id else ""
        found_name = record.get(SHOP_NAME) if self.check_name else ""
        if found_id and found_id != self.expected_id:
            if not self.expected_id:
                raise ImportFileError(
                    _("Line %(line)s carries 店铺Id “%(found)s” but shop %(shop)s has no "
                      "platform shop id to check it against: set it in the admin first. "
                      "Nothing was imported.")
                    % {"line": record.line, "found": found_id, "shop": self.shop}
                )
            raise ImportFileError(
                _("Line %(line)s belongs to 店铺Id “%(found)s”, not to shop %(shop)s "
                  "(“%(expected)s”): this is another shop's export. Nothing was imported.")
                % {"line": record.line, "found": found_id, "shop": self.shop,
                   "expected": self.expected_id}
            )
        if found_name and found_name != self.expected_name:
            raise ImportFileError(
                _("Line %(line)s belongs to 店铺名称 “%(found)s”, not to shop %(shop)s: "
                  "this is another shop's export. Nothing was imported.")
                % {"line": record.line, "found": found_name, "shop": self.shop}
            )


def _check_shop(export: ExportFile, shop: Shop) -> int:
    """Refuse the whole file when any row names another shop; returns the number of rows."""
    check = _ShopCheck(export, shop)
    count = 0
    for record in export.records(only=_ShopCheck.COLUMNS):
        count += 1
        check(record)
    return count


def _record_run(result: ImportResult, shop: Shop, actor: User | None) -> ImportRun:
    return ImportRun.objects.create(
        shop=shop, kind=result.kind, filename=result.filename[:255],
        encoding=result.encoding[:20], dry_run=result.dry_run, started_by=actor,
        imported=result.imported, updated=result.updated, unchanged=result.unchanged,
        rejected=result.rejected, stockouts_settled=result.stockouts_settled,
        errors=[[line, reason] for line, reason in result.errors[:MAX_STORED_ISSUES]],
        conflicts=[conflict.as_dict() for conflict in result.conflicts[:MAX_STORED_ISSUES]],
        failure=result.failure,
    )


def _record_refusal(kind: str, shop: Shop, actor: User | None, export: ExportFile | None,
                    path_or_file: Any, error: ImportFileError) -> ImportRun:
    name = export.name if export is not None else str(
        getattr(path_or_file, "name", path_or_file))
    return ImportRun.objects.create(
        shop=shop, kind=kind, filename=Path(name).name[-255:],
        encoding=(export.encoding if export is not None else "")[:20], started_by=actor,
        refused=str(error))


def _run_import(kind: str, required: list[str],
                process: Callable[[ExportFile, Shop, ImportResult, Progress | None, int], None],
                *, shop: Shop, path_or_file: Any, dry_run: bool, actor: User | None,
                progress: Progress | None) -> ImportResult:
    _check_actor(actor, shop)
    export = None
    try:
        export = read_export(path_or_file)
        export.require(required)
        total = _check_shop(export, shop)
    except ImportFileError as error:
        if not dry_run:  # the attempt stays in the history: who tried which file, and why not
            _record_refusal(kind, shop, actor, export, path_or_file, error)
        raise
    result = ImportResult(kind=kind, filename=export.name, encoding=export.encoding,
                          dry_run=dry_run)
    if dry_run:
        with transaction.atomic():
            process(export, shop, result, progress, total)
            transaction.set_rollback(True)
    else:
        try:
            process(export, shop, result, progress, total)
        except Exception as error:
            logger.exception("the %s import of %s stopped part-way", kind, shop)
            _record_failure(result, shop, actor, error)
            raise ImportStopped(result) from error
    result.errors.sort(key=lambda error: error[0])
    if not dry_run:
        result.run = _record_run(result, shop, actor)
    return result


def _record_failure(result: ImportResult, shop: Shop, actor: User | None,
                    error: Exception) -> None:
    """An import stopped part-way by an unexpected error (the database went away, a bug):
    the chunks committed before it stay written, so the history says how many rows they
    held and why it stopped — not a silence."""
    result.errors.sort(key=lambda item: item[0])
    result.failure = _(
        "%(error)s. The rows counted here were written; the rest of the file was not: import "
        "it again once the cause is fixed (rows already written count as unchanged)."
    ) % {"error": f"{type(error).__name__}: {error}"}
    try:
        result.run = _record_run(result, shop, actor)
    except DatabaseError:  # the same cause may stop this too: the error itself is what matters
        logger.exception("the failed %s import of %s could not be recorded", result.kind, shop)


def import_orders(*, shop: Shop, path_or_file: Any, dry_run: bool = False,
                  actor: User | None = None, progress: Progress | None = None) -> ImportResult:
    """订单报表 → Order, Buyer, one OrderLine per order; upsert on (shop, 订单编号)."""
    return _run_import(ImportKind.ORDERS, ORDER_REQUIRED, _process_orders, shop=shop,
                       path_or_file=path_or_file, dry_run=dry_run, actor=actor,
                       progress=progress)


def import_refunds(*, shop: Shop, path_or_file: Any, dry_run: bool = False,
                   actor: User | None = None, progress: Progress | None = None) -> ImportResult:
    """退款管理 → cases; upsert on (shop, 退款编号) = Case.platform_refund_id."""
    with workdays.remembered():  # a Kuaishou shop's deadlines: the calendar read once
        return _run_import(ImportKind.REFUNDS, REFUND_REQUIRED, _process_refunds, shop=shop,
                           path_or_file=path_or_file, dry_run=dry_run, actor=actor,
                           progress=progress)


def import_reviews(*, shop: Shop, path_or_file: Any, dry_run: bool = False,
                   actor: User | None = None, progress: Progress | None = None) -> ImportResult:
    """评价管理 → Review; upsert on (order, 宝贝标题)."""
    return _run_import(ImportKind.REVIEWS, REVIEW_REQUIRED, _process_reviews, shop=shop,
                       path_or_file=path_or_file, dry_run=dry_run, actor=actor,
                       progress=progress)


IMPORTERS = {
    ImportKind.ORDERS: import_orders,
    ImportKind.REFUNDS: import_refunds,
    ImportKind.REVIEWS: import_reviews,
}


@dataclass
class _ParsedChunk:
    rows: list
    errors: list[tuple[int, str]]  # the rows that could not be parsed, by line
    done: int  # records read so far, for the progress


def _parse_in_chunks(export: ExportFile, parse: Callable[[Record], Any], key: Callable,
                     only: Iterable[str] | None,
                     check: Callable[[Record], None]) -> Iterator[_ParsedChunk]:
    """Parsed rows in chunks in which each key appears once (a repeat starts a new chunk,
    so the second copy of a row is compared with what the first one wrote). Reads the
    export and nothing else: it may run in a thread of its own (`_read_ahead`)."""
    chunk = _ParsedChunk(rows=[], errors=[], done=0)
    keys: set = set()
    done = 0
    if only is not None:
        only = [*only, *_ShopCheck.COLUMNS]
    for record in export.records(only=only):
        done += 1
        check(record)  # the file may have changed since the whole of it was checked
        if record.problem:
            chunk.errors.append((record.line, record.problem))
            continue
        try:
            row = parse(record)
        except RowError as error:
            chunk.errors.append((record.line, error.message))
            continue
        if key(row) in keys or len(chunk.rows) >= CHUNK_SIZE:
            chunk.done = done - 1
            yield chunk
            chunk, keys = _ParsedChunk(rows=[], errors=[], done=0), set()
        chunk.rows.append(row)
        keys.add(key(row))
    chunk.done = done
    yield chunk


_END = object()


def _read_ahead(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """The items of `items`, made in a thread of their own, at most `depth` ahead.

    Reading and parsing a chunk of an export is pure Python, while saving the chunk before
    it mostly waits for the database (PostgreSQL works in its own process): done this way
    the two overlap instead of adding up. The thread touches no
    database connection and runs in the caller's language (row errors are translated); an
    exception it meets is raised here; closing this generator stops it.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    language = translation.get_language()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            with translation.override(language):
                for item in items:
                    if not put((item, None)):
                        return
        except BaseException as error:  # whatever it is, the caller's thread raises it
            put((_END, error))
            return
        put((_END, None))

    thread = threading.Thread(target=produce, name="import-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _parsed_chunks(export: ExportFile, shop: Shop, parse: Callable[[Record], Any],
                   key: Callable, result: ImportResult, progress: Progress | None, total: int,
                   only: Iterable[str] | None = None,
                   read_ahead: bool = False) -> Iterator[list]:
    """`_parse_in_chunks`, its row errors recorded in `result` and the progress reported
    as each chunk is done; with `read_ahead`, the next chunk is parsed meanwhile."""
    chunks = _parse_in_chunks(export, parse, key, only, _ShopCheck(export, shop))
    parsed = _read_ahead(chunks) if read_ahead else chunks
    try:
        for chunk in parsed:
            result.errors.extend(chunk.errors)
            if chunk.rows:
                yield chunk.rows
            if progress:
                progress(chunk.done, total)
    finally:
        parsed.close()
    if progress:
        progress(total, total)


def _in_chunk_transaction(save: Callable[[], Any]) -> Any:
    """Run one chunk's writes atomically; a concurrent import that inserted the same keys
    meanwhile (IntegrityError) is met by re-reading and retrying once."""
    try:
        with transaction.atomic():
            return save()
    except IntegrityError:
        with transaction.atomic():
            return save()


_PASS_THROUGH = (str, int, bool, Decimal)


def _value_adapter(model_field: models.Field, connection) -> Callable[[Any], Any]:
    """The field's own get_db_prep_save, with a short cut for aware datetimes (two of an
    order's columns): the same value its three layers would give, at a fraction of the cost."""
    def prep(value: Any) -> Any:
        return model_field.get_db_prep_save(value, connection)

    if not isinstance(model_field, models.DateTimeField):
        return prep
    if connection.vendor == "sqlite" and settings.USE_TZ:
        # what the SQLite backend's adapt_datetimefield_value makes of an aware datetime:
        # naive in the connection's time zone (UTC unless DATABASES says otherwise), as text
        database_zone = connection.timezone

        def sqlite_datetime(value: Any) -> Any:
            if type(value) is datetime and value.tzinfo is not None:
                return str(value.astimezone(database_zone).replace(tzinfo=None))
            return prep(value)

        return sqlite_datetime
    adapt = connection.ops.adapt_datetimefield_value

    def aware_datetime(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is not None:
            return adapt(value)
        return prep(value)

    return aware_datetime


def _insert_rows(model: type[models.Model], rows: list[dict[str, Any]]) -> None:
    """INSERT plain rows (field attname → value) with executemany: bulk_create without
    building a model instance per row or compiling SQL per value, the hot spots of a
    100,000-row import. The caller re-reads the primary keys it needs (`_keyed_rows`).

    Missing fields take the model's default; values other than text, numbers, booleans and
    NULL (which the ORM hands to the driver unchanged too) go through the field's own
    get_db_prep_save (`_value_adapter`), exactly as bulk_create would send them.
    """
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    unknown = set(rows[0]) - {f.attname for f in fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no fields {sorted(unknown)}")
    now = timezone.now()
    adapters = [_value_adapter(f, connection) for f in fields]

    # The defaults are adapted once; per row only the values it has (docs/PERFORMANCE.md).
    template = [now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
                else f.get_default() for f in fields]
    template = [value if value is None or type(value) in _PASS_THROUGH else adapt(value)
                for adapt, value in zip(adapters, template, strict=True)]
    position = {f.attname: (n, adapt) for n, (f, adapt) in enumerate(zip(fields, adapters,
                                                                           strict=True))}

    def prepared(row: dict[str, Any]) -> tuple:
        values = template.copy()
        for attname, value in row.items():
            n, adapt = position[attname]
            values[n] = value if value is None or type(value) in _PASS_THROUGH \
                else adapt(value)
        return tuple(values)

    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: one stream instead of a statement (and a round trip) per row; psycopg
            # adapts each value by its Python type, as it does for the ORM's parameters.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(prepared(row))
            return
        sql = "INSERT INTO {} ({}) VALUES ({})".format(
            table, columns, ", ".join(["%s"] * len(fields)))
        for start in range(0, len(rows), 1000):
            cursor.executemany(sql, [prepared(row) for row in rows[start:start + 1000]])


def _keyed_rows(model: type[models.Model], names: list[str], filters: dict[str, Any],
                key: str, keys: list[str]) -> list[tuple]:
    """`SELECT names FROM model WHERE filters AND key IN keys`, as the driver's tuples.

    For text and integer columns only: the values are not passed through the fields'
    converters. This is what `filter(key__in=keys).values_list(*names)` sends, without the
    ORM preparing and resolving each of a chunk's thousands of keys one by one — a large
    part of the import's own time (docs/PERFORMANCE.md). PostgreSQL gets the keys as one
    array (`= ANY(%s)`); SQLite in batches of at most its parameter limit.
    """
    if not keys:
        return []
    connection = connections[router.db_for_write(model)]
    quote, meta = connection.ops.quote_name, model._meta
    select = ", ".join(quote(meta.get_field(name).column) for name in names)
    where = "".join(f"{quote(meta.get_field(name).column)} = %s AND " for name in filters)
    sql = (f"SELECT {select} FROM {quote(meta.db_table)} "
           f"WHERE {where}{quote(meta.get_field(key).column)}")
    params = list(filters.values())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{sql} = ANY(%s)", [*params, keys])
            return cursor.fetchall()
        found: list[tuple] = []
        batch = (connection.features.max_query_params or 999) - len(params)
        for start in range(0, len(keys), batch):
            part = keys[start:start + batch]
            cursor.execute(f"{sql} IN ({', '.join(['%s'] * len(part))})", [*params, *part])
            found.extend(cursor.fetchall())
        return found


@dataclass
class _Tally:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    stockouts_settled: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def add_to(self, result: ImportResult) -> None:
        result.imported += self.imported
        result.updated += self.updated
        result.unchanged += self.unchanged
        result.stockouts_settled += self.stockouts_settled
        result.errors.extend(self.errors)


# --- orders ---------------------------------------------------------------------------------


def _process_orders(export: ExportFile, shop: Shop, result: ImportResult,
                    progress: Progress | None, total: int) -> None:
    # Reading ahead pays on PostgreSQL only (100,000 rows: ~0.5 s faster there). SQLite
    # releases the GIL for every row it writes and must then wait to take it back from the
    # parsing thread: its saves got ~35 % slower, more than the overlap gained.
    read_ahead = connections[router.db_for_write(Order)].vendor == "postgresql"
    chunks = _parsed_chunks(export, shop, order_parser(export.columns),
                            lambda row: row.order_id, result, progress, total, only=ORDER_USED,
                            read_ahead=read_ahead)
    with closing(chunks):
        for chunk in chunks:
            _in_chunk_transaction(lambda chunk=chunk: _save_orders(shop, chunk)).add_to(result)


def _upsert_buyers(platform: str, rows: list[OrderRow]) -> tuple[dict[str, int], set[str]]:
    """Buyers keyed on (platform, nick): ids by nick, and the nicks whose details changed.

    联系手机 is the phone given for one order's delivery, so it differs between a buyer's
    orders: the buyer keeps the first one known (staff may correct it in the admin) and an
    import only fills a missing mobile or Alipay account. Otherwise a file holding two
    orders of one buyer would flip the buyer back and forth on every re-import.
    """
    wanted: dict[str, tuple[str, str]] = {}
    for row in rows:
        mobile, alipay = wanted.get(row.buyer_nick, ("", ""))
        wanted[row.buyer_nick] = (mobile or row.mobile, alipay or row.alipay_account)
    existing = {nick: (pk, mobile, alipay) for nick, pk, mobile, alipay in _keyed_rows(
        Buyer, ["nick", "id", "mobile", "alipay_account"], {"platform": platform}, "nick",
        list(wanted))}
    new = [{"platform": platform, "nick": nick, "mobile": mobile, "mobile_last4": mobile[-4:],
            "alipay_account": alipay}
           for nick, (mobile, alipay) in wanted.items() if nick not in existing]
    _insert_rows(Buyer, new)
    ids = dict(_keyed_rows(Buyer, ["nick", "id"], {"platform": platform}, "nick",
                           [buyer["nick"] for buyer in new]))
    changed: dict[str, Buyer] = {}
    for nick, (pk, mobile, alipay) in existing.items():
        ids[nick] = pk
        new_mobile, new_alipay = wanted[nick]
        if (new_mobile and not mobile) or (new_alipay and not alipay):
            mobile, alipay = mobile or new_mobile, alipay or new_alipay
            changed[nick] = Buyer(pk=pk, platform=platform, nick=nick, mobile=mobile,
                                  mobile_last4=mobile[-4:], alipay_account=alipay)
    if changed:
        Buyer.objects.bulk_update(list(changed.values()),
                                  ["mobile", "mobile_last4", "alipay_account"], batch_size=500)
    return ids, set(changed)


def _line_for(order_id: int, values: dict[str, Any], row: OrderRow) -> dict[str, Any]:
    """The order's one OrderLine: what the buyer paid for the goods (paid − postage)."""
    paid = values.get("paid_amount", Decimal("0.00")) - values.get("postage", Decimal("0.00"))
    return {"order_id": order_id, "title": row.item_title, "quantity": row.quantity,
            "paid_amount": max(paid, Decimal("0.00"))}


def _save_orders(shop: Shop, rows: list[OrderRow]) -> _Tally:
    """One chunk: a query for its existing orders (as values, not model instances), then
    bulk inserts and one bulk update of the orders that changed."""
    tally = _Tally()
    buyer_ids, changed_buyers = _upsert_buyers(shop.platform, rows)
    names = sorted({"buyer_id", "paid_amount", "postage", "status", "shipped_at", "paid_at",
                    *WINDOW_FIELDS}.union(*(row.fields for row in rows)))
    auto_confirm_days = shop.policy.auto_confirm_days
    # Which orders exist, by a raw lookup of their keys; then their values through the ORM
    # (with its converters: Decimal, aware datetimes), only for those — none, when an export
    # brings new orders.
    existing_ids = [pk for pk, in _keyed_rows(Order, ["id"], {"shop": shop.pk},
                                              "platform_order_id", [row.order_id for row in rows])]
    existing = {
        values[1]: (values[0], dict(zip(names, values[2:], strict=True)))
        for values in Order.objects.filter(pk__in=existing_ids)
        .values_list("pk", "platform_order_id", *names)
    } if existing_ids else {}
    creates: list[tuple[dict[str, Any], OrderRow]] = []
    updates: list[tuple[int, dict[str, Any], OrderRow, dict[str, Any]]] = []
    windows: list[int] = []  # existing orders whose confirm-receipt window may move
    for row in rows:
        values = {**row.fields, "buyer_id": buyer_ids[row.buyer_nick]}
        found = existing.get(row.order_id)
        if found is None:
            values.update(imported_window(values, auto_confirm_days))
            creates.append(({"shop_id": shop.pk, "platform_order_id": row.order_id, **values},
                            row))
            continue
        pk, current = found
        changes = {name: value for name, value in values.items() if current[name] != value}
        # shipped by this export (or its ship time came): the buyer's confirm-receipt window
        # may move — decided below, with the row locked and what people recorded of it
        if imported_window({**current, **changes}, auto_confirm_days):
            windows.append(pk)
        updates.append((pk, current, row, changes))

    # A lower paid amount may never fall below what is already committed on the order
    # (refunds, compensation, reimbursements, complaint rulings: the money rule's sums), read
    # with those order rows locked so that nothing is approved on them between the check and
    # the update.
    lowered = [pk for pk, current, _row, changes in updates
               if changes.get("paid_amount", current["paid_amount"]) < current["paid_amount"]]
    # Those rows, and the orders whose window may move, locked in one pass in pk order; the
    # window is read again under the lock: an agent may have recorded it since (a date read
    # from the seller centre, an extension), and that is never written over.
    fresh: dict[int, dict[str, Any]] = {}
    if lowered or windows:
        fresh = {values[0]: dict(zip(WINDOW_FIELDS, values[1:], strict=True)) for values in
                 Order.objects.select_for_update().filter(pk__in={*lowered, *windows})
                 .order_by("pk").values_list("pk", *WINDOW_FIELDS)}
    recorded = recorded_windows(windows) if windows else {}
    committed = {pk: total for pk, total in committed_amounts(lowered).items() if total}
    with_lines = set(OrderLine.objects.filter(order_id__in=[pk for pk, *_rest in updates])
                     .order_by().values_list("order_id", flat=True).distinct()) \
        if updates else set()

    to_update, fields, new_lines = [], set(), []
    moved_on: list[int] = []  # shipped or closed by this import: their stock-outs follow
    moved_windows: list[Order] = []  # their window fields only (never written from `current`)
    for pk, current, row, changes in updates:
        promised = committed.get(pk)
        if promised is not None and changes["paid_amount"] < promised:
            tally.errors.append((row.line, _(
                "Order %(order)s: the paid amount ¥%(paid)s is less than the ¥%(committed)s "
                "already refunded or promised on it (refunds, compensation, "
                "reimbursements, complaint rulings).") % {
                    "order": row.order_id, "paid": changes["paid_amount"],
                    "committed": promised}))
            continue
        merged = {**current, **changes}
        window = imported_window({**merged, **fresh.get(pk, {})}, auto_confirm_days,
                                 recorded.get(pk, NOTHING_RECORDED)) if pk in fresh else {}
        if window:
            moved_windows.append(Order(pk=pk, **window))
        needs_line = bool(row.item_title) and pk not in with_lines
        if needs_line:
            new_lines.append(_line_for(pk, merged, row))
            with_lines.add(pk)
        if changes:
            # bulk_update writes every field of `fields` for every object: carry them all.
            to_update.append(Order(pk=pk, shop_id=shop.pk, platform_order_id=row.order_id,
                                   **merged))
            fields.update(changes)
            if changes.get("shipped_at") or changes.get("status") in LEFT_TO_SHIP:
                moved_on.append(pk)
        if changes or window or needs_line or row.buyer_nick in changed_buyers:
            tally.updated += 1
        else:
            tally.unchanged += 1

    _insert_rows(Order, [order for order, _row in creates])
    if creates:
        ids = dict(_keyed_rows(Order, ["platform_order_id", "id"], {"shop": shop.pk},
                               "platform_order_id", [row.order_id for _order, row in creates]))
        new_lines += [_line_for(ids[row.order_id], order, row)
                      for order, row in creates if row.item_title]
    if to_update:
        Order.objects.bulk_update(to_update, sorted(fields), batch_size=500)
    if moved_windows:
        Order.objects.bulk_update(moved_windows, ["confirm_receipt_by",
                                                  "confirm_receipt_estimated"], batch_size=500)
    if moved_on:
        tally.stockouts_settled = stockouts_follow_orders(moved_on)
    _insert_rows(OrderLine, new_lines)
    tally.imported += len(creates)
    return tally


# --- reviews --------------------------------------------------------------------------------


def _process_reviews(export: ExportFile, shop: Shop, result: ImportResult,
                     progress: Progress | None, total: int) -> None:
    for chunk in _parsed_chunks(export, shop, partial(parse_review, columns=export.columns),
                                lambda r: (r.order_id, r.item_title), result, progress, total):
        _in_chunk_transaction(lambda chunk=chunk: _save_reviews(shop, chunk)).add_to(result)


def _save_reviews(shop: Shop, rows: list[ReviewRow]) -> _Tally:
    tally = _Tally()
    orders = dict(Order.objects.filter(shop=shop, platform_order_id__in={r.order_id for r in rows})
                  .values_list("platform_order_id", "pk"))
    existing = {(review.order_id, review.item_title): review for review in
                Review.objects.filter(order_id__in=list(orders.values()))}
    creates, updates, fields, redated, revised = [], [], set(), [], []
    for row in rows:
        order_pk = orders.get(row.order_id)
        if order_pk is None:
            tally.errors.append((row.line, _("Unknown order %(order)s (import the orders "
                                             "first).") % {"order": row.order_id}))
            continue
        review = existing.get((order_pk, row.item_title))
        if review is None:
            creates.append(Review(shop=shop, order_id=order_pk, item_title=row.item_title,
                                  **row.fields))
            continue
        changes = {name: value for name, value in row.fields.items()
                   if getattr(review, name) != value}
        if not changes:
            tally.unchanged += 1
            continue
        if review.needs_follow_up and changes.get("rating") == ReviewRating.GOOD:
            revised.append(review)  # 差评/中评 → 好评: the buyer revised it
        for name, value in changes.items():
            setattr(review, name, value)
        updates.append(review)
        fields.update(changes)
        if "posted_at" in changes:
            redated.append(review)
        tally.updated += 1
    Review.objects.bulk_create(creates, batch_size=500)
    if updates:
        Review.objects.bulk_update(updates, sorted(fields), batch_size=500)
    # 中评/差评: their follow-ups open now, together (idempotent)
    followups_create_for_reviews([*creates, *updates], source="import")
    for review in revised:
        followups_follow_review_revised(review)
    for review in redated:  # a corrected date moves the revision window with it
        followups_follow_review_date(review)
    tally.imported += len(creates)
    return tally


# --- refunds --------------------------------------------------------------------------------


REFUND_GROUP = 100  # refund rows per transaction (each row in a savepoint of its own)


class _RefundCases:
    """The import's cases by refund id: read for the file's rows at the start, plus those the
    import linked or opened. `as_read` keeps only what no row of this import has written since
    it was read, which is what the short cut for a row already seen may compare with."""

    def __init__(self, cases: dict[str, Case]) -> None:
        self.known = cases
        self.as_read = dict(cases)

    def get(self, refund_id: str) -> Case | None:
        return self.known.get(refund_id)

    def already_seen(self, row: RefundRow, order: Order) -> bool:
        """The case as read holds this row's status and 修改时间 on the same order: the row was
        imported before and changes nothing (`case_platform_sync` would say "unchanged")."""
        case = self.as_read.get(row.refund_id)
        return (case is not None and case.order_id == order.pk
                and case.platform_status == row.platform_status
                and (row.modified_at is None or row.modified_at == case.platform_modified_at))


def _process_refunds(export: ExportFile, shop: Shop, result: ImportResult,
                     progress: Progress | None, total: int) -> None:
    rows: list[RefundRow] = []
    for chunk in _parsed_chunks(export, shop, partial(parse_refund, columns=export.columns),
                                lambda row: row.line, result, None, total):
        rows.extend(chunk)
    orders: dict[str, Order] = {}
    loaded: dict[str, Case] = {}
    for start in range(0, len(rows), CHUNK_SIZE):
        part = rows[start:start + CHUNK_SIZE]
        orders.update((order.platform_order_id, order) for order in Order.objects.filter(
            shop=shop, platform_order_id__in={row.order_id for row in part}))
        loaded.update((case.platform_refund_id, case) for case in Case.objects.filter(
            shop=shop, platform_refund_id__in={row.refund_id for row in part}))
    cases = _RefundCases(loaded)
    now = timezone.now()
    for start in range(0, len(rows), REFUND_GROUP):
        group = rows[start:start + REFUND_GROUP]
        _import_refund_group(shop, group, orders, cases, result, now)
        if progress:
            progress(start + len(group), len(rows))


def _import_refund_group(shop: Shop, group: list[RefundRow], orders: dict[str, Order],
                         cases: _RefundCases, result: ImportResult, now: datetime) -> None:
    """A group of rows in one transaction, each row in a savepoint: a row refused (the money
    rule, a conflict of its own) rolls back alone, and the group commits once instead of once
    per row. If the transaction itself fails (its commit, a deadlock with another import),
    nothing of it was written: the rows are done again one transaction each. What the group
    did counts in `result`, and its new cases are known, only once it committed."""
    def run() -> tuple[ImportResult, dict[str, Case]]:
        tally, opened = ImportResult(kind=result.kind), {}
        desk = _lock_group_orders([row for row in group if row.order_id in orders and not
                                   cases.already_seen(row, orders[row.order_id])], orders)
        new: list[tuple[Order, RefundRow]] = []  # new requests, opened together
        for row in group:
            order = orders.get(row.order_id)
            if (order is not None and row.amount <= order.paid_amount
                    and not cases.already_seen(row, order)
                    and row.refund_id not in opened and cases.get(row.refund_id) is None
                    and (order.pk, row.kind) not in desk
                    and all(row.refund_id != waiting.refund_id for _order, waiting in new)):
                new.append((order, row))
                continue
            _open_new_refunds(shop, new, opened, tally, now)  # before a row that may need them
            _import_refund_row(shop, order, row, cases, opened, tally, now)
        _open_new_refunds(shop, new, opened, tally, now)
        return tally, opened

    try:
        with transaction.atomic():
            tally, opened = run()
    except DatabaseError:
        logger.warning("refund import: a group of %s rows failed; doing them one by one",
                       len(group), exc_info=True)
        tally, opened = ImportResult(kind=result.kind), {}
        for row in group:
            _import_refund_row(shop, orders.get(row.order_id), row, cases, opened, tally, now)
    cases.known.update(opened)
    result.add(tally)


def _open_new_refunds(shop: Shop, new: list[tuple[Order, RefundRow]], opened: dict[str, Case],
                      result: ImportResult, now: datetime) -> None:
    """Open the cases of `new` (rows of new platform refunds whose orders hold no desk case)
    with one `cases_import_create`, count them, and empty `new`."""
    if not new:
        return
    for (_order, row), outcome in zip(new, cases_import_create(shop=shop, items=new, now=now),
                                      strict=True):
        if isinstance(outcome, Case):
            opened[row.refund_id] = outcome
            result.imported += 1
        else:
            result.reject(row.line, _("Refund %(refund)s: %(error)s")
                          % {"refund": row.refund_id, "error": outcome.message})
    new.clear()


def _lock_group_orders(group: list[RefundRow], orders: dict[str, Order]) -> set[tuple[int, str]]:
    """Lock the group's orders, in pk order as every service locks them (two imports at once
    cannot deadlock), and return which of them hold a desk case a row might be linked to
    ((order id, kind) of an open case without a refund id). Opening a case locks its order
    first, so while the group holds these locks nobody can add one: a row whose order holds
    none needs no look (`case_link_desk_case` still decides for the others)."""
    ids = sorted({orders[row.order_id].pk for row in group if row.order_id in orders})
    if not ids:  # every row was seen before, or names an unknown order: nothing to lock
        return set()
    list(Order.objects.select_for_update().filter(pk__in=ids).order_by("pk")
         .values_list("pk", flat=True))
    return set(Case.objects.filter(order_id__in=ids, platform_refund_id="",
                                   state__in=OPEN_STATES).values_list("order_id", "kind"))


def _import_refund_row(shop: Shop, order: Order | None, row: RefundRow, cases: _RefundCases,
                       opened: dict[str, Case], result: ImportResult, now: datetime) -> None:
    """One row in a transaction (a savepoint inside the group's): a new case, a desk case
    linked, or an existing case synced; `opened` collects the cases it linked or opened."""
    if order is None:
        result.reject(row.line, _("Unknown order %(order)s (import the orders first).")
                      % {"order": row.order_id})
        return
    if row.amount > order.paid_amount:
        result.reject(row.line, _(
            "Refund %(refund)s: ¥%(amount)s is more than the ¥%(paid)s paid on order "
            "%(order)s.") % {"refund": row.refund_id, "amount": row.amount,
                             "paid": order.paid_amount, "order": row.order_id})
        return
    if cases.already_seen(row, order):
        result.unchanged += 1  # a re-export's row: nothing to lock, nothing to write
        return
    cases.as_read.pop(row.refund_id, None)  # written below, perhaps: compare no more
    case = opened.get(row.refund_id) or cases.get(row.refund_id)
    try:
        with transaction.atomic():
            if case is None:
                case = case_link_desk_case(order=order, row=row, now=now)
                if case is None:  # the buyer's request is new: open a case for it
                    opened[row.refund_id] = case_import_create(shop=shop, order=order,
                                                               row=row, now=now)
                    result.imported += 1
                    return
                # else: the request a colleague opened by phone or chat, linked
            outcome = case_platform_sync(case=case, order=order, row=row, now=now)
            opened[row.refund_id] = case
    except AmountError as error:
        result.reject(row.line, _("Refund %(refund)s: %(error)s")
                      % {"refund": row.refund_id, "error": error.message})
        return
    except (DomainError, IntegrityError) as error:
        message = getattr(error, "message", None) or _(
            "the refund was changed by someone else at the same time; import again")
        result.reject(row.line, _("Refund %(refund)s: %(error)s")
                      % {"refund": row.refund_id, "error": message})
        return
    if isinstance(outcome, Conflict):
        result.conflicts.append(outcome)
    elif outcome == "updated":
        result.updated += 1
    else:
        result.unchanged += 1


def _platform_refusal(row: RefundRow) -> str:
    return f"platform: {PLATFORM_STATUS_TEXTS[row.platform_status]}"


def _platform_note(row: RefundRow) -> str:
    return _("Platform export: %(status)s") % {"status": row.platform_status}


def _close_reason(row: RefundRow, deadline_at: datetime | None) -> str:
    """The export does not say why a request closed: past its deadline it timed out;
    otherwise the buyer withdrew it (the platform's most common close)."""
    deadline = row.deadline_at or deadline_at
    if deadline and row.modified_at and row.modified_at >= deadline:
        return CloseReason.TIMEOUT
    return CloseReason.WITHDRAWN


def _apply_platform_deadline(case: Case, row: RefundRow, since: datetime) -> list[str]:
    """The platform's 超时时间 wins while the case is open; its owner follows our rules."""
    computed = deadline_for(case, case.shop.policy, since)
    if row.deadline_at is not None and computed.owner:
        case.deadline_at, case.deadline_owner, case.deadline_rule = (
            row.deadline_at, computed.owner, "platform")
    else:
        case.deadline_at, case.deadline_owner, case.deadline_rule = (
            computed.at, computed.owner, computed.rule)
    return ["deadline_at", "deadline_owner", "deadline_rule"]


def case_link_desk_case(*, order: Order, row: RefundRow,
                        now: datetime | None = None) -> Case | None:
    """The desk's own case for this platform refund, if there is exactly one: an open case of
    the same kind on the order, opened by hand (no refund id yet) before the buyer applied on
    the platform. It gets the refund id, and a SYSTEM timeline row says so; then the row
    syncs it like any case. None (a new case is opened) when there is none, or more than one
    could be it — a person tells them apart, a guess could double a refund."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_order(order.pk)
        candidates = list(Case.objects.select_for_update().filter(
            order=order, platform_refund_id="", kind=row.kind, state__in=OPEN_STATES)[:2])
        if len(candidates) != 1:
            return None
        case = candidates[0]
        case.platform_refund_id = row.refund_id
        case.save(update_fields=["platform_refund_id", "updated_at"])
        events.note_event(case=case, actor=None, note=_(
            "The platform's refund %(refund)s (from an export) is this case: linked.")
            % {"refund": row.refund_id})
    return case


def case_import_create(*, shop: Shop, order: Order, row: RefundRow,
                       now: datetime | None = None) -> Case:
    """Open a case for a platform refund, directly in the platform's state.

    Creation is not a transition: the case starts where the platform is (a refund that is
    already 退款成功 is a refunded case with a paid refund row, reference "PLATFORM").
    The order row is locked; money that is, or may become, refunded is checked against
    what is still refundable. The timeline's "created" row is by system.
    """
    [outcome] = cases_import_create(shop=shop, items=[(order, row)], now=now)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def cases_import_create(*, shop: Shop, items: list[tuple[Order, RefundRow]],
                        now: datetime | None = None) -> list[Case | DomainError]:
    """`case_import_create` for many platform refunds at once, in their order: one outcome per
    item, the new case or the DomainError that refused it (the others go on).

    Each item is checked as one call checks it, its order row locked (all of them, in pk
    order): the order's shop, the amount against what was paid and against what is still
    refundable, counting the money the items before it committed on the same order — a
    refund the platform made or agreed (退款成功: a paid refund row); a request commits
    nothing until it is agreed, so two requests of 150 on an order of 188 both open, and two
    platform refunds of 150 do not. The cases, their "created" timeline rows and their
    refunds are then written with one statement per table.
    """
    now = now or timezone.now()
    outcomes: list[Case | DomainError] = []
    with transaction.atomic():
        locked = {order.pk: order for order in Order.objects.select_for_update()
                  .filter(pk__in={order.pk for order, _row in items}).order_by("pk")}
        available = refundable_amounts(locked.values())
        for order, row in items:
            try:
                outcomes.append(_platform_case(shop, locked[order.pk], row, now, available))
            except DomainError as error:
                outcomes.append(error)
        cases = [outcome for outcome in outcomes if isinstance(outcome, Case)]
        Case.objects.bulk_create(cases)
        insert_many([events.build_case_created_event(
            case=case, actor=None, source="platform", at=now,
            data={"platform_status": case.platform_status,
                  "platform_refund_id": case.platform_refund_id}) for case in cases])
        refunds = Refund.objects.bulk_create([Refund(
            case=case, order=case.order, amount=case.requested_amount, approved_by=None,
            status=RefundStatus.PAID if case.state == CaseState.REFUNDED else RefundStatus.PENDING,
            payment_reference="PLATFORM" if case.state == CaseState.REFUNDED else "",
            paid_at=(case.platform_modified_at or now) if case.state == CaseState.REFUNDED
            else None,
        ) for case in cases if case.state in (CaseState.REFUNDED, CaseState.REFUND_PENDING)])
        # A refund the platform has already paid (退款成功) has its payout, paid by the
        # platform, as the sweep's platform refund writes it: finance's list of paid payouts
        # is every refund the buyer got, and nothing is left for finance to pay.
        with batched_state_logs():  # each payout's django-fsm-log row, once it is saved
            paid = []
            for refund in refunds:
                if refund.status == RefundStatus.PAID:
                    payout = payout_services.build_payout_for_refund(refund=refund, actor=None,
                                                                     now=now)
                    payout_services.settle_new_payout_paid(payout=payout, actor=None,
                                                           now=refund.paid_at,
                                                           reference=refund.payment_reference)
                    paid.append(payout)
            Payout.objects.bulk_create(paid)
    return outcomes


def _platform_case(shop: Shop, order: Order, row: RefundRow, now: datetime,
                   available: dict[int, Decimal]) -> Case:
    """The new case of one platform refund, not saved yet; its order is locked and
    `available` holds what is still refundable on it (spent here when the case comes with a
    refund: the money is committed, as `case_import_create` writes it)."""
    if order.shop_id != shop.pk:
        raise ActionNotAllowed(_("The order does not belong to this shop."))
    amount = clean_amount(row.amount)
    state = row.state
    if amount > order.paid_amount:
        raise AmountError(_("¥%(amount)s is more than the ¥%(paid)s paid on order "
                            "%(order)s.") % {"amount": amount, "paid": order.paid_amount,
                                             "order": order.platform_order_id})
    if state != CaseState.CLOSED:  # a closed request commits no money, now or later
        ensure_within(order, amount, available[order.pk])
    if state in (CaseState.REFUNDED, CaseState.REFUND_PENDING):  # its refund row commits it
        available[order.pk] -= amount
    case = Case(
        shop=shop, order=order, platform_refund_id=row.refund_id, kind=row.kind,
        reason=row.reason, description=row.description, requested_amount=amount,
        goods_status=row.goods_status, state=state, platform_status=row.platform_status,
        platform_modified_at=row.modified_at, requested_at=row.requested_at or now,
        created_by=None,
    )
    if state in (CaseState.AWAITING_RETURN, CaseState.RETURN_IN_TRANSIT):
        case.return_address = shop.policy.return_address
    if state == CaseState.RETURN_IN_TRANSIT:
        case.return_carrier = row.return_carrier
        case.return_tracking_no = row.return_tracking_no
        case.return_shipped_at = row.modified_at or now
        case.goods_status = GoodsStatus.RETURNED
    if state == CaseState.REFUSED:
        case.refusal_reason = _platform_refusal(row)
    if state == CaseState.CLOSED:
        case.close_reason = _close_reason(row, None)
    _apply_platform_deadline(case, row, row.modified_at or row.requested_at or now)
    return case


# The moves the platform itself makes from each of our states: (transition, next state).
# Agreeing a refund-only request is 退款成功 on the platform (platform_refund), never
# WAIT_* , so `agree` is followed only for returns.
_RETURN_KINDS = (CaseKind.RETURN, CaseKind.EXCHANGE)
_CLOSABLE = (CaseState.REQUESTED, CaseState.REFUSED, CaseState.AWAITING_RETURN,
             CaseState.RETURN_IN_TRANSIT)
_PLATFORM_REFUNDABLE = (CaseState.REQUESTED, CaseState.AWAITING_RETURN,
                        CaseState.RETURN_IN_TRANSIT, CaseState.RECEIVED,
                        CaseState.REFUND_PENDING, CaseState.REFUND_FAILED,
                        CaseState.IN_DISPUTE)
MAX_PLATFORM_STEPS = 3


def _platform_moves(state: str, kind: str, refused_on_platform: bool) -> list[tuple[str, str]]:
    moves = []
    if state == CaseState.REQUESTED:
        if kind in _RETURN_KINDS:
            moves.append(("agree", CaseState.AWAITING_RETURN))
        moves.append(("refuse", CaseState.REFUSED))
    # The buyer can only modify a refusal the platform knows about: a refusal made on the
    # desk alone is staff's decision, and a platform still at WAIT_SELLER_AGREE must not undo it.
    if state == CaseState.REFUSED and refused_on_platform:
        moves.append(("buyer_modify", CaseState.REQUESTED))
    if state == CaseState.AWAITING_RETURN and kind in _RETURN_KINDS:
        moves.append(("record_return_shipment", CaseState.RETURN_IN_TRANSIT))
    if state == CaseState.IN_DISPUTE:  # 退款关闭 of a disputed request: ruled for the shop
        moves.append(("dispute_for_shop", CaseState.CLOSED))
    if state in _CLOSABLE:
        moves.append(("close", CaseState.CLOSED))
    if state in _PLATFORM_REFUNDABLE:
        moves.append(("platform_refund", CaseState.REFUNDED))
    return moves


def platform_path(*, state: str, target: str, kind: str,
                  last_platform_status: str) -> list[str] | None:
    """The shortest list of transitions the platform can have made from `state` to `target`
    (at most MAX_PLATFORM_STEPS), or None when it cannot get there without undoing staff."""
    frontier: list[tuple[str, list[str]]] = [(state, [])]
    seen = {state}
    for _step in range(MAX_PLATFORM_STEPS):
        following = []
        for current, path in frontier:
            refused_on_platform = not path and last_platform_status == "SELLER_REFUSE_BUYER"
            for name, following_state in _platform_moves(current, kind, refused_on_platform):
                if following_state == target:
                    return [*path, name]
                if following_state not in seen:
                    seen.add(following_state)
                    following.append((following_state, [*path, name]))
        frontier = following
    return None


def _apply_platform_move(case: Case, name: str, row: RefundRow, now: datetime) -> None:
    common = {"case": case, "actor": None, "note": _platform_note(row),
              "expected_state": case.state, "now": now}
    if name == "agree":
        case_services.case_agree(**common)
    elif name == "refuse":
        case_services.case_refuse(reason=_platform_refusal(row), **common)
    elif name == "buyer_modify":
        amount = row.amount if row.amount != case.requested_amount else None
        case_services.case_buyer_modify(requested_amount=amount, **common)
    elif name == "record_return_shipment":
        case_services.case_record_return_shipment(
            carrier=row.return_carrier, tracking_no=row.return_tracking_no, **common)
    elif name == "close":
        case_services.case_close(reason=_close_reason(row, case.deadline_at), **common)
    elif name == "dispute_for_shop":
        case_services.case_dispute_for_shop(**common)
    elif name == "platform_refund":
        common.pop("actor")
        case_services.case_platform_refund(amount=row.amount, reference="PLATFORM", **common)
    else:  # pragma: no cover - _platform_moves names only the above
        raise ValueError(name)


def case_platform_sync(*, case: Case, order: Order, row: RefundRow,
                       now: datetime | None = None) -> str | Conflict:
    """Bring an existing case up to a newer platform row; "updated", "unchanged" or a Conflict.

    - A row older than the last one applied (修改时间) is a conflict.
    - A row the case has already seen (same status and 修改时间) changes nothing, even if
      staff moved the case on since: the platform has simply not heard of it yet.
    - Same state: the platform's status, 修改时间 and deadline are recorded (and a request's
      amount the buyer changed, checked against what is still refundable).
    - Otherwise only the moves the platform itself makes are applied, each through its
      service as system, one timeline row each; anything else is a conflict, not applied.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked, locked_order = lock_case(case.pk)
        if locked_order.pk != order.pk:
            raise ActionNotAllowed(
                _("this refund id belongs to order %(order)s in the desk, not to %(row)s")
                % {"order": locked_order.platform_order_id, "row": row.order_id})

        def conflict(reason: str) -> Conflict:
            return Conflict(line=row.line, refund_id=row.refund_id, state=locked.state,
                            platform_status=row.platform_status, reason=reason,
                            case_id=locked.pk)

        seen_at, seen_status = locked.platform_modified_at, locked.platform_status
        if row.modified_at and seen_at and row.modified_at < seen_at:
            return conflict(_("this row is older than the last one imported (修改时间 %(row)s "
                              "before %(seen)s); not applied")
                            % {"row": _format_time(row.modified_at),
                               "seen": _format_time(seen_at)})
        if row.platform_status == seen_status and (row.modified_at is None
                                                    or row.modified_at == seen_at):
            return "unchanged"

        if locked.state == row.state:
            return "updated" if _record_platform_facts(locked, locked_order, row, now) \
                else "unchanged"
        if seen_status == row.platform_status and row.state == CaseState.REFUNDED:
            # 退款成功 is final on the platform: a later row of it (修改时间 touched) is the
            # same refund, not a new one, even if staff reopened the case since (复核).
            return conflict(_("the platform's refund is already recorded on this case, which "
                              "was moved on the desk since; not applied"))

        if locked.state == CaseState.IN_DISPUTE and row.state in DISPUTABLE_STATES:
            # the platform arbitrates (平台介入): until it rules, its export shows the status
            # the request had; only the facts are recorded (the evidence deadline stays ours)
            return "updated" if _record_dispute_facts(locked, row) else "unchanged"
        path = platform_path(state=locked.state, target=row.state, kind=locked.kind,
                             last_platform_status=seen_status)
        if path is None and row.state == CaseState.REFUNDED:
            # money the buyer got that the desk does not count: until someone records it, the
            # order shows more refundable than it has
            if locked.state == CaseState.CLOSED:  # 复核 takes it back to where it records
                return conflict(_(
                    "the platform refunded ¥%(amount)s on this case, which the desk had "
                    "ended: that money is not recorded here, so the order shows ¥%(amount)s "
                    "more refundable than it has. Reopen the case (复核) and import the file "
                    "again to record it.") % {"amount": row.amount})
            return conflict(_(
                "the platform refunded ¥%(amount)s on this case, which is “%(state)s” on the "
                "desk: that money is not recorded here, so the order shows ¥%(amount)s more "
                "refundable than it has. Settle it with the seller centre before refunding "
                "anything more on this order.")
                % {"amount": row.amount, "state": locked.get_state_display()})
        if path is None:
            return conflict(_("the platform cannot make this move from the case's state; "
                              "not applied (check the case and the seller centre)"))
        if "record_return_shipment" in path and not (row.return_carrier
                                                     and row.return_tracking_no):
            return conflict(_("the export has no return carrier or tracking number; "
                              "not applied"))
        try:
            with transaction.atomic():
                for name in path:
                    current, _order = lock_case(locked.pk)
                    _apply_platform_move(current, name, row, now)
        except AmountError:
            raise
        except DomainError as error:
            return conflict(_("%(error)s; not applied") % {"error": error.message})
        moved, moved_order = lock_case(locked.pk)
        if "record_return_shipment" in path and row.modified_at:
            moved.return_shipped_at = row.modified_at
            moved.save(update_fields=["return_shipped_at", "updated_at"])
        _record_platform_facts(moved, moved_order, row, now)
        return "updated"


def _format_time(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def _record_status_and_time(case: Case, row: RefundRow) -> list[str]:
    """The platform's status and 修改时间 set on `case`; returns the fields that changed."""
    fields = []
    if case.platform_status != row.platform_status:
        case.platform_status = row.platform_status
        fields.append("platform_status")
    if row.modified_at and case.platform_modified_at != row.modified_at:
        case.platform_modified_at = row.modified_at
        fields.append("platform_modified_at")
    return fields


def _record_dispute_facts(case: Case, row: RefundRow) -> bool:
    """A disputed case's row before the ruling: its status and 修改时间; True if changed."""
    fields = _record_status_and_time(case, row)
    if fields:
        case.save(update_fields=[*fields, "updated_at"])
    return bool(fields)


def _record_platform_facts(case: Case, order: Order, row: RefundRow, now: datetime) -> bool:
    """Record the platform's status, 修改时间 and deadline on a locked case; True if changed."""
    fields = _record_status_and_time(case, row)
    if row.deadline_at and case.is_open and (case.deadline_at != row.deadline_at
                                             or case.deadline_rule != "platform"):
        fields += _apply_platform_deadline(case, row, row.modified_at or now)
    if (case.state in (CaseState.REQUESTED, CaseState.REFUSED)
            and row.amount != case.requested_amount):
        ensure_refundable(order, row.amount)
        previous, case.requested_amount = case.requested_amount, row.amount
        fields.append("requested_amount")
        events.note_event(case=case, actor=None, note=_(
            "Platform export: the buyer changed the requested amount from ¥%(old)s to "
            "¥%(new)s.") % {"old": previous, "new": row.amount})
    if not fields:
        return False
    case.save(update_fields=sorted({*fields, "updated_at"}))
    return True
