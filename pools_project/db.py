"""What SQL written by hand needs of the models."""

import functools
import itertools

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models.fields import AutoFieldMixin


def db_value(model, field: str, value):
    """`value` as the database stores `model.field` (a UUID as SQLite's hex, say): the
    parameter a raw statement passes for it."""
    return _prep(model, field)(value, connections[DEFAULT_DB_ALIAS])  # not the proxy


@functools.cache
def _prep(model, field: str):
    return model._meta.get_field(field).get_db_prep_value


def in_list(column: str, values) -> tuple[str, list]:
    """`column` is one of `values`, each its own parameter. Not one array parameter
    (`= ANY(%s)`) on PostgreSQL: a plan prepared for an array of unknown length is
    costed so high that the server plans the statement again on every run, where a list
    of parameters gets the generic plan after five (one per length of list)."""
    values = sorted(values)
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def transaction_lock(key: str) -> None:
    """Hold a lock named `key` until the transaction ends (PostgreSQL's advisory lock):
    work on one thing that has no row of its own to lock — a recipient — goes one at a
    time. SQLite needs none: its write transactions already run one at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def selected(model, alias: str) -> tuple[tuple[str, ...], str]:
    """A raw SELECT's list of every column of `model` (its table named `alias`), and the
    field names `model_from_row` loads them as, in the same order."""
    fields = model._meta.concrete_fields
    return (
        tuple(field.attname for field in fields),
        ", ".join(f"{alias}.{field.column}" for field in fields),
    )


@functools.cache
def _converters(model, attnames: tuple[str, ...]) -> tuple:
    fields = [model._meta.get_field(name) for name in attnames]
    return tuple(
        (
            field.cached_col,
            connection.ops.get_db_converters(field.cached_col)
            + field.get_db_converters(connection),
        )
        for field in fields
    )


def model_from_row(model, attnames: tuple[str, ...], values):
    """An instance of `model` from a raw row of those columns, as the ORM would load it
    (SQLite's hex as a UUID, say), without a QuerySet's cost of building one."""
    wrapper, converted = connections[DEFAULT_DB_ALIAS], []  # the connection, not its proxy
    for value, (column, converters) in zip(values, _converters(model, attnames), strict=True):
        for converter in converters:
            value = converter(value, column, wrapper)
        converted.append(value)
    return model.from_db(wrapper.alias, attnames, converted)


@functools.cache
def _insert_sql(model, rows: int) -> tuple[str, tuple, object]:
    meta = model._meta
    generated = meta.pk if isinstance(meta.pk, AutoFieldMixin) else None
    fields = tuple(field for field in meta.concrete_fields if field is not generated)
    row = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} "
        f"({', '.join(connection.ops.quote_name(field.column) for field in fields)}) "
        f"VALUES {', '.join([row] * rows)}"
    )
    if generated is not None and connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {connection.ops.quote_name(generated.column)}"
    return sql, fields, generated


@functools.cache
def _inserts_sql(shape: tuple[tuple[type, int], ...]) -> str:
    """One statement inserting rows into several tables (PostgreSQL's data-modifying
    WITH), answering the generated ids of each, in the order of `shape`."""
    tables, answers = [], []
    for i, (model, rows) in enumerate(shape):
        sql, _, generated = _insert_sql(model, rows)
        tables.append(f"t{i} AS ({sql})")
        if generated is not None:
            answers.append(f"SELECT {connection.ops.quote_name(generated.column)} FROM t{i}")
    return f"WITH {', '.join(tables)} {' UNION ALL '.join(answers) or 'SELECT 1 WHERE false'}"


def model_insert(*instances) -> None:
    """Insert `instances` as `save()` on new ones does (defaults, `auto_now_add`), in
    one statement written once per sequence of models and row counts: the send path's
    rows, where the ORM's building of an INSERT cost more than its execution. Rows of
    several models are one statement on PostgreSQL, one per run of a model elsewhere;
    the foreign keys between them are checked at the commit. Sends no signals: give it
    no model that has receivers."""
    if not instances:
        return
    wrapper = connections[DEFAULT_DB_ALIAS]  # the connection, not its proxy: read per field
    groups = [list(group) for _, group in itertools.groupby(instances, key=type)]
    if len(groups) > 1 and wrapper.vendor != "postgresql":
        for group in groups:
            model_insert(*group)
        return
    returning = wrapper.features.can_return_columns_from_insert
    if len(instances) > 1 and not returning:  # SQLite before 3.35: each for its own id
        for instance in instances:
            model_insert(instance)
        return
    values, numbered, generated = [], [], None
    for group in groups:
        _, fields, generated = _insert_sql(type(group[0]), len(group))
        values += [
            field.get_db_prep_save(field.pre_save(instance, True), wrapper)
            for instance in group
            for field in fields
        ]
        if generated is not None:
            numbered += group
    shape = tuple((type(group[0]), len(group)) for group in groups)
    sql = _inserts_sql(shape) if len(shape) > 1 else _insert_sql(*shape[0])[0]
    with wrapper.cursor() as cursor:
        cursor.execute(sql, values)
        if numbered and returning:
            for instance, (pk,) in zip(numbered, cursor.fetchall(), strict=True):
                instance.pk = pk
        elif numbered:  # SQLite before 3.35 has no RETURNING: one instance, one model
            (instance,) = numbered
            instance.pk = wrapper.ops.last_insert_id(
                cursor, instance._meta.db_table, generated.column
            )
    for instance in instances:
        instance._state.adding = False
        instance._state.db = wrapper.alias


@functools.cache
def _update_sql(
    model, written: tuple[str, ...], matched: tuple[str, ...]
) -> tuple[str, list, list]:
    meta, quote = model._meta, connection.ops.quote_name
    assigned = [(name, meta.get_field(name)) for name in written]
    compared = [(name, meta.pk if name == "pk" else meta.get_field(name)) for name in matched]
    sql = (
        f"UPDATE {quote(meta.db_table)} "
        f"SET {', '.join(f'{quote(field.column)} = %s' for _, field in assigned)} "
        f"WHERE {' AND '.join(f'{quote(field.column)} = %s' for _, field in compared)}"
    )
    return sql, assigned, compared


def model_update(model, values: dict, *, where: dict) -> int:
    """`model.objects.filter(**where).update(**values)`, of equalities only, in one
    statement written once per model and columns: the rows it wrote. Every report on a
    message is such an UPDATE, where the ORM's building of it cost more than running it."""
    sql, assigned, compared = _update_sql(model, tuple(sorted(values)), tuple(sorted(where)))
    wrapper = connections[DEFAULT_DB_ALIAS]  # the connection, not its proxy: read per field
    params = [
        *(field.get_db_prep_save(values[name], wrapper) for name, field in assigned),
        *(field.get_db_prep_value(where[name], wrapper) for name, field in compared),
    ]
    with wrapper.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
