"""Each lock of the selection service, shown doing its one job (PostgreSQL).

A transaction is held open at a chosen point (a function it calls is wrapped to wait
for the test), and a second one is started against it: the test then sees, in
`pg_stat_activity`, whether the second waits for a lock or goes through. So:

- new recipients of one pool are served side by side, a number apart; with a single
  number, the second waits for the first and then shares that number;
- a second first message to one recipient waits on the mapping's unique index and then
  reuses the first one's mapping;
- the expired-mapping purge waits for a send sliding a mapping's expiry, and keeps it;
- two inbound engagements of one recipient move its mapping one after the other.

The last two fail if `_purge_batch` or `mapping_engage` stops locking the mapping row.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

import messaging.services.sending
import pools.services.selection
from messaging.models import Message
from messaging.services.sending import message_send
from pools.models import PoolNumber, StickyMapping
from pools.services.selection import _touch, mapping_engage, mappings_purge_expired
from tests.scenarios import pool_with
from tests.test_selection_concurrency import mapping_counts, numbers, recipient

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 5  # seconds: the longest any step may take before the test gives up


def until(condition, what: str) -> None:
    """Poll `condition` until it holds; fail after WAIT seconds. Not a sleep standing in
    for synchronisation: it waits for a state the database (or a thread) reports."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


def waiting_on_lock(pid: int) -> bool:
    """Whether the backend `pid` is waiting for a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'", [pid]
        )
        return cursor.fetchone() is not None


class Worker(threading.Thread):
    """A job in its own thread and database connection, whose backend pid is known."""

    def __init__(self, job):
        super().__init__(daemon=True)
        self.job = job
        self.pid = None
        self.result = None
        self.error = None
        self.connected = threading.Event()

    def run(self):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            self.connected.set()
            self.result = self.job()
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            connection.close()

    def finish(self):
        """The job's result, once its thread has ended (its error, re-raised)."""
        self.join(timeout=WAIT)
        assert not self.is_alive(), "the job never finished"
        if self.error is not None:
            raise self.error
        return self.result


class Pause:
    """`function`, wrapped: its first caller stops inside it until `release` is set,
    then calls it; later callers go straight through, and `passed` says one did."""

    def __init__(self, function):
        self.function = function
        self.reached = threading.Event()
        self.release = threading.Event()
        self.passed = threading.Event()
        self._lock = threading.Lock()
        self._taken = False

    def __call__(self, *args, **kwargs):
        with self._lock:
            first, self._taken = not self._taken, True
        if first:
            self.reached.set()
            assert self.release.wait(timeout=2 * WAIT), "the paused call was never released"
        else:
            self.passed.set()
        return self.function(*args, **kwargs)


