"""The hand-written SQL's helpers (pools_project.db): rows load and save as the ORM's do."""

import uuid

import pytest
from django.db import connection

from accounts.models import Account
from messaging.models import Message, MessagePart, StatusEvent
from pools_project import db
from tests.messaging_factories import StoredMessageFactory

pytestmark = pytest.mark.django_db

ACCOUNT_FIELDS = tuple(field.attname for field in Account._meta.concrete_fields)


def test_a_raw_row_loads_as_the_orm_loads_it(account):
    columns = ", ".join(field.column for field in Account._meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM accounts_account WHERE name = %s", ["acme"])
        row = cursor.fetchone()

    loaded = db.model_from_row(Account, ACCOUNT_FIELDS, row)

    assert isinstance(loaded.pk, uuid.UUID)  # SQLite hands back its hex
    assert [getattr(loaded, f) for f in ACCOUNT_FIELDS] == [
        getattr(account, f) for f in ACCOUNT_FIELDS
    ]
    assert not loaded._state.adding


@pytest.fixture(params=["returning", "no returning"])
def insert_features(request, monkeypatch):
    """As the database has it, and as SQLite before 3.35 (no RETURNING) would."""
    if request.param == "no returning":
        if connection.vendor != "sqlite":
            pytest.skip("only SQLite has ever been without RETURNING here")
        monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    db._insert_sql.cache_clear()
    yield
    db._insert_sql.cache_clear()


def test_an_insert_fills_defaults_and_the_generated_id(insert_features):
    message = StoredMessageFactory()
    first, second = (
        StatusEvent(message=message, status="Queued"),
        StatusEvent(message=message, status="Sent"),
    )

    db.model_insert(first)
    db.model_insert(second)

    assert first.pk is not None and second.pk is not None and first.pk != second.pk
    stored = StatusEvent.objects.get(pk=second.pk)
    assert (stored.status, stored.detailed_status, stored.created_at) == (
        "Sent",
        "",
        second.created_at,
    )
    assert second.created_at is not None  # auto_now_add, as save() sets it
    assert not second._state.adding


def test_one_insert_of_several_rows_gives_each_its_own_id(insert_features):
    message = StoredMessageFactory()
    events = [StatusEvent(message=message, status=s) for s in ("Queued", "Sent", "Delivered")]

    db.model_insert(*events)

    stored = StatusEvent.objects.filter(message=message).order_by("id")
    assert [(e.pk, e.status) for e in stored] == [(e.pk, e.status) for e in events]
    assert all(e.created_at is not None and not e._state.adding for e in events)


def test_an_insert_of_nothing_runs_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        db.model_insert()


def test_an_update_writes_as_the_orms_does_and_only_where_its_conditions_hold():
    message = StoredMessageFactory()
    other = StoredMessageFactory(pool=message.pool)
    sent_at = message.created_at

    written = db.model_update(
        Message,
        {"status": "Sent", "sent_at": sent_at, "lease_until": None, "body_analysis": {"parts": 2}},
        where={"pk": message.pk, "status": "Queued"},
    )
    again = db.model_update(
        Message, {"status": "Failed"}, where={"pk": message.pk, "status": "Queued"}
    )

    assert (written, again) == (1, 0)
    stored = Message.objects.get(pk=message.pk)
    assert (stored.status, stored.sent_at, stored.body_analysis) == ("Sent", sent_at, {"parts": 2})
    assert Message.objects.get(pk=other.pk).status == "Queued"


def test_rows_of_several_models_go_in_one_statement_on_postgresql_each_with_its_id(
    django_assert_num_queries,
):
    message = StoredMessageFactory()
    parts = [MessagePart(message=message, index=i, provider_id=f"id-{i}") for i in range(2)]
    events = [StatusEvent(message=message, status=s) for s in ("Sent", "Delivered")]

    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        db.model_insert(*parts, *events)

    assert list(MessagePart.objects.order_by("index").values_list("pk", "provider_id")) == [
        (part.pk, part.provider_id) for part in parts
    ]
    assert list(StatusEvent.objects.order_by("pk").values_list("pk", "status")) == [
        (event.pk, event.status) for event in events
    ]
