"""Twilio, Telnyx and Vonage connections end to end (SPEC §3, §4, §11, §12).

A pool's number sits on a provider connection whose `baseUrl` is a local fake of that
provider: sends go out to the fake, and the provider's webhooks — status reports and
inbound messages, in its own format and signed as it signs them — come back through
`/webhooks/connections/{connectionId}/…`. Each provider has a driver (at the top) that
knows how to start its fake, read what the fake received, and build its webhooks;
the tests below are written once and run for every provider whose shape is the same.
"""

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import pytest
from django.test import Client
from django.utils import timezone
from nacl.signing import SigningKey
from twilio.request_validator import RequestValidator

from carriers.models import Connection
from messaging.models import Message
from messaging.services.dispatch import message_dispatch
from messaging.services.sending import message_send
from optout.models import InboundMessage, OptOut
from pools.models import PoolNumber
from tests import fake_telnyx
from tests.factories import AccountFactory, ConnectionFactory, PoolFactory
from tests.fake_telnyx import (
    inbound_event,
    public_key_of,
    running_fake_telnyx,
    signed_webhook,
    status_event,
    telnyx_error,
)
from tests.fake_twilio import running_fake_twilio, twilio_error
from tests.fake_vonage import running_fake_vonage, signed_params
from tests.messaging_factories import StoredMessageFactory
from tests.scenarios import NEW_YORK, number_of, pool_with

pytestmark = pytest.mark.django_db

SENDER = NEW_YORK  # the pool's number, on the provider's connection
PERSON = "+12125550100"
OTHER_ACCOUNTS_NUMBER = "+12122030099"
OPT_OUT_REPLY = "Acme: you are unsubscribed. Reply START to come back."
MEDIA = ("https://cdn.example.com/cat.jpg", "https://cdn.example.com/dog.png")
STALE_SECONDS = 600  # twice the 300 s Telnyx and Vonage allow

GOOD, FORGED, MISSING, STALE = "good", "forged", "missing", "stale"


# Drivers: one per provider


@dataclass(frozen=True)
class Sent:
    """One send request as the provider's API received it."""

    sender: str
    to: str
    body: str
    status_url: str | None
    media: tuple[str, ...] = ()


@dataclass(frozen=True)
class Webhook:
    """A request as the provider makes it to one of the connection's endpoints."""

    method: str
    path: str
    params: dict = field(default_factory=dict)  # GET: the query
    body: bytes = b""  # POST: the raw body
    content_type: str = ""
    headers: dict = field(default_factory=dict)  # Django's HTTP_… names

    def call(self, client: Client):
        if self.method == "GET":
            return client.get(self.path, data=self.params, **self.headers)
        return client.post(
            self.path, data=self.body, content_type=self.content_type, **self.headers
        )


def endpoint(connection: Connection, which: str) -> tuple[str, str]:
    """The absolute URL the provider is told to call (signatures cover it) and its path."""
    url = connection.webhook_urls()[which]
    return url, urlsplit(url).path


def digits(e164: str) -> str:
    return e164.removeprefix("+")


