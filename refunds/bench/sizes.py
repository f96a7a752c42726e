"""How much data a run builds and how often each measurement is repeated."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    name: str
    orders: int
    cases: int
    reviews: int
    import_rows: int  # rows in the generated order export
    overdue: int  # cases past their deadline for the sweep
    refund_rows: int  # rows in the generated refund export: new platform refunds
    page_runs: int = 21  # timed requests per page (after the warm-up)
    job_runs: int = 3  # timed imports and sweeps
    shops: int = 3
    # which budgets this size checks (report.py): "queries", "ratio", "time"
    checks: frozenset[str] = frozenset({"queries", "ratio", "time"})


SIZES = {
    # The size: 1,000,000 orders, 200,000 cases, 50,000 reviews, a 100,000-row
    # export and 5,000 overdue cases.
    "full": Size("full", orders=1_000_000, cases=200_000, reviews=50_000,
                 import_rows=100_000, overdue=5_000, refund_rows=10_000),
    # CI: a fiftieth of the data; the import and the sweep a little larger than a fiftieth
    # so their rates are not mostly start-up cost.
    # The time budgets are "at full size on this machine": shown, not checked, here.
    "small": Size("small", orders=20_000, cases=4_000, reviews=1_000,
                  import_rows=5_000, overdue=250, refund_rows=500,
                  checks=frozenset({"queries", "ratio"})),
    # The harness's own test: just enough rows for every page and job to do real work. Only
    # the query budget means anything on 40 cases (a page's SQL takes a millisecond).
    "tiny": Size("tiny", orders=200, cases=40, reviews=10, import_rows=100, overdue=10,
                 refund_rows=20, page_runs=3, job_runs=1, checks=frozenset({"queries"})),
}
