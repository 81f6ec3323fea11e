"""A local stand-in for the Telnyx API v2, for tests of the Telnyx adapter.

It answers the calls the adapter makes as Telnyx documents them — `POST /v2/messages`
(200 with the message record under `data`), `GET /v2/balance` (200 with the balance
record) — with Telnyx's error shape (`{"errors": [{"code", "title", "detail", ...}]}`,
codes as strings) for a missing or wrong API key (401, 10009), a missing parameter
(422, 10004 — Telnyx's answer to a send without `to`) and an unknown path (404, 10005).
Every request is recorded; the next calls can be told to fail or to hang.

    with running_fake_telnyx() as fake:
        gateway = TelnyxGateway(settings={"baseUrl": fake.base_url, ...},
                                secrets={"apiKey": fake.api_key})
        fake.fail_next(429, telnyx_error("10011", "Too many requests"), headers={...})

`signed_webhook` signs a webhook body the way Telnyx does (ed25519 over
`"{timestamp}|{body}"`), and `status_event` / `inbound_event` build the payloads of
`message.sent` / `message.finalized` and `message.received`.
"""

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from nacl.signing import SigningKey

API_KEY = "KEY01TESTTESTTESTTEST"
ERRORS_URL = "https://developers.telnyx.com/docs/overview/errors/"


def telnyx_error(code: str, title: str, detail: str = "", pointer: str = "") -> dict:
    """An error body as Telnyx answers it."""
    error = {"code": code, "title": title, "meta": {"url": f"{ERRORS_URL}{code}"}}
    if detail:
        error["detail"] = detail
    if pointer:
        error["source"] = {"pointer": pointer}
    return {"errors": [error]}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict
    headers: dict  # names lower-cased
    body: object  # the parsed JSON, or None


@dataclass
class Failure:
    status: int
    body: dict
    headers: dict


@dataclass
class FakeTelnyx:
    base_url: str = ""
    api_key: str = API_KEY
    requests: list[RecordedRequest] = field(default_factory=list)
    _scripted: list = field(default_factory=list)  # Failure, or seconds to hang
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int, body: dict, count: int = 1, headers: dict | None = None):
        """Answer the next `count` calls with `status` and `body` (and `headers`)."""
        with self._lock:
            self._scripted.extend([Failure(status, body, dict(headers or {}))] * count)

    def hang_next(self, seconds: float):
        """Hold the next call `seconds` before answering it normally."""
        with self._lock:
            self._scripted.append(float(seconds))

    def next_script(self):
        with self._lock:
            return self._scripted.pop(0) if self._scripted else None

    @property
    def sent(self) -> list[dict]:
        """The bodies of the messages posted so far."""
        return [r.body for r in self.requests if (r.method, r.path) == ("POST", "/v2/messages")]


def message_record(body: dict) -> dict:
    """The outbound message record Telnyx answers a send with (`data`)."""
    now = datetime.now(UTC).isoformat()
    media = [
        {"url": url, "content_type": None, "sha256": None, "size": None}
        for url in body.get("media_urls") or []
    ]
    return {
        "record_type": "message",
        "direction": "outbound",
        "id": str(uuid.uuid4()),
        "type": "MMS" if media else "SMS",
        "messaging_profile_id": body.get("messaging_profile_id"),
        "organization_id": "b448f9cc-a842-4784-98e9-03c1a5872950",
        "from": {"phone_number": body.get("from"), "carrier": "TELNYX LLC", "line_type": "VoIP"},
        "to": [{"phone_number": body["to"], "status": "queued", "carrier": "", "line_type": ""}],
        "cc": [],
        "text": body.get("text"),
        "subject": body.get("subject"),
        "media": media,
        "webhook_url": body.get("webhook_url"),
        "webhook_failover_url": body.get("webhook_failover_url"),
        "encoding": "GSM-7",
        "parts": 1,
        "tags": [],
        "cost": None,
        "received_at": now,
        "sent_at": None,
        "completed_at": None,
        "valid_until": None,
        "errors": [],
    }


BALANCE = {
    "record_type": "balance",
    "balance": "300.00",
    "credit_limit": "100.00",
    "available_credit": "400.00",
    "currency": "USD",
    "pending": "10.00",
}


