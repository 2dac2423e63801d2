"""The one place that knows which database it is talking to.

Bulk writes use PostgreSQL's COPY when available (several times faster than INSERT for
hundreds of thousands of rows) and executemany on SQLite. Row-locking helpers for the work
queue live here too, so no other module branches on the database vendor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Reserve ``count`` primary keys so parents and children can be written in one COPY each.

    On SQLite the caller's transaction holds the write lock (BEGIN IMMEDIATE), so max(id) is
    stable until commit.
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        if is_postgresql():
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX("{pk}"), 0) FROM "{table}"')
        start = cursor.fetchone()[0] + 1
        return list(range(start, start + count))


def _converter(field: models.Field):
    """One function per column, chosen once per call: per-value field dispatch costs more than
    the COPY itself at a few hundred thousand rows."""
    if isinstance(field, models.JSONField):
        # json.dumps, not orjson: rows must be byte-identical to what Django writes, or JSON
        # equality lookups on SQLite (which compare text) miss them.
        return lambda v: None if v is None else json.dumps(v, ensure_ascii=False)
    if isinstance(field, models.DateTimeField):
        return lambda v: field.get_db_prep_save(v, connection)
    return None  # text, numbers, booleans and FK ids go to the driver as they are


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert plain tuples (values in ``fields`` order, FKs as ids); no signals, no save()."""
    meta = model._meta
    field_objs = [meta.get_field(name) for name in fields]
    columns = [f.column for f in field_objs]
    converters = [_converter(f) for f in field_objs]
    if any(converters):
        prepared = (
            [v if c is None else c(v) for c, v in zip(converters, row, strict=True)] for row in rows
        )
    else:
        prepared = rows
    quoted = ", ".join(f'"{c}"' for c in columns)
    count = 0
    with connection.cursor() as cursor:
        if is_postgresql():
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f'COPY "{meta.db_table}" ({quoted}) FROM STDIN') as copy:
                for row in prepared:
                    copy.write_row(row)
                    count += 1
            return count
        placeholders = ", ".join(["%s"] * len(columns))
        batch = list(prepared)
        cursor.executemany(
            f'INSERT INTO "{meta.db_table}" ({quoted}) VALUES ({placeholders})',
            batch,
        )
        return len(batch)


# --- Row locks for the work queue ----------------------------------------------------------
#
# PostgreSQL: claims take the first candidate row nobody else holds (FOR NO KEY UPDATE SKIP
# LOCKED), so concurrent annotators fan out over different prompts instead of queueing on the
# same one; submissions wait for the prompt's row lock (FOR NO KEY UPDATE). The weaker
# "no key" lock still excludes itself but lets inserts that reference the row (their foreign-key
# check takes KEY SHARE) proceed.
#
# SQLite has no row locks: the first write statement of a transaction takes the database-wide
# write lock, held until commit. writer_lock_take() forces that at the top of the transaction,
# so queue decisions run one at a time (serialised), whatever the connection's transaction mode.


# A write that matches no row still upgrades an SQLite transaction to the one writer.
SQLITE_WRITER_LOCK_SQL = 'UPDATE "django_migrations" SET "id" = "id" WHERE "id" < 0'


def writer_lock_take() -> None:
    """On SQLite, hold the database write lock from here to the end of the transaction."""
    if is_postgresql():
        return
    with connection.cursor() as cursor:
        cursor.execute(SQLITE_WRITER_LOCK_SQL)