class TwilioDriver:
    kind = Connection.Kind.TWILIO
    signature_faults = (FORGED, MISSING)  # Twilio signs no timestamp: nothing is stale
    supports_media = True
    # Our final status → Twilio's MessageStatus and ErrorCode.
    reports = {
        "Delivered": ("delivered", ""),
        "Undelivered": ("undelivered", "30003"),
        "Failed": ("failed", "30008"),
    }
    stopped_on_send_code = "21610"
    stops_in_report = False

    @contextmanager
    def running(self) -> Iterator:
        with running_fake_twilio() as fake:
            yield fake

    def connection_fields(self, fake) -> tuple[dict, dict]:
        return (
            {"accountSid": fake.account_sid, "baseUrl": fake.base_url},
            {"authToken": fake.auth_token},
        )

    def attempts(self, fake) -> list[Sent]:
        return [
            Sent(
                sender=r.value("From"),
                to=r.value("To"),
                body=r.value("Body") or "",
                status_url=r.value("StatusCallback"),
                media=tuple(r.form.get("MediaUrl", [])),
            )
            for r in fake.requests
            if r.method == "POST" and r.path.endswith("/Messages.json")
        ]

    def accepted_ids(self, fake) -> list[str]:
        return [message["sid"] for message in fake.messages]

    def throttle_next(self, fake) -> None:
        body = twilio_error(20429, "Too Many Requests", 429)
        fake.fail_next(429, body, headers={"Retry-After": "1"})

    def stop_next_send(self, fake) -> None:
        body = twilio_error(21610, "Attempt to send to unsubscribed recipient", 400)
        fake.fail_next(400, body)

    def status_webhook(
        self, connection, provider_id, word, code="", *, to, sender, signing=GOOD
    ) -> Webhook:
        params = {
            "AccountSid": connection.settings["accountSid"],
            "ApiVersion": "2010-04-01",
            "MessageSid": provider_id,
            "SmsSid": provider_id,
            "MessageStatus": word,
            "SmsStatus": word,
            "From": sender,
            "To": to,
        }
        if code:
            params["ErrorCode"] = code
        return self._signed(connection, "status", params, signing)

    def inbound_webhook(self, connection, text, *, sender, to, message_id, signing=GOOD):
        params = {
            "ToCountry": "US",
            "SmsMessageSid": message_id,
            "NumMedia": "0",
            "SmsSid": message_id,
            "SmsStatus": "received",
            "Body": text,
            "To": to,
            "NumSegments": "1",
            "MessageSid": message_id,
            "AccountSid": connection.settings["accountSid"],
            "From": sender,
            "ApiVersion": "2010-04-01",
        }
        return self._signed(connection, "inbound", params, signing)

    def new_message_id(self) -> str:
        return "SM" + uuid.uuid4().hex

    def _signed(self, connection, which, params, signing) -> Webhook:
        url, path = endpoint(connection, which)
        token = connection.secrets["authToken"] if signing != FORGED else "not-the-auth-token"
        headers = {}
        if signing != MISSING:
            signature = RequestValidator(token).compute_signature(url, params)
            headers["HTTP_X_TWILIO_SIGNATURE"] = signature
        return Webhook(
            "POST",
            path,
            body=urlencode(params).encode(),
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )

    def assert_inbound_answer(self, response) -> None:
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/xml")
        root = ElementTree.fromstring(response.content)
        assert (root.tag, len(root), (root.text or "").strip()) == ("Response", 0, "")


