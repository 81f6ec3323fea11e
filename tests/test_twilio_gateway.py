"""The Twilio adapter (SPEC §11) against a local fake of Twilio's REST API, and its
webhook parsing on requests shaped, and signed, as Twilio sends them. No database."""

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from carriers.gateways import twilio as twilio_gateway
from carriers.gateways.base import (
    Accepted,
    CheckResult,
    Inbound,
    Outbound,
    Receipt,
    Refused,
    Throttled,
    Unavailable,
)
from carriers.gateways.twilio import TwilioGateway
from carriers.gateways.webhooks import Headers, WebhookRequest
from carriers.kinds import KINDS
from carriers.models import Connection
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, running_fake_twilio, twilio_error

SENDER, RECIPIENT = "+12125550123", "+12125550100"
STATUS_URL = "https://pools.example.com/webhooks/connections/7/status"
INBOUND_URL = "https://pools.example.com/webhooks/connections/7/inbound"
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake():
    with running_fake_twilio() as fake:
        yield fake


def gateway_for(base_url: str, auth_token: str = AUTH_TOKEN) -> TwilioGateway:
    spec = KINDS[Connection.Kind.TWILIO]
    settings = {**spec.defaults(), "accountSid": ACCOUNT_SID, "baseUrl": base_url}
    return TwilioGateway(settings=settings, secrets={"authToken": auth_token})


@pytest.fixture
def gateway(fake):
    return gateway_for(fake.base_url)


def outbound(**changes) -> Outbound:
    fields = {
        "tracking_id": "7d0c6a44-0000-4000-8000-000000000001",
        "sender": SENDER,
        "to": RECIPIENT,
        "body": "Your code is 1234",
        "segments": ("Your code is 1234",),
        "unicode": False,
        "status_url": STATUS_URL,
    } | changes
    return Outbound(**fields)


def signed_request(url: str, form: dict, token: str = AUTH_TOKEN, **headers) -> WebhookRequest:
    """A POST as Twilio makes it, signed as Twilio signs it (its own helper library)."""
    signature = RequestValidator(token).compute_signature(url, form)
    return webhook(url, form, **{"X-Twilio-Signature": signature, **headers})


def webhook(url: str, form: dict, **headers) -> WebhookRequest:
    headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    body = urlencode(form).encode()
    return WebhookRequest(url, "POST", Headers(headers), body, NOW, form=form)


def status_callback(status: str, **extra) -> dict:
    form = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": SENDER,
        "MessageSid": "SM" + "a" * 32,
        "MessageStatus": status,
        "SmsSid": "SM" + "a" * 32,
        "SmsStatus": status,
        "To": RECIPIENT,
    }
    return form | extra


def incoming_message(body: str) -> dict:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": RECIPIENT,
        "FromCountry": "US",
        "MessageSid": "SM" + "b" * 32,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsMessageSid": "SM" + "b" * 32,
        "SmsSid": "SM" + "b" * 32,
        "SmsStatus": "received",
        "To": SENDER,
        "ToCountry": "US",
    }


# Sending


def test_send_posts_sender_recipient_body_and_status_callback_with_basic_auth(fake, gateway):
    gateway.send(outbound())

    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.basic_auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.value("From") == SENDER
    assert request.value("To") == RECIPIENT
    assert request.value("Body") == "Your code is 1234"
    assert request.value("StatusCallback") == STATUS_URL
    assert "MediaUrl" not in request.form


def test_send_returns_the_message_sid_twilio_gave(fake, gateway):
    outcome = gateway.send(outbound())

    assert outcome == Accepted(provider_ids=(fake.messages[0]["sid"],))
    assert outcome.provider_ids[0].startswith("SM")


def test_mms_sends_every_media_url(fake, gateway):
    media = ("https://cdn.example.com/a.jpg", "https://cdn.example.com/b.png")

    outcome = gateway.send(outbound(media_urls=media))

    assert fake.requests[0].form["MediaUrl"] == list(media)
    assert isinstance(outcome, Accepted)


def test_mms_without_text_sends_no_empty_body(fake, gateway):
    outcome = gateway.send(outbound(body="", segments=(), media_urls=("https://x.test/a.jpg",)))

    assert "Body" not in fake.requests[0].form
    assert isinstance(outcome, Accepted)


