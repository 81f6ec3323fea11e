"""Twilio Programmable Messaging (SPEC §11), on Twilio's own SDK (`twilio`, twilio-python).

A message leaves as one Message resource (POST /2010-04-01/Accounts/{sid}/Messages.json:
From, To, Body, MediaUrl for MMS, StatusCallback) — Twilio cuts the parts itself. The SDK
does the request, the basic auth and the webhook signatures (`RequestValidator`); it is
given its HTTP client (the SDK's extension point) so that requests go to the connection's
`baseUrl` — a region's edge, or a local fake in tests — with a 10 s timeout, and so that
the answer's headers (Retry-After) and error body can be read once the SDK has raised.

This module only translates: Twilio's answers become `Accepted` / `Refused` / `Throttled`
/ `Unavailable`, its status callbacks `Receipt`s and its incoming-message webhooks
`Inbound`s. Twilio signatures carry no timestamp, so nothing here is ever "stale";
a replayed webhook is caught by message id where the events are applied.
"""

import json
from urllib.parse import parse_qsl, urlsplit

import requests
from twilio.base import values
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from carriers.gateways.base import (
    Accepted,
    CheckResult,
    Gateway,
    Inbound,
    Outbound,
    Outcome,
    Receipt,
    Refused,
    Throttled,
    Unavailable,
    retry_after_seconds,
)
from carriers.gateways.webhooks import WebhookRequest

TIMEOUT_SECONDS = 10.0
RECIPIENT_STOPPED = "21610"  # "Attempt to send to unsubscribed recipient": they replied STOP

# Twilio's MessageStatus words → ours. `read` (WhatsApp/RCS read receipts) implies it
# arrived; `canceled` (a scheduled message withdrawn) will never be delivered. `scheduled`
# never reaches a status callback, and `receiving`/`received`/`partially_delivered` do not
# say anything about an outbound message's delivery: they change nothing (None).
STATUS = {
    "accepted": "Sent",
    "queued": "Sent",
    "sending": "Sent",
    "sent": "Sent",
    "delivered": "Delivered",
    "read": "Delivered",
    "undelivered": "Undelivered",
    "failed": "Failed",
    "canceled": "Failed",
}


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sent to `base_url` instead of api.twilio.com, keeping the
    last answer (the SDK's exceptions carry neither its headers nor its raw body)."""

    def __init__(self, base_url: str, timeout: float):
        super().__init__(pool_connections=False, timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.last_answer: Response | None = None

    def request(self, method: str, url: str, **kwargs) -> Response:
        parts = urlsplit(url)
        rebased = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        self.last_answer = None  # stays None when the request raises: no answer came
        self.last_answer = super().request(method, rebased, **kwargs)
        return self.last_answer


def twilio_error(answer: Response) -> tuple[str, str]:
    """Twilio's own error code and message from an error body
    ({"code", "message", "more_info", "status"}); the HTTP status when there is none."""
    try:
        body = json.loads(answer.text)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = body.get("code") or answer.status_code
    message = body.get("message") or body.get("detail") or f"HTTP {answer.status_code}"
    return str(code), str(message)


def outcome_of_error(answer: Response) -> Outcome:
    status = answer.status_code
    code, message = twilio_error(answer)
    headers = answer.headers or {}
    if status == 429 or status >= 500:
        retry_after = retry_after_seconds(headers.get("Retry-After"))
        return Throttled(f"Twilio {status} ({code}): {message}", retry_after=retry_after)
    if status in (401, 403):  # the connection's fault, not the message's: it waits
        return Unavailable(f"Twilio refused the credentials ({code}): {message}")
    if 400 <= status < 500:
        return Refused(code=code, reason=message, recipient_stopped=code == RECIPIENT_STOPPED)
    return Unavailable(f"Twilio answered HTTP {status} ({code}): {message}")


def form_of(request: WebhookRequest) -> dict[str, str]:
    """The webhook's parameters: the endpoint's parsed form, else the form-encoded body."""
    if request.form:
        return dict(request.form)
    return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))


