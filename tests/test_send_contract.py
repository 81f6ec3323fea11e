"""The send contract (SPEC §4, §6): what a send answers, what it stores, what it refuses."""

from datetime import datetime, timedelta

import pytest

from carriers.gateways.base import Accepted, Gateway
from messaging.models import Message
from optout.services import optout_record
from pools.models import PoolNumber
from tests.assertions import assert_error
from tests.scenarios import NEW_YORK, number_of, pool_with, written_state

pytestmark = pytest.mark.django_db

TO = "+12125550100"
CURLY = "\u201cHi\u201d \u2013 it\u2019s me"  # quotes and a dash GSM-7 lacks, with look-alikes
CURLY_TRANSCODED = '"Hi" - it\'s me'


def send(api, pool, **fields):
    return api.post(
        f"/pools/my/{pool.pk}/sms", {"to": TO, "body": "Hello", **fields}, format="json"
    )


def sent(api, pool, **fields) -> dict:
    response = send(api, pool, **fields)
    assert response.status_code == 200, response.json()
    return response.json()


class RecordingGateway(Gateway):
    """Remembers the text of every message handed to it."""

    bodies: list[str] = []

    def send(self, outbound):
        self.bodies.append(outbound.body)
        return Accepted((f"rec-{outbound.tracking_id}",))


# The answer


def test_a_send_answers_the_whole_message_resource(api, account):
    pool = pool_with(account, [NEW_YORK], name="alerts", sticky=True)

    body = sent(api, pool)

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
        "bodyAnalysis",
        "selection",
    } <= set(body)
    assert "urlShortener" not in body
    assert (body["status"], body["poolId"], body["poolName"], body["poolStrategy"]) == (
        "Queued",
        str(pool.pk),
        "alerts",
        "Numeric",
    )
    assert body["smsSettings"] == api.get(f"/pools/my/{pool.pk}").json()["smsSettings"]
    assert (body["to"], body["from"], body["body"]) == (TO, "12122030001", "Hello")
    assert datetime.fromisoformat(body["createdAt"])
    assert body["selection"] == {
        "rule": "pool",
        "explanation": Message.objects.get().explanation,
    }


def test_the_body_analysis_of_a_gsm_body(api, account):
    pool = pool_with(account, [NEW_YORK])

    body = sent(api, pool, body="Price: 5€")

    assert body["bodyAnalysis"] == {
        "characters": 9,
        "parts": 1,
        "unicode": False,
        "unsupportedGSMCharacters": [],
    }


def test_the_body_analysis_of_a_unicode_body_names_the_characters_that_forced_it(api, account):
    pool = pool_with(account, [NEW_YORK])

    body = sent(api, pool, body="Hello 日本! " * 8)

    assert body["bodyAnalysis"] == {
        "characters": 80,
        "parts": 2,
        "unicode": True,
        "unsupportedGSMCharacters": ["日", "本"],
    }
    assert Message.objects.get().body_analysis == body["bodyAnalysis"]


def test_a_message_to_an_opted_out_recipient_is_kept_as_undelivered(api, account):
    pool = pool_with(account, [NEW_YORK])
    optout_record(account=account, recipient=TO)

    body = sent(api, pool)

    assert (body["status"], body["detailedStatus"]) == ("Undelivered", "Opted-out")
    assert Message.objects.get().status == "Undelivered"


# Refusals


@pytest.mark.parametrize(
    "fields",
    [{"body": ""}, {"body": None}, {"body": {"text": "Hi"}}],
    ids=["empty", "null", "object"],
)
def test_an_empty_or_malformed_body_is_a_validation_error(api, account, fields):
    pool = pool_with(account, [NEW_YORK], sticky=True)

    response = assert_error(send(api, pool, **fields), 400, "VALIDATION_ERROR")

    assert list(response["errors"]) == ["body"]
    assert written_state(account)["messages"] == 0


def test_a_missing_body_is_a_validation_error(api, account):
    pool = pool_with(account, [NEW_YORK])

    response = api.post(f"/pools/my/{pool.pk}/sms", {"to": TO}, format="json")

    assert list(assert_error(response, 400, "VALIDATION_ERROR")["errors"]) == ["body"]


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"sender": "ACME"}, "sender"),
        ({"urlShortener": {"validity": 60}}, "urlShortener.validity"),
        ({"callback": {"url": "https://example.com/cb", "retries": 3}}, "callback.retries"),
    ],
)
def test_a_field_the_send_does_not_take_is_refused(api, account, fields, field):
    pool = pool_with(account, [NEW_YORK], sticky=True)

    response = assert_error(send(api, pool, **fields), 400, "VALIDATION_ERROR")

    assert field in response["errors"]
    assert written_state(account)["messages"] == 0


@pytest.mark.parametrize(
    "body, parts",
    [("a" * 1530, 10), ("€" * 760, 10), ("ж" * 670, 10)],
    ids=["gsm", "gsm-extension", "ucs2"],
)
def test_a_body_of_ten_parts_is_sent(api, account, body, parts):
    pool = pool_with(account, [NEW_YORK])

    assert sent(api, pool, body=body)["bodyAnalysis"]["parts"] == parts


@pytest.mark.parametrize("body", ["a" * 1531, "€" * 761, "ж" * 671], ids=["gsm", "ext", "ucs2"])
def test_a_body_over_ten_parts_is_refused_and_writes_nothing(api, account, body):
    pool = pool_with(account, [NEW_YORK], sticky=True)
    before = written_state(account)

    assert_error(send(api, pool, body=body), 422, "BODY_TOO_LONG")

    assert written_state(account) == before


