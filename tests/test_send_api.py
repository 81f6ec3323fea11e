"""POST /pools/my/{poolId}/sms: the pool picks the sender, the message is recorded with why."""

import uuid

import pytest
from rest_framework.test import APIClient

from messaging.models import Message
from pools.models import PoolNumber, StickyMapping
from tests.assertions import assert_error
from tests.scenarios import (
    NEW_YORK,
    REFUSAL_CASES,
    RULE_CASES,
    number_of,
    pool_with,
    request_body,
    written_state,
)

pytestmark = pytest.mark.django_db

MEDIA = ["https://example.com/cat.jpg"]


def send(api, pool, body):
    return api.post(f"/pools/my/{pool.pk}/sms", body, format="json")


def test_a_send_answers_with_the_message_and_why_its_sender_was_chosen(api, account):
    pool = pool_with(account, [NEW_YORK], name="marketing", sticky=True)

    response = send(api, pool, {"to": "+12125550100", "body": "Hello"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert {
        "trackingId",
        "status",
        "createdAt",
        "poolId",
        "poolName",
        "poolStrategy",
        "smsSettings",
        "to",
        "from",
        "body",
        "selection",
    } <= set(body)
    assert uuid.UUID(body["trackingId"])
    assert body["status"] == "Queued"
    assert (body["poolId"], body["poolName"], body["poolStrategy"]) == (
        str(pool.pk),
        "marketing",
        "Numeric",
    )
    assert body["smsSettings"]["sticky"] is True
    assert (body["to"], body["from"], body["body"]) == ("+12125550100", "12122030001", "Hello")
    assert set(body["selection"]) == {"rule", "explanation"}
    assert body["selection"]["rule"] == "pool"
    assert body["selection"]["explanation"].startswith("Recipient +12125550100: country US")


def test_a_send_stores_the_message_with_its_sender_rule_and_explanation(api, account):
    pool = pool_with(account, [NEW_YORK])

    body = send(api, pool, {"to": "+12125550100", "body": "Hello"}).json()

    message = Message.objects.get(pk=body["trackingId"])
    assert (message.account, message.pool, message.to, message.body) == (
        account,
        pool,
        "+12125550100",
        "Hello",
    )
    assert (message.sender, message.number.number) == (NEW_YORK, NEW_YORK)
    assert (message.status, message.channel, message.strategy) == ("Queued", "sms", "Numeric")
    assert message.rule == body["selection"]["rule"] == "pool"
    assert message.explanation == body["selection"]["explanation"]
    assert body["createdAt"].startswith(message.created_at.strftime("%Y-%m-%dT%H:%M:%S"))


@pytest.mark.parametrize("case", RULE_CASES, ids=str)
def test_a_send_reports_and_stores_the_rule_that_chose_its_sender(api, account, case):
    pool = case.pool(account)

    response = send(api, pool, request_body(case, body="Hi"))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["from"], body["selection"]["rule"], body["poolStrategy"]) == (
        case.sender,
        case.rule,
        case.strategy,
    )
    message = Message.objects.get(pk=body["trackingId"])
    assert (message.sender.removeprefix("+"), message.rule) == (case.sender, case.rule)
    assert message.explanation == body["selection"]["explanation"]
    assert len(message.explanation.splitlines()) >= 2


@pytest.mark.parametrize("case", RULE_CASES, ids=str)
def test_send_and_preview_agree_on_the_sender(api, account, case):
    pool = case.pool(account)

    previewed = api.post(f"/pools/my/{pool.pk}/preview", request_body(case), format="json")
    sent = send(api, pool, request_body(case, body="Hi"))

    assert previewed.json()["from"] == sent.json()["from"]
    assert previewed.json()["explanation"] == sent.json()["selection"]["explanation"]


def test_a_message_from_an_alphanumeric_sender_has_no_number(api, account):
    pool = pool_with(account, [NEW_YORK], alphanumeric_sender_id="ACME")

    body = send(
        api, pool, {"to": "+447400123456", "body": "Hi", "poolStrategy": "Alphanumeric"}
    ).json()

    message = Message.objects.get(pk=body["trackingId"])
    assert (message.sender, message.number, message.rule) == ("ACME", None, "alphanumeric")
    assert PoolNumber.objects.get().assignment_count == 0


def test_the_recipient_is_stored_in_e164_however_it_was_written(api, account):
    pool = pool_with(account, [NEW_YORK], sticky=True)

    body = send(api, pool, {"to": " +1 (212) 555-0100 ", "body": "Hi"}).json()

    assert body["to"] == "+12125550100"
    assert StickyMapping.objects.get().recipient == "+12125550100"


# MMS


def test_a_message_with_media_goes_out_from_an_mms_capable_number(api, account):
    pool = pool_with(account, [NEW_YORK])
    PoolNumber.objects.create(
        pool=pool, number=number_of(account, "+12122030002", mms_capable=True)
    )

    for _ in range(3):
        body = send(api, pool, {"to": "+12125550100", "body": "Look", "mediaUrls": MEDIA}).json()
        assert body["from"] == "12122030002"

    assert set(Message.objects.values_list("channel", "sender")) == {("mms", "+12122030002")}


def test_a_message_without_media_may_go_out_from_any_sms_number(api, account):
    pool = pool_with(account, [NEW_YORK])
    PoolNumber.objects.create(
        pool=pool, number=number_of(account, "+12122030002", mms_capable=True)
    )

    senders = {send(api, pool, {"to": "+12125550100", "body": "Hi"}).json()["from"] for _ in "ab"}

    assert senders == {"12122030001", "12122030002"}


def test_an_mms_number_that_cannot_send_sms_is_never_used_for_sms(api, account):
    pool = pool_with(account, [NEW_YORK])
    mms_only = number_of(account, "+12122030002", sms_capable=False, mms_capable=True)
    PoolNumber.objects.create(pool=pool, number=mms_only)

    senders = {send(api, pool, {"to": "+12125550100", "body": "Hi"}).json()["from"] for _ in "abc"}

    assert senders == {"12122030001"}


# Refusals


@pytest.mark.parametrize("case", REFUSAL_CASES, ids=str)
def test_a_refused_send_answers_the_refusal_and_writes_nothing(api, account, case):
    pool = case.pool(account)
    before = written_state(account)

    response = send(api, pool, request_body(case, body="Hi"))

    assert_error(response, case.status, case.code)
    assert written_state(account) == before


def test_a_refused_send_to_a_mapped_recipient_leaves_the_mapping_as_it_was(api, account):
    pool = pool_with(account, [NEW_YORK], sticky=True)
    assert send(api, pool, {"to": "+447400123456", "body": "Hi"}).status_code == 200
    before = written_state(account)

    response = send(
        api, pool, {"to": "+447400123456", "body": "Hi", "poolStrategy": "Alphanumeric"}
    )

    assert_error(response, 422, "NO_ALPHANUMERIC_SENDER")
    assert written_state(account) == before


def test_media_with_no_mms_number_in_the_pool_is_refused(api, account):
    pool = pool_with(account, [NEW_YORK], sticky=True)

    response = send(api, pool, {"to": "+12125550100", "body": "Look", "mediaUrls": MEDIA})

    assert_error(response, 422, "NO_SENDER_AVAILABLE")
    assert not Message.objects.exists()
    assert not StickyMapping.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"to": "+12125550100"}, "body"),
        ({"body": "Hi"}, "to"),
        ({"to": "", "body": "Hi"}, "to"),
        ({"to": "+12125550100", "body": "Hi", "poolStrategy": "Random"}, "poolStrategy"),
        ({"to": "+12125550100", "body": "Hi", "mediaUrls": "https://x.io/a.jpg"}, "mediaUrls"),
    ],
)
def test_a_malformed_send_is_a_validation_error_and_writes_nothing(api, account, body, field):
    pool = pool_with(account, [NEW_YORK], sticky=True)

    response = assert_error(send(api, pool, body), 400, "VALIDATION_ERROR")

    assert field in response["errors"]
    assert written_state(account)["messages"] == 0


