"""The Vonage adapter against a local fake of Vonage's SMS API: no database."""

import json
from datetime import UTC, datetime

import pytest

from carriers.gateways import vonage
from carriers.gateways.base import Accepted, Outbound, Refused, Throttled, Unavailable
from carriers.gateways.vonage import VonageGateway
from carriers.gateways.webhooks import Headers, WebhookRequest
from tests.fake_vonage import API_KEY, API_SECRET, running_fake_vonage, signed_params

SIGNATURE_SECRET = "sig-secret-0123456789abcdef"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STATUS_URL = "https://pools.example.com/webhooks/connections/7/status"

# A delivery receipt and an inbound message as Vonage's SMS API reference shows them.
DLR = {
    "msisdn": "447700900000",
    "to": "447700900001",
    "network-code": "23410",
    "messageId": "0A0000001234567B",
    "price": "0.03330000",
    "status": "delivered",
    "scts": "2603021200",
    "err-code": "0",
    "api-key": API_KEY,
    "message-timestamp": "2026-03-02 12:00:00",
}
INBOUND_STOP = {
    "msisdn": "447700900000",
    "to": "447700900001",
    "messageId": "0A0000000123ABCD1",
    "text": "STOP",
    "type": "text",
    "keyword": "STOP",
    "api-key": API_KEY,
    "message-timestamp": "2026-03-02 11:59:58",
}


@pytest.fixture
def fake():
    with running_fake_vonage() as server:
        yield server


def gateway(base_url="https://rest.nexmo.com", **settings) -> VonageGateway:
    return VonageGateway(
        settings={"apiKey": API_KEY, "baseUrl": base_url, **settings},
        secrets={"apiSecret": API_SECRET, "signatureSecret": SIGNATURE_SECRET},
    )


def outbound(body="Hello from the pool", *, unicode=False, media_urls=()) -> Outbound:
    return Outbound(
        tracking_id="3f7a1c52-0000-4000-8000-000000000001",
        sender="+447700900001",
        to="+447700900000",
        body=body,
        segments=(body,),
        unicode=unicode,
        media_urls=media_urls,
        status_url=STATUS_URL,
    )


def form_request(params: dict, method="POST") -> WebhookRequest:
    return WebhookRequest(
        url=STATUS_URL, method=method, headers=Headers(), body=b"", now=NOW, form=params
    )


def json_request(params: dict) -> WebhookRequest:
    headers = Headers({"Content-Type": "application/json"})
    return WebhookRequest(
        url=STATUS_URL, method="POST", headers=headers, body=json.dumps(params).encode(), now=NOW
    )


def signed(params: dict, *, age=0, method="md5hash", secret=SIGNATURE_SECRET) -> dict:
    return signed_params(params, secret, int(NOW.timestamp()) - age, method)


# Sending


def test_send_posts_sender_recipient_text_and_callback_as_vonage_documents(fake):
    gateway(fake.base_url).send(outbound())

    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "/sms/json")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.body == {
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "from": "447700900001",
        "to": "447700900000",
        "text": "Hello from the pool",
        "type": "text",
        "callback": STATUS_URL,
        "status-report-req": "1",
    }


def test_unicode_message_is_sent_as_type_unicode(fake):
    gateway(fake.base_url).send(outbound("Καλημέρα 👋", unicode=True))

    assert fake.requests[0].body["type"] == "unicode"
    assert fake.requests[0].body["text"] == "Καλημέρα 👋"


def test_accepted_message_returns_vonage_message_id(fake):
    outcome = gateway(fake.base_url).send(outbound())

    assert isinstance(outcome, Accepted)
    assert len(outcome.provider_ids) == 1
    assert outcome.provider_ids[0]


def test_long_message_returns_the_id_of_every_part_in_order(fake):
    outcome = gateway(fake.base_url).send(outbound("x" * 400))

    assert isinstance(outcome, Accepted)
    assert len(outcome.provider_ids) == 3
    assert list(outcome.provider_ids) == sorted(outcome.provider_ids, key=lambda id: int(id, 16))


def test_http_429_is_throttled_with_retry_after_then_next_send_is_accepted(fake):
    fake.fail_next(429, {"title": "Too Many Requests"}, headers={"Retry-After": "3"})
    sender = gateway(fake.base_url)

    first, second = sender.send(outbound()), sender.send(outbound())

    assert first == Throttled("Vonage answered HTTP 429.", retry_after=3.0)
    assert isinstance(second, Accepted)