def test_429_is_throttled_with_retry_after_then_the_retry_is_accepted(fake, gateway):
    fake.fail_next(429, twilio_error(20429, "Too Many Requests", 429), headers={"Retry-After": "3"})

    first = gateway.send(outbound())
    second = gateway.send(outbound())

    assert isinstance(first, Throttled)
    assert first.retry_after == 3.0
    assert isinstance(second, Accepted)
    assert len(fake.requests) == 2  # the adapter does not retry by itself


def test_429_without_retry_after_is_throttled_with_no_delay(fake, gateway):
    fake.fail_next(429, twilio_error(20429, "Too Many Requests", 429))

    assert gateway.send(outbound()) == Throttled(
        "Twilio 429 (20429): Too Many Requests", retry_after=None
    )


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_is_throttled_not_refused(fake, gateway, status):
    fake.fail_next(status, twilio_error(20000 + status, "Service Unavailable", status))

    assert isinstance(gateway.send(outbound()), Throttled)


def test_a_4xx_is_refused_with_twilios_own_code_and_message(fake, gateway):
    fake.fail_next(
        400, twilio_error(21211, "The 'To' number +1212 is not a valid phone number.", 400)
    )

    outcome = gateway.send(outbound())

    assert outcome == Refused(
        code="21211",
        reason="The 'To' number +1212 is not a valid phone number.",
        recipient_stopped=False,
    )


def test_error_21610_is_refused_as_recipient_stopped(fake, gateway):
    fake.fail_next(400, twilio_error(21610, "Attempt to send to unsubscribed recipient", 400))

    outcome = gateway.send(outbound())

    assert isinstance(outcome, Refused)
    assert outcome.code == "21610"
    assert outcome.recipient_stopped is True


def test_a_missing_parameter_is_refused_as_the_real_api_refuses_it(fake, gateway):
    outcome = gateway.send(outbound(to=""))

    assert outcome == Refused(code="21604", reason="A 'To' phone number is required.")


def test_wrong_credentials_on_send_leave_the_message_waiting_and_are_never_echoed(fake):
    """The connection's fault, not the message's: it waits for the credentials to be fixed."""
    outcome = gateway_for(fake.base_url, auth_token="wrong-token").send(outbound())

    assert outcome == Unavailable("Twilio refused the credentials (20003): Authenticate")
    assert "wrong-token" not in repr(outcome)


def test_no_answer_within_the_timeout_is_unavailable_not_refused(fake, gateway, monkeypatch):
    monkeypatch.setattr(twilio_gateway, "TIMEOUT_SECONDS", 0.2)
    fake.hang_next(5)

    outcome = gateway.send(outbound())

    assert isinstance(outcome, Unavailable)
    assert "0.2 s" in outcome.reason


def test_nothing_listening_is_unavailable():
    with running_fake_twilio() as fake:
        base_url = fake.base_url

    outcome = gateway_for(base_url).send(outbound())

    assert isinstance(outcome, Unavailable)
    assert AUTH_TOKEN not in outcome.reason


def test_the_default_base_url_is_twilios_api():
    assert KINDS[Connection.Kind.TWILIO].defaults()["baseUrl"] == "https://api.twilio.com"


# Health check


def test_check_is_up_when_the_account_is_fetched(fake, gateway):
    result = gateway.check()

    assert result.status == "up"
    assert ACCOUNT_SID in result.detail
    assert AUTH_TOKEN not in result.detail  # the account resource carries the token
    [request] = fake.requests
    assert (request.method, request.path) == ("GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}.json")


def test_check_is_down_when_the_credentials_are_refused(fake):
    result = gateway_for(fake.base_url, auth_token="wrong-token").check()

    assert result.status == "down"
    assert "refused the credentials" in result.detail
    assert "wrong-token" not in result.detail


def test_check_is_down_when_the_account_is_suspended(fake, gateway):
    fake.account_status = "suspended"

    assert gateway.check() == CheckResult("down", f"Twilio account {ACCOUNT_SID} is suspended")


def test_check_is_down_without_raising_when_twilio_hangs(fake, gateway, monkeypatch):
    monkeypatch.setattr(twilio_gateway, "TIMEOUT_SECONDS", 0.2)
    fake.hang_next(5)

    assert gateway.check().status == "down"


