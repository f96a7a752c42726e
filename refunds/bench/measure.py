"""Timing, the SQL floor of a page, peak memory."""

from __future__ import annotations

import gc
import re
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """Wall-clock seconds of one call, and its result."""
    gc.collect()
    began = time.perf_counter()
    result = function()
    return time.perf_counter() - began, result


def median_of(runs: int, function: Callable[[], Any],
              between: Callable[[], Any] | None = None) -> float:
    """Median wall-clock seconds over `runs` calls; `between` (untimed) runs after each."""
    times = []
    for _ in range(runs):
        elapsed, _result = timed(function)
        times.append(elapsed)
        if between is not None:
            between()
    return statistics.median(times)


def peak_memory(function: Callable[[], Any]) -> tuple[int, Any]:
    """Peak bytes Python allocated during one call (tracemalloc: a separate, untimed run,
    because tracing slows every allocation down)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = function()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


# PostgreSQL: QuerySet.iterator() (a form's model choices) reads through a named cursor,
# recorded as its DECLARE; the floor runs the query itself.
DECLARE = re.compile(r'^DECLARE "[^"]+" (?:NO SCROLL )?CURSOR (?:WITH(?:OUT)? HOLD )?FOR ', re.I)


def captured_sql(function: Callable[[], Any]) -> tuple[list[str], Any]:
    """The statements one call sends, as the database received them (parameters inlined)."""
    with CaptureQueriesContext(connection) as captured:
        result = function()
    return [DECLARE.sub("", query["sql"]) for query in captured.captured_queries], result


def replay(statements: list[str]) -> None:
    """Run the statements again straight through a cursor, fetching every row: the part of
    a page's time that is the database's."""
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
            if cursor.description is not None:
                cursor.fetchall()