class TelnyxDriver:
    kind = Connection.Kind.TELNYX
    signature_faults = (FORGED, MISSING, STALE)
    supports_media = True
    reports = {
        "Delivered": ("delivered", ""),
        "Undelivered": ("delivery_failed", "40008"),
        "Failed": ("sending_failed", "40001"),
    }
    stopped_on_send_code = "40300"
    stops_in_report = True
    private_key = SigningKey.generate()  # the connection's publicKey is its public half

    @contextmanager
    def running(self) -> Iterator:
        """The fake, keeping the message records it answered (their ids are Telnyx's)."""
        answer = fake_telnyx.message_record
        with running_fake_telnyx() as fake:
            fake.records = []

            def recorded(body):
                record = answer(body)
                fake.records.append(record)
                return record

            fake_telnyx.message_record = recorded
            try:
                yield fake
            finally:
                fake_telnyx.message_record = answer

    def connection_fields(self, fake) -> tuple[dict, dict]:
        settings = {
            "publicKey": public_key_of(self.private_key),
            "messagingProfileId": "4000eba1-a0c0-4563-9925-b25e842a7cb6",
            "baseUrl": fake.base_url,
        }
        return settings, {"apiKey": fake.api_key}

    def attempts(self, fake) -> list[Sent]:
        return [
            Sent(
                sender=body.get("from"),
                to=body.get("to"),
                body=body.get("text") or "",
                status_url=body.get("webhook_url"),
                media=tuple(body.get("media_urls") or ()),
            )
            for body in fake.sent
        ]

    def accepted_ids(self, fake) -> list[str]:
        return [record["id"] for record in fake.records]

    def throttle_next(self, fake) -> None:
        fake.fail_next(
            429, telnyx_error("10011", "Too many requests"), headers={"Retry-After": "1"}
        )

    def stop_next_send(self, fake) -> None:
        fake.fail_next(400, telnyx_error("40300", "Blocked due to STOP message"))

    def status_webhook(
        self, connection, provider_id, word, code="", *, to, sender, signing=GOOD
    ) -> Webhook:
        errors = [{"code": code, "title": f"Telnyx error {code}"}] if code else []
        payload = status_event(provider_id, word, to=to, sender=sender, errors=errors)
        return self._signed(connection, "status", payload, signing)

    def stopped_report(self, connection, provider_id, *, to, sender) -> Webhook:
        errors = [{"code": "40300", "title": "Blocked due to STOP message"}]
        payload = status_event(provider_id, "delivery_failed", to=to, sender=sender, errors=errors)
        return self._signed(connection, "status", payload, GOOD)

    def inbound_webhook(self, connection, text, *, sender, to, message_id, signing=GOOD):
        payload = inbound_event(text, sender=sender, to=to, message_id=message_id)
        return self._signed(connection, "inbound", payload, signing)

    def new_message_id(self) -> str:
        return str(uuid.uuid4())

    def _signed(self, connection, which, payload, signing) -> Webhook:
        _, path = endpoint(connection, which)
        key = self.private_key if signing != FORGED else SigningKey.generate()
        timestamp = int(time.time()) - (STALE_SECONDS if signing == STALE else 0)
        body, headers = signed_webhook(key, payload, timestamp)
        meta = {"HTTP_TELNYX_TIMESTAMP": headers["Telnyx-Timestamp"]}
        if signing != MISSING:
            meta["HTTP_TELNYX_SIGNATURE_ED25519"] = headers["Telnyx-Signature-Ed25519"]
        return Webhook("POST", path, body=body, content_type="application/json", headers=meta)

    def assert_inbound_answer(self, response) -> None:
        assert response.status_code == 200
        assert response.json() == {}