# Webhook signatures


def test_verify_accepts_a_webhook_signed_as_twilio_signs_it():
    request = signed_request(STATUS_URL, status_callback("delivered"))

    assert gateway_for("http://unused").verify(request) is True


def test_verify_accepts_a_signed_url_with_a_query_string():
    request = signed_request(f"{STATUS_URL}?attempt=2", status_callback("sent"))

    assert gateway_for("http://unused").verify(request) is True


def test_verify_refuses_a_missing_signature():
    request = webhook(STATUS_URL, status_callback("delivered"))

    assert gateway_for("http://unused").verify(request) is False


def test_verify_refuses_a_forged_signature():
    request = signed_request(STATUS_URL, status_callback("delivered"), token="not-the-token")

    assert gateway_for("http://unused").verify(request) is False


def test_verify_refuses_a_signed_webhook_whose_parameters_were_changed():
    signed = signed_request(STATUS_URL, status_callback("failed"))
    tampered = webhook(
        STATUS_URL,
        status_callback("delivered"),
        **{"X-Twilio-Signature": signed.headers["X-Twilio-Signature"]},
    )

    assert gateway_for("http://unused").verify(tampered) is False


def test_verify_refuses_a_signature_for_another_url():
    signed = signed_request(STATUS_URL, status_callback("delivered"))
    elsewhere = WebhookRequest(INBOUND_URL, "POST", signed.headers, signed.body, NOW, signed.form)

    assert gateway_for("http://unused").verify(elsewhere) is False


# Delivery reports


@pytest.mark.parametrize(
    ("word", "ours"),
    [
        ("queued", "Sent"),
        ("accepted", "Sent"),
        ("sending", "Sent"),
        ("sent", "Sent"),
        ("delivered", "Delivered"),
        ("read", "Delivered"),
        ("undelivered", "Undelivered"),
        ("failed", "Failed"),
        ("canceled", "Failed"),
        ("scheduled", None),
        ("receiving", None),
        ("received", None),
        ("partially_delivered", None),
        ("some_new_word", None),
    ],
)
def test_status_callback_maps_twilios_word_to_ours(word, ours):
    request = signed_request(STATUS_URL, status_callback(word))

    [receipt] = gateway_for("http://unused").parse_status(request)

    assert receipt == Receipt(provider_id="SM" + "a" * 32, status=ours, detailed_status=word)


def test_status_callback_keeps_twilios_error_code_and_words():
    form = status_callback("undelivered", ErrorCode="30003", ErrorMessage="Unreachable handset")

    [receipt] = gateway_for("http://unused").parse_status(signed_request(STATUS_URL, form))

    assert receipt.status == "Undelivered"
    assert receipt.error_code == "30003"
    assert receipt.detailed_status == "undelivered: Unreachable handset"


def test_status_callback_read_from_the_raw_body_when_no_form_was_parsed():
    signed = signed_request(STATUS_URL, status_callback("delivered"))
    raw = WebhookRequest(STATUS_URL, "POST", signed.headers, signed.body, NOW)

    gateway = gateway_for("http://unused")

    assert gateway.verify(raw) is True
    assert [r.status for r in gateway.parse_status(raw)] == ["Delivered"]


def test_an_incoming_message_is_not_a_delivery_report():
    request = signed_request(INBOUND_URL, incoming_message("STOP"))

    assert gateway_for("http://unused").parse_status(request) == []


# Incoming messages


def test_inbound_stop_is_read_from_twilios_webhook():
    request = signed_request(INBOUND_URL, incoming_message("STOP"))

    assert gateway_for("http://unused").parse_inbound(request) == [
        Inbound(
            message_id="SM" + "b" * 32,
            sender=RECIPIENT,
            to=SENDER,
            body="STOP",
            received_at=NOW,
        )
    ]


def test_a_status_callback_is_not_an_inbound_message():
    request = signed_request(INBOUND_URL, status_callback("delivered"))

    assert gateway_for("http://unused").parse_inbound(request) == []


def test_inbound_answer_is_empty_twiml_so_twilio_sends_no_reply():
    body, content_type = gateway_for("http://unused").inbound_answer()

    assert content_type == "text/xml"
    assert body.decode().endswith("<Response />")
    assert b"<Message" not in body
