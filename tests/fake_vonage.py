"""A local stand-in for Vonage's SMS API and balance endpoint, as Vonage documents them.

`POST /sms/json` (form-encoded) answers HTTP 200 with `message-count` and one `messages[]`
entry per part — `status` "0" and a `message-id` each, or a non-zero `status` and its
`error-text` (2 for a missing parameter, 4 for bad credentials) — as in Vonage's SMS API
reference and its "Troubleshooting SMS" guide. `GET /account/get-balance` answers
`{"value", "autoReload"}`, or 401 `{"error-code": "401", "error-code-label": "authentication
failed"}` (Account API reference). The parts are counted the way a handset would, roughly:
160 characters in one GSM-7 part, else 153 per part; 70 UTF-16 units in one UCS-2 part,
else 67 per part.

Every request is recorded; the next calls can be made to fail (`fail_next`), to be refused
with an SMS API status (`refuse_next`) or to hang past the client's timeout (`hang_next`).
`signed_params` signs webhook parameters the way Vonage's signing guide describes.
"""

import hashlib
import hmac
import itertools
import json
import math
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_KEY = "abcd1234"
API_SECRET = "Abcdef0123456789"

# The error texts of the SMS API's documented status codes.
ERROR_TEXTS = {
    "1": "Throughput Rate Exceeded - please wait [ 1000 ] and retry",
    "2": "Missing to param",
    "3": "Invalid to param",
    "4": "Bad Credentials",
    "5": "Internal Error",
    "6": "Invalid Message",
    "7": "Number Barred",
    "8": "Partner Account Barred",
    "9": "Partner Quota Exceeded",
    "10": "Too Many Existing Binds",
    "15": "Illegal Sender Address - rejected",
    "29": "Non White-listed Destination - rejected",
}
REQUIRED_SMS_PARAMS = ("api_key", "from", "to", "text")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: dict[str, str]  # the form (or JSON) body, parsed


