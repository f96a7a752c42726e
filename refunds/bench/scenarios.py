"""The measurements: the queue and case pages, the order import, the nightly sweep.

Each returns a `Measurement` (see `report`): the median of repeated runs, the "floor" (the
same database work done as directly as the database allows) and the peak memory of one
more, untimed, run. Runs that write (the import, the sweep) put the database back as it
was after each run, so every run does the same work.
"""

from __future__ import annotations

import csv
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group, User
from django.core import mail
from django.db import connection, models, transaction
from django.test import Client
from django.utils import timezone
from django_fsm_log.models import StateLog

from ..management.commands.bench_import import write_export
from ..models import (
    Buyer,
    Case,
    CaseEvent,
    FollowUpEvent,
    ImportRun,
    Order,
    OrderLine,
    Payout,
    Refund,
    Review,
    ReviewFollowUp,
    Shop,
    StaffProfile,
)
from ..models.cases import OPEN_STATES
from ..roles import MANAGER
from ..services.imports import import_orders, import_refunds, import_reviews
from ..services.sweep import sweep_deadlines
from . import bulk
from .dataset import SWEPT_STATES, Dataset
from .measure import captured_sql, median_of, peak_memory, replay, timed
from .report import Measurement
from .sizes import Size

PAGE_WARMUP = 2


# --- pages ------------------------------------------------------------------------------------


def measure_page(client: Client, label: str, url: str, params: dict[str, str],
                 runs: int) -> Measurement:
    def request():
        response = client.get(url, params)
        if response.status_code != 200:
            raise RuntimeError(f"{label}: GET {url} {params} answered {response.status_code}")
        return response

    for _ in range(PAGE_WARMUP):
        request()
    statements, _response = captured_sql(request)
    # The page and its floor are timed in turns, so that both see the machine as it is at
    # that moment: timed one after the other, a virtual machine whose speed drifts for a
    # minute skewed their ratio (the same search page measured 4.3x and 6.0x its floor in
    # two CI runs of one session, its floor 11.4 ms in one and 8.1 ms in the other).
    page_times, floor_times = [], []
    for _ in range(runs):
        page_times.append(timed(request)[0])
        floor_times.append(timed(lambda: replay(statements))[0])
    seconds, floor = statistics.median(page_times), statistics.median(floor_times)
    memory, _response = peak_memory(request)
    return Measurement(label=label, kind="page", seconds=seconds, queries=len(statements),
                       floor_seconds=floor, peak_bytes=memory)


def measure_pages(data: Dataset, size: Size) -> list[Measurement]:
    client = Client()
    client.force_login(data.agent)
    return [
        measure_page(client, "queue /cases/ (default filters)", "/cases/", {}, size.page_runs),
        measure_page(client, "queue /cases/?q=<order id>", "/cases/",
                     {"q": data.search_order_id}, size.page_runs),
        measure_page(client, f"case detail /cases/{data.detail_case_id}/",
                     f"/cases/{data.detail_case_id}/", {}, size.page_runs),
    ]


