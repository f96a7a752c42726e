"""django-fsm-log's storage, with a batch mode for the set-based services.

Outside a batch this is django-fsm-log's own SimpleBackend: every transition writes its
`StateLog` row at once (one INSERT). Inside `batched_state_logs()` the rows are collected and
written with one statement when the block ends (`refunds.bulk.insert_many`): the nightly
sweep moves thousands of cases and one INSERT per transition was a third of its statements
(docs/PERFORMANCE.md). Either way the rows are written in the caller's transaction, so they
are undone with it.

Settings: ``DJANGO_FSM_LOG_STORAGE_METHOD = "refunds.fsmlog.BatchingBackend"``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django_fsm_log.backends import SimpleBackend, _pre_transition_callback

from .bulk import insert_many

_pending = threading.local()


class _Collector:
    """Stands in for StateLog's manager: `create` builds the row and keeps it for later.

    The object is pointed at again when the rows are written: a row made in the same batch
    (a payout paid as it is created) only has its primary key once it has been inserted."""

    def __init__(self, model) -> None:
        self.model = model
        self.rows: list = []

    def create(self, **values):
        row = self.model(**values)
        self.rows.append((row, values["content_object"]))
        return row

    def write(self) -> None:
        for row, instance in self.rows:
            if row.object_id is None:  # made in this batch: inserted since
                if instance.pk is None:
                    raise RuntimeError(f"{instance!r} was not saved in the batch that moved it")
                row.content_object = instance
        insert_many([row for row, _instance in self.rows])


class BatchingBackend(SimpleBackend):
    @staticmethod
    def post_transition_callback(sender, instance, name, source, target, **kwargs):
        collector = getattr(_pending, "collector", None)
        if collector is None:
            return SimpleBackend.post_transition_callback(sender, instance, name, source,
                                                          target, **kwargs)
        return _pre_transition_callback(sender, instance, name, source, target, collector,
                                        **kwargs)


@contextmanager
def batched_state_logs() -> Iterator[None]:
    """Collect the StateLog rows of the transitions run in the block; write them in one
    statement when it ends without an error (an error discards them: the caller's transaction
    is rolled back anyway). Must run inside a transaction; does not nest."""
    from django_fsm_log.models import StateLog

    if getattr(_pending, "collector", None) is not None:
        raise RuntimeError("batched_state_logs() does not nest")
    collector = _pending.collector = _Collector(StateLog)
    try:
        yield
    finally:
        _pending.collector = None
    if collector.rows:
        collector.write()
