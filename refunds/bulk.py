"""`insert_many`: the ORM's bulk_create for rows whose ids nobody reads back.

`QuerySet.bulk_create` compiles one INSERT with a placeholder per value of every row (and
asks for the new ids back); for the nightly sweep's thousands of timeline, django-fsm-log and
notification rows that compilation was as costly as the database's work (docs/PERFORMANCE.md).
Here the statement is compiled once and sent with `executemany` (`COPY` on PostgreSQL); every
value still goes through its field's `pre_save` and `get_db_prep_save`, exactly as `save()`
and `bulk_create` adapt it (auto_now_add times, JSON, decimals, time zones). No signals are
sent, as with bulk_create; a constraint violation raises Django's IntegrityError, as always.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, models, router

# Field classes whose pre_save reads the attribute and whose get_db_prep_save returns a
# value of these types unchanged (CharField.to_python(str) is the str, int(int) the int, a
# foreign key's id goes through its target's integer field): such values skip the three
# layers of calls. Exact classes only — a subclass may prepare differently — and any other
# value (None, a number in a CharField, a datetime, a Decimal, JSON) takes the full path.
_UNCHANGED = {
    models.CharField: (str,), models.TextField: (str,), models.BooleanField: (bool,),
    models.IntegerField: (int,), models.BigIntegerField: (int,),
    models.PositiveIntegerField: (int,), models.PositiveSmallIntegerField: (int,),
    models.SmallIntegerField: (int,), models.ForeignKey: (int,),
}


def value_plan(fields: Sequence[models.Field]) -> list[tuple]:
    """(attname, the value types passed unchanged or None, field) per column, made once."""
    return [(field.attname, _UNCHANGED.get(type(field)), field) for field in fields]


def row_values(plan: list[tuple], row: models.Model, connection) -> list:
    """The row's values as `save()` would send them: `pre_save` then `get_db_prep_save`."""
    values = []
    for attname, unchanged, field in plan:
        value = row.__dict__.get(attname) if unchanged else None
        if unchanged and type(value) in unchanged:
            values.append(value)
        else:
            values.append(field.get_db_prep_save(field.pre_save(row, True), connection))
    return values


def insert_many(rows: Sequence[models.Model]) -> None:
    """Insert unsaved instances of one model (primary keys left to the database; the
    instances' `pk` stays None). Their foreign keys must point at saved rows."""
    if not rows:
        return
    model = type(rows[0])
    if any(type(row) is not model or row.pk is not None for row in rows):
        raise TypeError("insert_many takes new instances (no primary key) of one model")
    connection = connections[router.db_for_write(model)]
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    if any(getattr(field, "generated", False)
           or field.db_default is not models.NOT_PROVIDED for field in fields):
        raise TypeError(f"{model.__name__} has database-computed columns: use bulk_create")
    connection.validate_no_broken_transaction()
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(model._meta.db_table)} "
           f"({', '.join(quote(field.column) for field in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    plan = value_plan(fields)
    params = [row_values(plan, row, connection) for row in rows]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: the rows stream in one statement (executemany still runs one INSERT per
            # row on the server: three times slower here). It goes to the driver's cursor,
            # so Django's query log and execute_wrappers do not see it.
            copy_sql = (f"COPY {quote(model._meta.db_table)} "
                        f"({', '.join(quote(field.column) for field in fields)}) FROM STDIN")
            with connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
                for values in params:
                    copy.write_row(values)
        else:
            cursor.executemany(sql, params)