def queue_shapes(data: Dataset) -> list[tuple[str, str, dict[str, str]]]:
    """(label, url, params) of the pages staff open besides the issue's three: the queue's
    other filters and sorts, the search by each kind of term, a later page, the buyer page.
    Terms come from the detail case (one of the agent's shop)."""
    case = (Case.objects.select_related("order__buyer").get(pk=data.detail_case_id))
    buyer = case.order.buyer
    # part of a nick that no buyer's nick is, so it is searched as a fragment: ten buyers'
    # nicks contain it (PostgreSQL finds them with its trigram index, SQLite reads every
    # nick); two letters no nick has (no trigram in them: both databases read every nick, the
    # search's costliest shape); and a part every nick has (more buyers than the cap: the
    # page asks for more of the nick)
    fragment = buyer.nick[1:-1]
    shapes = [
        ("queue, my cases", "/cases/", {"mine": "true"}),
        ("queue, two states", "/cases/", {"state": ["requested", "awaiting_return"]}),
        ("queue, overdue", "/cases/", {"due": "overdue"}),
        ("queue, newest request first", "/cases/", {"sort": "-requested"}),
        ("queue, largest amount first", "/cases/", {"sort": "-amount"}),
        ("queue, page 40", "/cases/", {"page": "40"}),
        ("queue ?q=<buyer nick>", "/cases/", {"q": buyer.nick}),
        ("queue ?q=<part of a nick>", "/cases/", {"q": fragment}),
        ("queue ?q=<2 letters no nick has>", "/cases/", {"q": "zq"}),
        ("queue ?q=<part of every nick>", "/cases/", {"q": buyer.nick[1:4]}),
        ("queue ?q=<refund id>", "/cases/", {"q": case.platform_refund_id or buyer.nick}),
        ("queue ?q=<tracking number>", "/cases/", {"q": case.order.tracking_no or buyer.nick}),
        (f"buyer page /buyers/{buyer.pk}/", f"/buyers/{buyer.pk}/", {}),
        ("orders to ship /orders/unshipped/", "/orders/unshipped/", {}),
        ("orders to ship, late", "/orders/unshipped/", {"due": "overdue"}),
        ("carrier claims /carrier-claims/", "/carrier-claims/", {}),
        ("carrier claims, lost, accepted", "/carrier-claims/",
         {"kind": "lost", "state": "accepted"}),
        ("receipt windows /receipts/", "/receipts/", {}),
        ("receipt windows, closing soon", "/receipts/", {"due": "warn"}),
    ]
    return shapes


def measure_shapes(data: Dataset, size: Size) -> list[Measurement]:
    client = Client()
    client.force_login(data.agent)
    results = []
    for label, url, params in queue_shapes(data):
        result = measure_page(client, label, url, params, size.page_runs)
        result.kind = "shape"
        results.append(result)
    return results


ADMIN_LISTS = [  # (label, model name): the manager's lists of the largest tables
    ("admin: cases", "case"), ("admin: orders", "order"), ("admin: order lines", "orderline"),
    ("admin: timeline events", "caseevent"), ("admin: refunds", "refund"),
    ("admin: payouts", "payout"),
]


def bench_manager() -> User:
    """A manager of every shop (the admin's lists are limited to a manager's shops), made
    the first time (a database built before session 7 has none)."""
    user, created = User.objects.get_or_create(
        username="bench_manager", defaults={"is_staff": True, "email": "manager@example.com"})
    if created:
        user.groups.add(Group.objects.get(name=MANAGER))
        profile = StaffProfile.objects.create(user=user, staff_number="B9999")
        profile.shops.set(Shop.objects.all())
    return user


def measure_admin(data: Dataset, size: Size) -> list[Measurement]:
    """The Django admin's lists as a manager opens them: first page, default order."""
    client = Client()
    client.force_login(bench_manager())
    results = []
    for label, name in ADMIN_LISTS:
        result = measure_page(client, label, f"/admin/refunds/{name}/", {}, size.page_runs)
        result.kind = "shape"
        results.append(result)
    return results


# --- rows written by a run, and putting the database back ----------------------------------


def _max_ids(model_classes: list[type[models.Model]]) -> dict[type[models.Model], int]:
    return {model: model.objects.aggregate(top=models.Max("pk"))["top"] or 0
            for model in model_classes}


def _delete_newer(before: dict[type[models.Model], int]) -> None:
    """Delete the rows a run added (ids above `before`). The foreign keys are checked at
    commit (both backends create them deferrable), so the order does not matter."""
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for model, top in before.items():
            cursor.execute(f"DELETE FROM {quote(model._meta.db_table)} "
                           f"WHERE {quote(model._meta.pk.column)} > %s", [top])


def vacuum(model_classes: list[type[models.Model]]) -> None:
    """PostgreSQL: what autovacuum does after a job's rows were deleted again (`undo`). The
    runs leave tens of thousands of dead rows behind (five sweeps' notifications); a later
    --reuse run would read them and plan by stale statistics (the queue's notifications
    query took 22 ms instead of 0.1). Nothing to do on SQLite."""
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in model_classes:
            cursor.execute(f"VACUUM ANALYZE {quote(model._meta.db_table)}")