class VonageDriver:
    kind = Connection.Kind.VONAGE
    signature_faults = (FORGED, MISSING, STALE)
    supports_media = False  # its SMS API carries text only
    media_refusal_code = "MMS_NOT_SUPPORTED"
    reports = {  # DLR status and err-code; Vonage's vocabulary has no Failed
        "Delivered": ("delivered", "0"),
        "Undelivered": ("failed", "1"),
    }
    stopped_on_send_code = None
    stops_in_report = True
    signature_secret = "vonage-signature-S3cret"

    @contextmanager
    def running(self) -> Iterator:
        """The fake, keeping the answers it gave to sends (their message ids)."""
        with running_fake_vonage() as fake:
            fake.answers = []
            answer = fake.answer_sms

            def recorded(form):
                canned = answer(form)
                fake.answers.append(json.loads(canned.body))
                return canned

            fake.answer_sms = recorded
            yield fake

    def connection_fields(self, fake) -> tuple[dict, dict]:
        return (
            {"apiKey": fake.api_key, "baseUrl": fake.base_url},
            {"apiSecret": fake.api_secret, "signatureSecret": self.signature_secret},
        )

    def attempts(self, fake) -> list[Sent]:
        return [
            Sent(
                sender="+" + r.body.get("from", ""),
                to="+" + r.body.get("to", ""),
                body=r.body.get("text", ""),
                status_url=r.body.get("callback"),
            )
            for r in fake.requests
            if (r.method, r.path) == ("POST", "/sms/json")
        ]

    def accepted_ids(self, fake) -> list[str]:
        return [
            part["message-id"]
            for answer in fake.answers
            for part in answer.get("messages", [])
            if part.get("status") == "0"
        ]

    def throttle_next(self, fake) -> None:
        fake.fail_next(429, b"", headers={"Retry-After": "1"})

    def status_webhook(
        self, connection, provider_id, word, code="0", *, to, sender, signing=GOOD
    ) -> Webhook:
        params = {
            "msisdn": digits(to),
            "to": digits(sender),
            "network-code": "310260",
            "messageId": provider_id,
            "price": "0.00570000",
            "status": word,
            "scts": "2605041200",
            "err-code": code or "0",
            "api-key": connection.settings["apiKey"],
            "message-timestamp": "2026-05-04 12:00:00",
        }
        return self._signed(connection, "status", params, signing)

    def stopped_report(self, connection, provider_id, *, to, sender) -> Webhook:
        return self.status_webhook(connection, provider_id, "failed", "9", to=to, sender=sender)

    def inbound_webhook(self, connection, text, *, sender, to, message_id, signing=GOOD):
        params = {
            "msisdn": digits(sender),
            "to": digits(to),
            "messageId": message_id,
            "text": text,
            "type": "text",
            "keyword": text.split()[0].upper() if text.split() else "",
            "api-key": connection.settings["apiKey"],
            "message-timestamp": "2026-05-04 12:00:00",
        }
        return self._signed(connection, "inbound", params, signing)

    def new_message_id(self) -> str:
        return uuid.uuid4().hex[:16].upper()

    def _signed(self, connection, which, params, signing) -> Webhook:
        """A GET with the query Vonage sends (its default for webhooks)."""
        _, path = endpoint(connection, which)
        secret = connection.secrets["signatureSecret"] if signing != FORGED else "not-the-secret"
        timestamp = int(time.time()) - (STALE_SECONDS if signing == STALE else 0)
        signed = signed_params(params, secret, timestamp)
        if signing == MISSING:
            del signed["sig"]
        return Webhook("GET", path, params=signed)

    def assert_inbound_answer(self, response) -> None:
        assert response.status_code == 200
        assert response.content == b""


DRIVERS = [TwilioDriver(), TelnyxDriver(), VonageDriver()]


def by_kind(drivers):
    return pytest.mark.parametrize("driver", drivers, ids=lambda d: d.kind, indirect=True)


every_provider = by_kind(DRIVERS)


def report_cases():
    return [
        pytest.param(driver, status, id=f"{driver.kind}-{status}")
        for driver in DRIVERS
        for status in driver.reports
    ]


def signature_fault_cases():
    return [
        pytest.param(driver, fault, id=f"{driver.kind}-{fault}")
        for driver in DRIVERS
        for fault in driver.signature_faults
    ]


# The account's provider connection, its pool, and how a test talks to them


@dataclass
class Provider:
    """The account's connection to `driver`'s provider (its fake), a pool whose one
    number is on it, and the account's API client."""

    driver: object
    fake: object
    connection: Connection
    pool: object
    api: object
    capture: object  # django_capture_on_commit_callbacks
    client: Client = field(default_factory=Client)

    def send(self, *, to=PERSON, body="Your code is 1234", media_urls=()) -> Message:
        with self.capture(execute=True):
            message = message_send(pool=self.pool, to=to, body=body, media_urls=media_urls)
        message.refresh_from_db()
        return message

    def post(self, webhook: Webhook):
        with self.capture(execute=True):
            return webhook.call(self.client)

    def report(self, message: Message, word: str, code: str = "", **options):
        return self.post(
            self.driver.status_webhook(
                options.pop("connection", self.connection),
                options.pop("provider_id", message.provider_message_id),
                word,
                code,
                to=message.to,
                sender=message.sender,
                **options,
            )
        )

    def write(self, text: str, *, sender=PERSON, to=SENDER, message_id=None, **options):
        """A person writes `text` to `to`; the provider posts it to the connection."""
        return self.post(
            self.driver.inbound_webhook(
                options.pop("connection", self.connection),
                text,
                sender=sender,
                to=to,
                message_id=message_id or self.driver.new_message_id(),
                **options,
            )
        )

    def attempts(self) -> list[Sent]:
        return self.driver.attempts(self.fake)

    def resource(self, message: Message) -> dict:
        response = self.api.get(f"/sms/my/{message.pk}")
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def driver(request):
    return request.param


