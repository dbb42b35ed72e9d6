"""The statements the engine runs for every run, compiled once per process.

Building and compiling a queryset costs more CPU than the database takes to answer it (measured
on PostgreSQL: a fenced UPDATE 0.34 ms of CPU through the ORM, 0.10 ms as SQL; the claim's
candidate query 1.8 ms against 0.13 ms), and a one-step run makes about thirty of them. So the
hot path keeps the ORM as the author of each statement but not as its per-call compiler:

- `CompiledQuery`: a queryset is compiled once with stand-in values (`Mark`) for what varies
  (a run id, a time); the cached SQL runs with the real values, prepared by the same model field
  the ORM would use. The stand-ins are checked to appear exactly once each in the parameters.
- `update_where` / `insert_row`: UPDATE and INSERT statements written from the model's own table
  and column names (no outside input reaches the SQL text), with every value prepared by its
  field's `get_db_prep_save` / `get_db_prep_value`, exactly as the ORM prepares it.

tasks/tests/test_engine_sql.py compares the helpers with the ORM statements they replace, on both
databases; the engine and approvals suites run every compiled statement.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import connection
from django.db.models import Model, QuerySet


@dataclass(frozen=True)
class Mark:
    """A stand-in value for one parameter of a compiled query: `value` (unlikely anywhere else in
    the query) compiled through `model.field`, which prepares the real value the same way."""

    model: type[Model] | None  # None: an integer, which every backend takes as it is
    field: str
    value: object

    def prepare(self, value):
        if self.model is None:
            return value
        field = self.model._meta.get_field(self.field)
        return field.get_db_prep_value(field.get_prep_value(value), connection, prepared=True)


# Stand-ins for integer parameters (an id, a count): every backend takes an int as it is.
ID = Mark(None, "", 987_654_321)
COUNT = Mark(None, "", 987_654_327)


class CompiledQuery:
    """A queryset compiled once per database vendor. `build()` writes it with each mark's stand-in
    value; `sql_params(*values)` gives its SQL and parameters with `values` in the marks' places."""

    def __init__(self, build: Callable[[], QuerySet], *marks: Mark, literals: tuple[str, ...] = ()) -> None:
        self.build, self.marks, self.literals = build, marks, literals
        self._compiled: dict[str, tuple[str, list, tuple[int, ...]]] = {}

    def sql_params(self, *values) -> tuple[str, list]:
        vendor = connection.vendor
        if vendor not in self._compiled:
            self._compiled[vendor] = self._compile()
        sql, template, positions = self._compiled[vendor]
        params = list(template)
        for mark, position, value in zip(self.marks, positions, values, strict=True):
            params[position] = mark.prepare(value)
        return sql, params

    def _compile(self) -> tuple[str, list, tuple[int, ...]]:
        sql, params = self.build().query.sql_with_params()
        sql, params = _written_out(sql, list(params), self.literals)
        positions = []
        for mark in self.marks:
            found = [i for i, p in enumerate(params) if p == mark.prepare(mark.value)]
            if len(found) != 1:
                raise RuntimeError(f"{self.build.__name__}: stand-in {mark.value!r} is {len(found)} parameters, not 1")
            positions.append(found[0])
        return sql, params, tuple(positions)


def _written_out(sql: str, params: list, literals: tuple[str, ...]) -> tuple[str, list]:
    """`sql` with each parameter that is one of `literals` (constants of the code, plain lowercase
    words such as a model's states) written into the text as a quoted literal instead.

    Why: PostgreSQL plans a prepared statement once for any parameters (its generic plan), and
    only a condition written out like a partial index's own (`state IN ('running', 'verifying')`)
    lets that plan use the index; with parameters the runs under way were counted by scanning
    every run ever made, once per claim."""
    if not literals:
        return sql, params
    if not all(word.isascii() and word.replace("_", "").isalpha() and word.islower() for word in literals):
        raise ValueError(f"only plain lowercase words are written out as literals, not {literals!r}")
    pieces = sql.split("%s")
    if len(pieces) != len(params) + 1:
        raise RuntimeError("the compiled SQL's placeholders do not match its parameters")
    text, kept = [pieces[0]], []
    for param, piece in zip(params, pieces[1:], strict=True):
        if isinstance(param, str) and param in literals:
            text.append(f"'{param}'")
        else:
            text.append("%s")
            kept.append(param)
        text.append(piece)
    return "".join(text), kept