def test_sms_api_status_1_is_throttled_not_refused(fake):
    fake.refuse_next("1")

    outcome = gateway(fake.base_url).send(outbound())

    assert isinstance(outcome, Throttled)
    assert outcome.reason.startswith("Throughput Rate Exceeded")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_is_throttled(fake, status):
    fake.fail_next(status, "<html>Service Unavailable</html>")

    assert isinstance(gateway(fake.base_url).send(outbound()), Throttled)


def test_refusal_keeps_the_sms_api_status_code_and_error_text(fake):
    fake.refuse_next("15")

    outcome = gateway(fake.base_url).send(outbound())

    assert outcome == Refused(code="15", reason="Illegal Sender Address - rejected")


def test_bad_credentials_are_refused_with_status_4(fake):
    sender = VonageGateway(
        settings={"apiKey": API_KEY, "baseUrl": fake.base_url},
        secrets={"apiSecret": "wrong-secret"},
    )

    outcome = sender.send(outbound())

    assert outcome == Refused(code="4", reason="Bad Credentials")


def test_barred_number_is_refused_as_stopped_recipient(fake):
    fake.refuse_next("7")

    outcome = gateway(fake.base_url).send(outbound())

    assert outcome == Refused(code="7", reason="Number Barred", recipient_stopped=True)


def test_mms_is_refused_without_calling_vonage(fake):
    outcome = gateway(fake.base_url).send(outbound(media_urls=("https://example.com/a.png",)))

    assert isinstance(outcome, Refused)
    assert outcome.code == "MMS_NOT_SUPPORTED"
    assert fake.requests == []


def test_hang_past_the_timeout_is_unavailable_not_refused(fake, monkeypatch):
    monkeypatch.setattr(vonage, "TIMEOUT", 0.2)
    fake.hang_next(5)

    outcome = gateway(fake.base_url).send(outbound())

    assert isinstance(outcome, Unavailable)
    assert "0.2 s" in outcome.reason


def test_connection_refused_is_unavailable_and_names_no_secret():
    with running_fake_vonage() as gone:
        base_url = gone.base_url

    outcome = gateway(base_url).send(outbound())

    assert isinstance(outcome, Unavailable)
    assert API_SECRET not in outcome.reason


# Checking the connection


def test_check_is_up_with_the_balance(fake):
    result = gateway(fake.base_url).check()

    assert (result.status, result.detail) == ("up", "Account balance 10.28 EUR.")
    (request,) = fake.requests
    assert (request.method, request.path) == ("GET", "/account/get-balance")
    assert request.query == {"api_key": API_KEY, "api_secret": API_SECRET}


def test_check_is_down_when_vonage_refuses_the_credentials(fake):
    sender = VonageGateway(
        settings={"apiKey": API_KEY, "baseUrl": fake.base_url}, secrets={"apiSecret": "wrong"}
    )

    result = sender.check()

    assert result.status == "down"
    assert "refused the API key and secret" in result.detail


def test_check_is_down_without_naming_the_secret_when_vonage_cannot_be_reached():
    with running_fake_vonage() as gone:
        base_url = gone.base_url

    result = gateway(base_url).check()

    assert result.status == "down"
    assert API_SECRET not in result.detail


def test_check_is_down_on_a_hang(fake, monkeypatch):
    monkeypatch.setattr(vonage, "TIMEOUT", 0.2)
    fake.hang_next(5)

    assert gateway(fake.base_url).check().status == "down"


# Verifying webhooks


@pytest.mark.parametrize("method", ["md5hash", "md5", "sha1", "sha256", "sha512"])
def test_verify_accepts_parameters_signed_as_vonage_signs_them(method):
    request = form_request(signed({**DLR, "nonce": "ec11dd3e-1e7f"}, method=method))

    assert gateway(signatureMethod=method).verify(request)


def test_verify_uses_md5hash_when_no_method_is_set():
    assert gateway().verify(form_request(signed(DLR)))


def test_verify_accepts_a_signed_json_body():
    assert gateway().verify(json_request(signed(DLR)))


def test_verify_accepts_values_with_ampersands_and_equals_signs():
    params = {**INBOUND_STOP, "text": "a=b & c", "keyword": "A=B"}

    assert gateway().verify(form_request(signed(params)))