class Handler(BaseHTTPRequestHandler):
    fake: FakeTelnyx  # set on the subclass made for each server

    def do_GET(self):
        self.handle_call()

    def do_POST(self):
        self.handle_call()

    def handle_call(self):
        url = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=url.path,
            query={k: v[0] for k, v in parse_qs(url.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.read_json(),
        )
        self.fake.requests.append(request)
        script = self.fake.next_script()
        if isinstance(script, float):
            time.sleep(script)
        if isinstance(script, Failure):
            status, body, headers = script.status, script.body, script.headers
        else:
            status, body, headers = *self.answer(request), {}
        self.write(status, body, headers)

    def answer(self, request: RecordedRequest) -> tuple[int, dict]:
        if request.headers.get("authorization") != f"Bearer {self.fake.api_key}":
            detail = "The API key looks malformed. Check that you copied it correctly."
            return 401, telnyx_error("10009", "Authentication failed", detail)
        if (request.method, request.path) == ("POST", "/v2/messages"):
            return self.send_message(request.body)
        if (request.method, request.path) == ("GET", "/v2/balance"):
            return 200, {"data": BALANCE}
        return 404, telnyx_error("10005", "Resource not found")

    def send_message(self, body) -> tuple[int, dict]:
        if not isinstance(body, dict) or not body.get("to"):
            return 422, telnyx_error("10004", "Missing required parameter", pointer="/to")
        if not body.get("text") and not body.get("media_urls"):
            return 422, telnyx_error("10004", "Missing required parameter", pointer="/text")
        return 200, {"data": message_record(body)}

    def read_json(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def write(self, status: int, body: dict, headers: dict):
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, str(value))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a hang past its timeout)

    def log_message(self, format, *args):
        pass  # keep test output clean


@contextmanager
def running_fake_telnyx() -> Iterator[FakeTelnyx]:
    fake = FakeTelnyx()
    handler = type("FakeTelnyxHandler", (Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.block_on_close = False  # a hanging handler must not hold the test up
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def public_key_of(private_key: SigningKey) -> str:
    """The base64 public key, as Telnyx's portal shows it (the `publicKey` setting)."""
    return base64.b64encode(bytes(private_key.verify_key)).decode()


def signed_webhook(private_key: SigningKey, payload: dict, timestamp: int) -> tuple[bytes, dict]:
    """A webhook body and its headers, signed as Telnyx signs them: ed25519 over
    `"{timestamp}|{body}"`, the signature base64 in `Telnyx-Signature-Ed25519`."""
    body = json.dumps(payload).encode()
    signature = private_key.sign(f"{timestamp}|".encode() + body).signature
    headers = {
        "Content-Type": "application/json",
        "Telnyx-Signature-Ed25519": base64.b64encode(signature).decode(),
        "Telnyx-Timestamp": str(timestamp),
    }
    return body, headers


def event(event_type: str, payload: dict) -> dict:
    return {
        "data": {
            "event_type": event_type,
            "id": str(uuid.uuid4()),
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": payload,
            "record_type": "event",
        },
        "meta": {"attempt": 1, "delivered_to": "https://example.com/webhooks"},
    }


def status_event(
    message_id: str,
    status: str,
    *,
    to: str = "+18665550001",
    sender: str = "+18445550001",
    errors: list[dict] = (),
    event_type: str = "",
) -> dict:
    """A delivery report: `message.sent` for queued/sending/sent, else `message.finalized`."""
    event_type = event_type or (
        "message.sent" if status in {"queued", "sending", "sent"} else "message.finalized"
    )
    payload = {
        "record_type": "message",
        "direction": "outbound",
        "id": message_id,
        "type": "SMS",
        "from": {"phone_number": sender, "carrier": "TELNYX LLC", "line_type": "VoIP"},
        "to": [
            {
                "phone_number": to,
                "status": status,
                "carrier": "T-MOBILE USA, INC.",
                "line_type": "Wireless",
            }
        ],
        "text": "Hello",
        "media": [],
        "errors": list(errors),
        "completed_at": None,
    }
    return event(event_type, payload)


def inbound_event(
    text: str,
    *,
    sender: str = "+18665550001",
    to: str = "+18445550001",
    message_id: str = "",
    received_at: str = "2019-01-23T18:10:02.574Z",
) -> dict:
    """A `message.received` webhook, as Telnyx posts an inbound SMS."""
    payload = {
        "record_type": "message",
        "direction": "inbound",
        "id": message_id or str(uuid.uuid4()),
        "type": "SMS",
        "messaging_profile_id": "0f512bda-ae1e-4597-8e11-e5f5686b97d3",
        "from": {"phone_number": sender, "carrier": "T-MOBILE USA, INC.", "line_type": "Wireless"},
        "to": [
            {
                "phone_number": to,
                "status": "webhook_delivered",
                "carrier": "TELNYX LLC",
                "line_type": "VoIP",
            }
        ],
        "cc": [],
        "text": text,
        "media": [],
        "encoding": "GSM-7",
        "parts": 1,
        "received_at": received_at,
        "errors": [],
    }
    return event("message.received", payload)