@contextlib.contextmanager
def executed(sql: str, params: list):
    """The cursor that ran `sql` on Django's connection, inside its current transaction.

    On PostgreSQL it is a server-side-binding psycopg cursor and the statement is prepared the
    first time a connection runs it, so PostgreSQL skips parsing and planning it after that
    (Django's cursors bind client-side and never prepare; for these one-row statements parsing and
    planning were most of the database's CPU). Database errors are raised as Django's, as the ORM
    raises them. These statements do not pass through Django's query log or execute wrappers.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            yield cursor
        return
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        yield cursor


def fetch_one(sql: str, params: list):
    with executed(sql, params) as cursor:
        return cursor.fetchone()


def fetch_all(sql: str, params: list) -> list:
    with executed(sql, params) as cursor:
        return cursor.fetchall()


def fetch_batch(*statements: tuple[str, list]) -> list[tuple[list[str], list[tuple]]]:
    """Each statement's (column names, rows), for reads whose parameters do not depend on one
    another's results: sent together in one `pipeline` (one round trip on PostgreSQL)."""
    with pipeline():
        sent = [send(sql, params) for sql, params in statements]
    return [(item.names, item.rows) for item in sent]


class Sent:
    """A statement sent by `send`: its column names and rows, read once it has run (at once, or
    when the `pipeline` it was sent in ends)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.rows: list[tuple] = []

    def take(self, cursor) -> Sent:
        if cursor.description is not None:
            self.names = [d.name if hasattr(d, "name") else d[0] for d in cursor.description]
            self.rows = cursor.fetchall()
        return self

    def one(self) -> tuple | None:
        return self.rows[0] if self.rows else None


_SENDING: ContextVar[list | None] = ContextVar("command_sql_pipeline", default=None)


@contextlib.contextmanager
def pipeline():
    """Statements `send` sends inside the block go to PostgreSQL together, with their
    transaction's BEGIN when they are its first: one round trip for all of them. Their results are
    read when the block ends (a database error is raised there, and dooms the transaction as it
    would have one statement at a time). For statements that need none of one another's results;
    they still run one after another, in order, each seeing what the ones before it wrote.
    Elsewhere each statement runs when it is sent. A block inside another reads its own results
    when it ends (psycopg syncs a nested pipeline on its way out)."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    sent: list[tuple] = []
    token = _SENDING.set(sent)
    try:
        with connection.wrap_database_errors:
            with connection.connection.pipeline():
                yield
            for cursor, item in sent:
                item.take(cursor)
    finally:
        _SENDING.reset(token)
        for cursor, _ in sent:
            cursor.close()


def send(sql: str, params: list) -> Sent:
    """Run `sql` now, or inside a `pipeline` send it with the others (its rows then read when the
    block ends); prepared on PostgreSQL as `executed` prepares it."""
    sent = _SENDING.get()
    if sent is None:
        with executed(sql, params) as cursor:
            return Sent().take(cursor)
    import psycopg

    cursor = psycopg.Cursor(connection.connection)
    cursor.execute(sql, params, prepare=True)
    item = Sent()
    sent.append((cursor, item))
    return item


