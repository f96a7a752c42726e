"""`manage.py bench` (issue 6) at its smallest size: builds its own SQLite database, measures
every page and job, prints the one table and exits 0 (at --size tiny only the query budget
is checked: the others are meaningless on 40 cases).

It runs in a subprocess on a temporary SQLite file, as `make bench` does, so neither the test
database nor the developer's db.sqlite3 is touched, whatever DATABASE_URL says.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROWS = ["queue /cases/ (default filters)", "queue /cases/?q=<order id>", "case detail /cases/",
        "queue, my cases", "queue, two states", "queue, overdue", "queue, newest request first",
        "queue, largest amount first", "queue, page 40", "queue ?q=<buyer nick>",
        "queue ?q=<part of a nick>", "queue ?q=<2 letters no nick has>",
        "queue ?q=<part of every nick>", "queue ?q=<refund id>", "queue ?q=<tracking number>",
        "buyer page /buyers/", "orders to ship /orders/unshipped/", "orders to ship, late",
        "carrier claims /carrier-claims/", "carrier claims, lost, accepted",
        "receipt windows /receipts/", "receipt windows, closing soon",
        "import 100 order rows", "import 20 new platform refunds",
        "the same 20 refunds again (seen)", "import 20 reviews (4 follow-ups opened)",
        "the same 20 reviews again (seen)", "sweep, 10 overdue of 40", "admin: cases",
        "admin: orders", "admin: order lines", "admin: timeline events", "admin: refunds",
        "admin: payouts"]


def test_the_benchmark_builds_its_own_database_measures_and_prints_the_table(tmp_path):
    app_database = tmp_path / "app.sqlite3"
    bench_database = tmp_path / "bench.sqlite3"
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{app_database}"}

    run = subprocess.run(
        [sys.executable, "manage.py", "bench", "--size", "tiny", "--sqlite-path",
         str(bench_database)],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    table = [line for line in run.stdout.splitlines() if line.startswith("|")]
    assert table[0].split("|")[1].strip() == "measurement"
    assert len(table) == 2 + len(ROWS)
    for expected, line in zip(ROWS, table[2:], strict=True):
        assert line.startswith(f"| {expected}"), line
        assert "<=12 queries ok" in line or not line.startswith(("| queue", "| buyer",
                                                                 "| admin", "| orders",
                                                                 "| receipt"))
    assert "all budgets met" in run.stdout
    assert not bench_database.exists()  # dropped afterwards
    assert not app_database.exists()  # the application's database was never opened


def test_a_shape_row_is_judged_on_queries_and_time_not_on_its_floor():
    from refunds.bench.report import Measurement, check_budgets

    slow = Measurement(label="queue, page 40", kind="shape", seconds=0.150,
                       floor_seconds=0.001, peak_bytes=0, queries=13)
    quick = Measurement(label="queue, my cases", kind="shape", seconds=0.050,
                        floor_seconds=0.001, peak_bytes=0, queries=9)
    missed = check_budgets([slow, quick], checks=frozenset({"queries", "ratio", "time"}))
    assert [check.name for check in missed] == ["<=12 queries", "<100 ms"]
    assert [check.name for check in quick.checks] == ["<=12 queries", "<100 ms"]
    assert all(check.passed for check in quick.checks)  # 50x its floor: not judged
