"""Telnyx Messaging API v2 (SPEC §11), on Telnyx's official Python SDK (`telnyx`).

`send` posts the message (`POST /v2/messages`: from, to, text, media_urls, webhook_url,
and the connection's messaging profile when it has one) and translates the answer:
the message id → `Accepted`, 429 or 5xx → `Throttled`, another 4xx → `Refused` with
Telnyx's own error code (40300, the recipient sent STOP, marks `recipient_stopped`), no
answer → `Unavailable`. `check` reads the balance, the cheapest authenticated call.
The webhook half verifies Telnyx's ed25519 signature and turns `message.sent` /
`message.finalized` into `Receipt`s and `message.received` into `Inbound`s.

Why the SDK: it is the provider's own client, it takes a `base_url` (so the connection's
`baseUrl` — a local fake in tests — is honoured) and it maps HTTP failures onto typed
exceptions. Its retries are switched off: throttling is the dispatch pipeline's to pace.
Signatures are checked with PyNaCl (the SDK's own `webhooks` extra) rather than the
SDK's helper, because that one reads the wall clock and we judge staleness against
`request.now`.
"""

import base64
import binascii
import json
import re
from datetime import datetime

import telnyx
from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

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
SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
SIGNATURE_MAX_AGE_SECONDS = 300
RECIPIENT_STOPPED_CODE = "40300"  # "Blocked due to STOP message"
# Telnyx replays only successful answers to a repeated Idempotency-Key, and only keys
# of this shape are accepted.
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_:-]{1,255}$")

STATUS_EVENTS = {"message.sent", "message.finalized"}
INBOUND_EVENT = "message.received"
# Telnyx's `to[].status` → ours; delivery_unconfirmed changes nothing (stays Sent).
STATUS = {
    "queued": "Sent",
    "sending": "Sent",
    "sent": "Sent",
    "delivered": "Delivered",
    "delivery_failed": "Undelivered",
    "sending_failed": "Failed",
    "delivery_unconfirmed": None,
}


class TelnyxGateway(Gateway):
    def send(self, outbound: Outbound) -> Outcome:
        try:
            with self._client() as client:
                response = client.messages.send(**self._message(outbound))
        except telnyx.APITimeoutError:
            return Unavailable(f"Telnyx did not answer within {TIMEOUT_SECONDS:g} s.")
        except telnyx.APIConnectionError:
            return Unavailable("Could not connect to Telnyx.")
        except telnyx.APIStatusError as exc:
            return error_outcome(exc)
        except Exception as exc:  # the SDK must never take the dispatch worker down
            return Unavailable(f"Telnyx's answer could not be read ({type(exc).__name__}).")
        provider_id = response.data.id if response.data else None
        if not provider_id:
            return Unavailable("Telnyx answered without a message id.")
        return Accepted(provider_ids=(provider_id,))

    def check(self) -> CheckResult:
        try:
            with self._client() as client:
                client.balance.retrieve()
        except telnyx.AuthenticationError:
            return CheckResult("down", "Telnyx refused the credentials (401): check the API key.")
        except telnyx.APITimeoutError:
            return CheckResult("down", f"Telnyx did not answer within {TIMEOUT_SECONDS:g} s.")
        except telnyx.APIConnectionError:
            return CheckResult("down", "Could not connect to Telnyx.")
        except telnyx.APIStatusError as exc:
            code, words = first_error(exc.body)
            return CheckResult("down", f"Telnyx answered {exc.status_code} {code}: {words}".strip())
        except Exception as exc:
            return CheckResult("down", f"Telnyx's answer could not be read ({type(exc).__name__}).")
        return CheckResult("up", "Telnyx answered an authenticated balance request.")

    def verify(self, request: WebhookRequest) -> bool:
        """Telnyx signs `"{telnyx-timestamp}|{raw body}"` with ed25519."""
        signature = request.headers.get(SIGNATURE_HEADER)
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp or not is_fresh(timestamp, request.now):
            return False
        signed = timestamp.encode() + b"|" + request.body
        try:
            key = VerifyKey(base64.b64decode(self.settings.get("publicKey") or "", validate=True))
            key.verify(signed, base64.b64decode(signature, validate=True))
        except (binascii.Error, ValueError, TypeError, CryptoError):
            return False  # a forged signature, or a malformed key or signature
        return True

    def parse_status(self, request: WebhookRequest) -> list[Receipt]:
        event = webhook_event(request.body)
        payload = event.get("payload")
        if event.get("event_type") not in STATUS_EVENTS or not isinstance(payload, dict):
            return []
        if not payload.get("id"):
            return []
        return [receipt(payload)]

    def parse_inbound(self, request: WebhookRequest) -> list[Inbound]:
        event = webhook_event(request.body)
        payload = event.get("payload")
        if event.get("event_type") != INBOUND_EVENT or not isinstance(payload, dict):
            return []
        sender = (payload.get("from") or {}).get("phone_number")
        to = first_recipient(payload).get("phone_number")
        if not (payload.get("id") and sender and to):
            return []
        received_at = parse_time(payload.get("received_at") or event.get("occurred_at"))
        body = payload.get("text") or ""
        return [Inbound(str(payload["id"]), sender, to, body, received_at)]

    def inbound_answer(self) -> tuple[bytes, str]:
        # Telnyx only wants a 2xx; it never sends a reply of its own.
        return b"{}", "application/json"

    def _client(self) -> telnyx.Telnyx:
        base_url = (self.settings.get("baseUrl") or "https://api.telnyx.com").rstrip("/")
        return telnyx.Telnyx(
            api_key=self.secrets.get("apiKey") or "",
            base_url=f"{base_url}/v2",
            timeout=TIMEOUT_SECONDS,
            max_retries=0,  # a retry here would bypass the sender's pacing
        )

    def _message(self, outbound: Outbound) -> dict:
        message = {"from_": outbound.sender, "to": outbound.to, "text": outbound.body}
        if outbound.media_urls:
            message["media_urls"] = list(outbound.media_urls)
        if outbound.status_url:
            message["webhook_url"] = outbound.status_url
        if self.settings.get("messagingProfileId"):
            message["messaging_profile_id"] = self.settings["messagingProfileId"]
        # A message handed over again after a lost answer is then sent only once.
        if IDEMPOTENCY_KEY.match(outbound.tracking_id):
            message["idempotency_key"] = outbound.tracking_id
        return message


