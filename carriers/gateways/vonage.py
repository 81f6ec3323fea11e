"""Vonage's SMS API (SPEC §11): sending, the balance check, and its webhooks.

A message leaves as one `POST {baseUrl}/sms/json` (form-encoded, `api_key`/`api_secret` in
the body); Vonage cuts a long text into parts itself and answers one `messages[]` entry per
part, whose ids we keep in order. Delivery receipts and inbound messages arrive as GET
query, POST form or POST JSON — whichever the account chose in Vonage's dashboard — and
are verified with Vonage's signed-webhook `sig` before anything reads them.

It calls the documented REST API with `requests`, not the `vonage` SDK (4.x): the SDK
builds every URL as `https://{host}{path}`, so it cannot reach the connection's `baseUrl`
when that is a local `http://` server (tests), its timeout is whole seconds only, and its
signature check (`Auth.check_signature`) cannot do Vonage's default method, `md5hash`.
The signature is therefore computed here, as Vonage's signing guide describes it.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime

import requests

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

TIMEOUT = 10  # seconds, for every call to Vonage
SIGNATURE_MAX_AGE = 300  # seconds a signed webhook's `timestamp` may be off from now

# SMS API `status` codes that mean "slow down and try again", not "this message fails":
# 1 Throttled; 5 Internal Error (Vonage's own fault, as a 5xx would be); 10 Too Many
# Existing Binds ("back-off and retry", says Vonage).
RETRY_LATER = {"1", "5", "10"}
# 7 Number Barred: "the number you are trying to send messages to is blacklisted".
RECIPIENT_BARRED = {"7"}
# A DLR `err-code` 9 on a failed/rejected message: "the user has requested not to receive
# messages from the sending number" (Vonage, "Messaging opted-out numbers").
OPTED_OUT_ERROR = "9"

# DLR `status` words → ours; `unknown` (and any word Vonage adds later) changes nothing.
DLR_STATUS = {
    "accepted": "Sent",
    "buffered": "Sent",
    "delivered": "Delivered",
    "expired": "Undelivered",
    "failed": "Undelivered",
    "rejected": "Undelivered",
    "unknown": None,
}

DEFAULT_SIGNATURE_METHOD = "md5hash"
HMAC_DIGESTS = {
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}


class VonageGateway(Gateway):
    def send(self, outbound: Outbound) -> Outcome:
        if outbound.media_urls:
            return Refused(
                code="MMS_NOT_SUPPORTED",
                reason="Vonage's SMS API carries text only; media needs its Messages API.",
            )
        try:
            response = requests.post(
                self._url("/sms/json"), data=self._sms_form(outbound), timeout=TIMEOUT
            )
        except requests.Timeout:
            return Unavailable(f"Vonage did not answer within {TIMEOUT} s.")
        except requests.RequestException as exc:
            # The exception's text is left out: it can carry the URL and its parameters.
            return Unavailable(f"Could not reach Vonage ({type(exc).__name__}).")
        return outcome_of(response)

    def check(self) -> CheckResult:
        try:
            response = requests.get(
                self._url("/account/get-balance"), params=self._credentials(), timeout=TIMEOUT
            )
        except requests.Timeout:
            return CheckResult("down", f"Vonage did not answer within {TIMEOUT} s.")
        except requests.RequestException as exc:
            return CheckResult("down", f"Could not reach Vonage ({type(exc).__name__}).")
        return check_result_of(response)

    def verify(self, request: WebhookRequest) -> bool:
        """Whether the webhook carries a good `sig`, signed at most 300 s from now."""
        params = webhook_params(request)
        secret = self.secrets.get("signatureSecret") or ""
        method = self.settings.get("signatureMethod") or DEFAULT_SIGNATURE_METHOD
        if not secret or method not in {DEFAULT_SIGNATURE_METHOD, *HMAC_DIGESTS}:
            return False
        if not is_fresh(params.get("timestamp", ""), request.now):
            return False
        expected = signature(params, secret, method)
        return hmac.compare_digest(params.get("sig", "").lower(), expected.lower())

    def parse_status(self, request: WebhookRequest) -> list[Receipt]:
        params = webhook_params(request)
        if not params.get("messageId") or not params.get("status"):
            return []
        return [receipt_of(params)]

    def parse_inbound(self, request: WebhookRequest) -> list[Inbound]:
        params = webhook_params(request)
        if not all(params.get(name) for name in ("messageId", "msisdn", "to")):
            return []
        if "text" not in params or is_partial(params):
            return []
        return [inbound_of(params)]

    def inbound_answer(self) -> tuple[bytes, str]:
        # Vonage wants a 2xx and nothing else; it sends no reply of its own.
        return b"", "text/plain"

    def _url(self, path: str) -> str:
        return self.settings["baseUrl"].rstrip("/") + path

    def _credentials(self) -> dict:
        return {"api_key": self.settings["apiKey"], "api_secret": self.secrets["apiSecret"]}

    def _sms_form(self, outbound: Outbound) -> dict:
        form = {
            **self._credentials(),
            "from": outbound.sender.removeprefix("+"),
            "to": outbound.to.removeprefix("+"),
            "text": outbound.body,
            "type": "unicode" if outbound.unicode else "text",
            "status-report-req": "1",
        }
        if outbound.status_url:
            form["callback"] = outbound.status_url
        return form


def outcome_of(response: requests.Response) -> Outcome:
    """What Vonage's answer to `/sms/json` means for the message."""
    if response.status_code == 429 or response.status_code >= 500:
        return Throttled(
            f"Vonage answered HTTP {response.status_code}.",
            retry_after_seconds(response.headers.get("Retry-After")),
        )
    if response.status_code >= 400:
        return Refused(
            code=f"HTTP_{response.status_code}",
            reason=f"Vonage refused the request with HTTP {response.status_code}.",
        )
    parts = messages_of(response)
    if not parts:
        # A 200 we cannot read says nothing about the message: it waits, it is not failed.
        return Unavailable("Vonage's answer had no readable messages[].")
    refused = next((part for part in parts if str(part.get("status")) != "0"), None)
    if refused is None:
        return Accepted(provider_ids=tuple(str(part.get("message-id", "")) for part in parts))
    return part_outcome(refused, response)


