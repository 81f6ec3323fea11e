"""POST /webhooks/status: a carrier's delivery report, signed per Standard Webhooks (SPEC §5)."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from messaging.models import Message
from messaging.services.lifecycle import message_report_status
from messaging.services.sending import message_send
from tests.assertions import assert_error
from tests.scenarios import NEW_YORK, pool_with

pytestmark = pytest.mark.django_db

OTHER_SECRET = "whsec_bm90LXRoZS1jYXJyaWVyLXNlY3JldA=="


def signed(payload, secret: str, *, at: datetime | None = None) -> tuple[str, dict]:
    """The JSON body and the Standard Webhooks headers a carrier sends with it."""
    body = json.dumps(payload)
    msg_id = f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(tz=UTC)
    return body, {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


def report(client, payload, secret: str, **sign):
    body, headers = signed(payload, secret, **sign)
    return client.post("/webhooks/status", body, content_type="application/json", headers=headers)


@pytest.fixture
def secret(settings):
    return settings.CARRIER_WEBHOOK_SECRET


@pytest.fixture
def message(account):
    """A message handed to the carrier: Sent, waiting for its delivery report."""
    message = message_send(pool=pool_with(account, [NEW_YORK]), to="+12125550100", body="Hi")
    message_report_status(message=message, status="Sent")
    return message


def state(message) -> tuple:
    message.refresh_from_db()
    history = list(message.status_events.values_list("status", "detailed_status", "error_code"))
    return message.status, message.detailed_status, message.error_code, history


def test_a_signed_report_moves_the_message_on(client, message, secret):
    response = report(
        client,
        {"trackingId": str(message.pk), "status": "Delivered", "detailedStatus": "DELIVRD"},
        secret,
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {"trackingId": str(message.pk), "status": "Delivered"}
    assert state(message) == (
        "Delivered",
        "DELIVRD",
        "",
        [("Queued", "", ""), ("Sent", "", ""), ("Delivered", "DELIVRD", "")],
    )


def test_a_failure_report_keeps_the_carriers_error_code(client, message, secret):
    payload = {
        "trackingId": str(message.pk),
        "status": "Undelivered",
        "detailedStatus": "Absent subscriber",
        "errorCode": "27",
    }

    assert report(client, payload, secret).status_code == 200

    assert state(message)[:3] == ("Undelivered", "Absent subscriber", "27")


def test_a_repeated_report_changes_nothing(client, message, secret):
    payload = {"trackingId": str(message.pk), "status": "Delivered"}
    report(client, payload, secret)
    before = state(message)

    response = report(client, payload, secret)

    assert response.status_code == 200
    assert response.json()["status"] == "Delivered"
    assert state(message) == before


def test_a_late_report_does_not_reopen_a_final_message(client, message, secret):
    report(client, {"trackingId": str(message.pk), "status": "Undelivered"}, secret)
    before = state(message)

    response = report(client, {"trackingId": str(message.pk), "status": "Delivered"}, secret)

    assert response.status_code == 200
    assert response.json()["status"] == "Undelivered"
    assert state(message) == before


# Refused


def test_a_report_signed_with_another_secret_is_refused(client, message):
    before = state(message)

    response = report(client, {"trackingId": str(message.pk), "status": "Delivered"}, OTHER_SECRET)

    assert_error(response, 401, "INVALID_SIGNATURE")
    assert state(message) == before


def test_a_report_changed_after_signing_is_refused(client, message, secret):
    before = state(message)
    body, headers = signed({"trackingId": str(message.pk), "status": "Delivered"}, secret)

    response = client.post(
        "/webhooks/status",
        body.replace("Delivered", "Undelivered"),
        content_type="application/json",
        headers=headers,
    )

    assert_error(response, 401, "INVALID_SIGNATURE")
    assert state(message) == before


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature", "all"])
def test_a_report_without_its_signature_headers_is_refused(client, message, secret, missing):
    before = state(message)
    body, headers = signed({"trackingId": str(message.pk), "status": "Delivered"}, secret)
    headers = {} if missing == "all" else {k: v for k, v in headers.items() if k != missing}

    response = client.post(
        "/webhooks/status", body, content_type="application/json", headers=headers
    )

    assert_error(response, 401, "INVALID_SIGNATURE")
    assert state(message) == before


@pytest.mark.parametrize("signature", ["v1,bm90LWEtc2lnbmF0dXJl", "v1,%%%", "garbage"])
def test_a_report_with_a_bad_signature_is_refused(client, message, secret, signature):
    body, headers = signed({"trackingId": str(message.pk), "status": "Delivered"}, secret)

    response = client.post(
        "/webhooks/status",
        body,
        content_type="application/json",
        headers={**headers, "webhook-signature": signature},
    )

    assert_error(response, 401, "INVALID_SIGNATURE")
    assert Message.objects.get().status == "Sent"


def test_a_replayed_report_from_long_ago_is_refused(client, message, secret):
    an_hour_ago = datetime.now(tz=UTC) - timedelta(hours=1)

    response = report(
        client, {"trackingId": str(message.pk), "status": "Delivered"}, secret, at=an_hour_ago
    )

    assert_error(response, 401, "INVALID_SIGNATURE")
    assert Message.objects.get().status == "Sent"


def test_a_report_on_an_unknown_message_is_not_found(client, message, secret):
    response = report(client, {"trackingId": str(uuid.uuid4()), "status": "Delivered"}, secret)

    assert_error(response, 404, "MESSAGE_NOT_FOUND")


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"status": "Read"}, "status"),
        ({"status": "Queued"}, "status"),
        ({"status": None}, "status"),
        ({"trackingId": "not-a-uuid", "status": "Delivered"}, "trackingId"),
        ({"status": "Delivered", "price": 0.01}, "price"),
    ],
    ids=["unknown-status", "queued", "null-status", "bad-id", "unknown-field"],
)
def test_an_invalid_report_is_a_validation_error(client, message, secret, payload, field):
    before = state(message)

    response = report(client, {"trackingId": str(message.pk), **payload}, secret)

    assert field in assert_error(response, 400, "VALIDATION_ERROR")["errors"]
    assert state(message) == before


@pytest.mark.parametrize("payload", [["Delivered"], "Delivered"], ids=["list", "string"])
def test_a_signed_body_that_is_not_an_object_is_a_validation_error(
    client, message, secret, payload
):
    assert_error(report(client, payload, secret), 400, "VALIDATION_ERROR")