@dataclass(frozen=True)
class CannedAnswer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeVonage:
    base_url: str = ""
    api_key: str = API_KEY
    api_secret: str = API_SECRET
    balance: float = 10.28
    requests: list[RecordedRequest] = field(default_factory=list)
    _canned: deque = field(default_factory=deque)
    _hangs: deque = field(default_factory=deque)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(0x0A000000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(
        self, status: int, body: dict | str | bytes = b"", count: int = 1, headers=None
    ) -> None:
        """Answer the next `count` calls with this HTTP status, body and headers."""
        answer = CannedAnswer(status, _encode(body), dict(headers or {}))
        with self._lock:
            self._canned.extend([answer] * count)

    def refuse_next(self, sms_status: str, error_text: str = "", count: int = 1) -> None:
        """Answer the next `count` sends with HTTP 200 and this SMS API `status`."""
        message = {"status": sms_status, "error-text": error_text or ERROR_TEXTS[sms_status]}
        self.fail_next(200, {"message-count": "1", "messages": [message]}, count)

    def hang_next(self, seconds: float) -> None:
        """Hold the next call this long before answering it."""
        with self._lock:
            self._hangs.append(seconds)

    def next_id(self) -> str:
        with self._lock:
            return f"{next(self._ids):016X}"

    def take_canned(self) -> CannedAnswer | None:
        with self._lock:
            return self._canned.popleft() if self._canned else None

    def take_hang(self) -> float:
        with self._lock:
            return self._hangs.popleft() if self._hangs else 0.0

    def hang(self, seconds: float) -> None:
        self._stopping.wait(seconds)  # a stopping server lets its hung calls go at once

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def answer_sms(self, form: dict[str, str]) -> CannedAnswer:
        missing = next((name for name in REQUIRED_SMS_PARAMS if not form.get(name)), None)
        if missing:
            return _sms_error("2", f"Missing {missing} param")
        if (form.get("api_key"), form.get("api_secret")) != (self.api_key, self.api_secret):
            return _sms_error("4", ERROR_TEXTS["4"])
        parts = part_count(form["text"], unicode=form.get("type") == "unicode")
        messages = [self._accepted(form["to"]) for _ in range(parts)]
        return _json(200, {"message-count": str(parts), "messages": messages})

    def answer_balance(self, query: dict[str, str]) -> CannedAnswer:
        if (query.get("api_key"), query.get("api_secret")) != (self.api_key, self.api_secret):
            return _json(401, {"error-code": "401", "error-code-label": "authentication failed"})
        return _json(200, {"value": self.balance, "autoReload": False})

    def _accepted(self, to: str) -> dict:
        return {
            "to": to,
            "message-id": self.next_id(),
            "status": "0",
            "remaining-balance": f"{self.balance:.8f}",
            "message-price": "0.03330000",
            "network": "23410",
        }


def part_count(text: str, *, unicode: bool) -> int:
    length = len(text.encode("utf-16-le")) // 2 if unicode else len(text)
    single, multi = (70, 67) if unicode else (160, 153)
    return 1 if length <= single else math.ceil(length / multi)


def _encode(body: dict | str | bytes) -> bytes:
    if isinstance(body, dict):
        return json.dumps(body).encode()
    return body.encode() if isinstance(body, str) else body


def _json(status: int, data: dict) -> CannedAnswer:
    return CannedAnswer(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


def _sms_error(status: str, text: str) -> CannedAnswer:
    return _json(200, {"message-count": "1", "messages": [{"status": status, "error-text": text}]})


def _parse_body(content_type: str, raw: bytes) -> dict[str, str]:
    if content_type.startswith("application/json"):
        return json.loads(raw or b"{}")
    return dict(parse_qsl(raw.decode(), keep_blank_values=True))


class _Handler(BaseHTTPRequestHandler):
    fake: FakeVonage  # set on the class made for each server

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def log_message(self, format, *args):
        pass  # keep test output quiet

    def _handle(self):
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        body = _parse_body(self.headers.get("Content-Type", ""), raw)
        self.fake.record(RecordedRequest(self.command, url.path, dict(self.headers), query, body))
        self.fake.hang(self.fake.take_hang())
        self._reply(self.fake.take_canned() or self._route(url.path, query, body))

    def _route(self, path: str, query: dict, body: dict) -> CannedAnswer:
        if self.command == "POST" and path == "/sms/json":
            return self.fake.answer_sms({**query, **body})
        if self.command == "GET" and path == "/account/get-balance":
            return self.fake.answer_balance(query)
        return _json(404, {"type": "https://developer.vonage.com/api-errors#not-found"})

    def _reply(self, answer: CannedAnswer):
        try:
            self.send_response(answer.status)
            for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a hang past its timeout)


@contextmanager
def running_fake_vonage(**options) -> Iterator[FakeVonage]:
    """A fake Vonage on 127.0.0.1 and a free port, for the length of the block."""
    fake = FakeVonage(**options)
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll keeps `shutdown` (which waits for the next poll) from slowing each test.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


def signed_params(params: dict, secret: str, timestamp: int, method: str = "md5hash") -> dict:
    """`params` with `timestamp` and the `sig` Vonage would put on them (its signing guide):
    every parameter sorted by key as `&key=value`, `&` and `=` in values replaced by `_`;
    `md5hash` is the MD5 of that string followed by the secret (lowercase hex, as Vonage's
    SDKs give it), the HMAC methods are keyed by the secret (uppercase hex, as Vonage's own
    example webhook has it)."""
    signed = {**{key: str(value) for key, value in params.items()}, "timestamp": str(timestamp)}
    text = "".join(
        "&{}={}".format(key, signed[key].replace("&", "_").replace("=", "_"))
        for key in sorted(signed)
    ).encode()
    if method == "md5hash":
        sig = hashlib.md5(text + secret.encode()).hexdigest()
    else:
        sig = hmac.new(secret.encode(), text, getattr(hashlib, method)).hexdigest().upper()
    return {**signed, "sig": sig}