def instances(model: type[Model], names: list[str], rows: list[tuple]) -> list[Model]:
    """`rows` of `model`'s table (columns `names`, as a compiled queryset of it selects them) as
    instances, each value converted as the ORM converts it (the backend's converters, then the
    field's: a JSON column decoded, an SQLite date parsed); columns not selected are deferred, as
    with .only(), and a column that is no field's (an annotation) becomes an attribute of that
    name, as it comes."""
    from django.db.models.base import DEFERRED

    columns = _columns(model)
    attnames = [f.attname for f in model._meta.concrete_fields]
    chosen = [columns.get(name) for name in names]
    converters = [_converters(model, column[0].column, connection.vendor) if column else () for column in chosen]
    out = []
    for row in rows:
        values, extra = {}, {}
        for name, column, convert, value in zip(names, chosen, converters, row, strict=True):
            if column is None:
                extra[name] = value
                continue
            for converter in convert:
                value = converter(value, column[1], connection)
            values[column[0].attname] = value
        obj = model.from_db(connection.alias, attnames, [values.get(a, DEFERRED) for a in attnames])
        for name, value in extra.items():
            setattr(obj, name, value)
        out.append(obj)
    return out


@functools.cache
def _columns(model: type[Model]) -> dict:
    """Each column of `model`'s table: (its field, the field's column expression)."""
    return {f.column: (f, f.get_col(model._meta.db_table)) for f in model._meta.concrete_fields}


@functools.cache
def _converters(model: type[Model], column: str, vendor: str) -> tuple:
    """The converters the ORM applies to `column` of `model`'s table on this vendor's backend."""
    col = _columns(model)[column][1]
    return tuple(connection.ops.get_db_converters(col) + col.get_db_converters(connection))


def model_from_row(model: type[Model], values) -> Model:
    """An instance of `model` from `values`, one per concrete field in the model's order (as a
    SELECT of every column returns them), converted as the ORM converts what it reads."""
    return instances(model, _all_columns(model), [values])[0]


@functools.cache
def _all_columns(model: type[Model]) -> list[str]:
    return [f.column for f in model._meta.concrete_fields]


def _field(model: type[Model], name: str):
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


def _column(model: type[Model], name: str) -> str:
    return connection.ops.quote_name(_field(model, name).column)


def _where_value(model: type[Model], name: str, value):
    field = _field(model, name)
    return field.get_db_prep_value(field.get_prep_value(value), connection, prepared=True)


@dataclass(frozen=True)
class Condition:
    """One more condition for an UPDATE's WHERE: `sql` written from models' own table and column
    names and constants (no outside input), with `params` in its placeholders' order."""

    sql: str
    params: tuple = ()


@functools.cache
def _update_sql(
    model: type[Model],
    vendor: str,
    set_names: tuple[str, ...],
    where: tuple[tuple[str, int], ...],
    increment: tuple[str, ...],
    returning: tuple[str, ...],
    condition: str = "",
) -> str:
    assignments = ", ".join(
        [f"{_column(model, name)} = %s" for name in set_names]
        + [
            f"{_column(model, name)} = {_column(model, name)} + {increment.count(name)}"
            for name in dict.fromkeys(increment)
        ]
    )
    conditions = []
    for name, count in where:
        column = _column(model, name)
        conditions.append(f"{column} = %s" if count < 0 else f"{column} IN ({', '.join(['%s'] * count)})")
    if condition:
        conditions.append(f"({condition})")
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"UPDATE {table} SET {assignments} WHERE {' AND '.join(conditions)}"  # noqa: S608 - names from the model
    if returning:
        sql += " RETURNING " + ", ".join(_column(model, name) for name in returning)
    return sql


def _set_and_where(model: type[Model], values: dict, where: dict) -> tuple[list[tuple[str, int]], list]:
    """(the WHERE's shape, the parameters): each SET value prepared by its field, then each WHERE
    value (a tuple or list for a name ending in `__in`, its length in the shape; -1 for equality)."""
    where_shape, params = [], []
    for name, value in values.items():
        params.append(_field(model, name).get_db_prep_save(value, connection))
    for lookup, value in where.items():
        if lookup.endswith("__in"):
            name = lookup.removesuffix("__in")
            where_shape.append((name, len(value)))
            params.extend(_where_value(model, name, item) for item in value)
        else:
            where_shape.append((lookup, -1))
            params.append(_where_value(model, lookup, value))
    return where_shape, params