def part_outcome(part: dict, response: requests.Response) -> Throttled | Refused:
    """The answer for the first part Vonage did not accept: it decides for the message."""
    code = str(part.get("status"))
    reason = str(part.get("error-text") or f"Vonage SMS API status {code}.")
    if code in RETRY_LATER:
        return Throttled(reason, retry_after_seconds(response.headers.get("Retry-After")))
    return Refused(code=code, reason=reason, recipient_stopped=code in RECIPIENT_BARRED)


def messages_of(response: requests.Response) -> list[dict]:
    try:
        messages = response.json().get("messages")
    except (ValueError, AttributeError):
        return []
    if not isinstance(messages, list):
        return []
    return [message for message in messages if isinstance(message, dict)]


def check_result_of(response: requests.Response) -> CheckResult:
    if response.status_code == 401:
        return CheckResult("down", "Vonage refused the API key and secret (HTTP 401).")
    if response.status_code != 200:
        return CheckResult("down", f"Vonage answered HTTP {response.status_code}.")
    try:
        balance = float(response.json()["value"])
    except (ValueError, KeyError, TypeError):
        return CheckResult("down", "Vonage's balance answer could not be read.")
    return CheckResult("up", f"Account balance {balance:.2f} EUR.")


def webhook_params(request: WebhookRequest) -> dict[str, str]:
    """The webhook's parameters, from the query or form, else from a JSON body."""
    if request.form:
        return {str(key): str(value) for key, value in request.form.items()}
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(key): "" if value is None else str(value) for key, value in data.items()}


def signature(params: dict[str, str], secret: str, method: str) -> str:
    """Vonage's `sig` over every parameter but `sig`: `&key=value` in key order, with `&`
    and `=` in values replaced by `_`; md5hash appends the secret, HMAC is keyed by it."""
    payload = "".join(
        f"&{key}={value.replace('&', '_').replace('=', '_')}"
        for key, value in sorted(params.items())
        if key != "sig"
    ).encode()
    if method == DEFAULT_SIGNATURE_METHOD:
        return hashlib.md5(payload + secret.encode()).hexdigest()
    return hmac.new(secret.encode(), payload, HMAC_DIGESTS[method]).hexdigest()


def is_fresh(timestamp: str, now: datetime) -> bool:
    """A replayed webhook is refused: its signed `timestamp` must be within 300 s of now."""
    try:
        signed_at = int(timestamp)
    except ValueError:
        return False
    return abs(now.timestamp() - signed_at) <= SIGNATURE_MAX_AGE


def receipt_of(params: dict[str, str]) -> Receipt:
    word = params["status"].lower()
    error = params.get("err-code", "")
    return Receipt(
        provider_id=params["messageId"],
        status=DLR_STATUS.get(word),
        detailed_status=word,
        error_code="" if error.strip("0") == "" else error,
        recipient_stopped=error == OPTED_OUT_ERROR and word in {"failed", "rejected"},
    )


def is_partial(params: dict[str, str]) -> bool:
    """One part of a concatenated message. Vonage posts each part on its own; putting them
    back together needs state across requests, which an adapter does not keep."""
    return params.get("concat") == "true" and params.get("concat-total", "1") != "1"


def inbound_of(params: dict[str, str]) -> Inbound:
    return Inbound(
        message_id=params["messageId"],
        sender=e164(params["msisdn"]),
        to=e164(params["to"]),
        body=params["text"],
        received_at=received_at(params.get("message-timestamp", "")),
    )


def e164(number: str) -> str:
    return "+" + number if number.isdigit() else number


def received_at(value: str) -> datetime | None:
    """`message-timestamp` is UTC, as `YYYY-MM-DD HH:MM:SS`."""
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
