"""What SQL written by hand needs of the models."""

from django.db import connection


def db_value(model, field: str, value):
    """`value` as the database stores `model.field` (a UUID as SQLite's hex, say): the
    parameter a raw statement passes for it."""
    return model._meta.get_field(field).get_db_prep_value(value, connection)
