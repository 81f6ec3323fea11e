"""A local Twilio REST API (2010-04-01) for the adapter's tests, on 127.0.0.1 in a thread.

It answers the two calls the adapter makes as Twilio documents them — the Message
resource (POST /2010-04-01/Accounts/{AccountSid}/Messages.json → 201 and the message's
JSON, status `queued`) and the Account resource (GET /2010-04-01/Accounts/{sid}.json)
— with HTTP basic auth AccountSid:AuthToken (401, error 20003, when it is wrong), and
Twilio's error body `{"code", "message", "more_info", "status"}` for every error: 21604 /
21603 / 21602 for a missing To / From / Body-or-MediaUrl, 20404 for an unknown resource.
It records every request, and can be told to answer the next calls with a given error
(`fail_next`) or to hang past the client's timeout (`hang_next`).
"""

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token"
API_VERSION = "2010-04-01"


def twilio_error(code: int, message: str, status: int) -> dict:
    """An error body as the 2010-04-01 API returns it."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]  # the form-encoded body, every value of every name

    def value(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme != "Basic":
            return None
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        return user, password


@dataclass
class Answer:
    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)


class FakeTwilio:
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.requests: list[RecordedRequest] = []
        self.messages: list[dict] = []  # the Message resources it created
        self.account_status = "active"
        self._planned: list[Answer] = []
        self._hangs: list[float] = []
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def fail_next(
        self, status: int, body: dict | None = None, count: int = 1, headers: dict | None = None
    ) -> None:
        """Answer the next `count` calls with `status` and `body` (Twilio's error body)."""
        body = body if body is not None else twilio_error(status, f"HTTP {status}", status)
        with self._lock:
            self._planned.extend(Answer(status, body, dict(headers or {})) for _ in range(count))

    def hang_next(self, seconds: float) -> None:
        """Hold the next call `seconds` before answering it (sooner when the fake stops)."""
        with self._lock:
            self._hangs.append(seconds)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def handle(self, request: RecordedRequest) -> Answer:
        with self._lock:
            self.requests.append(request)
            hang = self._hangs.pop(0) if self._hangs else 0.0
            planned = self._planned.pop(0) if self._planned else None
        if hang:
            self._released.wait(hang)
        return planned or self._route(request)

    def _route(self, request: RecordedRequest) -> Answer:
        if request.basic_auth != (self.account_sid, self.auth_token):
            return Answer(401, twilio_error(20003, "Authenticate", 401))
        prefix = f"/{API_VERSION}/Accounts/{self.account_sid}"
        if request.method == "POST" and request.path == f"{prefix}/Messages.json":
            return self._create_message(request)
        if request.method == "GET" and request.path == f"{prefix}.json":
            return Answer(200, self._account())
        message = f"The requested resource {request.path} was not found"
        return Answer(404, twilio_error(20404, message, 404))

    def _create_message(self, request: RecordedRequest) -> Answer:
        missing = self._missing_parameter(request)
        if missing:
            return Answer(400, missing)
        message = self._message(request)
        with self._lock:
            self.messages.append(message)
        return Answer(201, message)

    @staticmethod
    def _missing_parameter(request: RecordedRequest) -> dict | None:
        if not request.value("To"):
            return twilio_error(21604, "A 'To' phone number is required.", 400)
        if not request.value("From"):
            return twilio_error(21603, "A 'From' phone number is required.", 400)
        if not request.value("Body") and not request.value("MediaUrl"):
            return twilio_error(21602, "Message body is required.", 400)
        return None

    def _message(self, request: RecordedRequest) -> dict:
        media = request.form.get("MediaUrl", [])
        sid = ("MM" if media else "SM") + uuid.uuid4().hex
        now = format_datetime(datetime.now(UTC))
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": request.value("Body") or "",
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": request.value("From"),
            "messaging_service_sid": None,
            "num_media": str(len(media)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": request.value("To"),
            "uri": f"{uri}.json",
        }

    def _account(self) -> dict:
        created = format_datetime(datetime(2020, 1, 1, tzinfo=UTC))
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}"
        return {
            "auth_token": self.auth_token,  # the real API returns it too
            "date_created": created,
            "date_updated": created,
            "friendly_name": "Fake account",
            "owner_account_sid": self.account_sid,
            "sid": self.account_sid,
            "status": self.account_status,
            "subresource_uris": {"messages": f"{uri}/Messages.json"},
            "type": "Full",
            "uri": f"{uri}.json",
        }


def _handler_for(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self._answer()

        def do_POST(self):
            self._answer()

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path = urlsplit(self.path).path
            request = RecordedRequest(self.command, path, dict(self.headers), parse_qs(body))
            answer = fake.handle(request)
            payload = json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a hang past its timeout)

        def log_message(self, format, *args):
            pass

    return Handler


@contextmanager
def running_fake_twilio(
    account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN
) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(account_sid, auth_token)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
