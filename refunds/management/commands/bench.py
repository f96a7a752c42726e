"""The performance benchmark of issue 6 (docs/PERFORMANCE.md): `make bench`.

    python manage.py bench [--size small|full|tiny] [--sqlite-path PATH] [--keep] [--reuse]

Builds a database of the chosen size in bulk — on SQLite a separate file, on PostgreSQL
(when DATABASE_URL points there) a separate database `<name>_bench` — never the user's;
measures the queue and case pages, the order import and the nightly sweep; prints one
table; drops the database (unless --keep) and exits 1 when a budget is missed.
"""

from __future__ import annotations

import platform
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings

from refunds.bench import dataset
from refunds.bench.database import bench_database
from refunds.bench.report import check_budgets, render_table
from refunds.bench.scenarios import measure_all
from refunds.bench.sizes import SIZES

PARTS = ("pages", "shapes", "import", "refunds", "reviews", "sweep", "admin")


class Command(BaseCommand):
    help = ("Benchmark the queue and case pages, the order import and the nightly sweep on a "
            "separate database of realistic size; print one table; exit 1 when a budget of "
            "issue 6 is missed. See docs/PERFORMANCE.md.")
    # The checks would build the template engines now, in DEBUG mode: the benchmark
    # measures the pages as production renders them (DEBUG off).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=list(SIZES), default="small",
                            help="full: 1,000,000 orders, 200,000 cases, 50,000 reviews "
                                 "(the issue's); small (default, CI): a fiftieth; tiny: tests")
        parser.add_argument("--sqlite-path", metavar="PATH",
                            help="SQLite only: the benchmark's database file (default: "
                                 "aftersales-bench-<size>.sqlite3 in the temp folder)")
        parser.add_argument("--keep", action="store_true",
                            help="keep the benchmark database afterwards (for --reuse)")
        parser.add_argument("--reuse", action="store_true",
                            help="measure a database kept by an earlier --keep run of the "
                                 "same size instead of building it again")
        parser.add_argument("--only", choices=PARTS, action="append",
                            help="measure only this (repeatable); budgets of the others are "
                                 "not checked")
        parser.add_argument("--enforce-time", action="store_true",
                            help="check the time budgets (ms, rows/s, transitions/s) at any "
                                 "size, not only at full size")

    def handle(self, *args, size, sqlite_path, keep, reuse, only, enforce_time, **options):
        chosen = SIZES[size]
        write = self.stdout.write
        began = time.perf_counter()
        with override_settings(
            DEBUG=False,
            # emails leave the process: kept in memory here, never printed or sent
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
        ), bench_database(size_name=size, sqlite_path=sqlite_path, reuse=reuse,
                          keep=keep) as (name, existed):
            vendor = connection.vendor
            write(f"  {vendor} database {name} migrated ({time.perf_counter() - began:.1f}s)")
            if existed:
                write(f"reusing {vendor} database {name}")
                data = dataset.load()
            else:
                write(f"building the {size} data set in {vendor} database {name}…")
                built_at = time.perf_counter()
                data = dataset.build(chosen, log=write)
                write(f"  built in {time.perf_counter() - built_at:.1f}s")
            results = measure_all(data, chosen, only=set(only or ()), log=write)
        checks = chosen.checks | ({"time"} if enforce_time else set())
        missed = check_budgets(results, checks=checks)
        write("")
        write(f"bench --size {size}: {data.counts.get('orders', 0):,} orders, "
              f"{data.counts.get('cases', 0):,} cases, {data.counts.get('reviews', 0):,} "
              f"reviews on {vendor} ({platform.python_implementation()} "
              f"{platform.python_version()}, {time.perf_counter() - began:.0f}s in all)")
        write(render_table(results))
        if checks != {"queries", "ratio", "time"}:
            write(f"(budgets in parentheses are shown, not checked, at --size {size}: "
                  "see docs/PERFORMANCE.md)")
        if missed:
            raise CommandError("budgets missed: " + "; ".join(
                f"{result.label}: {check.name}" for result in results
                for check in result.checks if check.missed), returncode=1)
        write(self.style.SUCCESS("all budgets met"))