def _written_models() -> list[type[models.Model]]:
    """Every table of the desk a service may insert into (and django-fsm-log's)."""
    return [model for model in apps.get_models()
            if model._meta.app_label in ("refunds", "django_fsm_log")
            and not model._meta.proxy and model._meta.managed]


class RowSnapshot:
    """Rows of one table as they are now (every column), written back by `restore`."""

    def __init__(self, model: type[models.Model], ids: list[int]):
        self.model = model
        self.columns = [field.column for field in model._meta.concrete_fields]
        quote = connection.ops.quote_name
        self.table = quote(model._meta.db_table)
        self.rows = []
        with connection.cursor() as cursor:
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                cursor.execute(f"SELECT {', '.join(quote(c) for c in self.columns)} "
                               f"FROM {self.table} WHERE id IN ({', '.join(['%s'] * len(part))})",
                               part)
                self.rows.extend(cursor.fetchall())

    def restore(self) -> None:
        quote = connection.ops.quote_name
        others = [c for c in self.columns if c != "id"]
        sql = (f"UPDATE {self.table} SET {', '.join(f'{quote(c)} = %s' for c in others)} "
               f"WHERE id = %s")
        at = self.columns.index("id")
        params = [[value for n, value in enumerate(row) if n != at] + [row[at]]
                  for row in self.rows]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, params)


def _against_insert_floor(size: Size, run: Callable[[], Any], before: dict,
                          model_classes: list[type[models.Model]], json_as_text: bool = False,
                          ) -> tuple[float, float, int, dict]:
    """An import job timed against its floor: inserting exactly the rows of `model_classes`
    its first run wrote. Median of `size.job_runs` runs, the rows deleted after each; then one
    more run for the peak memory, whose rows are left in place. Returns (seconds, floor
    seconds, peak bytes, {model: (fields, rows)} the first run wrote)."""
    def undo():
        _delete_newer(before)

    _seconds, _result = timed(run)
    written = {model: _rows_after(model, before[model], json_as_text) for model in model_classes}
    undo()
    seconds = median_of(size.job_runs, run, between=undo)

    def floor():
        with transaction.atomic():
            for model, (fields, rows) in written.items():
                bulk.insert(model, fields, iter(rows))

    floor_seconds = median_of(size.job_runs, floor, between=undo)
    memory, _result = peak_memory(run)
    return seconds, floor_seconds, memory, written


# --- the order import -------------------------------------------------------------------------

IMPORT_TABLES = [Buyer, Order, OrderLine, ImportRun]


def _rows_after(model: type[models.Model], top: int,
                json_as_text: bool = False) -> tuple[list[str], list[tuple]]:
    """The rows of `model` above id `top`, every column, for `bulk.insert` (with JSON values
    as their text when `json_as_text`: neither driver takes a dict)."""
    fields = [field.attname for field in model._meta.concrete_fields]
    rows = list(model.objects.filter(pk__gt=top).order_by("pk").values_list(*fields))
    if json_as_text:
        rows = [tuple(json.dumps(value) if isinstance(value, dict | list) else value
                      for value in row) for row in rows]
    return fields, rows


def measure_import(data: Dataset, size: Size, folder: Path) -> Measurement:
    """Import a generated export of `size.import_rows` new orders into the agent's shop."""
    shop = data.shop
    path = folder / "orders.csv"
    write_export(path, size.import_rows, shop.platform_shop_id, shop.name)
    before = _max_ids(IMPORT_TABLES)

    def run():
        result = import_orders(shop=shop, path_or_file=path)
        if result.imported != size.import_rows or result.rejected:
            raise RuntimeError(f"import: {result.summary()}, expected {size.import_rows} "
                               "imported")
        return result

    seconds, floor_seconds, memory, _written = _against_insert_floor(
        size, run, before, [Buyer, Order, OrderLine])
    _delete_newer(before)
    vacuum(IMPORT_TABLES)
    return Measurement(label=f"import {size.import_rows:,} order rows", kind="import",
                       seconds=seconds, floor_seconds=floor_seconds, peak_bytes=memory,
                       items=size.import_rows, unit="rows")


# --- the refund import -------------------------------------------------------------------------

