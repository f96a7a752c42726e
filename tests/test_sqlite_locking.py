"""SQLite: a transaction that reads and then writes, meeting another writer (the nightly
sweep's group), waits for it instead of failing at once with "database is locked"."""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from django.db.backends.sqlite3.base import DatabaseWrapper
from django.db.utils import OperationalError

SQLITE = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
pytestmark = pytest.mark.skipif(not SQLITE, reason="SQLite's locking only")


def _connection(path, options) -> DatabaseWrapper:
    wrapper = DatabaseWrapper({**settings.DATABASES["default"], "NAME": str(path),
                               "OPTIONS": {**options, "timeout": 5}, "TEST": {}})
    wrapper.ensure_connection()
    return wrapper


def _begin(wrapper: DatabaseWrapper) -> None:
    """What `transaction.atomic()` does on SQLite to open a transaction (BEGIN, or BEGIN
    <transaction_mode> when the option is set)."""
    wrapper._start_transaction_under_autocommit()


def _read_then_write_while_another_writes(path, options) -> None:
    setup = _connection(path, options)
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
    setup.close()
    holding, done = threading.Event(), threading.Event()

    def sweep_group():
        other = _connection(path, options)
        _begin(other)
        with other.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (1)")  # holds the write lock
            holding.set()
            time.sleep(0.3)
        other.commit()
        other.close()
        done.set()

    thread = threading.Thread(target=sweep_group)
    thread.start()
    holding.wait(5)
    staff = _connection(path, options)
    try:
        _begin(staff)
        with staff.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM t")  # a service locks (reads) first
            cursor.execute("INSERT INTO t VALUES (2)")
        staff.commit()
    finally:
        staff.close()
        thread.join(5)


def test_the_projects_sqlite_transactions_wait_for_a_writer(tmp_path, django_db_blocker):
    options = settings.DATABASES["default"]["OPTIONS"]
    with django_db_blocker.unblock():
        _read_then_write_while_another_writes(tmp_path / "desk.sqlite3", options)  # no error


def test_deferred_transactions_would_fail_at_once(tmp_path, django_db_blocker):
    """Why the setting: without it the read-then-write is refused, whatever the timeout."""
    with django_db_blocker.unblock(), pytest.raises(OperationalError, match="locked"):
        _read_then_write_while_another_writes(tmp_path / "deferred.sqlite3", {})
