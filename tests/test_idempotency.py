"""Idempotency-Key on a send (SPEC §6): a retry returns the first answer and creates nothing."""

import threading
import time

import pytest
from django.db import connection

from messaging import apis
from messaging.models import IdempotencyKey, Message, StatusEvent
from pools.models import PoolNumber
from tests.assertions import assert_error
from tests.conftest import client_for
from tests.scenarios import NEW_YORK, number_of, pool_with

TO = "+12125550100"


def send(api, pool, key, **fields):
    return api.post(
        f"/pools/my/{pool.pk}/sms",
        {"to": TO, "body": "Hello", **fields},
        format="json",
        headers={"Idempotency-Key": key},
    )


@pytest.mark.django_db
def test_a_retry_with_the_same_key_returns_the_first_answer_and_sends_once(
    api, account, django_capture_on_commit_callbacks
):
    pool = pool_with(account, [NEW_YORK])

    with django_capture_on_commit_callbacks() as first_dispatch:
        first = send(api, pool, "order-42")
    with django_capture_on_commit_callbacks() as retry_dispatch:
        retry = send(api, pool, "order-42")

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.content == first.content  # byte for byte, key order included
    assert retry["Content-Type"] == first["Content-Type"] == "application/json"
    assert str(Message.objects.get().pk) == first.json()["trackingId"]
    assert StatusEvent.objects.count() == 1
    assert (len(first_dispatch), len(retry_dispatch)) == (1, 0)


@pytest.mark.django_db
def test_a_retry_answers_the_first_response_even_after_the_message_moved_on(
    api, account, django_capture_on_commit_callbacks
):
    pool = pool_with(account, [NEW_YORK])
    with django_capture_on_commit_callbacks(execute=True):
        first = send(api, pool, "order-42").json()
    assert Message.objects.get().status == "Delivered"

    assert send(api, pool, "order-42").json() == first


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [{"body": "Hello again"}, {"to": "+12125550199"}, {"ttl": 60}],
    ids=["body", "to", "ttl"],
)
def test_the_same_key_with_a_different_request_is_refused(api, account, change):
    pool = pool_with(account, [NEW_YORK])
    send(api, pool, "order-42")

    response = send(api, pool, "order-42", **change)

    assert_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_through_another_pool_is_refused(api, account):
    send(api, pool_with(account, [NEW_YORK]), "order-42")

    response = send(api, pool_with(account, ["+12122030002"]), "order-42")

    assert_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_refused_send_does_not_use_up_its_key(api, account):
    pool = pool_with(account, [])
    assert_error(send(api, pool, "order-42"), 422, "NO_SENDER_AVAILABLE")
    assert not IdempotencyKey.objects.exists()

    PoolNumber.objects.create(pool=pool, number=number_of(account, NEW_YORK))
    response = send(api, pool, "order-42")

    assert response.status_code == 200, response.json()
    assert str(Message.objects.get().pk) == response.json()["trackingId"]


@pytest.mark.django_db
def test_an_invalid_request_does_not_use_up_its_key(api, account):
    pool = pool_with(account, [NEW_YORK])
    assert_error(send(api, pool, "order-42", body=""), 400, "VALIDATION_ERROR")

    response = send(api, pool, "order-42")

    assert response.status_code == 200, response.json()


@pytest.mark.django_db
def test_keys_belong_to_one_account(api, other_api, account, other_account):
    mine = send(api, pool_with(account, [NEW_YORK]), "order-42")
    theirs = send(other_api, pool_with(other_account, ["+12122030002"]), "order-42", body="Hi")

    assert (mine.status_code, theirs.status_code) == (200, 200)
    assert mine.json()["trackingId"] != theirs.json()["trackingId"]
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_requests_without_a_key_are_each_sent(api, account):
    pool = pool_with(account, [NEW_YORK])

    for _ in range(2):
        api.post(f"/pools/my/{pool.pk}/sms", {"to": TO, "body": "Hello"}, format="json")

    assert Message.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_key_must_be_1_to_255_characters(api, account, key):
    pool = pool_with(account, [NEW_YORK])

    response = assert_error(send(api, pool, key), 400, "VALIDATION_ERROR")

    assert "Idempotency-Key" in response["errors"]
    assert not Message.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_send_one_message(account, monkeypatch):
    pool = pool_with(account, [NEW_YORK])
    send_message = apis.message_send

    def slow_send(**kwargs):
        message = send_message(**kwargs)
        time.sleep(0.3)  # the first request holds its key uncommitted while the other arrives
        return message

    monkeypatch.setattr(apis, "message_send", slow_send)
    clients = [client_for(account) for _ in range(2)]
    barrier = threading.Barrier(len(clients))
    responses, errors = [], []

    def request(client):
        try:
            barrier.wait(timeout=10)
            responses.append(send(client, pool, "order-42"))
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert [response.status_code for response in responses] == [200, 200]
    assert len({response.json()["trackingId"] for response in responses}) == 1
    assert str(Message.objects.get().pk) == responses[0].json()["trackingId"]
    assert IdempotencyKey.objects.count() == 1
