"""Plain-row inserts for building the benchmark data: tuples straight to the driver.

The ORM's bulk_create builds a model instance per row and adapts every value through its
field; for a million rows that is most of the time. Here the rows are tuples of values the
driver takes as they are (text, numbers, booleans, None, and timestamps/decimals already
written as text), sent with executemany on SQLite and COPY on PostgreSQL. Fields the caller
leaves out take the model's default, adapted once per table.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from django.core.management.color import no_style
from django.db import connection, models, transaction

BATCH = 20_000


def timestamp(moment: datetime) -> str:
    """A UTC datetime (naive or aware) as the text both backends store it from."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    text = moment.isoformat(" ")
    return text if connection.vendor == "sqlite" else f"{text}+00:00"


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _defaults(model: type[models.Model], given: list[str]) -> tuple[list[models.Field], tuple]:
    missing, values = [], []
    for field in model._meta.concrete_fields:
        if field.attname in given or field.primary_key:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = datetime.now(UTC)
        else:
            value = field.get_default()  # "" for text without a default, else None
            if value is None and not field.null:
                raise ValueError(f"{model.__name__}.{field.name} has no default: give it a "
                                 "value")
        if value is not None:
            value = field.get_db_prep_save(value, connection)
            if hasattr(value, "obj") and not isinstance(value, str | int | float):
                value = _json_text(value)
        missing.append(field)
        values.append(value)
    return missing, tuple(values)


def _json_text(adapted: Any) -> str:
    """PostgreSQL's JSON adapter object → its text (COPY takes the text form)."""
    import json

    return json.dumps(adapted.obj)


def insert(model: type[models.Model], fields: list[str], rows: Iterable[tuple]) -> int:
    """Insert `rows` (tuples in the order of `fields`, attnames; "id" allowed); returns
    how many. One transaction per table."""
    missing, defaults = _defaults(model, fields)
    names = {f.attname: f.column for f in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    columns = [quote(names[name]) for name in fields] + [quote(f.column) for f in missing]
    table = quote(model._meta.db_table)
    count = 0
    rows = iter(rows)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row + defaults)
                    count += 1
        else:
            sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
                   f"VALUES ({', '.join(['%s'] * len(columns))})")
            while batch := [row + defaults for row in islice(rows, BATCH)]:
                cursor.executemany(sql, batch)
                count += len(batch)
    return count


def reset_sequences(*model_classes: type[models.Model]) -> None:
    """After inserting explicit ids: the next id the database hands out follows them."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(model_classes))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