REFUND_HEADER = ["退款编号", "订单编号", "子订单编号", "买家会员名", "宝贝标题", "交易金额",
                 "退款金额", "退款状态", "货物状态", "是否需要退货", "退款原因", "退款说明",
                 "售中或售后", "申请时间", "修改时间", "超时时间", "退货物流公司", "退货物流单号"]
# A night's new platform refunds, by status: most wait for the seller, some were already
# settled or withdrawn on the platform before the export (FORMATS.md's status texts).
NEW_REFUND_STATUSES = (["买家已经申请退款，等待卖家同意"] * 12
                       + ["卖家已经同意退款，等待买家退货"] * 2
                       + ["卖家拒绝退款"] + ["退款关闭"] * 2 + ["退款成功"] * 3)


def write_refund_export(path: Path, orders: list[tuple[str, str, Decimal]], now,
                        seed: int = 5) -> None:
    """A GBK, CRLF refund export (退款管理) with one new platform refund per order:
    (订单编号, 买家会员名, 买家实际支付金额) each, refund ids 1999… that no case has."""
    rng = random.Random(seed)
    local = timezone.localtime(now).replace(tzinfo=None, microsecond=0)
    with path.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(REFUND_HEADER)
        for n, (order_id, nick, paid) in enumerate(orders):
            status = rng.choice(NEW_REFUND_STATUSES)
            needs_return = status == "卖家已经同意退款，等待买家退货" or rng.random() < 0.4
            asked = local - timedelta(minutes=rng.randrange(10, 3 * 24 * 60))
            modified = asked + timedelta(minutes=rng.randrange(0, 600))
            amount = min(paid, Decimal(rng.randrange(100, 30_000)) / 100)
            writer.writerow([
                f"1999{n:011d}", f'="{order_id}"', f'="{order_id}"', nick, "纯棉短袖T恤 宽松百搭",
                f"{paid:.2f}", f"{amount:.2f}", status,
                "买家已收到货" if needs_return else "买家未收到货", "是" if needs_return else "否",
                rng.choice(["质量问题", "尺码拍错/不喜欢/效果不好", "未按约定时间发货"]), "",
                "售后", f"{asked:%Y-%m-%d %H:%M:%S}", f"{min(modified, local):%Y-%m-%d %H:%M:%S}",
                f"{asked + timedelta(days=3):%Y-%m-%d %H:%M:%S}", "", "",
            ])


def measure_refund_import(data: Dataset, size: Size, folder: Path) -> list[Measurement]:
    """Import a generated refund export of `size.refund_rows` new platform refunds (orders of
    the agent's shop that have no case), then the same file again: every row already seen.
    Floors: inserting the cases, timeline rows, refunds and the paid payouts (with their
    django-fsm-log rows) of 退款成功 that the first import wrote; reading those cases."""
    shop = data.shop
    orders = list(Order.objects.filter(shop=shop, cases__isnull=True).order_by("pk")
                  .values_list("platform_order_id", "buyer__nick", "paid_amount")
                  [:size.refund_rows])
    if len(orders) != size.refund_rows:
        raise RuntimeError(f"refunds: {len(orders)} orders without a case, expected "
                           f"{size.refund_rows}")
    path = folder / "refunds.csv"
    write_refund_export(path, orders, data.now)
    count = size.refund_rows
    _rows, new, seen = _import_twice(size, "refunds", import_refunds, shop, path, count,
                                     [Case, CaseEvent, Refund, Payout, StateLog])
    return [
        Measurement(label=f"import {count:,} new platform refunds", kind="job",
                    seconds=new[0], floor_seconds=new[1], peak_bytes=new[2],
                    items=count, unit="rows"),
        Measurement(label=f"the same {count:,} refunds again (seen)", kind="job",
                    seconds=seen[0], floor_seconds=seen[1], peak_bytes=seen[2],
                    items=count, unit="rows"),
    ]