def test_a_body_that_is_not_json_is_a_validation_error(api, account):
    pool = pool_with(account, [NEW_YORK])

    response = api.post(f"/pools/my/{pool.pk}/sms", "{not json", content_type="application/json")

    assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("pool_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_sending_through_an_unknown_pool_is_not_found(api, pool_id):
    response = api.post(f"/pools/my/{pool_id}/sms", {"to": "+12125550100", "body": "Hi"})

    assert_error(response, 404, "POOL_NOT_FOUND")


def test_another_accounts_pool_cannot_be_sent_through(api, other_account):
    pool = pool_with(other_account, [NEW_YORK], sticky=True)

    response = send(api, pool, {"to": "+12125550100", "body": "Hi"})

    assert_error(response, 404, "POOL_NOT_FOUND")
    assert written_state(other_account)["messages"] == 0
    assert not StickyMapping.objects.exists()


def test_sending_needs_an_api_key(account):
    pool = pool_with(account, [NEW_YORK])

    response = send(APIClient(), pool, {"to": "+12125550100", "body": "Hi"})

    assert_error(response, 401, "UNAUTHORIZED")
    assert not Message.objects.exists()


def test_a_wrong_api_key_is_refused(account):
    pool = pool_with(account, [NEW_YORK])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")

    assert_error(send(client, pool, {"to": "+12125550100", "body": "Hi"}), 401, "UNAUTHORIZED")
