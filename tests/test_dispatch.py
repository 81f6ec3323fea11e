"""The dispatch pipeline (SPEC §12): turns at each number's rate, a connection's cap,
claims with a lease, throttling, ttl and opt-outs at hand-over."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from carriers.gateways.base import Accepted, Gateway, Throttled, Unavailable
from carriers.models import Connection
from messaging.models import Message
from messaging.services.dispatch import Wait, message_claim, message_dispatch, messages_dispatch_due
from messaging.services.lifecycle import message_report_status
from messaging.services.sending import message_send
from optout.services import optout_record
from pools.models import PoolNumber
from tests.factories import ConnectionFactory
from tests.messaging_factories import StoredMessageFactory
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, number_of, pool_with
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TOLL_FREE = "+18885550142"


class ScriptedGateway(Gateway):
    """Answers from a script (Accepted once it runs out; a function in it is called for
    its answer), remembering every hand-over."""

    script: list = []
    handed_over: list[str] = []

    def send(self, outbound):
        self.handed_over.append(outbound.body)
        if self.script:
            answer = self.script.pop(0)
            return answer() if callable(answer) else answer
        return Accepted((f"id-{len(self.handed_over)}",))


@pytest.fixture
def gateway(settings):
    settings.SMS_GATEWAY_BACKEND = "tests.test_dispatch.ScriptedGateway"
    ScriptedGateway.script, ScriptedGateway.handed_over = [], []
    return ScriptedGateway


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(START, tick=False)
    return time_machine


def paced_pool(account, numbers=(NEW_YORK,), rate=None, **settings):
    """A pool whose numbers keep their type's rate (the suite's others send at once)."""
    pool = pool_with(account, numbers, **settings)
    Number.objects.filter(account=account).update(parts_per_second=rate)
    return pool


def send(pool, body, to="+12125550100", **fields) -> Message:
    return message_send(pool=pool, to=to, body=body, **fields)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


# Turns at the number's rate


def test_a_long_codes_messages_take_turns_one_second_apart_in_order(account, frozen):
    pool = paced_pool(account)

    turns = [send(pool, f"message {i}").dispatch_at for i in range(4)]

    assert turns == [at(0), at(1), at(2), at(3)]


def test_every_part_of_a_message_counts_against_the_rate(account, frozen):
    pool = paced_pool(account)

    long = send(pool, "x" * 161)  # two GSM-7 parts
    after = send(pool, "next")

    assert (long.dispatch_at, after.dispatch_at) == (at(0), at(2))


def test_a_toll_free_number_sends_three_parts_a_second_and_a_short_code_a_hundred(account, frozen):
    toll_free = paced_pool(account, [TOLL_FREE])

    turns = [send(toll_free, f"m{i}").dispatch_at for i in range(4)]

    assert [round((t - START).total_seconds(), 3) for t in turns] == [0, 0.333, 0.667, 1.0]
    assert Number(type=Number.Type.SHORTCODE).rate == 100


def test_a_numbers_own_rate_overrides_its_types_default(account, frozen):
    pool = paced_pool(account, rate=4)

    turns = [send(pool, f"m{i}").dispatch_at for i in range(3)]

    assert turns == [at(0), at(0.25), at(0.5)]


def test_a_number_idle_for_a_while_sends_at_once_again(account, frozen):
    pool = paced_pool(account)
    send(pool, "first")
    frozen.move_to(at(60), tick=False)

    assert send(pool, "later").dispatch_at == at(60)


def test_a_message_is_not_handed_over_before_its_turn(account, frozen, gateway):
    pool = paced_pool(account)
    send(pool, "first")
    second = send(pool, "second")

    wait = message_dispatch(message_id=second.pk, now=at(0.5))

    assert wait == Wait(0.5)
    assert gateway.handed_over == []
    assert message_dispatch(message_id=second.pk, now=at(1)) is None
    assert gateway.handed_over == ["second"]
    assert Message.objects.get(pk=second.pk).status == "Sent"


# The connection's cap


def test_a_connection_cap_holds_across_its_numbers(account, frozen):
    connection = ConnectionFactory(account=account, messages_per_second=2, is_default=True)
    pool = paced_pool(account, [NEW_YORK, SAN_FRANCISCO], rate=100)
    messages = [send(pool, f"m{i}", to=f"+1212555010{i}") for i in range(4)]
    assert {m.connection_id for m in messages} == {connection.pk}
    assert {m.number.number for m in messages} == {NEW_YORK, SAN_FRANCISCO}

    def handed_over():
        return sorted(Message.objects.exclude(status="Queued").values_list("body", flat=True))

    outcomes = [message_dispatch(message_id=m.pk, now=at(0)) for m in messages]

    assert outcomes[0] is None and all(isinstance(o, Wait) for o in outcomes[1:])
    assert outcomes[1].seconds == pytest.approx(0.5)
    assert handed_over() == ["m0"]
    assert message_dispatch(message_id=messages[1].pk, now=at(0.5)) is None
    assert message_dispatch(message_id=messages[2].pk, now=at(0.5)) == Wait(pytest.approx(0.5))
    assert handed_over() == ["m0", "m1"]


# Claims and leases


def test_a_message_claimed_by_a_dispatcher_that_died_is_taken_again_after_its_lease(
    account, frozen, gateway, settings
):
    settings.DISPATCH_LEASE_SECONDS = 60
    pool = paced_pool(account)
    message = send(pool, "hello")
    claim = message_claim(message=message, now=at(0))  # and then the dispatcher died
    assert claim is not None

    assert message_dispatch(message_id=message.pk, now=at(30)) is None
    assert messages_dispatch_due(now=at(30)) == 0
    assert gateway.handed_over == []

    frozen.move_to(at(61), tick=False)
    assert messages_dispatch_due(now=at(61)) == 1  # in-process: dispatched by the sweep
    assert gateway.handed_over == ["hello"]
    message.refresh_from_db()
    assert (message.status, message.handover_attempts, message.lease_until) == ("Sent", 2, None)


def test_a_message_dispatched_twice_is_handed_over_once(account, frozen, gateway):
    message = send(paced_pool(account), "once")

    message_dispatch(message_id=message.pk, now=at(0))
    message_dispatch(message_id=message.pk, now=at(0))

    assert gateway.handed_over == ["once"]


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_on_its_own_leaves_the_next_transactions_waiting_for_the_disk(db):
    message = StoredMessageFactory()  # Queued, due now

    assert message_claim(message=message, now=timezone.now()) is not None

    message.refresh_from_db()
    assert (message.handover_attempts, message.lease_until is not None) == (1, True)
    assert _synchronous_commit() == "on"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_inside_a_callers_transaction_leaves_its_commit_waiting_for_the_disk(db):
    message = StoredMessageFactory()

    with transaction.atomic():
        assert message_claim(message=message, now=timezone.now()) is not None
        assert _synchronous_commit() == "on"


# What the carrier answers


def test_a_throttled_message_is_retried_and_sent_once_and_slows_its_number_down(
    account, frozen, gateway
):
    pool = paced_pool(account)
    first, second = send(pool, "first"), send(pool, "second")
    gateway.script = [Throttled("ESME_RTHROTTLED", retry_after=5)]

    wait = message_dispatch(message_id=first.pk, now=at(0))

    assert wait == Wait(5)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.dispatch_at) == ("Queued", at(5))
    assert second.dispatch_at == at(6)  # it keeps its place behind the first
    assert Number.objects.get(number=NEW_YORK).next_slot_at == pytest.approx(at(7).timestamp())
    assert message_dispatch(message_id=first.pk, now=at(5)) is None
    assert gateway.handed_over == ["first", "first"]
    assert Message.objects.get(pk=first.pk).status == "Sent"
    assert list(first.status_events.values_list("status", flat=True)) == ["Queued", "Sent"]


def test_a_report_that_comes_while_the_carrier_is_called_is_not_undone_by_the_sent(
    account, frozen, gateway
):
    message = send(paced_pool(account), "quick")

    def reported_first():  # the carrier's report overtakes its answer
        message_report_status(message=Message.objects.get(pk=message.pk), status="Delivered")
        return Accepted(("id-1",))

    gateway.script = [reported_first]
    assert message_dispatch(message_id=message.pk, now=at(0)) is None

    message.refresh_from_db()
    assert (message.status, message.provider_message_id, message.lease_until) == (
        "Delivered",
        "id-1",
        None,
    )
    assert list(message.status_events.values_list("status", flat=True)) == ["Queued", "Delivered"]
    assert list(message.parts.values_list("provider_id", flat=True)) == ["id-1"]


def test_an_unreachable_carrier_leaves_the_message_waiting_and_the_connection_down(
    account, frozen, gateway
):
    connection = ConnectionFactory(account=account, kind=Connection.Kind.SIMULATOR)
    pool = paced_pool(account)
    Number.objects.update(connection=connection)
    message = send(pool, "hello")
    gateway.script = []

    def unreachable(self, outbound):
        return Unavailable("connect timeout")

    from carriers.gateways.simulator import SimulatorGateway

    original = SimulatorGateway.send
    SimulatorGateway.send = unreachable
    try:
        wait = message_dispatch(message_id=message.pk, now=at(0))
    finally:
        SimulatorGateway.send = original

    assert wait == Wait(1)
    message.refresh_from_db()
    connection.refresh_from_db()
    assert (message.status, message.lease_until, message.dispatch_at) == ("Queued", None, at(1))
    assert (connection.state_status, connection.state_detail) == ("down", "connect timeout")
    assert message_dispatch(message_id=message.pk, now=at(1)) is None
    assert Message.objects.get(pk=message.pk).status == "Delivered"
    assert Connection.objects.get(pk=connection.pk).state_status == "up"


# The ttl and opt-outs at hand-over


def test_a_message_waiting_past_its_ttl_ends_expired_without_reaching_the_carrier(
    account, frozen, gateway
):
    pool = paced_pool(account)
    for i in range(3):
        send(pool, f"before {i}")
    late = send(pool, "late", ttl=2)  # its turn comes at 3 s

    assert message_dispatch(message_id=late.pk, now=at(3)) is None

    late.refresh_from_db()
    assert (late.status, late.detailed_status) == ("Failed", "Expired")
    assert "late" not in gateway.handed_over


def test_a_stop_while_the_message_waits_means_it_is_never_sent(account, frozen, gateway):
    pool = paced_pool(account)
    send(pool, "first")
    waiting = send(pool, "second")
    optout_record(account=account, recipient="+12125550100", number=NEW_YORK)

    assert message_dispatch(message_id=waiting.pk, now=at(1)) is None

    waiting.refresh_from_db()
    assert (waiting.status, waiting.detailed_status) == ("Undelivered", "Opted-out")
    assert gateway.handed_over == []


def test_a_stop_to_another_number_of_a_pool_scope_pool_also_stops_the_waiting_message(
    account, frozen, gateway
):
    pool = paced_pool(account, [NEW_YORK, SAN_FRANCISCO])
    waiting = send(pool, "hello")
    other = SAN_FRANCISCO if waiting.sender == NEW_YORK else NEW_YORK
    optout_record(account=account, recipient="+12125550100", number=other)

    message_dispatch(message_id=waiting.pk, now=at(0))

    assert Message.objects.get(pk=waiting.pk).detailed_status == "Opted-out"
    assert gateway.handed_over == []


def test_the_number_resource_counts_its_waiting_messages(api, account, frozen, gateway):
    pool = paced_pool(account)
    for i in range(3):
        send(pool, f"m{i}")
    number = Number.objects.get(number=NEW_YORK)

    assert api.get(f"/numbers/my/{number.pk}").json()["queueDepth"] == 3
    message_dispatch(message_id=Message.objects.order_by("dispatch_at")[0].pk, now=at(0))
    assert api.get(f"/numbers/my/{number.pk}").json()["queueDepth"] == 2


def test_a_message_from_a_number_of_an_smpp_connection_is_left_to_its_bind(
    account, frozen, gateway
):
    connection = ConnectionFactory(account=account, kind=Connection.Kind.SMPP)
    number_of(account, "+13125550100", connection=connection)
    pool = paced_pool(account, [])
    pool.pool_numbers.create(number=Number.objects.get(number="+13125550100"))

    message = send(pool, "hello", to="+13125550199")

    assert message.connection_id == connection.pk
    assert message_dispatch(message_id=message.pk, now=at(0)) is None
    assert messages_dispatch_due(now=at(10)) == 0
    assert Message.objects.get(pk=message.pk).lease_until is None
    assert gateway.handed_over == []


# Capacity-aware choice through the service


def test_a_new_recipient_is_given_the_number_without_a_backlog_and_told_why(account, frozen):
    pool = paced_pool(account, [NEW_YORK, SAN_FRANCISCO], max_queue_seconds=10)
    Number.objects.filter(number=NEW_YORK).update(next_slot_at=at(30).timestamp())

    message = send(pool, "hello", to="+13125550100")

    assert message.sender == SAN_FRANCISCO  # New York would have won the tie-break
    assert "Queue: left out +12122030001 (30 s), over the pool's 10 s limit" in message.explanation


def test_a_backlog_of_waiting_messages_moves_new_recipients_to_another_number(account, frozen):
    pool = paced_pool(account, [NEW_YORK, SAN_FRANCISCO], max_queue_seconds=3, sticky=True)
    # San Francisco already serves many people: without a limit New York takes them all.
    PoolNumber.objects.filter(number__number=SAN_FRANCISCO).update(mapping_count=10)

    messages = [send(pool, f"m{i}", to=f"+1312555{i:04d}") for i in range(6)]

    # New York's turns: 0, 1, 2, 3 s; a fifth would wait 4 s, over the limit.
    assert [m.sender for m in messages] == [NEW_YORK] * 4 + [SAN_FRANCISCO] * 2
    assert "Queue: left out +12122030001 (4 s)" in messages[4].explanation


def test_a_message_queued_before_turns_existed_is_dispatched_by_the_sweep(account, frozen, gateway):
    message = StoredMessageFactory(pool=paced_pool(account), status="Queued", dispatch_at=None)

    assert messages_dispatch_due(now=at(0)) == 1

    assert gateway.handed_over == ["Hello"]
    assert Message.objects.get(pk=message.pk).status == "Sent"
