"""Scheduled sends and cancel (SPEC §13, §4, §6): Scheduled until sendAt, then Queued and
dispatched by the schedule runner; Canceled before a carrier has it, else 409."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from messaging.models import Message, Notification, StatusEvent
from messaging.serializers import StatusReportSerializer
from messaging.services.dispatch import message_claim
from messaging.services.scheduling import message_release, messages_release_due
from messaging.services.sending import message_send
from optout.services import optout_record
from pools.models import StickyMapping
from tests.assertions import assert_error
from tests.scenarios import NEW_YORK, pool_with
from tests.test_selection_concurrency import run_in_parallel
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db

TO = "+12125550100"
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def pool(account):
    return pool_with(account, [NEW_YORK], sticky=True)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def send(api, pool, **fields):
    body = {"to": TO, "body": "Your table is ready", **fields}
    return api.post(f"/pools/my/{pool.pk}/sms", body, format="json")


def scheduled(api, pool, at: datetime, **fields) -> dict:
    response = send(api, pool, sendAt=rfc3339(at), **fields)
    assert response.status_code == 200, response.json()
    return response.json()


def history(tracking_id) -> list[str]:
    return list(
        StatusEvent.objects.filter(message_id=tracking_id)
        .order_by("created_at", "pk")
        .values_list("status", flat=True)
    )


def release_at(time_machine, moment: datetime, capture) -> int:
    time_machine.move_to(moment, tick=False)
    with capture(execute=True):  # the dispatch a release enqueues runs after its commit
        return messages_release_due()


# Scheduling


def test_a_send_with_sendat_is_scheduled_with_its_sender_chosen_at_once(api, pool, now):
    body = scheduled(api, pool, now + timedelta(hours=2))

    assert body["status"] == "Scheduled"
    assert body["sendAt"] == "2026-12-01T17:00:00Z"
    assert body["from"] == NEW_YORK.removeprefix("+")
    assert StickyMapping.objects.get().recipient == TO  # stickiness sees it already
    assert history(body["trackingId"]) == ["Scheduled"]
    detail = api.get(f"/sms/my/{body['trackingId']}").json()
    assert detail["sendAt"] == "2026-12-01T17:00:00Z"
    assert [e["status"] for e in detail["statusHistory"]] == ["Scheduled"]


def test_a_message_sent_now_has_no_sendat(api, pool, now):
    response = send(api, pool)

    assert response.json()["status"] == "Queued"
    assert "sendAt" not in response.json()


def test_a_sendat_given_in_another_offset_is_the_same_moment(api, pool, now):
    body = scheduled(api, pool, now)  # the offset below is New York's winter time
    response = send(api, pool, sendAt="2026-12-01T12:30:00-05:00")

    assert response.json()["status"] == "Scheduled"
    assert response.json()["sendAt"] == "2026-12-01T17:30:00Z"
    assert body["status"] == "Queued"  # a sendAt of now is no schedule


def test_a_sendat_a_few_seconds_past_is_now_from_a_clock_slightly_behind(api, pool, now):
    body = scheduled(api, pool, now - timedelta(seconds=30))

    assert body["status"] == "Queued"


def test_a_scheduled_message_goes_out_at_its_time_and_not_before(
    api, pool, now, time_machine, django_capture_on_commit_callbacks
):
    body = scheduled(api, pool, now + timedelta(minutes=30))
    message = Message.objects.get(pk=body["trackingId"])

    assert (
        release_at(
            time_machine,
            now + timedelta(minutes=29, seconds=59),
            django_capture_on_commit_callbacks,
        )
        == 0
    )
    assert Message.objects.get(pk=message.pk).status == "Scheduled"

    assert (
        release_at(time_machine, now + timedelta(minutes=30), django_capture_on_commit_callbacks)
        == 1
    )
    message.refresh_from_db()
    assert message.status == "Delivered"  # the simulator: Queued, Sent, Delivered
    assert history(message.pk) == ["Scheduled", "Queued", "Sent", "Delivered"]
    assert message.dispatch_at == now + timedelta(minutes=30)


def test_the_embedded_schedule_runner_releases_what_is_due(
    api, pool, now, time_machine, django_capture_on_commit_callbacks
):
    body = scheduled(api, pool, now + timedelta(seconds=5))
    time_machine.move_to(now + timedelta(seconds=6), tick=False)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_schedules", "--once", stdout=StringIO())

    assert Message.objects.get(pk=body["trackingId"]).status == "Delivered"


def test_a_message_is_released_once_however_many_runners_try(api, pool, now, time_machine):
    body = scheduled(api, pool, now + timedelta(minutes=1))
    later = now + timedelta(minutes=1)

    assert message_release(message_id=body["trackingId"], now=later) is True
    assert message_release(message_id=body["trackingId"], now=later) is False
    assert history(body["trackingId"]) == ["Scheduled", "Queued"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runners_at_the_same_instant_release_each_message_once(account):
    pool = pool_with(account, [NEW_YORK])
    start = timezone.now()
    ids = [
        message_send(
            pool=pool, to=f"+1212555{i:04d}", body="hi", send_at=start + timedelta(seconds=1)
        ).pk
        for i in range(10)
    ]
    later = start + timedelta(seconds=2)
    released = []

    errors = run_in_parallel([lambda: released.append(messages_release_due(now=later))] * 2)

    assert errors == []
    assert sum(released) == 10
    queued = StatusEvent.objects.filter(message_id__in=ids, status="Queued")
    assert queued.count() == 10


def test_a_stop_between_scheduling_and_sending_stops_the_message(
    api, account, pool, now, time_machine, django_capture_on_commit_callbacks
):
    body = scheduled(api, pool, now + timedelta(hours=1))
    optout_record(account=account, recipient=TO, number=NEW_YORK)

    release_at(time_machine, now + timedelta(hours=1), django_capture_on_commit_callbacks)

    message = Message.objects.get(pk=body["trackingId"])
    assert (message.status, message.detailed_status) == ("Undelivered", "Opted-out")
    assert message.sent_at is None


def test_a_scheduled_message_ttl_counts_from_its_sendat(api, pool, now):
    body = scheduled(api, pool, now + timedelta(hours=3), ttl=600)

    message = Message.objects.get(pk=body["trackingId"])
    assert body["ttl"] == 600
    assert message.expires_at == now + timedelta(hours=3, minutes=10)


@pytest.mark.parametrize(
    ("send_at", "reason"),
    [
        ("2026-12-01T14:58:00Z", "in the past"),
        ("2027-01-05T15:00:01Z", "more than 35 days ahead"),
        ("2026-12-01T16:00:00", "no UTC offset"),
        ("2026-12-02", "a date without a time"),
        ("tomorrow", "not a date-time"),
        (1764601200, "a number"),
        ("2026-12-01T16:00:00+15:00", "an offset no zone has"),
    ],
)
def test_a_sendat_that_is_not_a_moment_within_35_days_is_refused(api, pool, now, send_at, reason):
    response = send(api, pool, sendAt=send_at)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "sendAt" in body["errors"], reason
    assert not Message.objects.exists()


def test_sendat_35_days_ahead_is_accepted(api, pool, now):
    assert scheduled(api, pool, now + timedelta(days=35))["status"] == "Scheduled"


# Cancel


def cancel(api, tracking_id):
    return api.post(f"/sms/my/{tracking_id}/cancel")


def test_a_scheduled_message_can_be_canceled_and_never_goes(
    api, pool, now, time_machine, django_capture_on_commit_callbacks
):
    body = scheduled(api, pool, now + timedelta(hours=1))

    response = cancel(api, body["trackingId"])

    assert response.status_code == 200
    assert response.json()["status"] == "Canceled"
    assert [e["status"] for e in response.json()["statusHistory"]] == ["Scheduled", "Canceled"]
    assert (
        release_at(time_machine, now + timedelta(hours=2), django_capture_on_commit_callbacks) == 0
    )
    assert Message.objects.get(pk=body["trackingId"]).status == "Canceled"


def test_a_canceled_message_cannot_be_canceled_again(api, pool, now):
    body = scheduled(api, pool, now + timedelta(hours=1))
    cancel(api, body["trackingId"])

    assert_error(cancel(api, body["trackingId"]), 409, "NOT_CANCELABLE")
    assert history(body["trackingId"]) == ["Scheduled", "Canceled"]


def test_a_queued_message_waiting_for_its_turn_can_be_canceled(api, pool, now):
    body = send(api, pool).json()  # queued; its dispatch waits for a commit that never comes

    response = cancel(api, body["trackingId"])

    assert response.json()["status"] == "Canceled"
    message = Message.objects.get(pk=body["trackingId"])
    assert message_claim(message=message, now=now) is None  # no dispatcher takes it


def test_a_message_being_handed_over_cannot_be_canceled(api, pool, now):
    body = send(api, pool).json()
    message = Message.objects.get(pk=body["trackingId"])
    message_claim(message=message, now=now)  # a dispatcher holds it

    assert_error(cancel(api, body["trackingId"]), 409, "NOT_CANCELABLE")
    assert Message.objects.get(pk=body["trackingId"]).status == "Queued"


def test_cancel_too_late(api, pool, now, time_machine, django_capture_on_commit_callbacks):
    body = scheduled(api, pool, now + timedelta(minutes=5))
    release_at(time_machine, now + timedelta(minutes=5), django_capture_on_commit_callbacks)

    response = cancel(api, body["trackingId"])

    error = assert_error(response, 409, "NOT_CANCELABLE")
    assert "Delivered" in error["developerMessage"]


def test_cancel_of_an_unknown_or_another_accounts_message_is_not_found(api, other_api, pool, now):
    body = scheduled(api, pool, now + timedelta(hours=1))

    assert_error(cancel(other_api, body["trackingId"]), 404, "MESSAGE_NOT_FOUND")
    assert_error(cancel(api, "not-a-uuid"), 404, "MESSAGE_NOT_FOUND")
    assert Message.objects.get(pk=body["trackingId"]).status == "Scheduled"


# Callbacks, filters, carriers


def notified_statuses(message_id) -> list[str]:
    return [
        payload["status"]
        for payload in Notification.objects.filter(message_id=message_id)
        .order_by("created_at", "pk")
        .values_list("payload", flat=True)
    ]


def test_onchange_tells_scheduled_then_queued(
    api, pool, now, time_machine, django_capture_on_commit_callbacks
):
    callback = {"url": "https://example.com/status", "strategy": "OnChange"}
    body = scheduled(api, pool, now + timedelta(minutes=1), callback=callback)
    release_at(time_machine, now + timedelta(minutes=1), django_capture_on_commit_callbacks)

    # One notification per status (the clock stands still, so they are not ordered here).
    statuses = notified_statuses(body["trackingId"])
    assert sorted(statuses) == ["Delivered", "Queued", "Scheduled", "Sent"]
    first = Notification.objects.get(message_id=body["trackingId"], payload__status="Scheduled")
    assert first.payload["sendAt"] == "2026-12-01T15:01:00Z"


def test_oncompletion_fires_once_for_a_canceled_message(api, pool, now):
    callback = {"url": "https://example.com/status", "strategy": "OnCompletion"}
    body = scheduled(api, pool, now + timedelta(hours=1), callback=callback)

    cancel(api, body["trackingId"])

    assert notified_statuses(body["trackingId"]) == ["Canceled"]


def test_messages_filter_by_scheduled_and_canceled(api, pool, now):
    waiting = scheduled(api, pool, now + timedelta(hours=1))
    dropped = scheduled(api, pool, now + timedelta(hours=2))
    cancel(api, dropped["trackingId"])

    def ids(status):
        results = api.get("/sms/my", {"status": status}).json()["results"]
        return [m["trackingId"] for m in results]

    assert ids("Scheduled") == [waiting["trackingId"]]
    assert ids("Canceled") == [dropped["trackingId"]]


def test_a_carrier_cannot_report_a_message_scheduled_or_canceled(pool, now):
    for status in ("Scheduled", "Canceled", "Queued"):
        serializer = StatusReportSerializer(
            data={"trackingId": "9b2f7d7e-8f0a-4c39-9d41-5b8a3f4c2e10", "status": status}
        )
        assert not serializer.is_valid()
        assert "status" in serializer.errors


def test_a_scheduled_message_takes_its_numbers_turn_when_it_goes_not_when_sent(
    api, pool, now, time_machine, django_capture_on_commit_callbacks
):
    Number.objects.update(parts_per_second=None)  # a long code's 1 part per second
    later = scheduled(api, pool, now + timedelta(minutes=10))
    at_once = send(api, pool).json()

    assert Message.objects.get(pk=at_once["trackingId"]).dispatch_at == now  # not a turn later
    release_at(time_machine, now + timedelta(minutes=10), django_capture_on_commit_callbacks)
    released = Message.objects.get(pk=later["trackingId"])
    assert released.dispatch_at == now + timedelta(minutes=10)