class Race:
    """Workers and pauses of one test; whatever the test's outcome, every pause is
    released and every worker joined before the database is flushed."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.workers: list[Worker] = []
        self.events: list[threading.Event] = []

    def pause(self, module, name: str) -> Pause:
        pause = Pause(getattr(module, name))
        self.monkeypatch.setattr(module, name, pause)
        self.events.append(pause.release)
        return pause

    def event(self) -> threading.Event:
        event = threading.Event()
        self.events.append(event)
        return event

    def start(self, job) -> Worker:
        worker = Worker(job)
        self.workers.append(worker)
        worker.start()
        assert worker.connected.wait(timeout=WAIT), "the worker never connected"
        return worker

    def end(self):
        for event in self.events:
            event.set()
        for worker in self.workers:
            worker.join(timeout=2 * WAIT)


@pytest.fixture
def race(monkeypatch):
    race = Race(monkeypatch)
    yield race
    race.end()


def send_to(pool, to: str):
    return lambda: message_send(pool=pool, to=to, body="hi")


def held_send(race, pool, to: str) -> tuple[Worker, Pause]:
    """A first send to `to`, stopped at its last step, mapping and counters written:
    its transaction stays open until the pause is released."""
    pause = race.pause(messaging.services.sending, "status_event_record")
    held = race.start(send_to(pool, to))
    assert pause.reached.wait(timeout=WAIT), "the held send never reached its last step"
    return held, pause


def sender_of(to: str) -> set[str]:
    return set(Message.objects.filter(to=to).values_list("sender", flat=True))


# Two new recipients of one pool


def test_a_new_recipients_send_completes_while_another_new_recipients_send_is_held_open(
    account, race
):
    pool = pool_with(account, numbers(3), sticky=True)
    held, pause = held_send(race, pool, recipient(0))

    other = race.start(send_to(pool, recipient(1)))
    other.finish()

    assert held.is_alive() and not pause.release.is_set()  # still inside its transaction
    pause.release.set()
    held.finish()
    mapped = dict(StickyMapping.objects.values_list("recipient", "pool_number__number__number"))
    assert set(mapped) == {recipient(0), recipient(1)}
    assert mapped[recipient(0)] != mapped[recipient(1)]
    for to, number in mapped.items():
        assert sender_of(to) == {number}
    assert sorted(mapping_counts(pool).values()) == [0, 1, 1]


def test_with_a_single_number_a_new_recipient_waits_for_the_held_send_then_shares_it(account, race):
    pool = pool_with(account, numbers(1), sticky=True)
    held, pause = held_send(race, pool, recipient(0))

    # No other number to skip to: the second send takes the held one, and waits for it.
    other = race.start(send_to(pool, recipient(1)))
    until(lambda: waiting_on_lock(other.pid), "the second send waits for the held one")
    assert other.is_alive()

    pause.release.set()
    held.finish()
    other.finish()
    (number,) = numbers(1)
    assert dict(StickyMapping.objects.values_list("recipient", "pool_number__number__number")) == {
        recipient(0): number,
        recipient(1): number,
    }
    assert sender_of(recipient(0)) == sender_of(recipient(1)) == {number}
    assert mapping_counts(pool) == {number: 2}


# Two first messages to one recipient


def test_a_second_first_send_to_one_recipient_waits_for_the_first_and_reuses_its_mapping(
    account, race
):
    pool = pool_with(account, numbers(3), sticky=True)
    held, pause = held_send(race, pool, recipient(0))

    second = race.start(send_to(pool, recipient(0)))
    until(lambda: waiting_on_lock(second.pid), "the second first send waits for the first")
    assert second.is_alive()

    pause.release.set()
    first_message, second_message = held.finish(), second.finish()
    mapping = StickyMapping.objects.get()
    sender = mapping.pool_number.number.number
    assert first_message.sender == second_message.sender == sender
    assert Message.objects.count() == 2
    assert mapping_counts(pool)[sender] == 1
    assert sum(mapping_counts(pool).values()) == 1
    assert sum(PoolNumber.objects.values_list("assignment_count", flat=True)) == 1


# The expired-mapping purge


def test_the_purge_waits_for_a_send_sliding_an_expired_mapping_and_then_keeps_it(account, race):
    pool = pool_with(account, numbers(2), sticky=True, sticky_ttl_days=8)
    message_send(pool=pool, to=recipient(0), body="first")
    StickyMapping.objects.update(last_used_at=timezone.now() - timedelta(days=9))
    mapping = StickyMapping.objects.get()
    touched, commit = threading.Event(), race.event()

    def slide_expiry():
        # What a sticky hit does to its mapping, in a transaction kept open.
        with transaction.atomic():
            assert _touch(mapping, timezone.now())
            touched.set()
            assert commit.wait(timeout=2 * WAIT), "the toucher was never let commit"

    toucher = race.start(slide_expiry)
    assert touched.wait(timeout=WAIT), "the mapping was never touched"
    purge = race.start(mappings_purge_expired)
    until(lambda: waiting_on_lock(purge.pid), "the purge waits for the touched mapping")
    assert purge.is_alive()

    commit.set()
    toucher.finish()
    assert purge.finish() == 0
    assert StickyMapping.objects.filter(pk=mapping.pk).exists()
    assert mapping_counts(pool)[mapping.pool_number.number.number] == 1
    assert sum(mapping_counts(pool).values()) == 1


# Two inbound engagements of one recipient


def test_two_engagements_at_once_leave_one_mapping_on_the_later_number_with_true_counters(
    account, race
):
    pool = pool_with(account, numbers(3), sticky=True)
    a, b, c = PoolNumber.objects.filter(pool=pool).order_by("number__number")
    person = recipient(0)
    mapping_engage(pool=pool, recipient=person, pool_number=a)
    pause = race.pause(pools.services.selection, "_mapping_move")

    first = race.start(lambda: mapping_engage(pool=pool, recipient=person, pool_number=b))
    assert pause.reached.wait(timeout=WAIT), "the first engagement never moved the mapping"
    second = race.start(lambda: mapping_engage(pool=pool, recipient=person, pool_number=c))
    # With the mapping row locked, the second waits for it; without, it moves the
    # mapping too: either way, the first is let go only once the second got that far.
    until(
        lambda: waiting_on_lock(second.pid) or pause.passed.is_set(),
        "the second engagement waits for the first, or moves the mapping itself",
    )

    pause.release.set()
    first.finish()
    second.finish()
    # The second engagement waited for the first and committed after it: its number wins.
    mapping = StickyMapping.objects.get()
    assert (mapping.recipient, mapping.pool_number_id) == (person, c.pk)
    counts = mapping_counts(pool)
    assert all(count >= 0 for count in counts.values()), counts
    assert counts == {a.number.number: 0, b.number.number: 0, c.number.number: 1}


# A send choosing again for an expired mapping, and an inbound engagement of that person


def test_a_send_replacing_an_expired_mapping_and_an_engagement_take_turns_without_deadlock(
    account, race
):
    """The send locks the mapping as it reads it, before it claims a number; the
    engagement locks the mapping, then moves the counters: one order, no deadlock, and
    the engagement, which waited, moves what the send wrote."""
    pool = pool_with(account, numbers(2), sticky=True, sticky_ttl_days=8)
    person = recipient(0)
    first = message_send(pool=pool, to=person, body="first")
    StickyMapping.objects.update(last_used_at=timezone.now() - timedelta(days=9))
    other = PoolNumber.objects.filter(pool=pool).exclude(number_id=first.number_id).get()
    pause = race.pause(pools.services.selection, "_mapping_delete")

    send = race.start(send_to(pool, person))
    assert pause.reached.wait(timeout=WAIT), "the send never came to drop the expired mapping"
    engage = race.start(lambda: mapping_engage(pool=pool, recipient=person, pool_number=other))
    until(lambda: waiting_on_lock(engage.pid), "the engagement waits for the send's mapping")

    pause.release.set()
    resent = send.finish()
    engage.finish()
    mapping = StickyMapping.objects.get()
    assert (mapping.recipient, mapping.pool_number_id) == (person, other.pk)
    assert Message.objects.get(pk=resent.pk).sender  # the send went out, from its choice
    counts = mapping_counts(pool)
    assert sorted(counts.values()) == [0, 1], counts
