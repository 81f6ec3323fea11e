"""A real HTTP server on 127.0.0.1, in a thread, that records what is posted to it.

The notification tests point the account's URLs at it, so requests go over a real
socket and the signatures are checked on the bytes that arrived.
"""

import json
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)

    def verified(self, secret: str):
        """The payload, once its Standard Webhooks signature is checked with `secret`."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    """Answers the n-th request with the n-th of `statuses` (the last one repeats),
    after `delay` seconds."""

    def __init__(self):
        self.requests: list[Received] = []
        self.statuses = [200]
        self.delay = 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hooks"

    def answer(self, *statuses: int, delay: float = 0.0) -> None:
        self.statuses, self.delay = list(statuses), delay

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.requests)

    def _record(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            return self.statuses[min(len(self.requests), len(self.statuses)) - 1]

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = receiver._record(Received(self.path, dict(self.headers.items()), body))
            time.sleep(receiver.delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):
            pass  # quiet test output

    return Handler


@contextmanager
def running_receiver():
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"