@pytest.fixture
def provider(driver, account, api, django_capture_on_commit_callbacks) -> Iterator[Provider]:
    with driver.running() as fake:
        settings, secrets = driver.connection_fields(fake)
        connection = ConnectionFactory(
            account=account, kind=driver.kind, settings=settings, secrets=secrets
        )
        pool = PoolFactory(account=account, opt_out_reply=OPT_OUT_REPLY)
        number = number_of(account, SENDER, connection=connection, mms_capable=True)
        PoolNumber.objects.create(pool=pool, number=number)
        yield Provider(driver, fake, connection, pool, api, django_capture_on_commit_callbacks)


def statuses(message: Message) -> list[str]:
    return list(message.status_events.order_by("created_at", "pk").values_list("status", flat=True))


def snapshot(account) -> dict:
    """What a webhook could change for the account."""
    return {
        "messages": sorted(
            Message.objects.filter(account=account).values_list(
                "pk", "status", "detailed_status", "error_code"
            )
        ),
        "history": sorted(
            Message.objects.filter(account=account).values_list(
                "pk", "status_events__status", "status_events__error_code"
            ),
            key=str,
        ),
        "optouts": sorted(
            OptOut.objects.filter(account=account).values_list("recipient", "number")
        ),
        "inbound": InboundMessage.objects.filter(account=account).count(),
    }


# 1. Sending through the connection


@every_provider
def test_a_send_reaches_the_provider_with_sender_recipient_body_and_status_url(provider):
    message = provider.send(body="Your code is 1234")

    [attempt] = provider.attempts()
    assert attempt == Sent(
        sender=SENDER,
        to=PERSON,
        body="Your code is 1234",
        status_url=provider.connection.webhook_urls()["status"],
    )
    assert message.status == Message.Status.SENT
    assert message.connection_id == provider.connection.pk
    assert message.provider_message_id == provider.driver.accepted_ids(provider.fake)[0]
    assert statuses(message) == ["Queued", "Sent"]


@every_provider
def test_the_message_resource_shows_the_providers_message_id(provider):
    message = provider.send()

    resource = provider.resource(message)
    assert resource["status"] == "Sent"
    assert resource.get("providerMessageId") == message.provider_message_id
    listed = provider.api.get("/sms/my", {"providerMessageId": message.provider_message_id})
    assert [row["trackingId"] for row in listed.json()["results"]] == [str(message.pk)]


@by_kind([d for d in DRIVERS if d.supports_media])
def test_an_mms_carries_its_media_to_the_provider(provider):
    message = provider.send(body="Look", media_urls=MEDIA)

    [attempt] = provider.attempts()
    assert attempt.media == MEDIA
    assert (attempt.sender, attempt.to, attempt.body) == (SENDER, PERSON, "Look")
    assert message.channel == Message.Channel.MMS
    assert message.status == Message.Status.SENT
    assert message.provider_message_id == provider.driver.accepted_ids(provider.fake)[0]


@by_kind([d for d in DRIVERS if not d.supports_media])
def test_an_mms_through_a_provider_without_media_ends_failed_with_its_code(provider):
    message = provider.send(body="Look", media_urls=MEDIA)

    assert provider.attempts() == []
    assert (message.status, message.error_code) == ("Failed", provider.driver.media_refusal_code)
    assert provider.resource(message)["statusHistory"][-1]["errorCode"] == (
        provider.driver.media_refusal_code
    )


# 2. Status webhooks move the message


@pytest.mark.parametrize(("driver", "final"), report_cases(), indirect=["driver"])
def test_a_signed_status_report_moves_the_message_with_the_providers_error_code(provider, final):
    word, code = provider.driver.reports[final]
    message = provider.send()

    response = provider.report(message, word, code)

    assert response.status_code == 200, response.content
    message.refresh_from_db()
    expected_code = "" if code in ("", "0") else code
    assert (message.status, message.error_code) == (final, expected_code)
    assert statuses(message) == ["Queued", "Sent", final]
    resource = provider.resource(message)
    assert resource["status"] == final
    assert resource["detailedStatus"]  # the provider's words
    assert resource["statusHistory"][-1]["errorCode"] == (expected_code or None)


