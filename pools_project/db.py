"""What SQL written by hand needs of the models."""

from django.db import connection


def db_value(model, field: str, value):
    """`value` as the database stores `model.field` (a UUID as SQLite's hex, say): the
    parameter a raw statement passes for it."""
    return model._meta.get_field(field).get_db_prep_value(value, connection)


def transaction_lock(key: str) -> None:
    """Hold a lock named `key` until the transaction ends (PostgreSQL's advisory lock):
    work on one thing that has no row of its own to lock — a recipient — goes one at a
    time. SQLite needs none: its write transactions already run one at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
