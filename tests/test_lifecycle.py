"""A message's way from Queued to a final status (SPEC §4, §5), through the simulator."""

import pytest
from django.db import transaction

from carriers.gateways.base import Accepted, Gateway, Refused
from messaging.models import Message
from messaging.services.dispatch import message_dispatch
from messaging.services.lifecycle import message_report_status, messages_expire
from messaging.services.sending import message_send
from optout.services import optout_record
from tests.messaging_factories import StoredMessageFactory
from tests.scenarios import NEW_YORK, pool_with

pytestmark = pytest.mark.django_db

SENT_AT = "2025-06-01T12:00:00Z"


class RecordingGateway(Gateway):
    """Accepts every message and reports nothing back: the message stays Sent."""

    handed_over: list[str] = []

    def send(self, outbound):
        self.handed_over.append(outbound.tracking_id)
        return Accepted((f"rec-{outbound.tracking_id}",))


class RefusingGateway(Gateway):
    def send(self, outbound):
        return Refused("CARRIER_BLOCKED", "Destination blocked by the carrier")


class VerboseRefusingGateway(Gateway):
    def send(self, outbound):
        return Refused("E" * 60, "Refused: " + "the carrier explains at length " * 5)


@pytest.fixture
def recording_gateway(settings):
    settings.SMS_GATEWAY_BACKEND = "tests.test_lifecycle.RecordingGateway"
    RecordingGateway.handed_over = []
    return RecordingGateway


@pytest.fixture
def pool(account):
    return pool_with(account, [NEW_YORK])


def history(message) -> list[tuple[str, str, str]]:
    return list(message.status_events.values_list("status", "detailed_status", "error_code"))


def queued(pool, to="+12125550100", **fields) -> Message:
    """A message sent through the pool, its dispatch left for the test to run."""
    return message_send(pool=pool, to=to, body="Hello", **fields)


# Through the simulator


def test_a_sent_message_ends_delivered_through_queued_and_sent(
    api, pool, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/pools/my/{pool.pk}/sms", {"to": "+12125550100", "body": "Hi"}, format="json"
        )

    message = Message.objects.get(pk=response.json()["trackingId"])
    assert (message.status, message.detailed_status, message.error_code) == ("Delivered", "", "")
    assert message.provider_message_id == f"sim-{message.id}"
    assert message.sent_at is not None
    assert [status for status, _, _ in history(message)] == ["Queued", "Sent", "Delivered"]
    detail = api.get(f"/sms/my/{message.id}").json()
    assert [event["status"] for event in detail["statusHistory"]] == ["Queued", "Sent", "Delivered"]


