"""The API keys a process keeps (PostgreSQL): a request on a connection that has read
its key reads it no more, and a change to the key or its account made anywhere else —
another process, the admin, SQL by hand — counts from the next request once its notice
has arrived. Committed transactions throughout: the notices go out on commit."""

import select

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory

from accounts import authentication
from accounts.authentication import ApiKeyAuthentication
from accounts.models import Account, ApiKey
from accounts.services import api_key_create, api_key_revoke
from tests.assertions import assert_error
from tests.factories import AccountFactory
from tests.test_selection_locks import WAIT, Worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def elsewhere(job) -> None:
    """Run `job` on a database connection of its own, as another process would."""
    worker = Worker(job)
    worker.start()
    worker.finish()


def notice_arrived() -> None:
    """Wait until the server has written to this connection (the change's notice),
    without reading it: the request that follows must."""
    readable, _, _ = select.select([connection.connection.fileno()], [], [], WAIT)
    assert readable, "no notice arrived"


def key_reads(queries) -> int:
    return sum(ApiKey._meta.db_table in query["sql"] for query in queries)


@pytest.fixture
def issued():
    return api_key_create(account=AccountFactory(name="acme"))


@pytest.fixture
def client(issued):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw_key}")
    assert client.get("/numbers/my").status_code == 200  # the key is read, and kept
    return client


def authenticated_account(raw_key: str):
    request = APIRequestFactory().get("/numbers/my", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    account, _ = ApiKeyAuthentication().authenticate(request)
    return account


def test_a_key_is_read_once_per_connection(client):
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/numbers/my").status_code == 200
        assert client.get("/numbers/my").status_code == 200

    assert key_reads(queries) == 0


def test_a_key_revoked_by_another_process_is_refused_at_the_next_request(client, issued):
    elsewhere(lambda: api_key_revoke(api_key=issued.api_key))
    notice_arrived()

    assert_error(client.get("/numbers/my"), 401, "UNAUTHORIZED")


def test_a_key_revoked_on_the_same_connection_is_refused_at_the_next_request(client, issued):
    api_key_revoke(api_key=issued.api_key)

    assert_error(client.get("/numbers/my"), 401, "UNAUTHORIZED")


def test_a_key_deleted_by_sql_is_refused_at_the_next_request(client, issued):
    def delete():
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {ApiKey._meta.db_table} WHERE id = %s", [issued.api_key.pk]
            )

    elsewhere(delete)
    notice_arrived()

    assert_error(client.get("/numbers/my"), 401, "UNAUTHORIZED")


def test_an_account_changed_elsewhere_is_read_again(issued):
    assert authenticated_account(issued.raw_key).name == "acme"

    elsewhere(lambda: Account.objects.filter(pk=issued.api_key.account_id).update(name="acme corp"))
    notice_arrived()

    assert authenticated_account(issued.raw_key).name == "acme corp"


def test_a_change_whose_notice_never_came_counts_once_the_key_is_kept_no_longer(
    client, issued, monkeypatch
):
    def revoke_unnoticed():  # as behind a pooler that keeps no LISTEN: no notice
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")  # no trigger fires
            cursor.execute(
                f"UPDATE {ApiKey._meta.db_table} SET revoked_at = %s WHERE id = %s",
                [timezone.now(), issued.api_key.pk],
            )

    elsewhere(revoke_unnoticed)
    assert client.get("/numbers/my").status_code == 200  # kept: nothing said otherwise

    later = authentication.monotonic() + 60
    monkeypatch.setattr(authentication, "monotonic", lambda: later)

    assert_error(client.get("/numbers/my"), 401, "UNAUTHORIZED")


@override_settings(API_KEY_CACHE_SECONDS=0)
def test_with_no_time_to_keep_keys_every_request_reads_its_key(client):
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/numbers/my").status_code == 200
        assert client.get("/numbers/my").status_code == 200

    assert key_reads(queries) == 2


def test_a_new_connection_reads_the_key_again(client):
    connection.close()

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/numbers/my").status_code == 200

    assert key_reads(queries) == 1
