"""The Telnyx adapter against a local Telnyx (tests/fake_telnyx.py): no database."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from nacl.signing import SigningKey

from carriers.gateways import telnyx as telnyx_module
from carriers.gateways.base import Accepted, Outbound, Receipt, Refused, Throttled, Unavailable
from carriers.gateways.telnyx import TelnyxGateway
from carriers.gateways.webhooks import Headers, WebhookRequest
from tests.fake_telnyx import (
    inbound_event,
    public_key_of,
    running_fake_telnyx,
    signed_webhook,
    status_event,
    telnyx_error,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
STATUS_URL = "https://pools.example.com/webhooks/connections/7/status"
PROFILE_ID = "4000eba1-a0c0-4563-9925-b25e842a7cb6"
PRIVATE_KEY = SigningKey.generate()


@pytest.fixture
def fake():
    with running_fake_telnyx() as fake:
        yield fake


def gateway_for(fake=None, **settings) -> TelnyxGateway:
    defaults = {
        "messagingProfileId": PROFILE_ID,
        "publicKey": public_key_of(PRIVATE_KEY),
        "baseUrl": fake.base_url if fake else "https://api.telnyx.com",
    }
    return TelnyxGateway(
        settings={**defaults, **settings},
        secrets={"apiKey": fake.api_key if fake else "KEY_unused"},
    )


def outbound(**overrides) -> Outbound:
    fields = {
        "tracking_id": "3f0c2a9e-5b1d-4c8e-9a7f-1d2e3c4b5a69",
        "sender": "+18445550001",
        "to": "+18665550001",
        "body": "Your code is 1234",
        "segments": ("Your code is 1234",),
        "unicode": False,
        "status_url": STATUS_URL,
    }
    return Outbound(**{**fields, **overrides})


def webhook(payload: dict, *, timestamp: datetime = NOW, now: datetime = NOW) -> WebhookRequest:
    body, headers = signed_webhook(PRIVATE_KEY, payload, int(timestamp.timestamp()))
    return WebhookRequest(STATUS_URL, "POST", Headers(headers), body, now)


# send


def test_send_posts_sender_recipient_body_and_status_webhook(fake):
    gateway_for(fake).send(outbound())

    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "/v2/messages")
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    assert request.body["from"] == "+18445550001"
    assert request.body["to"] == "+18665550001"
    assert request.body["text"] == "Your code is 1234"
    assert request.body["webhook_url"] == STATUS_URL
    assert request.body["messaging_profile_id"] == PROFILE_ID
    assert "media_urls" not in request.body


def test_send_uses_the_tracking_id_as_idempotency_key(fake):
    gateway_for(fake).send(outbound())

    assert fake.requests[0].headers["idempotency-key"] == "3f0c2a9e-5b1d-4c8e-9a7f-1d2e3c4b5a69"


def test_send_without_messaging_profile_leaves_it_out(fake):
    gateway_for(fake, messagingProfileId="").send(outbound())

    assert "messaging_profile_id" not in fake.sent[0]


def test_mms_carries_its_media_urls(fake):
    media = ("https://cdn.example.com/a.png", "https://cdn.example.com/b.jpg")
    gateway_for(fake).send(outbound(media_urls=media))

    assert fake.sent[0]["media_urls"] == list(media)


def test_accepted_send_returns_the_telnyx_message_id(fake):
    outcome = gateway_for(fake).send(outbound())

    assert isinstance(outcome, Accepted)
    assert len(outcome.provider_ids) == 1
    assert outcome.provider_ids[0]  # the id the fake gave, a UUID like Telnyx's


def test_rate_limited_send_is_throttled_with_retry_after_then_goes_through(fake):
    fake.fail_next(429, telnyx_error("10011", "Too many requests"), headers={"Retry-After": "7"})
    gateway = gateway_for(fake)

    first, second = gateway.send(outbound()), gateway.send(outbound())

    assert first == Throttled("Telnyx answered 429: Too many requests", retry_after=7.0)
    assert isinstance(second, Accepted)
    assert len(fake.requests) == 2  # the adapter itself never retried


def test_rate_limited_send_without_retry_after_leaves_it_to_the_pipeline(fake):
    fake.fail_next(429, telnyx_error("10011", "Too many requests"))

    outcome = gateway_for(fake).send(outbound())

    assert isinstance(outcome, Throttled) and outcome.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_is_throttled_not_refused(fake, status):
    fake.fail_next(status, telnyx_error("10007", "Unexpected error"))

    assert isinstance(gateway_for(fake).send(outbound()), Throttled)


def test_refused_send_keeps_telnyx_error_code_and_words(fake):
    detail = "The 'to' parameter must be in +E.164 format."
    fake.fail_next(422, telnyx_error("10016", "Phone number must be in +E.164 format", detail))

    outcome = gateway_for(fake).send(outbound())

    assert outcome == Refused(
        code="10016", reason=f"Phone number must be in +E.164 format: {detail}"
    )


def test_send_refused_for_stop_marks_recipient_stopped(fake):
    fake.fail_next(400, telnyx_error("40300", "Blocked due to STOP message"))

    outcome = gateway_for(fake).send(outbound())

    assert isinstance(outcome, Refused)
    assert outcome.code == "40300" and outcome.recipient_stopped


def test_send_with_a_wrong_api_key_leaves_the_message_waiting(fake):
    """The connection's fault, not the message's: it waits for the key to be fixed."""
    gateway = gateway_for(fake)
    fake.api_key = "KEY_rotated"

    outcome = gateway.send(outbound())

    assert isinstance(outcome, Unavailable) and "10009" in outcome.reason
    assert gateway.secrets["apiKey"] not in outcome.reason


def test_send_that_hangs_past_the_timeout_is_unavailable_not_refused(fake, monkeypatch):
    monkeypatch.setattr(telnyx_module, "TIMEOUT_SECONDS", 0.2)
    fake.hang_next(2)

    outcome = gateway_for(fake).send(outbound())

    assert isinstance(outcome, Unavailable)
    assert "did not answer" in outcome.reason


def test_send_to_a_closed_port_is_unavailable():
    with running_fake_telnyx() as gone:
        base_url = gone.base_url

    outcome = TelnyxGateway(settings={"baseUrl": base_url}, secrets={"apiKey": "k"}).send(
        outbound()
    )

    assert outcome == Unavailable("Could not connect to Telnyx.")


# check


def test_check_is_up_when_the_balance_answers(fake):
    result = gateway_for(fake).check()

    assert result.status == "up"
    assert (fake.requests[0].method, fake.requests[0].path) == ("GET", "/v2/balance")


def test_check_is_down_when_the_credentials_are_refused(fake):
    gateway = gateway_for(fake)
    fake.api_key = "KEY_rotated"

    result = gateway.check()

    assert result.status == "down"
    assert "credentials" in result.detail and "401" in result.detail


def test_check_is_down_on_a_server_error(fake):
    fake.fail_next(503, telnyx_error("10007", "Unexpected error"))

    assert gateway_for(fake).check().status == "down"


def test_check_is_down_when_telnyx_cannot_be_reached():
    with running_fake_telnyx() as gone:
        base_url = gone.base_url

    result = TelnyxGateway(settings={"baseUrl": base_url}, secrets={"apiKey": "k"}).check()

    assert result.status == "down"


# verify


def test_verify_accepts_a_webhook_signed_as_telnyx_signs_it():
    assert gateway_for().verify(webhook(status_event("msg-1", "delivered")))


def test_verify_accepts_a_signature_a_few_minutes_old():
    request = webhook(status_event("msg-1", "delivered"), timestamp=NOW - timedelta(seconds=299))

    assert gateway_for().verify(request)


def test_verify_refuses_a_signature_by_another_key():
    body, headers = signed_webhook(SigningKey.generate(), status_event("m", "sent"), 1748779200)
    request = WebhookRequest(STATUS_URL, "POST", Headers(headers), body, NOW)

    assert not gateway_for().verify(request)


def test_verify_refuses_a_tampered_body():
    request = webhook(status_event("msg-1", "delivery_failed"))
    tampered = request.body.replace(b"delivery_failed", b"delivered")

    forged = WebhookRequest(request.url, "POST", request.headers, tampered, NOW)

    assert not gateway_for().verify(forged)


def test_verify_refuses_a_signature_that_is_not_base64():
    request = webhook(status_event("msg-1", "delivered"))
    headers = Headers({**request.headers, "telnyx-signature-ed25519": "not base64!"})

    assert not gateway_for().verify(WebhookRequest(STATUS_URL, "POST", headers, request.body, NOW))


@pytest.mark.parametrize("missing", ["telnyx-signature-ed25519", "telnyx-timestamp"])
def test_verify_refuses_a_webhook_without_its_signature_headers(missing):
    request = webhook(status_event("msg-1", "delivered"))
    headers = Headers({k: v for k, v in request.headers.items() if k != missing})

    assert not gateway_for().verify(WebhookRequest(STATUS_URL, "POST", headers, request.body, NOW))


def test_verify_refuses_a_stale_signature():
    request = webhook(status_event("msg-1", "delivered"), timestamp=NOW - timedelta(seconds=301))

    assert not gateway_for().verify(request)


def test_verify_refuses_a_timestamp_from_the_future():
    request = webhook(status_event("msg-1", "delivered"), timestamp=NOW + timedelta(minutes=10))

    assert not gateway_for().verify(request)


@pytest.mark.parametrize(
    "public_key", ["", "not a key", base64.b64encode(b"short").decode(), "@@@@"]
)
def test_verify_with_a_malformed_public_key_refuses_without_raising(public_key):
    request = webhook(status_event("msg-1", "delivered"))

    assert not gateway_for(publicKey=public_key).verify(request)


# parse_status


@pytest.mark.parametrize(
    ("telnyx_status", "ours"),
    [
        ("queued", "Sent"),
        ("sending", "Sent"),
        ("sent", "Sent"),
        ("delivered", "Delivered"),
        ("delivery_failed", "Undelivered"),
        ("sending_failed", "Failed"),
        ("delivery_unconfirmed", None),
    ],
)
def test_parse_status_maps_each_telnyx_status(telnyx_status, ours):
    (receipt,) = gateway_for().parse_status(webhook(status_event("msg-1", telnyx_status)))

    assert receipt == Receipt("msg-1", ours, detailed_status=telnyx_status)


def test_parse_status_keeps_the_error_code_and_words():
    errors = [{"code": "40008", "title": "Undeliverable", "detail": "Carrier did not accept."}]
    request = webhook(status_event("msg-1", "delivery_failed", errors=errors))

    (receipt,) = gateway_for().parse_status(request)

    assert receipt == Receipt(
        "msg-1", "Undelivered", "Undeliverable: Carrier did not accept.", "40008"
    )


def test_parse_status_marks_a_stop_block_as_recipient_stopped():
    errors = [{"code": "40300", "title": "Blocked due to STOP message"}]
    request = webhook(status_event("msg-1", "sending_failed", errors=errors))

    (receipt,) = gateway_for().parse_status(request)

    assert receipt.status == "Failed"
    assert receipt.error_code == "40300" and receipt.recipient_stopped


def test_parse_status_reads_numeric_error_codes_as_strings():
    errors = [{"code": 40300, "title": "Blocked due to STOP message"}]
    request = webhook(status_event("msg-1", "delivery_failed", errors=errors))

    (receipt,) = gateway_for().parse_status(request)

    assert receipt.error_code == "40300" and receipt.recipient_stopped


def test_parse_status_ignores_an_inbound_message():
    assert gateway_for().parse_status(webhook(inbound_event("hello"))) == []


def test_parse_status_ignores_a_body_that_is_not_json():
    request = WebhookRequest(STATUS_URL, "POST", Headers(), b"<html>", NOW)

    assert gateway_for().parse_status(request) == []


# parse_inbound


def test_parse_inbound_reads_a_stop_in_telnyx_format():
    payload = inbound_event(
        "STOP", sender="+18665550001", to="+18445550001", message_id="in-7ee4241c"
    )

    (message,) = gateway_for().parse_inbound(webhook(payload))

    assert message.message_id == "in-7ee4241c"
    assert (message.sender, message.to, message.body) == ("+18665550001", "+18445550001", "STOP")
    assert message.received_at == datetime(2019, 1, 23, 18, 10, 2, 574000, tzinfo=UTC)


def test_parse_inbound_ignores_a_delivery_report():
    assert gateway_for().parse_inbound(webhook(status_event("msg-1", "delivered"))) == []


def test_parse_inbound_ignores_an_event_of_another_product():
    payload = {"data": {"event_type": "call.initiated", "payload": {"call_control_id": "x"}}}

    assert gateway_for().parse_inbound(webhook(payload)) == []


def test_inbound_answer_is_an_empty_json_object():
    body, content_type = gateway_for().inbound_answer()

    assert json.loads(body) == {} and content_type == "application/json"