def test_a_recipient_ending_in_999_ends_undelivered(pool, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = queued(pool, to="+12125550999")

    message.refresh_from_db()
    assert (message.status, message.error_code) == ("Undelivered", "SIMULATED")
    assert history(message) == [
        ("Queued", "", ""),
        ("Sent", "", ""),
        ("Undelivered", "Simulated undelivered", "SIMULATED"),
    ]


def test_a_send_that_rolls_back_dispatches_nothing(
    pool, recording_gateway, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        queued(pool)
        raise RuntimeError("the caller's transaction fails after the send")

    assert callbacks == []
    assert recording_gateway.handed_over == []
    assert not Message.objects.exists()


def test_dispatching_twice_hands_the_message_over_once(pool, recording_gateway):
    message = queued(pool)

    message_dispatch(message_id=message.id)
    message_dispatch(message_id=message.id)

    assert recording_gateway.handed_over == [str(message.id)]
    assert [status for status, _, _ in history(message)] == ["Queued", "Sent"]


def test_dispatching_an_unknown_message_does_nothing(db, recording_gateway):
    message_dispatch(message_id="00000000-0000-0000-0000-000000000000")

    assert recording_gateway.handed_over == []


# Only forward


@pytest.mark.parametrize("late", ["Sent", "Delivered", "Failed", "Undelivered"])
def test_a_final_status_never_regresses(pool, django_capture_on_commit_callbacks, late):
    with django_capture_on_commit_callbacks(execute=True):
        message = queued(pool, to="+12125550999")
    before = history(message)

    changed = message_report_status(message=message, status=late, detailed_status="Late")

    message.refresh_from_db()
    assert changed is False
    assert (message.status, message.detailed_status) == ("Undelivered", "Simulated undelivered")
    assert history(message) == before


def test_a_delivered_message_is_not_reopened_by_a_late_sent(
    pool, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = queued(pool)

    assert message_report_status(message=message, status="Sent") is False
    message.refresh_from_db()
    assert message.status == "Delivered"
    assert len(history(message)) == 3


def test_a_repeated_report_is_recorded_once(pool):
    message = queued(pool)

    first = message_report_status(message=message, status="Sent")
    repeat = message_report_status(message=message, status="Sent")

    assert (first, repeat) == (True, False)
    assert history(message) == [("Queued", "", ""), ("Sent", "", "")]


def test_a_report_may_skip_sent(pool):
    message = queued(pool)

    assert message_report_status(message=message, status="Delivered") is True

    message.refresh_from_db()
    assert message.status == "Delivered"
    assert message.sent_at is None


# Expiry


def test_a_message_still_queued_past_its_ttl_is_failed_as_expired(pool, time_machine):
    time_machine.move_to(SENT_AT, tick=False)
    message = queued(pool, ttl=60)
    other = queued(pool, to="+12125550101")

    time_machine.shift(59)
    assert messages_expire() == 0
    time_machine.shift(1)
    assert messages_expire() == 1

    message.refresh_from_db()
    assert (message.status, message.detailed_status) == ("Failed", "Expired")
    assert history(message)[-1] == ("Failed", "Expired", "")
    other.refresh_from_db()
    assert other.status == "Queued"


def test_a_message_sent_before_its_ttl_does_not_expire(pool, recording_gateway, time_machine):
    time_machine.move_to(SENT_AT, tick=False)
    message = queued(pool, ttl=60)
    message_dispatch(message_id=message.id)

    time_machine.shift(3600)

    assert messages_expire() == 0
    message.refresh_from_db()
    assert message.status == "Sent"


def test_a_message_dispatched_past_its_ttl_fails_without_reaching_the_carrier(
    pool, recording_gateway, time_machine
):
    time_machine.move_to(SENT_AT, tick=False)
    message = queued(pool, ttl=60)

    time_machine.shift(61)
    message_dispatch(message_id=message.id)

    message.refresh_from_db()
    assert (message.status, message.detailed_status) == ("Failed", "Expired")
    assert recording_gateway.handed_over == []
    assert [status for status, _, _ in history(message)] == ["Queued", "Failed"]


# Messages that must not go


def test_an_opted_out_message_is_never_dispatched(account, recording_gateway):
    message = StoredMessageFactory(
        pool=pool_with(account, [NEW_YORK]),
        status="Undelivered",
        detailed_status="Opted-out",
    )

    message_dispatch(message_id=message.id)

    message.refresh_from_db()
    assert (message.status, message.detailed_status) == ("Undelivered", "Opted-out")
    assert recording_gateway.handed_over == []
    assert history(message) == []


def test_a_send_to_an_opted_out_recipient_queues_no_dispatch(
    account, pool, django_capture_on_commit_callbacks
):
    optout_record(account=account, recipient="+12125550100")

    with django_capture_on_commit_callbacks() as callbacks:
        message = queued(pool)

    assert (message.status, message.detailed_status) == ("Undelivered", "Opted-out")
    assert history(message) == [("Undelivered", "Opted-out", "")]
    assert callbacks == []


def test_a_carrier_refusal_fails_the_message_with_its_error_code(
    pool, settings, django_capture_on_commit_callbacks
):
    settings.SMS_GATEWAY_BACKEND = "tests.test_lifecycle.RefusingGateway"

    with django_capture_on_commit_callbacks(execute=True):
        message = queued(pool)

    message.refresh_from_db()
    assert (message.status, message.detailed_status, message.error_code) == (
        "Failed",
        "Destination blocked by the carrier",
        "CARRIER_BLOCKED",
    )
    assert message.sent_at is None
    assert history(message) == [
        ("Queued", "", ""),
        ("Failed", "Destination blocked by the carrier", "CARRIER_BLOCKED"),
    ]


def test_a_carrier_refusal_longer_than_the_columns_still_fails_the_message(
    pool, settings, django_capture_on_commit_callbacks
):
    settings.SMS_GATEWAY_BACKEND = "tests.test_lifecycle.VerboseRefusingGateway"

    with django_capture_on_commit_callbacks(execute=True):
        message = queued(pool)

    message.refresh_from_db()
    assert message.status == "Failed"
    assert message.detailed_status.startswith("Refused: the carrier explains")
    assert message.error_code == "E" * 40
    assert history(message)[-1] == ("Failed", message.detailed_status, message.error_code)
