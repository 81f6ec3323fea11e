"""The production shape (SPEC §9): a real `celery worker` on Redis does the background work.

The test process sends through the API and only enqueues; a worker subprocess, on the
test database, dispatches the message through the simulator and posts every status to
a local receiver, signed. Needs PostgreSQL (the worker needs its own connection to the
test database) and Redis at 127.0.0.1:6379.
"""

import os
import subprocess
import sys
import time
from urllib.parse import quote

import kombu.pools
import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from messaging.models import Message, Notification
from pools_project import celery_app
from tests.scenarios import NEW_YORK, pool_with
from tests.webhook_receiver import running_receiver
from virtual_numbers.models import Number

REDIS_DB = 11  # a database of its own, flushed before and after
BROKER_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
TIMEOUT = 60
# A notification whose task died with a worker, never attempted, is the retry sweep's
# once a minute old (`notifications_due`), and the sweep runs every 30 seconds.
RECOVERY_TIMEOUT = 60 + 30 + TIMEOUT


def redis_test_db() -> redis.Redis:
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("needs Redis at 127.0.0.1:6379 for a real Celery worker (see .ci/run)")
    return client


def worker_database_url() -> str:
    """The database pytest-django created, as the worker's DATABASE_URL."""
    db = connection.settings_dict
    user = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def reset_broker_connections() -> None:
    """Celery keeps the producers' connections it opened on the broker of the moment;
    after a change of broker they must be opened again (as after a fork)."""
    if celery_app._pool is not None:
        celery_app.pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu.pools.reset()  # kombu keeps producer pools per broker URL, closed ones too


@pytest.fixture
def broker(settings):
    """This process enqueues to the test broker instead of running tasks in-process."""
    client = redis_test_db()
    client.flushdb()
    saved = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    settings.CELERY_BROKER_URL = BROKER_URL
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = BROKER_URL, False
    reset_broker_connections()  # eager runs opened them on the embedded default
    try:
        yield
    finally:
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
        reset_broker_connections()
        client.flushdb()
        client.close()


def start_worker(log, *extra: str, **env: str) -> subprocess.Popen:
    """`celery -A pools_project worker` on the test broker and the test database."""
    env = {
        **os.environ,
        "CELERY_BROKER_URL": BROKER_URL,
        "DATABASE_URL": worker_database_url(),
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "DJANGO_SETTINGS_MODULE": "pools_project.settings",
        **env,
    }
    command = [
        *[sys.executable, "-m", "celery", "-A", "pools_project", "worker"],
        *["--pool=solo", "-l", "info", "-n", f"pytest-{os.getpid()}-{log.stem}@%h"],
        *["--without-gossip", "--without-mingle", "--without-heartbeat", *extra],
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=django_settings.BASE_DIR, env=env, stdout=output, stderr=output
        )
    wait_until(lambda: b" ready." in log.read_bytes(), process, log, "the worker to start")
    return process


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()  # a warm shutdown: the task at hand finishes first
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def worker(broker, tmp_path):
    log = tmp_path / "worker.log"
    process = start_worker(log)
    try:
        yield process, log
    finally:
        stop_worker(process)


def wait_until(condition, process, log, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the worker exited ({process.returncode}):\n{log.read_text()[-5000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-5000:]}")
        time.sleep(0.2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_on_redis_delivers_the_message_and_posts_every_status_signed(
    api, account, worker, settings
):
    process, log = worker
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    pool = pool_with(account, [NEW_YORK])

    with running_receiver() as receiver:
        response = api.post(
            f"/pools/my/{pool.pk}/sms",
            {
                "to": "+12125550100",
                "body": "Hello from the worker",
                "callback": {"url": receiver.url, "strategy": "OnChange"},
            },
            format="json",
        )
        assert response.status_code == 200, response.json()
        tracking_id = response.json()["trackingId"]

        def done() -> bool:
            status = Message.objects.filter(pk=tracking_id).values_list("status", flat=True)
            return list(status) == ["Delivered"] and len(receiver.requests) >= 3

        wait_until(done, process, log, "Delivered and three callbacks")
        time.sleep(0.5)  # a duplicate, if there were one, would arrive now
        requests = list(receiver.requests)

    posted = [request.verified(account.webhook_secret) for request in requests]
    assert sorted(body["status"] for body in posted) == ["Delivered", "Queued", "Sent"]
    assert {body["trackingId"] for body in posted} == {tracking_id}
    assert max(posted, key=lambda body: len(body["statusHistory"])) == (
        api.get(f"/sms/my/{tracking_id}").json()
    )
    assert b"messaging.tasks.dispatch_message" in log.read_bytes()  # the worker did the work


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_no_message_and_no_notification(
    api, account, broker, tmp_path, settings
):
    """SIGKILL in the middle of a paced batch: what the dead worker held (its claims, the
    tasks it had prefetched) is taken again after the lease by the sweep of another
    worker's beat; every message ends Delivered, handed over once, and every status is
    notified — a notification posted twice only with the same webhook-id."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    pool = pool_with(account, [NEW_YORK])
    Number.objects.update(parts_per_second=10)  # 30 messages: three seconds of sending
    lease = {"DISPATCH_LEASE_SECONDS": "3", "WEBHOOK_TIMEOUT_SECONDS": "2"}
    with running_receiver() as receiver:
        callback = {"url": receiver.url, "strategy": "OnChange"}
        first_log = tmp_path / "first.log"
        first = start_worker(first_log, **lease)
        try:
            tracking_ids = [send_batch_message(api, pool, i, callback) for i in range(30)]
            wait_until(
                lambda: Message.objects.filter(status="Delivered").count() >= 5,
                first,
                first_log,
                "the batch to be under way",
            )
        finally:
            first.kill()  # SIGKILL: no warm shutdown, nothing acknowledged
            first.wait(timeout=10)
        assert Message.objects.filter(status="Delivered").count() < 30, "killed too late"

        second_log = tmp_path / "second.log"
        second = start_worker(second_log, "-B", "-s", str(tmp_path / "beat"), **lease)
        try:
            wait_until(
                lambda: (
                    Message.objects.filter(status="Delivered").count() == 30
                    and not Notification.objects.exclude(state="delivered").exists()
                ),
                second,
                second_log,
                "every message Delivered and every notification posted",
                timeout=RECOVERY_TIMEOUT,
            )
        finally:
            stop_worker(second)
        requests = list(receiver.requests)

    for tracking_id in tracking_ids:
        message = Message.objects.get(pk=tracking_id)
        history = list(message.status_events.values_list("status", flat=True))
        assert history == ["Queued", "Sent", "Delivered"]
        assert message.parts.count() == 1  # handed over once
    posted: dict[tuple[str, str], set[str]] = {}
    for request in requests:
        body = request.verified(account.webhook_secret)
        posted.setdefault((body["trackingId"], body["status"]), set()).add(
            request.headers["webhook-id"]
        )
    statuses = ("Queued", "Sent", "Delivered")
    assert set(posted) == {(t, status) for t in tracking_ids for status in statuses}
    assert all(len(ids) == 1 for ids in posted.values())  # a copy carries the same id


def send_batch_message(api, pool, i: int, callback: dict) -> str:
    response = api.post(
        f"/pools/my/{pool.pk}/sms",
        {"to": f"+121255501{i:02d}", "body": f"Batch {i}", "callback": callback},
        format="json",
    )
    assert response.status_code == 200, response.json()
    return response.json()["trackingId"]