def error_outcome(exc: telnyx.APIStatusError) -> Throttled | Refused:
    code, words = first_error(exc.body)
    if exc.status_code == 429 or exc.status_code >= 500:
        reason = f"Telnyx answered {exc.status_code}" + (f": {words}" if words else ".")
        return Throttled(
            reason, retry_after=retry_after_seconds(exc.response.headers.get("retry-after"))
        )
    if exc.status_code in (401, 403):  # the connection's fault, not the message's: it waits
        return Unavailable(f"Telnyx refused the credentials ({exc.status_code} {code}).")
    return Refused(
        code=code or str(exc.status_code),
        reason=words or f"Telnyx answered {exc.status_code}.",
        recipient_stopped=code == RECIPIENT_STOPPED_CODE,
    )


def first_error(body) -> tuple[str, str]:
    """The code and words of the first entry of Telnyx's `errors` list, or of the list
    itself (a webhook's `payload.errors`)."""
    errors = body.get("errors") if isinstance(body, dict) else body
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return "", ""
    error = errors[0]
    words = ": ".join(str(error[k]) for k in ("title", "detail") if error.get(k))
    return str(error.get("code") or ""), words


def is_fresh(timestamp: str, now: datetime) -> bool:
    # Both ways, as Telnyx's own SDKs do: a timestamp far in the future is no better.
    try:
        return abs(now.timestamp() - int(timestamp)) <= SIGNATURE_MAX_AGE_SECONDS
    except ValueError:
        return False


def webhook_event(body: bytes) -> dict:
    """The `data` object of a Telnyx webhook, or {} when the body is not one."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return {}
    data = document.get("data") if isinstance(document, dict) else None
    return data if isinstance(data, dict) else {}


def first_recipient(payload: dict) -> dict:
    recipients = payload.get("to")
    if isinstance(recipients, list) and recipients and isinstance(recipients[0], dict):
        return recipients[0]
    return {}


def receipt(payload: dict) -> Receipt:
    word = str(first_recipient(payload).get("status") or "")
    errors = payload.get("errors") if isinstance(payload.get("errors"), list) else []
    code, words = first_error(errors)
    stopped = any(
        isinstance(e, dict) and str(e.get("code")) == RECIPIENT_STOPPED_CODE for e in errors
    )
    return Receipt(
        provider_id=str(payload["id"]),
        status=STATUS.get(word),  # a word we do not know changes nothing either
        detailed_status=words or word,
        error_code=code,
        recipient_stopped=stopped,
    )


def parse_time(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