def _import_twice(size: Size, what: str, importer: Callable[..., Any], shop, path: Path,
                  count: int, model_classes: list[type[models.Model]]) -> tuple[dict, ...]:
    """An import of `count` new rows timed against inserting what it wrote (`model_classes`),
    then the same file again — every row seen — against reading the first model's rows
    back. Returns (the rows the first run wrote, (seconds, floor, peak bytes) of the new
    rows, the same of the seen ones); the database is put back."""
    written = _written_models()
    before = _max_ids(written)

    def run(expect: str = "imported"):
        result = importer(shop=shop, path_or_file=path)
        if getattr(result, expect) != count:
            raise RuntimeError(f"{what}: {result.summary()}, expected {count} {expect}")
        return result

    seconds, floor_seconds, memory, rows = _against_insert_floor(
        size, run, before, model_classes, json_as_text=True)
    first = model_classes[0]  # its rows of the last run are there
    ids = [row[0] for row in rows[first][1]]
    again_seconds = median_of(size.job_runs, lambda: run("unchanged"))
    read_seconds = median_of(size.job_runs, lambda: RowSnapshot(first, ids))
    again_memory, _result = peak_memory(lambda: run("unchanged"))
    _delete_newer(before)
    vacuum(written)
    return rows, (seconds, floor_seconds, memory), (again_seconds, read_seconds, again_memory)


# --- the review import ----------------------------------------------------------------------

REVIEW_HEADER = ["订单编号", "买家会员名", "宝贝标题", "评价结果", "评价内容", "评价时间",
                 "追评内容"]
# what buyers write (评价管理): eight in ten 好评; every fifth row a 中评 or 差评, which opens
# a follow-up
REVIEW_TEXTS = {"好评": "很好，质量不错，下次还来", "中评": "一般，和图片有色差",
                "差评": "质量太差，洗一次就起球"}


def write_review_export(path: Path, orders: list[tuple[str, str]], now, seed: int = 7) -> None:
    """A GBK, CRLF review export with one review per order: (订单编号, 买家会员名) each."""
    rng = random.Random(seed)
    local = timezone.localtime(now).replace(tzinfo=None, microsecond=0)
    with path.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(REVIEW_HEADER)
        for n, (order_id, nick) in enumerate(orders):
            rating = {4: "中评", 9: "差评"}.get(n % 10, "好评")
            posted = local - timedelta(minutes=rng.randrange(10, 7 * 24 * 60))
            writer.writerow([f'="{order_id}"', nick, "纯棉短袖T恤 宽松百搭", rating,
                             REVIEW_TEXTS[rating], f"{posted:%Y-%m-%d %H:%M:%S}", ""])


def measure_review_import(data: Dataset, size: Size, folder: Path) -> list[Measurement]:
    """Import a generated review export (评价管理) of `size.refund_rows` new reviews on orders
    of the agent's shop that have none — a fifth of them 中评/差评, each opening its
    follow-up — then the same file again. Floors: inserting the reviews, follow-ups and
    their timeline rows the first import wrote; reading those reviews."""
    shop = data.shop
    count = size.refund_rows
    orders = list(Order.objects.filter(shop=shop, reviews__isnull=True).order_by("pk")
                  .values_list("platform_order_id", "buyer__nick")[:count])
    if len(orders) != count:
        raise RuntimeError(f"reviews: {len(orders)} orders without a review, expected {count}")
    path = folder / "reviews.csv"
    write_review_export(path, orders, data.now)
    rows, new, seen = _import_twice(size, "reviews", import_reviews, shop, path, count,
                                    [Review, ReviewFollowUp, FollowUpEvent])
    follow_ups = len(rows[ReviewFollowUp][1])
    return [
        Measurement(label=f"import {count:,} reviews ({follow_ups:,} follow-ups opened)",
                    kind="job", seconds=new[0], floor_seconds=new[1], peak_bytes=new[2],
                    items=count, unit="rows"),
        Measurement(label=f"the same {count:,} reviews again (seen)", kind="job",
                    seconds=seen[0], floor_seconds=seen[1], peak_bytes=seen[2],
                    items=count, unit="rows"),
    ]


# --- the nightly sweep ------------------------------------------------------------------------


