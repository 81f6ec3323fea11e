"""On PostgreSQL, any change to an API key or an account is notified on channel
`accounts_changed` when it commits, whoever makes it (the service, the admin, a
`manage.py shell`, SQL by hand): the processes that keep keys they have read forget them
(accounts.authentication). Once per statement, so a bulk revocation is one notice."""

from django.db import migrations

CHANNEL = "accounts_changed"
TABLES = ("accounts_apikey", "accounts_account")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE FUNCTION accounts_notify_changed() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"
    )
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_changed AFTER UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION accounts_notify_changed()"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER {table}_changed ON {table}")
    schema_editor.execute("DROP FUNCTION accounts_notify_changed()")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