class TwilioGateway(Gateway):
    def _client(self) -> tuple[Client, BaseUrlHttpClient]:
        http = BaseUrlHttpClient(self.settings["baseUrl"], timeout=TIMEOUT_SECONDS)
        sid = self.settings["accountSid"]
        client = Client(sid, self.secrets["authToken"], account_sid=sid, http_client=http)
        return client, http

    def send(self, outbound: Outbound) -> Outcome:
        client, http = self._client()
        try:
            message = client.messages.create(
                from_=outbound.sender,
                to=outbound.to,
                body=outbound.body or values.unset,
                media_url=list(outbound.media_urls) or values.unset,
                status_callback=outbound.status_url or values.unset,
            )
        except TwilioException as exc:
            if http.last_answer is None:
                return Unavailable(f"Twilio SDK error: {type(exc).__name__}")
            return outcome_of_error(http.last_answer)
        except requests.Timeout:
            return Unavailable(f"Twilio did not answer within {TIMEOUT_SECONDS:g} s")
        except requests.RequestException as exc:
            return Unavailable(f"Could not reach Twilio: {type(exc).__name__}")
        except ValueError:
            # A 2xx whose body is not JSON: we cannot know the message's sid.
            return Unavailable("Twilio's answer could not be read")
        return Accepted(provider_ids=(message.sid,))

    def check(self) -> CheckResult:
        client, http = self._client()
        sid = self.settings["accountSid"]
        try:
            account = client.api.v2010.accounts(sid).fetch()
        except TwilioException:
            return self._check_refused(http.last_answer)
        except requests.Timeout:
            return CheckResult("down", f"Twilio did not answer within {TIMEOUT_SECONDS:g} s")
        except (requests.RequestException, ValueError) as exc:
            return CheckResult("down", f"Could not reach Twilio: {type(exc).__name__}")
        if account.status != "active":
            return CheckResult("down", f"Twilio account {sid} is {account.status}")
        return CheckResult("up", f"Twilio account {sid} ({account.friendly_name}) is active")

    def _check_refused(self, answer: Response | None) -> CheckResult:
        if answer is None:
            return CheckResult("down", "Twilio SDK error")
        code, message = twilio_error(answer)
        if answer.status_code == 401:
            return CheckResult("down", f"Twilio refused the credentials ({code}: {message})")
        return CheckResult("down", f"Twilio answered HTTP {answer.status_code} ({code}: {message})")

    def verify(self, request: WebhookRequest) -> bool:
        """X-Twilio-Signature: HMAC-SHA1 of the URL Twilio called plus the sorted POST
        parameters, keyed by the auth token. For a GET the parameters are in the URL."""
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            return False
        params = form_of(request) if request.method.upper() == "POST" else {}
        return RequestValidator(self.secrets["authToken"]).validate(request.url, params, signature)

    def parse_status(self, request: WebhookRequest) -> list[Receipt]:
        """A status callback (MessageSid, MessageStatus, ErrorCode, …) → one receipt."""
        form = form_of(request)
        provider_id, word = form.get("MessageSid", ""), form.get("MessageStatus", "")
        if not provider_id or not word:
            return []
        detail = f"{word}: {form['ErrorMessage']}" if form.get("ErrorMessage") else word
        return [
            Receipt(
                provider_id=provider_id,
                status=STATUS.get(word.lower()),
                detailed_status=detail,
                error_code=form.get("ErrorCode", ""),
            )
        ]

    def parse_inbound(self, request: WebhookRequest) -> list[Inbound]:
        """An incoming-message webhook (MessageSid, From, To, Body, …) → one message.
        A status callback carries MessageStatus; an incoming message does not."""
        form = form_of(request)
        if "MessageStatus" in form or not all(form.get(k) for k in ("MessageSid", "From", "To")):
            return []
        inbound = Inbound(
            message_id=form["MessageSid"],
            sender=form["From"],
            to=form["To"],
            body=form.get("Body", ""),
            received_at=request.now,  # Twilio's webhook carries no time of its own
        )
        return [inbound]

    def inbound_answer(self) -> tuple[bytes, str]:
        """Empty TwiML, so that Twilio sends no reply of its own."""
        return MessagingResponse().to_xml().encode("utf-8"), "text/xml"