@every_provider
def test_a_report_after_the_final_one_does_not_reopen_the_message(provider):
    message = provider.send()
    provider.report(message, *provider.driver.reports["Delivered"])

    provider.report(message, *provider.driver.reports["Undelivered"])

    message.refresh_from_db()
    assert message.status == "Delivered"
    assert statuses(message) == ["Queued", "Sent", "Delivered"]


# 3. An inbound STOP, and its confirmation through the same connection


@every_provider
def test_an_inbound_stop_records_the_opt_out_and_confirms_through_the_same_connection(
    provider, account
):
    response = provider.write("STOP")

    provider.driver.assert_inbound_answer(response)
    assert list(OptOut.objects.values_list("account", "recipient", "number")) == [
        (account.pk, PERSON, SENDER)
    ]
    inbound = InboundMessage.objects.get()
    assert (inbound.sender, inbound.to, inbound.body) == (PERSON, SENDER, "STOP")
    [confirmation] = provider.attempts()
    assert (confirmation.sender, confirmation.to, confirmation.body) == (
        SENDER,
        PERSON,
        OPT_OUT_REPLY,
    )
    reply = Message.objects.get(body=OPT_OUT_REPLY)
    assert reply.connection_id == provider.connection.pk
    assert reply.status == Message.Status.SENT


@every_provider
def test_an_inbound_message_that_is_no_keyword_is_recorded_and_answered_as_expected(provider):
    response = provider.write("What time do you open?")

    provider.driver.assert_inbound_answer(response)
    assert InboundMessage.objects.get().body == "What time do you open?"
    assert OptOut.objects.count() == 0
    assert provider.attempts() == []


def vonage_by(transport: str, webhook: Webhook) -> Webhook:
    """A signed Vonage GET webhook sent the other ways its dashboard offers."""
    if transport == "GET":
        return webhook
    if transport == "POST-JSON":
        body, content_type = json.dumps(webhook.params).encode(), "application/json"
    else:
        body, content_type = urlencode(webhook.params).encode(), "application/x-www-form-urlencoded"
    return Webhook("POST", webhook.path, body=body, content_type=content_type)


@pytest.mark.parametrize("transport", ["GET", "POST-form", "POST-JSON"])
@by_kind([d for d in DRIVERS if d.kind == Connection.Kind.VONAGE])
def test_vonage_webhooks_are_read_whichever_way_the_account_has_them_sent(provider, transport):
    message = provider.send()
    report = provider.driver.status_webhook(
        provider.connection, message.provider_message_id, "delivered", to=PERSON, sender=SENDER
    )
    stop = provider.driver.inbound_webhook(
        provider.connection, "STOP", sender=PERSON, to=SENDER, message_id="0B00000012345678"
    )

    assert provider.post(vonage_by(transport, report)).status_code == 200
    provider.driver.assert_inbound_answer(provider.post(vonage_by(transport, stop)))

    message.refresh_from_db()
    assert message.status == "Delivered"
    assert OptOut.objects.filter(recipient=PERSON, number=SENDER).exists()
    assert [a.body for a in provider.attempts()][-1] == OPT_OUT_REPLY


# 4. Forged, missing and stale signatures


@pytest.mark.parametrize(("driver", "fault"), signature_fault_cases(), indirect=["driver"])
def test_a_status_report_with_a_bad_signature_is_refused_and_changes_nothing(
    provider, account, fault
):
    message = provider.send()
    before = snapshot(account)

    response = provider.report(message, *provider.driver.reports["Delivered"], signing=fault)

    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_SIGNATURE"
    assert snapshot(account) == before


