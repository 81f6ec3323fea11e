"""Parallel sends through one pool: one mapping per recipient, counters that stay true, even load.

The parallel tests need real concurrent connections, so they run on PostgreSQL; the
sequential ones show the same properties on both databases.
"""

import threading
from collections import Counter

import pytest
from django.db import connection

from messaging.models import Message
from messaging.services.sending import message_send
from pools.models import PoolNumber, StickyMapping
from pools_project.errors import ServiceError
from tests.scenarios import pool_with
from virtual_numbers.models import Number


def numbers(count: int) -> list[str]:
    return [f"+1212203{i:04d}" for i in range(count)]


def recipient(i: int) -> str:
    return f"+1646555{i:04d}"


def run_in_parallel(jobs: list) -> list[BaseException]:
    """Each job in its own thread and database connection, all released at once."""
    barrier = threading.Barrier(len(jobs))
    errors = []

    def run(job):
        try:
            barrier.wait(timeout=10)
            job()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a send never finished"
    return errors


def mapping_counts(pool) -> dict[str, int]:
    """The kept counter of each number, after checking it against the real mappings."""
    kept = dict(PoolNumber.objects.filter(pool=pool).values_list("number__number", "mapping_count"))
    real = Counter(
        StickyMapping.objects.filter(pool=pool).values_list(
            "pool_number__number__number", flat=True
        )
    )
    assert kept == {number: real[number] for number in kept}
    return kept


def assert_even(counts: dict[str, int]) -> None:
    assert max(counts.values()) - min(counts.values()) <= 2, counts


# In parallel (PostgreSQL)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_first_messages_to_one_recipient_make_exactly_one_mapping(account):
    pool = pool_with(account, numbers(5), sticky=True)

    errors = run_in_parallel(
        [lambda: message_send(pool=pool, to=recipient(0), body="hi") for _ in range(20)]
    )

    assert errors == []
    mapping = StickyMapping.objects.get()
    senders = set(Message.objects.values_list("sender", flat=True))
    assert Message.objects.count() == 20
    assert senders == {mapping.pool_number.number.number}
    assert sum(mapping_counts(pool).values()) == 1
    assert sum(PoolNumber.objects.values_list("assignment_count", flat=True)) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_sends_to_new_recipients_spread_evenly_over_the_numbers(account):
    pool = pool_with(account, numbers(10), sticky=True)

    def ten_recipients(thread):
        def send():
            for i in range(10):
                message_send(pool=pool, to=recipient(thread * 10 + i), body="hi")

        return send

    errors = run_in_parallel([ten_recipients(thread) for thread in range(20)])

    assert errors == []
    assert StickyMapping.objects.count() == Message.objects.count() == 200
    counts = mapping_counts(pool)
    assert sum(counts.values()) == 200
    assert_even(counts)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sticky_hits_and_new_assignments_on_the_same_numbers_run_side_by_side(account):
    pool = pool_with(account, numbers(2), sticky=True)
    for i in range(10):
        message_send(pool=pool, to=recipient(i), body="first")
    mapped = dict(StickyMapping.objects.values_list("recipient", "pool_number__number__number"))

    def sends(thread):
        def send():
            for i in range(5):
                # Even threads write to mapped recipients, odd ones to new recipients.
                to = recipient(thread // 2) if thread % 2 == 0 else recipient(100 + thread * 5 + i)
                message_send(pool=pool, to=to, body="hi")

        return send

    errors = run_in_parallel([sends(thread) for thread in range(20)])

    assert errors == []
    assert Message.objects.count() == 10 + 100
    assert StickyMapping.objects.count() == 10 + 50
    for to, number in mapped.items():
        assert set(Message.objects.filter(to=to).values_list("sender", flat=True)) == {number}
    assert_even(mapping_counts(pool))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_first_sends_take_exactly_the_daily_cap_of_the_pools_numbers(account):
    """Three numbers of cap 4, twenty new recipients at once: twelve are served, every
    other send is refused, and no number goes past its cap (SPEC §14)."""
    pool = pool_with(account, numbers(3), sticky=True)
    Number.objects.update(daily_new_recipients=4)

    errors = run_in_parallel(
        [lambda i=i: message_send(pool=pool, to=recipient(i), body="hi") for i in range(20)]
    )

    assert len(errors) == 8
    assert all(isinstance(e, ServiceError) and e.code == "NO_SENDER_AVAILABLE" for e in errors)
    assert Counter(Message.objects.values_list("sender", flat=True)) == dict.fromkeys(numbers(3), 4)
    assert set(Number.objects.values_list("new_recipients_today", flat=True)) == {4}
    assert mapping_counts(pool) == dict.fromkeys(numbers(3), 4)
    assert set(PoolNumber.objects.values_list("assignment_count", flat=True)) == {4}


# One after another (both databases)


@pytest.mark.django_db
def test_sequential_sends_to_new_recipients_spread_evenly_over_the_numbers(account):
    pool = pool_with(account, numbers(10), sticky=True)

    for i in range(53):
        message_send(pool=pool, to=recipient(i), body="hi")

    counts = mapping_counts(pool)
    assert sum(counts.values()) == 53
    assert_even(counts)
    assert max(counts.values()) - min(counts.values()) <= 1


@pytest.mark.django_db
def test_sequential_sends_to_one_recipient_keep_one_mapping_and_one_sender(account):
    pool = pool_with(account, numbers(5), sticky=True)

    senders = {message_send(pool=pool, to=recipient(0), body="hi").sender for _ in range(20)}

    assert len(senders) == 1
    assert StickyMapping.objects.count() == 1
    assert sum(mapping_counts(pool).values()) == 1
