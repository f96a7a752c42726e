"""A database of its own for a run: never the one `DATABASE_URL` (or db.sqlite3) points at.

SQLite: a separate file (default: aftersales-bench-<size>.sqlite3 in the temp folder).
PostgreSQL: a database named `<name>_bench` on the same server, dropped afterwards.
The default connection is pointed at it for the run (the way Django's test runner points
it at the test database) and back afterwards.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections

SQLITE_SUFFIXES = ("", "-journal", "-wal", "-shm")


def default_sqlite_path(size_name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"aftersales-bench-{size_name}.sqlite3"


def _remove_sqlite(path: Path) -> None:
    for suffix in SQLITE_SUFFIXES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _postgres_admin(connection, sql: str) -> None:
    with connection._nodb_cursor() as cursor:
        cursor.execute(sql)


@contextmanager
def bench_database(*, size_name: str, sqlite_path: str | None = None, reuse: bool = False,
                   keep: bool = False) -> Iterator[tuple[str, bool]]:
    """Point the default connection at a fresh (or, with `reuse`, an existing) bench
    database, migrated; yields (its name, whether it already held data). Dropped on exit
    unless `keep`."""
    connection = connections[DEFAULT_DB_ALIAS]
    settings_dict = connection.settings_dict
    original = settings_dict["NAME"]
    vendor = connection.vendor
    if vendor == "sqlite":
        path = Path(sqlite_path) if sqlite_path else default_sqlite_path(size_name)
        if str(original) != ":memory:" and path.resolve() == Path(original).resolve():
            raise CommandError(f"{path} is the application's own database: choose another "
                               "--sqlite-path.")
        name = str(path)
        existed = reuse and path.exists()
        if not existed:
            _remove_sqlite(path)
    elif vendor == "postgresql":
        name = f"{original}_bench"
        quoted = connection.ops.quote_name(name)
        existed = False
        if reuse:
            with connection._nodb_cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                existed = cursor.fetchone() is not None
        if not existed:
            _postgres_admin(connection, f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            _postgres_admin(connection, f"CREATE DATABASE {quoted}")
    else:
        raise CommandError(f"The benchmark supports SQLite and PostgreSQL, not {vendor}.")

    connection.close()
    settings_dict["NAME"] = name
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield name, existed
    finally:
        connection.close()
        settings_dict["NAME"] = original
        if not keep:
            if vendor == "sqlite":
                _remove_sqlite(Path(name))
            else:
                _postgres_admin(connection, f"DROP DATABASE IF EXISTS "
                                            f"{connection.ops.quote_name(name)} WITH (FORCE)")