@pytest.mark.parametrize(("driver", "fault"), signature_fault_cases(), indirect=["driver"])
def test_an_inbound_stop_with_a_bad_signature_is_refused_and_changes_nothing(
    provider, account, fault
):
    before = snapshot(account)

    response = provider.write("STOP", signing=fault)

    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_SIGNATURE"
    assert snapshot(account) == before
    assert InboundMessage.objects.count() == 0
    assert provider.attempts() == []


@every_provider
def test_a_good_signature_for_another_connection_is_refused(provider, account):
    """Signed with this connection's secrets, posted to another connection's endpoint."""
    other = ConnectionFactory(
        account=account,
        kind=provider.driver.kind,
        settings=provider.connection.settings,
        secrets={name: f"other-{value}" for name, value in provider.connection.secrets.items()},
    )
    if provider.driver.kind == Connection.Kind.TELNYX:
        other.settings = {**other.settings, "publicKey": public_key_of(SigningKey.generate())}
        other.save()
    message = provider.send()
    webhook = provider.driver.status_webhook(
        provider.connection,
        message.provider_message_id,
        *provider.driver.reports["Delivered"],
        to=message.to,
        sender=message.sender,
    )
    _, other_path = endpoint(other, "status")
    before = snapshot(account)

    response = provider.post(replace(webhook, path=other_path))

    assert response.status_code == 401
    assert snapshot(account) == before


# 5. Throttling: a 429, then the hand-over


@every_provider
def test_a_429_then_success_hands_the_message_over_exactly_once(provider):
    provider.driver.throttle_next(provider.fake)
    message = provider.send()
    assert message.status == Message.Status.QUEUED  # throttled: waiting, not failed

    later = timezone.now() + timedelta(seconds=30)
    assert message_dispatch(message_id=message.pk, now=later) is None

    message.refresh_from_db()
    assert len(provider.attempts()) == 2
    assert len(provider.driver.accepted_ids(provider.fake)) == 1
    assert message.status == Message.Status.SENT
    assert message.provider_message_id == provider.driver.accepted_ids(provider.fake)[0]
    assert statuses(message) == ["Queued", "Sent"]
    assert message_dispatch(message_id=message.pk, now=later + timedelta(seconds=30)) is None
    assert len(provider.attempts()) == 2


# 6. The provider says the recipient stopped


def assert_stopped_at_the_carrier(provider):
    assert list(OptOut.objects.values_list("recipient", "number", "source")) == [
        (PERSON, SENDER, OptOut.Source.CARRIER)
    ]
    rows = provider.api.get("/optouts/my").json()["results"]
    assert [(r["recipient"], r["number"], r["source"]) for r in rows] == [
        (PERSON, SENDER, "carrier")
    ]
    attempts = len(provider.attempts())
    later = provider.send(body="Are you still there?")
    assert (later.status, later.detailed_status) == ("Undelivered", "Opted-out")
    assert len(provider.attempts()) == attempts  # never handed over


@by_kind([d for d in DRIVERS if d.stopped_on_send_code])
def test_a_send_refused_because_the_recipient_stopped_records_a_carrier_opt_out(provider):
    provider.driver.stop_next_send(provider.fake)

    message = provider.send()

    assert (message.status, message.error_code) == ("Failed", provider.driver.stopped_on_send_code)
    assert_stopped_at_the_carrier(provider)


@by_kind([d for d in DRIVERS if d.stops_in_report])
def test_a_report_that_the_recipient_stopped_records_a_carrier_opt_out(provider):
    message = provider.send()

    response = provider.post(
        provider.driver.stopped_report(
            provider.connection, message.provider_message_id, to=PERSON, sender=SENDER
        )
    )

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == "Undelivered"
    assert_stopped_at_the_carrier(provider)


# 7. Webhooks that are not this account's business


@every_provider
def test_a_status_report_for_an_id_the_connection_never_gave_changes_nothing(provider, account):
    """Answered 404, so that a report that came before the send's answer was recorded is
    tried again by the provider."""
    message = provider.send()
    before = snapshot(account)

    response = provider.report(
        message, *provider.driver.reports["Delivered"], provider_id=provider.driver.new_message_id()
    )

    assert response.status_code == 404
    assert snapshot(account) == before