def update_where(
    model: type[Model],
    where: dict,
    *,
    increment: tuple = (),
    returning: tuple = (),
    condition: Condition | None = None,
    **values,
):
    """UPDATE `model` SET `values` WHERE every `where` item holds: the number of rows changed, or
    with `returning` (field names) the first changed row's values of those fields, None if none.

    `where` maps field names to a value (equality) or, for names ending in `__in`, to a tuple or
    list. Each value is prepared by its field as QuerySet.filter(...).update(...) prepares it.
    `increment` names integer fields to add one to (as F(name) + 1 would); a name given n times
    adds n. `condition` must hold as well.
    """
    sql, params = _update_statement(model, where, increment, returning, values, condition)
    with executed(sql, params) as cursor:
        return cursor.fetchone() if returning else cursor.rowcount


def update_where_sent(model: type[Model], where: dict, *, returning: tuple, **values) -> Sent:
    """update_where with `returning`, sent (`send`): the changed rows' values are its rows."""
    return send(*_update_statement(model, where, (), returning, values))


def _update_statement(
    model, where: dict, increment: tuple, returning: tuple, values: dict, condition: Condition | None = None
) -> tuple[str, list]:
    where_shape, params = _set_and_where(model, values, where)
    condition = condition or Condition("")
    params.extend(condition.params)
    shape = (tuple(values), tuple(where_shape), tuple(increment), tuple(returning), condition.sql)
    return _update_sql(model, connection.vendor, *shape), params


@functools.cache
def _insert_sql(model: type[Model], vendor: str) -> tuple[str, tuple]:
    fields = tuple(_new_row_fields(model))
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    pk = connection.ops.quote_name(model._meta.pk.column)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {pk}"  # noqa: S608 - names from the model
    return sql, fields


def insert_row(obj: Model) -> Model:
    """INSERT `obj` (a new instance of a model with an auto primary key) and set its pk, as
    obj.save() would for a plain insert: field defaults and pre_save (auto_now_add) applied, each
    value prepared by its field. No signals are sent (the hot-path models have no receivers)."""
    return insert_rows([obj])[0]


def insert_rows(objs: list[Model]) -> list[Model]:
    """insert_row for several new instances of one model in one INSERT statement (one round trip);
    each gets its pk. The rows' order in RETURNING is not promised by every database, so the pks
    are matched back by the primary key's order: both databases hand out increasing keys to the
    rows of one INSERT in the order of its VALUES."""
    if not objs:
        return objs
    model = type(objs[0])
    sql, fields = _insert_sql(model, connection.vendor)
    if len(objs) > 1:
        head, _, tail = sql.rpartition(" RETURNING ")
        one = head[head.index(" VALUES ") + len(" VALUES ") :]
        sql = f"{head}, {', '.join([one] * (len(objs) - 1))} RETURNING {tail}"
    _stored(objs, sorted(row[0] for row in fetch_all(sql, _insert_params(objs, fields))))
    return objs


def _new_row_fields(model: type[Model], *, taken: tuple[str, ...] = ()) -> list:
    """The fields an INSERT of a new `model` row writes: all but its auto primary key and the
    fields named in `taken` (filled from elsewhere in the statement)."""
    return [f for f in model._meta.concrete_fields if not f.primary_key and f.name not in taken]


def _insert_params(objs: list[Model], fields) -> list:
    """Each object's values for `fields`, in order, prepared as obj.save() prepares a new row."""
    return [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for obj in objs for f in fields]


def _stored(objs: list[Model], pks) -> None:
    """The objects, inserted, each with its primary key (in order)."""
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, connection.alias


def update_with_rows(*args, **kwargs) -> tuple[int, int] | None:
    """update_with_rows_sent, run now: its result."""
    return update_with_rows_sent(*args, **kwargs)()


