"""The project under gunicorn, configured as in production, on a free local port.

One server serves both the send endpoint and the bare one (`BENCHMARK_BARE_ENDPOINT`),
so they share the Django settings, the gunicorn settings and the workers.
"""

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

import redis
from django.conf import settings
from django.core.management import CommandError

from pools_project.settings import redis_neighbour

# The same for every run, bare or send.
GUNICORN_FLAGS = ("--workers=2", "--worker-class=sync", "--timeout=60", "--log-level=warning")
BARE_PATH = "/benchmark/bare"


def database_url(settings_dict: dict) -> str:
    """A URL of the database this process uses (the test database, under pytest)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD")
    auth = f"{user}:{quote(password, safe='')}@" if password else f"{user}@" if user else ""
    host = quote(settings_dict.get("HOST") or "", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def server_env(*, database: str, broker_url: str) -> dict[str, str]:
    """Production settings (DEBUG off), less what a benchmark on loopback cannot have:
    HTTPS (no TLS proxy in front) and the rate limit (it would answer 429s)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "CACHE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="pools_project.settings",
        DATABASE_URL=database,
        DEBUG="false",
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(40),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        API_RATE_LIMIT="off",
        BENCHMARK_BARE_ENDPOINT="true",
        LOG_LEVEL="WARNING",
    )
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn(env: dict[str, str]) -> Iterator[str]:
    """Serve until the block ends; yields the base URL."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", *GUNICORN_FLAGS, f"--bind=127.0.0.1:{port}"]
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [*argv, "pools_project.wsgi"], env=env, cwd=settings.BASE_DIR, stdout=log, stderr=log
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, process, log)
            yield url
        finally:
            # Quick shutdown: the runs are over, there is no request to let finish.
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(url: str, process: subprocess.Popen, log, timeout: float = 120) -> None:
    deadline, answer = time.monotonic() + timeout, "nothing"
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError):
            status, body = post(url + BARE_PATH, {})
            if status == 200:
                return
            answer = f"{status} {body[:300]!r}"
        time.sleep(0.2)
    log.seek(0)
    raise CommandError(
        f"gunicorn on {url} is not ready (exit code {process.poll()}, last answer {answer}):\n"
        + log.read()[-3000:]
    )


def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, bytes]:
    """One request, outside the measurement: readiness, and a send that must succeed."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def broker_reachable(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return False
    return True


@contextlib.contextmanager
def broker_flushed(url: str) -> Iterator[None]:
    """No worker takes the tasks the sends leave in the broker: they go, with the cache's
    keys (the Redis database after the broker's, as the settings derive it), before and
    after the runs."""
    if not url:
        yield
        return
    _flush(url)
    try:
        yield
    finally:
        _flush(url)


def _flush(url: str) -> None:
    for database in (url, redis_neighbour(url)):
        redis.Redis.from_url(database, socket_connect_timeout=2).flushdb()