def _floor_sweep(now) -> int:
    """What the sweep writes, as directly as SQL can: one INSERT … SELECT of a timeline row
    per overdue case, one UPDATE of their states. Returns the number of cases."""
    table = connection.ops.quote_name(Case._meta.db_table)
    events = connection.ops.quote_name(CaseEvent._meta.db_table)
    states = ", ".join(f"'{state}'" for state in SWEPT_STATES)
    transition = ("CASE state WHEN 'requested' THEN 'agree' WHEN 'refused' THEN 'close' "
                  "WHEN 'awaiting_return' THEN 'close' ELSE 'platform_refund' END")
    target = ("CASE state WHEN 'requested' THEN (CASE kind WHEN 'refund_only' "
              "THEN 'refund_pending' ELSE 'awaiting_return' END) WHEN 'refused' THEN 'closed' "
              "WHEN 'awaiting_return' THEN 'closed' ELSE 'refunded' END")
    where = f"state IN ({states}) AND deadline_at < %s"
    stamp = bulk.timestamp(now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {events} (case_id, kind, transition, from_state, to_state, actor_id, "
            f"staff_number, note, data, created_at) SELECT id, 'transition', {transition}, "
            f"state, {target}, NULL, 'SYSTEM', 'The deadline passed.', '{{}}', %s "
            f"FROM {table} WHERE {where}", [stamp, stamp])
        count = cursor.rowcount
        cursor.execute(f"UPDATE {table} SET state = {target}, deadline_at = NULL, "
                       f"deadline_owner = '', deadline_rule = '', updated_at = %s "
                       f"WHERE {where}", [stamp, stamp])
    return count


def measure_sweep(data: Dataset, size: Size) -> Measurement:
    """The nightly sweep over all the cases, `data.overdue` of them past their deadline."""
    now = timezone.now()
    overdue_ids = list(Case.objects.filter(state__in=OPEN_STATES, deadline_at__lt=now)
                       .values_list("pk", flat=True))
    if len(overdue_ids) != data.overdue:
        raise RuntimeError(f"sweep: {len(overdue_ids)} overdue cases, expected {data.overdue}")
    written = _written_models()
    before = _max_ids(written)
    snapshot = RowSnapshot(Case, overdue_ids)

    def undo():
        _delete_newer(before)
        snapshot.restore()
        mail.outbox = []

    def run():
        report = sweep_deadlines(now=now)
        if report.applied_total != data.overdue or report.failures:
            raise RuntimeError(f"sweep: {report.summary()}; expected {data.overdue} applied")
        return report

    mail.outbox = []
    seconds = median_of(size.job_runs, run, between=undo)
    floor_seconds = median_of(size.job_runs, lambda: _floor_sweep(now), between=undo)
    memory, _report = peak_memory(run)
    undo()
    vacuum(written)
    return Measurement(label=f"sweep, {data.overdue:,} overdue of {Case.objects.count():,}",
                       kind="sweep", seconds=seconds, floor_seconds=floor_seconds,
                       peak_bytes=memory, items=data.overdue, unit="transitions")


def measure_all(data: Dataset, size: Size, only: set[str] | None = None,
                log: Callable[[str], Any] = print) -> list[Measurement]:
    results: list[Measurement] = []

    def part(name: str, what: str, measure: Callable[[], list[Measurement]]) -> None:
        if only and name not in only:
            return
        log(f"measuring {what}…")
        began = time.perf_counter()
        results.extend(measure())
        log(f"  done in {time.perf_counter() - began:.1f}s")

    def import_in_folder() -> list[Measurement]:
        with tempfile.TemporaryDirectory() as folder:
            return [measure_import(data, size, Path(folder))]

    part("pages", "the pages", lambda: measure_pages(data, size))
    part("shapes", "the queue's other shapes and the buyer page",
         lambda: measure_shapes(data, size))
    part("import", "the order import", import_in_folder)

    def refunds_in_folder() -> list[Measurement]:
        with tempfile.TemporaryDirectory() as folder:
            return measure_refund_import(data, size, Path(folder))

    part("refunds", "the refund import", refunds_in_folder)

    def reviews_in_folder() -> list[Measurement]:
        with tempfile.TemporaryDirectory() as folder:
            return measure_review_import(data, size, Path(folder))

    part("reviews", "the review import", reviews_in_folder)
    part("sweep", "the nightly sweep", lambda: [measure_sweep(data, size)])
    part("admin", "the admin's lists", lambda: measure_admin(data, size))
    return results
