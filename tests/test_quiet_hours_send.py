"""Quiet hours through the send endpoint, the preview and the schedule runner (SPEC §13):
a marketing message is held to the hours its recipient may receive it, and goes then."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from messaging.models import Message
from messaging.services.scheduling import messages_release_due
from messaging.services.sending import message_send
from optout.services import optout_record
from pools.models import Pool
from tests.assertions import assert_error
from tests.factories import UserFactory
from tests.scenarios import NEW_YORK, pool_with
from tests.test_admin import form_data, logged_in, url
from tests.test_admin_messaging import grant_console
from tests.test_selection_concurrency import run_in_parallel

pytestmark = pytest.mark.django_db

NEW_YORKER = "+12125550100"  # America/New_York
NEWYORKER_STOPPED = "+12125550111"
MIAMI = "+13055550100"  # area code 305: Florida
TULSA = "+19185550100"  # area code 918: Oklahoma
LONDON = "+447400200100"
# 22:30 in New York (EST, UTC-5) on the evening of 1 December.
LATE_EVENING = datetime(2026, 12, 2, 3, 30, tzinfo=UTC)
NEXT_MORNING = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)  # 08:00 in New York
AFTERNOON = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)  # 14:00 in New York and Miami


@pytest.fixture
def pool(account):
    return pool_with(account, [NEW_YORK], sticky=True)


def at(time_machine, moment: datetime) -> None:
    time_machine.move_to(moment, tick=False)


def send(api, pool, to=NEW_YORKER, **fields):
    body = {"to": to, "body": "20% off tonight only", **fields}
    return api.post(f"/pools/my/{pool.pk}/sms", body, format="json")


def sent(api, pool, **fields) -> dict:
    response = send(api, pool, **fields)
    assert response.status_code == 200, response.json()
    return response.json()


def test_marketing_at_half_past_ten_at_night_waits_for_eight_in_the_morning(
    api, pool, time_machine
):
    at(time_machine, LATE_EVENING)

    body = sent(api, pool, intent="marketing")

    assert body["status"] == "Scheduled"
    assert body["intent"] == "marketing"
    assert body["sendAt"] == "2026-12-02T13:00:00Z"
    explanation = body["selection"]["explanation"]
    assert "TCPA" in explanation and "22:30" in explanation
    assert "2026-12-02 08:00" in explanation


def test_a_transactional_message_at_the_same_hour_goes_at_once(api, pool, time_machine):
    at(time_machine, LATE_EVENING)

    body = sent(api, pool)  # transactional is the default

    assert body["status"] == "Queued"
    assert "sendAt" not in body
    assert "Quiet hours" not in body["selection"]["explanation"]


def test_marketing_within_the_hours_goes_as_asked_and_says_why(api, pool, time_machine):
    at(time_machine, AFTERNOON)

    body = sent(api, pool, intent="marketing")

    assert body["status"] == "Queued"
    assert "allowed as requested" in body["selection"]["explanation"]


def test_a_held_message_goes_at_its_time_through_the_schedule_runner(
    api, pool, time_machine, django_capture_on_commit_callbacks
):
    at(time_machine, LATE_EVENING)
    body = sent(api, pool, intent="marketing")

    at(time_machine, NEXT_MORNING - timedelta(seconds=1))
    assert messages_release_due() == 0
    at(time_machine, NEXT_MORNING)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_release_due() == 1

    assert Message.objects.get(pk=body["trackingId"]).status == "Delivered"


def test_a_ttl_shorter_than_the_hold_fails_the_message_at_once(api, pool, time_machine):
    at(time_machine, LATE_EVENING)

    body = sent(api, pool, intent="marketing", ttl=3600)

    assert (body["status"], body["detailedStatus"]) == ("Failed", "Quiet hours")
    assert "ttl runs out" in body["selection"]["explanation"]
    message = Message.objects.get(pk=body["trackingId"])
    assert message.dispatch_at is None


def test_a_marketing_sendat_inside_quiet_hours_moves_to_the_next_opening(api, pool, time_machine):
    at(time_machine, AFTERNOON)

    body = sent(api, pool, intent="marketing", sendAt="2026-12-02T04:00:00Z")  # 23:00 in NY

    assert body["status"] == "Scheduled"
    assert body["sendAt"] == "2026-12-02T13:00:00Z"


def test_florida_allows_three_marketing_messages_a_day_the_fourth_waits(api, account, time_machine):
    pool = pool_with(account, ["+13052030001"])
    at(time_machine, AFTERNOON)
    first = sent(api, pool, to=MIAMI, intent="marketing")
    at(time_machine, AFTERNOON + timedelta(hours=1))
    sent(api, pool, to=MIAMI, intent="marketing")
    at(time_machine, AFTERNOON + timedelta(hours=2))
    third = sent(api, pool, to=MIAMI, intent="marketing")
    at(time_machine, AFTERNOON + timedelta(hours=3))

    fourth = sent(api, pool, to=MIAMI, intent="marketing")

    assert third["status"] == "Queued"
    assert fourth["status"] == "Scheduled"
    # The oldest leaves the 24 hours at 14:00 the next day, inside Florida's hours.
    assert fourth["sendAt"] == "2026-12-02T19:00:00Z"
    assert "Florida" in fourth["selection"]["explanation"]
    assert first["status"] == "Queued"


def test_a_canceled_marketing_message_frees_its_place_in_the_day(api, account, time_machine):
    pool = pool_with(account, ["+13052030001"])
    at(time_machine, AFTERNOON)
    messages = [sent(api, pool, to=MIAMI, intent="marketing") for _ in range(3)]
    api.post(f"/sms/my/{messages[0]['trackingId']}/cancel")

    assert sent(api, pool, to=MIAMI, intent="marketing")["status"] == "Queued"


def test_florida_hours_end_at_eight_in_the_evening(api, account, time_machine):
    pool = pool_with(account, ["+13052030001"])
    at(time_machine, datetime(2026, 12, 2, 1, 30, tzinfo=UTC))  # 20:30 in Miami

    body = sent(api, pool, to=MIAMI, intent="marketing")

    assert body["sendAt"] == "2026-12-02T13:00:00Z"
    assert "Florida" in body["selection"]["explanation"]


def test_oklahoma_is_held_like_florida(api, account, time_machine):
    pool = pool_with(account, ["+19182030001"])
    at(time_machine, datetime(2026, 12, 2, 2, 30, tzinfo=UTC))  # 20:30 in Tulsa (CST)

    body = sent(api, pool, to=TULSA, intent="marketing")

    assert body["sendAt"] == "2026-12-02T14:00:00Z"  # 08:00 in Tulsa
    assert "Oklahoma" in body["selection"]["explanation"]


def test_the_pools_quiet_hours_hold_marketing_to_any_country(api, account, time_machine):
    pool = pool_with(account, ["+447400200001"])
    Pool.objects.filter(pk=pool.pk).update(quiet_hours_start="12:00", quiet_hours_end="14:00")
    at(time_machine, datetime(2026, 12, 1, 12, 30, tzinfo=UTC))  # 12:30 in London

    held = sent(api, pool, to=LONDON, intent="marketing")
    plain = sent(api, pool, to=LONDON)

    assert held["sendAt"] == "2026-12-01T14:00:00Z"
    assert "the pool's quiet hours 12:00-14:00" in held["selection"]["explanation"]
    assert plain["status"] == "Queued"


def test_an_opted_out_recipient_is_refused_before_quiet_hours_are_read(
    api, account, pool, time_machine
):
    optout_record(account=account, recipient=NEWYORKER_STOPPED, number=NEW_YORK)
    at(time_machine, LATE_EVENING)

    body = sent(api, pool, to=NEWYORKER_STOPPED, intent="marketing")

    assert (body["status"], body["detailedStatus"]) == ("Undelivered", "Opted-out")
    assert "Quiet hours" not in body["selection"]["explanation"]


def test_an_intent_that_is_neither_is_refused(api, pool):
    body = assert_error(send(api, pool, intent="promotional"), 400, "VALIDATION_ERROR")

    assert "intent" in body["errors"]


# Preview and explain_sender


def test_the_preview_says_when_a_marketing_message_would_go(api, pool, time_machine):
    at(time_machine, LATE_EVENING)

    response = api.post(
        f"/pools/my/{pool.pk}/preview", {"to": NEW_YORKER, "intent": "marketing"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["sendAt"] == "2026-12-02T13:00:00Z"
    assert "TCPA" in response.json()["explanation"]
    assert not Message.objects.exists()
    plain = api.post(f"/pools/my/{pool.pk}/preview", {"to": NEW_YORKER}, format="json")
    assert "sendAt" not in plain.json()


def test_explain_sender_says_when_a_marketing_message_would_go(pool, time_machine):
    at(time_machine, LATE_EVENING)
    out = StringIO()

    call_command(
        "explain_sender", "--pool", str(pool.pk), "--to", NEW_YORKER, "--marketing", stdout=out
    )

    assert "2026-12-02 08:00" in out.getvalue()
    assert "TCPA" in out.getvalue()


# Concurrency (PostgreSQL)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_marketing_sends_to_one_floridian_let_three_through_a_day(account):
    # As many numbers as sends: no send waits for another's number.
    pool = pool_with(account, [f"+1305203{i:04d}" for i in range(8)])

    errors = run_in_parallel(
        [
            lambda: message_send(pool=pool, to=MIAMI, body="sale", intent="marketing")
            for _ in range(8)
        ]
    )

    assert errors == []
    times = sorted(
        message.send_at or message.dispatch_at or message.created_at
        for message in Message.objects.all()
    )
    assert len(times) == 8
    # Whatever the hour now: no 24 hours hold more than three of them.
    assert all(
        later - earlier >= timedelta(hours=24)
        for earlier, later in zip(times, times[3:], strict=False)
    )
    assert timezone.now() - timedelta(minutes=1) < times[0]


# The admin


def test_the_admin_takes_quiet_hours_as_two_times_or_none(account):
    pool = pool_with(account, [NEW_YORK])
    client = logged_in(grant_console(UserFactory(account=account)))
    page = client.get(url("pools_pool_change", pool.pk))

    half = client.post(
        url("pools_pool_change", pool.pk), form_data(page, quiet_hours_start="21:00")
    )
    assert "Quiet hours need a start and a different end, or neither." in half.content.decode()
    whole = client.post(
        url("pools_pool_change", pool.pk),
        form_data(page, quiet_hours_start="21:00", quiet_hours_end="09:00"),
    )

    assert whole.status_code == 302
    pool.refresh_from_db()
    assert (str(pool.quiet_hours_start), str(pool.quiet_hours_end)) == ("21:00:00", "09:00:00")