@every_provider
def test_a_status_report_through_another_accounts_connection_changes_nothing(provider, account):
    """Another tenant's connection to the same provider account, signed as it should be,
    cannot move this account's message."""
    theirs = ConnectionFactory(
        account=AccountFactory(name="globex"),
        kind=provider.driver.kind,
        settings=provider.connection.settings,
        secrets=provider.connection.secrets,
    )
    message = provider.send()
    before = snapshot(account)

    response = provider.report(message, *provider.driver.reports["Delivered"], connection=theirs)

    assert response.status_code == 404
    assert snapshot(account) == before


@every_provider
def test_an_inbound_to_another_accounts_number_through_this_connection_is_ignored(provider):
    other_account = AccountFactory(name="globex")
    number_of(other_account, OTHER_ACCOUNTS_NUMBER)

    response = provider.write("STOP", to=OTHER_ACCOUNTS_NUMBER)

    assert response.status_code == 200
    assert InboundMessage.objects.count() == 0
    assert OptOut.objects.count() == 0
    assert provider.attempts() == []


# 8. A provider's retry of the same inbound message


@every_provider
def test_a_retried_inbound_stop_is_processed_once(provider):
    message_id = provider.driver.new_message_id()

    first = provider.write("STOP", message_id=message_id)
    retry = provider.write("STOP", message_id=message_id)

    provider.driver.assert_inbound_answer(first)
    provider.driver.assert_inbound_answer(retry)
    assert InboundMessage.objects.count() == 1
    assert OptOut.objects.count() == 1
    assert [a.body for a in provider.attempts()] == [OPT_OUT_REPLY]
    assert Message.objects.filter(body=OPT_OUT_REPLY).count() == 1


# 9. No secret in any response or log line


def secret_values(connection: Connection) -> list[str]:
    values = [value for value in connection.secrets.values() if value]
    # As they could leak: plain, and in the basic-auth header Twilio's client sends.
    if connection.kind == Connection.Kind.TWILIO:
        user = connection.settings["accountSid"]
        values.append(base64.b64encode(f"{user}:{values[0]}".encode()).decode())
    return values


@every_provider
def test_no_secret_appears_in_any_response_or_log_record(provider, caplog):
    caplog.set_level(logging.DEBUG)
    responses = []
    with provider.capture(execute=True):
        sent = provider.api.post(
            f"/pools/my/{provider.pool.pk}/sms", {"to": PERSON, "body": "Hi"}, format="json"
        )
    responses.append(sent)
    message = Message.objects.get(pk=sent.json()["trackingId"])
    responses.append(provider.report(message, *provider.driver.reports["Delivered"]))
    responses.append(provider.write("STOP"))
    responses.append(provider.write("STOP", signing=FORGED))
    responses.append(provider.api.get(f"/sms/my/{message.pk}"))
    responses.append(provider.api.get(f"/connections/my/{provider.connection.pk}"))
    responses.append(provider.api.get("/connections/my"))

    message.refresh_from_db()
    assert message.status == "Delivered"  # the whole flow ran
    assert len(provider.attempts()) == 2  # the message and the STOP's confirmation
    assert caplog.records, "nothing was logged: the capture would prove nothing"
    for secret in secret_values(provider.connection):
        for record in caplog.records:
            assert secret not in record.getMessage(), (record.name, record.getMessage())
        assert secret not in caplog.text
        for response in responses:
            assert secret.encode() not in response.content, response.content


def test_the_message_list_filters_on_the_providers_message_id(api, account):
    pool = pool_with(account, [NEW_YORK])
    first = StoredMessageFactory(pool=pool, provider_message_id="SM-first")
    StoredMessageFactory(pool=pool, provider_message_id="SM-second")

    body = api.get("/sms/my", {"providerMessageId": "SM-first"}).json()

    assert [m["trackingId"] for m in body["results"]] == [str(first.pk)]
    assert body["results"][0]["providerMessageId"] == "SM-first"