# Transcoding


@pytest.mark.parametrize(
    "pool_transcodes, request_transcodes, transcoded",
    [
        (True, None, True),
        (False, None, False),
        (True, False, False),
        (False, True, True),
    ],
    ids=["pool-on", "pool-off", "request-off-beats-pool", "request-on-beats-pool"],
)
def test_transcoding_follows_the_pool_unless_the_request_says_otherwise(
    api, account, pool_transcodes, request_transcodes, transcoded
):
    pool = pool_with(account, [NEW_YORK], transcode=pool_transcodes)
    fields = {} if request_transcodes is None else {"transcode": request_transcodes}

    body = sent(api, pool, body=CURLY, **fields)

    expected = CURLY_TRANSCODED if transcoded else CURLY
    assert body["body"] == Message.objects.get().body == expected
    assert body["bodyAnalysis"]["unicode"] is True
    assert ("transcode" in body["bodyAnalysis"]) is transcoded


def test_the_transcoded_text_is_what_is_stored_and_handed_to_the_carrier(
    api, account, settings, django_capture_on_commit_callbacks
):
    settings.SMS_GATEWAY_BACKEND = "tests.test_send_contract.RecordingGateway"
    RecordingGateway.bodies = []
    pool = pool_with(account, [NEW_YORK], transcode=True)

    with django_capture_on_commit_callbacks(execute=True):
        body = sent(api, pool, body=CURLY)

    assert body["bodyAnalysis"]["transcode"] == {"message": CURLY_TRANSCODED, "parts": 1}
    assert RecordingGateway.bodies == [CURLY_TRANSCODED]


def test_a_body_that_cannot_be_made_gsm_is_sent_as_written(api, account):
    pool = pool_with(account, [NEW_YORK], transcode=True)

    body = sent(api, pool, body=CURLY + " \U0001f44b")

    assert body["body"] == CURLY + " \U0001f44b"
    assert "transcode" not in body["bodyAnalysis"]


# What the message carries


def test_the_requests_callback_is_stored_with_the_message(api, account):
    pool = pool_with(account, [NEW_YORK])
    callback = {"url": "https://hooks.example.com/sms", "strategy": "OnCompletion"}

    body = sent(api, pool, callback=callback)

    message = Message.objects.get()
    assert (message.callback_url, message.callback_strategy) == (
        "https://hooks.example.com/sms",
        "OnCompletion",
    )
    assert body["callback"] == callback


def test_the_pools_callback_applies_when_the_request_has_none(api, account):
    pool = pool_with(
        account,
        [NEW_YORK],
        callback_url="https://pool.example.com/status",
        callback_strategy="OnCompletion",
    )

    body = sent(api, pool)

    assert body["callback"] == {
        "url": "https://pool.example.com/status",
        "strategy": "OnCompletion",
    }


def test_the_requests_callback_overrides_the_pools(api, account):
    pool = pool_with(
        account,
        [NEW_YORK],
        callback_url="https://pool.example.com/status",
        callback_strategy="OnCompletion",
    )

    sent(api, pool, callback={"url": "https://app.example.com/status", "strategy": "OnChange"})

    message = Message.objects.get()
    assert (message.callback_url, message.callback_strategy) == (
        "https://app.example.com/status",
        "OnChange",
    )


def test_a_callback_url_must_be_http(api, account):
    pool = pool_with(account, [NEW_YORK])

    response = send(api, pool, callback={"url": "ftp://example.com/x"})

    assert "callback.url" in assert_error(response, 400, "VALIDATION_ERROR")["errors"]


def test_a_callback_url_longer_than_the_message_can_keep_is_refused(api, account):
    pool = pool_with(account, [NEW_YORK])

    response = send(api, pool, callback={"url": "https://example.com/" + "x" * 200})

    assert "callback.url" in assert_error(response, 400, "VALIDATION_ERROR")["errors"]
    assert not Message.objects.exists()


def test_the_ttl_is_stored_as_the_time_the_message_may_wait(api, account, time_machine):
    time_machine.move_to("2025-06-01T12:00:00Z", tick=False)
    pool = pool_with(account, [NEW_YORK])

    body = sent(api, pool, ttl=3600)

    message = Message.objects.get()
    assert message.expires_at == message.created_at + timedelta(seconds=3600)
    assert body["ttl"] == 3600


@pytest.mark.parametrize("ttl", [0, -5, "soon"])
def test_a_ttl_must_be_a_positive_number_of_seconds(api, account, ttl):
    pool = pool_with(account, [NEW_YORK])

    response = send(api, pool, ttl=ttl)

    assert "ttl" in assert_error(response, 400, "VALIDATION_ERROR")["errors"]


def test_a_message_with_media_is_an_mms(api, account):
    pool = pool_with(account, [NEW_YORK])
    PoolNumber.objects.create(
        pool=pool, number=number_of(account, "+12122030002", mms_capable=True)
    )
    media = ["https://example.com/cat.jpg"]

    body = sent(api, pool, mediaUrls=media)

    assert (body["channel"], body["mediaUrls"]) == ("mms", media)
    message = Message.objects.get()
    assert (message.channel, message.media_urls) == ("mms", media)


def test_a_message_without_media_is_an_sms(api, account):
    pool = pool_with(account, [NEW_YORK])

    assert sent(api, pool)["channel"] == "sms"
