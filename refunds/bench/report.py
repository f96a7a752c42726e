"""The one table, and the budgets of issue 6.

Budgets (the command exits 1 when one is missed):
- queue and case detail pages: at most 12 queries whatever the size; within 6× their SQL
  floor; under 100 ms median;
- order import: at least 10,000 rows/s; nightly sweep: at least 1,000 transitions/s;
- the queue's other shapes (filters, sorts, each kind of search, a later page) and the
  buyer page ("shape" rows, not in the issue's list: measured so that a slow one shows): at
  most 12 queries and under 100 ms, like the queue; their floor ratio is shown, not judged;
- the platform's refund export, new refunds and the same file again ("job" rows, not in the
  issue's list either): rows/s and floor shown, no budget.

What each size checks (sizes.py): full, every budget; small (CI), the query and the
floor-ratio budgets — the absolute ones (ms, rows/s, transitions/s) are the full size's,
"on this machine", and a shared CI runner's speed would decide them rather than the code,
so they are shown in parentheses, not checked (--enforce-time checks them anyway); tiny
(the harness's own test), the query budget only. A budget that is not checked is still
shown, with its verdict, in parentheses.

The table is a fixed format that scripts and docs/PERFORMANCE.md quote, so it is not
translated (like the importers' summary line).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_PAGE_QUERIES = 12
MAX_PAGE_SECONDS = 0.100
MAX_PAGE_FLOOR_RATIO = 6.0
MIN_IMPORT_RATE = 10_000
MIN_SWEEP_RATE = 1_000


@dataclass
class Check:
    name: str
    passed: bool
    enforced: bool = True

    @property
    def missed(self) -> bool:
        return self.enforced and not self.passed

    def __str__(self) -> str:
        verdict = "ok" if self.passed else "MISSED"
        return f"{self.name} {verdict}" if self.enforced else f"({self.name} {verdict})"


@dataclass
class Measurement:
    label: str
    kind: str  # page, shape, import, sweep, job (shown, not judged)
    seconds: float  # median
    floor_seconds: float
    peak_bytes: int
    queries: int | None = None
    items: int | None = None  # rows imported, transitions made
    unit: str = ""
    checks: list[Check] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor_seconds if self.floor_seconds else float("inf")

    @property
    def rate(self) -> float | None:
        return self.items / self.seconds if self.items and self.seconds else None

    @property
    def floor_rate(self) -> float | None:
        return self.items / self.floor_seconds if self.items and self.floor_seconds else None


def check_budgets(results: list[Measurement], *, checks: frozenset[str]) -> list[Check]:
    """Judge every measurement; returns the budgets missed among those `checks` enforces."""
    queries, ratio, time = ("queries" in checks), ("ratio" in checks), ("time" in checks)
    missed = []
    for result in results:
        if result.kind == "page":
            result.checks = [
                Check(f"<={MAX_PAGE_QUERIES} queries", result.queries <= MAX_PAGE_QUERIES,
                      queries),
                Check(f"<={MAX_PAGE_FLOOR_RATIO:g}x floor",
                      result.ratio <= MAX_PAGE_FLOOR_RATIO, ratio),
                Check(f"<{MAX_PAGE_SECONDS * 1000:.0f} ms", result.seconds < MAX_PAGE_SECONDS,
                      time),
            ]
        elif result.kind == "shape":
            result.checks = [
                Check(f"<={MAX_PAGE_QUERIES} queries", result.queries <= MAX_PAGE_QUERIES,
                      queries),
                Check(f"<{MAX_PAGE_SECONDS * 1000:.0f} ms", result.seconds < MAX_PAGE_SECONDS,
                      time),
            ]
        elif result.kind == "import":
            result.checks = [Check(f">={MIN_IMPORT_RATE:,} rows/s",
                                   (result.rate or 0) >= MIN_IMPORT_RATE, time)]
        elif result.kind == "sweep":
            result.checks = [Check(f">={MIN_SWEEP_RATE:,} transitions/s",
                                   (result.rate or 0) >= MIN_SWEEP_RATE, time)]
        missed += [check for check in result.checks if check.missed]
    return missed


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _rate(rate: float | None, unit: str) -> str:
    return f"{rate:,.0f} {unit}/s" if rate is not None else ""


def _memory(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def render_table(results: list[Measurement]) -> str:
    header = ["measurement", "median", "queries", "SQL floor", "ratio", "peak memory",
              "budgets"]
    rows = []
    for result in results:
        median = _duration(result.seconds)
        floor = _duration(result.floor_seconds)
        if result.rate is not None:
            median = f"{median} = {_rate(result.rate, result.unit)}"
            floor = f"{floor} = {_rate(result.floor_rate, result.unit)}"
        rows.append([result.label, median,
                     "" if result.queries is None else str(result.queries), floor,
                     f"{result.ratio:.1f}x", _memory(result.peak_bytes),
                     ", ".join(str(check) for check in result.checks)])
    widths = [max(len(row[n]) for row in [header, *rows]) for n in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in
                                 zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])
