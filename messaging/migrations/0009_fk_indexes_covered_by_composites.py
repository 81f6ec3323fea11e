"""Drop the foreign keys' own indexes that a composite index already leads with.

Only the indexes go: dropping them is quick, where letting Django alter the fields
would drop and re-check each foreign key constraint over the whole table.
"""

import django.db.models.deletion
from django.db import migrations, models

# (index, table, column): the same names on PostgreSQL and SQLite.
COVERED = [
    ("messaging_message_account_id_21900bb3", "messaging_message", "account_id"),
    ("messaging_message_connection_id_fdd69d0f", "messaging_message", "connection_id"),
    ("messaging_message_number_id_9f76babf", "messaging_message", "number_id"),
    ("messaging_messagepart_connection_id_b73f6e04", "messaging_messagepart", "connection_id"),
    ("messaging_messagepart_message_id_b52b6073", "messaging_messagepart", "message_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("carriers", "0001_initial"),
        ("messaging", "0008_scheduling_and_quiet_hours"),
        ("numbers", "0004_number_state_and_daily_cap"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
                )
                for index, table, column in COVERED
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="accounts.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="connection",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        help_text="Where it leaves; empty: the built-in simulator.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="messages",
                        to="carriers.connection",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="number",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        help_text="The pool number that sent it, when the sender is a number.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="messages",
                        to="numbers.number",
                    ),
                ),
                migrations.AlterField(
                    model_name="messagepart",
                    name="connection",
                    field=models.ForeignKey(
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="carriers.connection",
                    ),
                ),
                migrations.AlterField(
                    model_name="messagepart",
                    name="message",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="parts",
                        to="messaging.message",
                    ),
                ),
            ],
        ),
    ]