def test_verify_agrees_with_vonage_sdk_signature():
    auth = pytest.importorskip("vonage_http_client.auth")
    params = {**DLR, "timestamp": str(int(NOW.timestamp()))}
    sdk = auth.Auth(api_key=API_KEY, signature_secret=SIGNATURE_SECRET, signature_method="sha256")
    params["sig"] = sdk.sign_params(dict(params))

    assert gateway(signatureMethod="sha256").verify(form_request(params))


def test_verify_refuses_a_forged_parameter():
    params = {**signed(DLR), "status": "failed"}

    assert not gateway().verify(form_request(params))


def test_verify_refuses_a_signature_made_with_another_secret():
    assert not gateway().verify(form_request(signed(DLR, secret="not-the-secret")))


def test_verify_refuses_a_signature_made_with_another_method():
    assert not gateway(signatureMethod="sha256").verify(form_request(signed(DLR)))


def test_verify_refuses_a_missing_signature():
    params = signed(DLR)
    del params["sig"]

    assert not gateway().verify(form_request(params))


def test_verify_refuses_a_missing_timestamp():
    params = signed(DLR)
    del params["timestamp"]

    assert not gateway().verify(form_request(params))


def test_verify_refuses_a_webhook_signed_more_than_300_seconds_ago():
    assert gateway().verify(form_request(signed(DLR, age=299)))
    assert not gateway().verify(form_request(signed(DLR, age=301)))


def test_verify_refuses_unreadable_bodies_without_raising():
    request = WebhookRequest(
        url=STATUS_URL, method="POST", headers=Headers(), body=b"\xff{not json", now=NOW
    )

    assert not gateway().verify(request)


# Delivery receipts


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("accepted", "Sent"),
        ("buffered", "Sent"),
        ("delivered", "Delivered"),
        ("expired", "Undelivered"),
        ("failed", "Undelivered"),
        ("rejected", "Undelivered"),
        ("unknown", None),
    ],
)
def test_receipt_status_maps_onto_ours(word, status):
    (receipt,) = gateway().parse_status(form_request({**DLR, "status": word}))

    assert receipt.provider_id == "0A0000001234567B"
    assert receipt.status == status
    assert receipt.detailed_status == word


def test_receipt_keeps_the_error_code_and_none_for_zero():
    (failed,) = gateway().parse_status(form_request({**DLR, "status": "failed", "err-code": "6"}))
    (delivered,) = gateway().parse_status(form_request(DLR))

    assert failed.error_code == "6"
    assert not failed.recipient_stopped
    assert delivered.error_code == ""


def test_receipt_with_error_9_says_the_recipient_opted_out():
    params = {**DLR, "status": "rejected", "err-code": "9"}

    (receipt,) = gateway().parse_status(form_request(params))

    assert (receipt.status, receipt.error_code, receipt.recipient_stopped) == (
        "Undelivered",
        "9",
        True,
    )


def test_receipt_is_read_from_a_get_query_and_a_json_body():
    (from_query,) = gateway().parse_status(form_request(DLR, method="GET"))
    (from_json,) = gateway().parse_status(json_request(DLR))

    assert from_query == from_json


def test_a_request_that_is_not_a_receipt_gives_none():
    assert gateway().parse_status(form_request(INBOUND_STOP)) == []


# Inbound messages


def test_inbound_stop_is_read_with_e164_numbers():
    (message,) = gateway().parse_inbound(form_request(signed(INBOUND_STOP)))

    assert message.message_id == "0A0000000123ABCD1"
    assert (message.sender, message.to, message.body) == ("+447700900000", "+447700900001", "STOP")
    assert message.received_at == datetime(2026, 3, 2, 11, 59, 58, tzinfo=UTC)


def test_inbound_is_read_from_a_json_body():
    (message,) = gateway().parse_inbound(json_request(INBOUND_STOP))

    assert message.body == "STOP"


def test_one_part_of_a_concatenated_inbound_message_gives_none():
    part = {**INBOUND_STOP, "concat": "true", "concat-ref": "1", "concat-total": "2"}

    assert gateway().parse_inbound(form_request({**part, "concat-part": "1"})) == []


def test_a_receipt_is_not_an_inbound_message():
    assert gateway().parse_inbound(form_request(DLR)) == []


def test_inbound_answer_is_empty():
    assert gateway().inbound_answer() == (b"", "text/plain")
