"""The periodic jobs of CELERY_BEAT_SCHEDULE, one by one and through `run_schedules --once`."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from messaging.models import Message, Notification
from messaging.services.sending import message_send
from messaging.tasks import (
    deliver_due_notifications,
    expire_queued_messages,
    recompute_all_number_health,
)
from pools.models import StickyMapping
from pools.tasks import purge_expired_mappings
from pools_project import celery_app
from tests.messaging_factories import StoredMessageFactory
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, pool_with
from tests.webhook_receiver import running_receiver
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    with running_receiver() as server:
        yield server


@pytest.fixture
def start(time_machine):
    """Now, held still: every job below runs at a known time."""
    now = timezone.now()
    time_machine.move_to(now, tick=False)
    return now


def notification(account, url, name, state="pending", next_attempt_at=None, age=timedelta(0)):
    created = Notification.objects.create(
        account=account,
        kind=Notification.Kind.STATUS,
        url=url,
        payload={"name": name},
        state=state,
        next_attempt_at=next_attempt_at,
    )
    Notification.objects.filter(pk=created.pk).update(created_at=timezone.now() - age)
    return created


def posted_names(receiver) -> list[str]:
    return sorted(request.json["name"] for request in receiver.requests)


def test_every_scheduled_job_is_a_registered_task():
    tasks = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]

    assert sorted(tasks) == [
        "messaging.tasks.deliver_due_notifications",
        "messaging.tasks.dispatch_due_messages",
        "messaging.tasks.expire_queued_messages",
        "messaging.tasks.forget_received_webhooks",
        "messaging.tasks.recompute_all_number_health",
        "messaging.tasks.release_scheduled_messages",
        "pools.tasks.purge_expired_mappings",
    ]
    assert set(tasks) <= set(celery_app.tasks)


# deliver_due_notifications


def test_the_retry_sweep_posts_only_the_pending_notifications_that_are_due(
    account, receiver, start
):
    earlier, later = start - timedelta(seconds=1), start + timedelta(seconds=60)
    notification(account, receiver.url, "retry due", next_attempt_at=earlier)
    notification(account, receiver.url, "retry later", next_attempt_at=later)
    notification(account, receiver.url, "just recorded")  # its own task is on the way
    notification(account, receiver.url, "task lost", age=timedelta(minutes=2))
    notification(account, receiver.url, "delivered", state="delivered", next_attempt_at=earlier)
    notification(account, receiver.url, "gave up", state="failed", next_attempt_at=earlier)

    assert deliver_due_notifications() == 2

    assert posted_names(receiver) == ["retry due", "task lost"]
    assert set(
        Notification.objects.filter(payload__name__in=["retry due", "task lost"]).values_list(
            "state", flat=True
        )
    ) == {"delivered"}


def test_a_retry_is_posted_by_the_sweep_once_its_time_comes(account, receiver, start, time_machine):
    notification(account, receiver.url, "retry", next_attempt_at=start + timedelta(seconds=60))
    assert deliver_due_notifications() == 0

    time_machine.move_to(start + timedelta(seconds=60), tick=False)

    assert deliver_due_notifications() == 1
    assert deliver_due_notifications() == 0  # delivered: the next sweep leaves it alone
    assert posted_names(receiver) == ["retry"]


# expire_queued_messages


def test_the_ttl_sweep_fails_the_messages_still_queued_past_their_ttl(
    account, receiver, start, time_machine, django_capture_on_commit_callbacks
):
    pool = pool_with(account, [NEW_YORK])
    callback = {"callback_url": receiver.url, "callback_strategy": "OnCompletion"}
    expiring = StoredMessageFactory(pool=pool, expires_at=start + timedelta(seconds=30), **callback)
    lasting = StoredMessageFactory(pool=pool, expires_at=start + timedelta(hours=1))
    no_ttl = StoredMessageFactory(pool=pool)
    sent = StoredMessageFactory(
        pool=pool, status=Message.Status.SENT, expires_at=start + timedelta(seconds=30)
    )
    time_machine.move_to(start + timedelta(seconds=30), tick=False)

    with django_capture_on_commit_callbacks(execute=True):
        assert expire_queued_messages() == 1

    statuses = dict(Message.objects.values_list("pk", "status"))
    assert statuses == {
        expiring.pk: "Failed",
        lasting.pk: "Queued",
        no_ttl.pk: "Queued",
        sent.pk: "Sent",
    }
    expiring.refresh_from_db()
    assert expiring.detailed_status == "Expired"
    [completion] = receiver.requests
    assert (completion.json["status"], completion.json["detailedStatus"]) == ("Failed", "Expired")
    assert expire_queued_messages() == 0


# recompute_all_number_health


def test_the_health_sweep_recomputes_every_number_that_has_sent(account, start):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO, "+12122030002"])
    failing, recovered, idle = (
        Number.objects.get(number=e164) for e164 in (NEW_YORK, SAN_FRANCISCO, "+12122030002")
    )
    # Reports recorded without the per-report recomputation: the sweep catches up.
    for _ in range(5):
        StoredMessageFactory(pool=pool, number=failing, status=Message.Status.UNDELIVERED)
        StoredMessageFactory(pool=pool, number=recovered, status=Message.Status.DELIVERED)
    Number.objects.filter(pk=recovered.pk).update(computed_healthy=False)

    assert recompute_all_number_health() == 2

    health = dict(Number.objects.values_list("number", "computed_healthy"))
    assert health == {NEW_YORK: False, SAN_FRANCISCO: True, idle.number: True}


# purge_expired_mappings


def test_the_mapping_sweep_purges_the_mappings_past_their_pools_ttl(account, start, time_machine):
    pool = pool_with(account, [NEW_YORK], sticky=True, sticky_ttl_days=8)
    message_send(pool=pool, to="+14155550100", body="old")
    time_machine.move_to(start + timedelta(days=5), tick=False)
    message_send(pool=pool, to="+14155550101", body="recent")
    time_machine.move_to(start + timedelta(days=8), tick=False)

    assert purge_expired_mappings() == 1

    assert list(StickyMapping.objects.values_list("recipient", flat=True)) == ["+14155550101"]


# run_schedules


def test_run_schedules_once_runs_every_job(
    account, receiver, start, time_machine, django_capture_on_commit_callbacks
):
    pool = pool_with(account, [NEW_YORK], sticky=True, sticky_ttl_days=1)
    number = Number.objects.get(number=NEW_YORK)
    mapped = message_send(pool=pool, to="+14155550100", body="mapped")  # its task lost
    later = message_send(
        pool=pool, to="+14155550100", body="later", send_at=start + timedelta(hours=1)
    )
    for _ in range(7):
        StoredMessageFactory(pool=pool, number=number, status=Message.Status.UNDELIVERED)
    queued = StoredMessageFactory(  # its ttl passes while it waits for its turn
        pool=pool,
        expires_at=start + timedelta(minutes=1),
        dispatch_at=start + timedelta(days=2),
    )
    notification(account, receiver.url, "retry", next_attempt_at=start + timedelta(minutes=1))
    time_machine.move_to(start + timedelta(days=1), tick=False)
    stdout = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_schedules", "--once", stdout=stdout)

    assert stdout.getvalue().splitlines() == [
        "release-scheduled-messages: 1",
        # The released message is due too: its own dispatch runs only after the commit.
        "dispatch-due-messages: 2",
        "deliver-due-notifications: 1",
        "expire-queued-messages: 1",
        "recompute-number-health: 1",
        "purge-sticky-mappings: 1",
        "forget-received-webhooks: 0",
    ]
    assert posted_names(receiver) == ["retry"]
    assert Message.objects.get(pk=mapped.pk).status == "Delivered"
    assert Message.objects.get(pk=later.pk).status == "Delivered"
    assert Message.objects.get(pk=queued.pk).status == "Failed"
    assert Number.objects.get(pk=number.pk).computed_healthy is False
    assert not StickyMapping.objects.exists()


def test_run_schedules_reports_a_failing_job_and_runs_the_others(db, settings):
    settings.CELERY_BEAT_SCHEDULE = {
        "broken": {"task": "tests.test_schedules.broken_job", "schedule": 60.0},
        "purge-sticky-mappings": {"task": "pools.tasks.purge_expired_mappings", "schedule": 60.0},
    }
    stdout, stderr = StringIO(), StringIO()

    call_command("run_schedules", "--once", stdout=stdout, stderr=stderr)

    assert "broken failed: RuntimeError('database blip')" in stderr.getvalue()
    assert stdout.getvalue().splitlines() == ["purge-sticky-mappings: 0"]


@celery_app.task(name="tests.test_schedules.broken_job")
def broken_job():
    raise RuntimeError("database blip")