def locking(sql: str, *, skip_locked: bool = False) -> str:
    """``sql`` (a SELECT on one table, inside a transaction) made to lock the rows it returns.

    PostgreSQL: FOR NO KEY UPDATE, optionally SKIP LOCKED. SQLite: takes the write lock now
    and returns ``sql`` unchanged.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("locking() must run inside transaction.atomic()")
    if is_postgresql():
        return f"{sql} FOR NO KEY UPDATE{' SKIP LOCKED' if skip_locked else ''}"
    writer_lock_take()
    return sql


def fetch_one(sql: str, params: Sequence = ()) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def fetch_all(sql: str, params: Sequence = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: Sequence = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def datetime_param(value):
    """A datetime as this database stores it (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def json_param(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def json_value(raw):
    """A JSON column read with a raw cursor: text on both backends under Django's settings."""
    return json.loads(raw) if isinstance(raw, (str, bytes)) else raw


def model_from_row(model: type[models.Model], fields: Sequence[str], row: Sequence):
    """A model instance from a raw row (values in ``fields`` order, FKs as ``*_id``), as the ORM
    would have built it: JSON decoded, SQLite's 0/1 as booleans, its naive UTC datetimes made
    aware. The one way raw rows become objects, so every backend hands back the same values."""
    meta = model._meta
    values = {}
    for name, value in zip(fields, row, strict=True):
        field = meta.get_field(name)  # a foreign key by its attname too
        if value is not None:
            if isinstance(field, models.JSONField):
                value = json_value(value)
            elif isinstance(field, models.BooleanField):
                value = bool(value)
            elif isinstance(field, models.DateTimeField) and timezone.is_naive(value):
                value = timezone.make_aware(value, UTC)
        values[name] = value
    # from_db wants a partial row in the model's field order.
    ordered = [f.attname for f in meta.concrete_fields if f.attname in values]
    return model.from_db(DEFAULT_DB_ALIAS, ordered, [values[name] for name in ordered])


def model_get(model: type[models.Model], where: str, params: Sequence = ()):
    """The first ``model`` row matching ``where`` (SQL over the table, alias ``t``), as an
    instance with every concrete field loaded (``model_from_row``), or None.

    For lookups on every request: one plain query, where compiling the ORM's queryset costs
    more CPU than the database's work (bench/profile_requests.py).
    """
    fields = [f.attname for f in model._meta.concrete_fields]
    columns = ", ".join(
        f"t.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields
    )
    row = fetch_one(f"SELECT {columns} FROM {model._meta.db_table} t WHERE {where}", params)
    return None if row is None else model_from_row(model, fields, row)


def row_lock(queryset: models.QuerySet):
    """The first row of ``queryset``, locked until the transaction ends; None if it has none."""
    if not connection.in_atomic_block:
        raise RuntimeError("row_lock() must run inside transaction.atomic()")
    if is_postgresql():
        return queryset.select_for_update(no_key=True, of=("self",)).first()
    writer_lock_take()
    return queryset.first()


def first_unlocked_row(queryset: models.QuerySet):
    """The first row of ``queryset`` (in its order) that no other transaction holds, locked.

    Rows locked by others are skipped, not waited for. None when every match is taken.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("first_unlocked_row() must run inside transaction.atomic()")
    if is_postgresql():
        return queryset.select_for_update(skip_locked=True, no_key=True, of=("self",)).first()
    writer_lock_take()
    return queryset.first()


def each_unlocked_row(queryset: models.QuerySet) -> Iterator:
    """Each row of ``queryset`` in id order, locked, one transaction per row: the caller's loop
    body runs inside it. A row another transaction holds (a second reaper) is passed over,
    and the queryset is re-checked per row, so a row that stopped matching is too."""
    for pk in list(queryset.order_by("id").values_list("pk", flat=True)):
        with transaction.atomic():
            row = queryset.select_for_update(skip_locked=True).filter(pk=pk).first()
            if row is not None:
                yield row


# --- Progress that must be seen before the work's own transaction commits ---------------------


@contextmanager
def side_connection() -> Iterator[BaseDatabaseWrapper | None]:
    """A second connection in autocommit, for progress rows a poller reads while a long
    transaction (an import) is still open; None on SQLite, whose one writer is that
    transaction: a second writer would wait for it, then fail."""
    if not is_postgresql():
        yield None
        return
    side = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        yield side
    finally:
        side.close()


def row_update(side: BaseDatabaseWrapper, model: type[models.Model], pk, **values) -> int:
    """UPDATE one row through ``side`` (see side_connection); returns the rows changed."""
    meta = model._meta
    fields = [meta.get_field(name) for name in values]
    assignments = ", ".join(f'"{f.column}" = %s' for f in fields)
    params = [f.get_db_prep_save(values[f.name], side) for f in fields]
    with side.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{meta.db_table}" SET {assignments} WHERE "{meta.pk.column}" = %s',
            [*params, pk],
        )
        return cursor.rowcount
