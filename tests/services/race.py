"""Run workers at once, one thread (and so one database connection and transaction) each.

Used by the PostgreSQL concurrency tests of compensation and payouts. A barrier releases the
workers together; `race` joins them with a timeout, so a deadlock fails instead of hanging.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

JOIN_TIMEOUT = 60


@dataclass
class Outcome:
    result: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def race(workers: list[Callable[[], Any]]) -> list[Outcome]:
    barrier = threading.Barrier(len(workers))
    outcomes = [Outcome() for _ in workers]

    def run(index: int, worker: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            outcomes[index].result = worker()
        except BaseException as error:  # noqa: BLE001 - reported by the test's assertions
            outcomes[index].error = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w), daemon=True)
               for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    hung = [i for i, t in enumerate(threads) if t.is_alive()]
    assert not hung, f"workers {hung} still running after {JOIN_TIMEOUT}s (deadlock?)"
    return outcomes


def describe(outcomes: list[Outcome]) -> str:
    return "; ".join("ok" if o.ok else f"{type(o.error).__name__}: {o.error}" for o in outcomes)