def update_with_rows_sent(
    model: type[Model],
    where: dict,
    *,
    counter: str,
    also: tuple[type[Model], object, dict] | None = None,
    rows: list[Model],
    plain: list[Model] = (),
    condition: Condition | None = None,
    **values,
) -> Callable[[], tuple[int, int] | None]:
    """PostgreSQL only: sent (`send`) as ONE statement (data-modifying CTEs), what
    update_where(model, where, increment=(counter,) * len(rows), returning=(counter, "attempt"), **values) followed by
    update_where(also_model, {"pk": also_pk}, **also_values) (when `also` is given),
    insert_rows(plain) and insert_rows(rows) would write, each of `rows`' `seq` and `attempt`
    taken from the updated row (the rows get the len(rows) counter values ending at the new one,
    in order). Nothing is written when `where` matches no row. Returns what gives, once the
    statement has run, None when nothing was written, else (the new counter value, the attempt),
    every row of `rows` and `plain` then having its pk. `condition` must hold as well as `where`."""
    where_shape, params = _set_and_where(model, values, where)
    condition = condition or Condition("")
    params.extend(condition.params)
    also_model, also_names = None, ()
    if also is not None:
        also_model, also_pk, also_values = also
        also_names = tuple(also_values)
        params += [_field(also_model, name).get_db_prep_save(value, connection) for name, value in also_values.items()]
        params.append(_where_value(also_model, "pk", also_pk))
    plain_model = type(plain[0]) if plain else None
    if plain:
        params += _insert_params(plain, _new_row_fields(plain_model))
    row_model = type(rows[0])
    params += _insert_params(rows, _new_row_fields(row_model, taken=_NUMBERED))
    sql = _update_with_rows_sql(
        model,
        tuple(values),
        tuple(where_shape),
        counter,
        also_model,
        also_names,
        row_model,
        len(rows),
        plain_model,
        len(plain),
        condition.sql,
    )
    sent = send(sql, params)

    def result() -> tuple[int, int] | None:
        found = sent.one()
        if found is None:
            return None
        _stored([*rows, *plain], found[2:])
        return found[0], found[1]

    return result


# What update_with_rows' numbered rows take from the updated row rather than from themselves.
_NUMBERED = ("seq", "attempt")


@functools.cache
def _update_with_rows_sql(
    model, set_names, where_shape, counter, also_model, also_names, row_model, n, plain_model, n_plain, condition
) -> str:
    quote = connection.ops.quote_name
    first = _update_sql(model, "postgresql", set_names, where_shape, (counter,) * n, (counter, "attempt"), condition)
    seq, attempt = _column(model, counter), _column(model, "attempt")
    parts = [f"r AS ({first})"]
    if also_model is not None:
        also = _update_sql(also_model, "postgresql", also_names, (("pk", -1),), (), ())
        parts.append(f"a AS ({also} AND EXISTS (SELECT 1 FROM r))")  # noqa: S608 - names from the models
    if n_plain:
        fields = _new_row_fields(plain_model)
        columns = ", ".join(quote(f.column) for f in fields)
        values = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
        table, pk = quote(plain_model._meta.db_table), quote(plain_model._meta.pk.column)
        for i in range(n_plain):
            parts.append(f"p{i} AS (INSERT INTO {table} ({columns}) SELECT {values} FROM r RETURNING {pk})")  # noqa: S608 - names from the models
    fields = _new_row_fields(row_model, taken=_NUMBERED)
    columns = ", ".join([quote(f.column) for f in fields] + [_column(row_model, name) for name in _NUMBERED])
    values = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
    table, pk = quote(row_model._meta.db_table), quote(row_model._meta.pk.column)
    for i in range(n):
        parts.append(
            f"e{i} AS (INSERT INTO {table} ({columns}) SELECT {values}, r.{seq} - {n - 1 - i}, r.{attempt} FROM r"  # noqa: S608 - names from the models
            f" RETURNING {pk})"
        )
    plain_pk = quote(plain_model._meta.pk.column) if n_plain else ""
    returned = ", ".join([f"e{i}.{pk}" for i in range(n)] + [f"p{i}.{plain_pk}" for i in range(n_plain)])
    sources = ", ".join(["r", *(f"e{i}" for i in range(n)), *(f"p{i}" for i in range(n_plain))])
    return f"WITH {', '.join(parts)} SELECT r.{seq}, r.{attempt}, {returned} FROM {sources}"  # noqa: S608 - names from the models
