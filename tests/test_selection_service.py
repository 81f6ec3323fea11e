"""The selection service (pools.services.selection) through message_send: what it records, in how many queries."""

from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import Message
from messaging.services.sending import message_send
from pools.benchmark.statements import counted
from pools.models import Pool, PoolNumber, StickyMapping
from pools.services import selection as sender
from pools.services.pools import pool_update
from pools_project.errors import ServiceError
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, pool_with
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db


def recipient(i: int) -> str:
    return f"+1212555{i:04d}"


def counters(pool) -> dict[str, tuple[int, int]]:
    """(mapping_count, assignment_count) per number."""
    return {
        number: (mappings, assignments)
        for number, mappings, assignments in PoolNumber.objects.filter(pool=pool).values_list(
            "number__number", "mapping_count", "assignment_count"
        )
    }


def real_mapping_counts(pool) -> dict[str, int]:
    counts = Counter(
        StickyMapping.objects.filter(pool=pool).values_list(
            "pool_number__number__number", flat=True
        )
    )
    return {number: counts[number] for number in counters(pool)}


def kept_mapping_counts(pool) -> dict[str, int]:
    return {number: mappings for number, (mappings, _) in counters(pool).items()}


def usage(number: str) -> tuple:
    return Number.objects.filter(number=number).values_list("messages_sent", "last_used_at").get()


# Counters


def test_mapping_counts_match_the_mappings_through_a_pools_life(account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO, "+12122030002"], sticky=True)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for i in range(7):
            message_send(pool=pool, to=recipient(i), body="first")
    with time_machine.travel(start + timedelta(days=5), tick=False):
        for i in range(3):
            message_send(pool=pool, to=recipient(i), body="again")  # sticky hits
    Number.objects.filter(number=SAN_FRANCISCO).update(sms_capable=False, mms_capable=True)
    with time_machine.travel(start + timedelta(days=9), tick=False):
        # 2 kept, 1 moved off San Francisco, 4 expired and chosen again, 3 new.
        for i in range(10):
            message_send(pool=pool, to=recipient(i), body="later")

    assert kept_mapping_counts(pool) == real_mapping_counts(pool)
    assert sum(real_mapping_counts(pool).values()) == 10
    assert real_mapping_counts(pool)[SAN_FRANCISCO] == 0
    assert sum(assignments for _, assignments in counters(pool).values()) == 7 + 1 + 4 + 3


def test_each_new_assignment_is_counted_and_a_sticky_hit_is_not(account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True)

    message_send(pool=pool, to=recipient(0), body="new")
    message_send(pool=pool, to=recipient(1), body="new")
    message_send(pool=pool, to=recipient(0), body="hit")
    message_send(pool=pool, to=recipient(0), body="hit")

    assert counters(pool) == {NEW_YORK: (1, 1), SAN_FRANCISCO: (1, 1)}


def test_without_sticky_every_send_is_a_new_assignment_and_no_mapping(account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO])

    for _ in range(5):
        message_send(pool=pool, to=recipient(0), body="hi")

    assert counters(pool) == {NEW_YORK: (0, 3), SAN_FRANCISCO: (0, 2)}
    assert not StickyMapping.objects.exists()


def test_without_sticky_the_least_recently_used_number_sends_next(account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO, "+12122030002"])

    senders = [message_send(pool=pool, to=recipient(0), body="hi").sender for _ in range(6)]

    assert senders == [NEW_YORK, "+12122030002", SAN_FRANCISCO] * 2


def test_a_send_records_the_numbers_use(account):
    pool = pool_with(account, [NEW_YORK], sticky=True)
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        message_send(pool=pool, to=recipient(0), body="new")
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        message_send(pool=pool, to=recipient(0), body="sticky hit")

    assert usage(NEW_YORK) == (2, start + timedelta(hours=1))


def test_an_alphanumeric_send_records_no_numbers_use(account):
    pool = pool_with(account, [NEW_YORK], alphanumeric_sender_id="ACME")

    message_send(pool=pool, to="+447400123456", body="hi", strategy="Alphanumeric")

    assert usage(NEW_YORK) == (0, None)
    assert counters(pool) == {NEW_YORK: (0, 0)}


def test_a_preview_records_nothing(account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True)
    message_send(pool=pool, to=recipient(0), body="first")
    before = (counters(pool), usage(NEW_YORK), list(StickyMapping.objects.values()))

    for to in (recipient(0), recipient(1)):
        sender.sender_preview(pool=pool, to=to)

    assert (counters(pool), usage(NEW_YORK), list(StickyMapping.objects.values())) == before
    assert usage(SAN_FRANCISCO) == (0, None)


def test_a_refused_selection_records_nothing(account):
    pool = pool_with(account, [NEW_YORK], sticky=True, allowed_countries=["US"])

    with pytest.raises(ServiceError) as refusal:
        message_send(pool=pool, to="+447400123456", body="hi")

    assert (refusal.value.code, refusal.value.status) == ("COUNTRY_NOT_ALLOWED", 422)
    assert counters(pool) == {NEW_YORK: (0, 0)}
    assert usage(NEW_YORK) == (0, None)


def test_a_mapping_deleted_after_it_was_read_is_chosen_again(account, monkeypatch):
    """A sticky hit whose mapping vanished (purged, number removed) before it was touched."""
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True)
    message_send(pool=pool, to=recipient(0), body="first")
    real_touch = sender._touch

    def touch_after_delete(mapping_row, now):
        StickyMapping.objects.filter(pk=mapping_row.pk).delete()
        PoolNumber.objects.filter(pk=mapping_row.pool_number_id).update(mapping_count=0)
        monkeypatch.setattr(sender, "_touch", real_touch)
        return real_touch(mapping_row, now)

    monkeypatch.setattr(sender, "_touch", touch_after_delete)

    message = message_send(pool=pool, to=recipient(0), body="second")

    assert message.rule == "pool"
    assert StickyMapping.objects.get().recipient == recipient(0)
    assert kept_mapping_counts(pool) == real_mapping_counts(pool)


# Statement budgets (SPEC §15): a send request, authentication included, runs at most
# 8 statements for a sticky hit and 11 for a new recipient, whatever the pool's size.
# BEGIN, COMMIT and savepoints are not counted; nor is the dispatch, which runs after
# the commit (in a worker with a broker).


def geomatch_pool(account, size: int):
    """A sticky geomatch pool of `size` New York numbers (area code 212 and its overlays)."""
    pool = pool_with(account, sticky=True, geomatch=True)
    area_codes = ["212", "646", "332", "917"]
    numbers = Number.objects.bulk_create(
        Number(
            account=account,
            number=f"+1{area_codes[i % 4]}{len(str(size))}{i:06d}",
            country="US",
            area_code=area_codes[i % 4],
            location="NY",
        )
        for i in range(size)
    )
    PoolNumber.objects.bulk_create(PoolNumber(pool=pool, number=number) for number in numbers)
    return pool


def statements_of(send) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = send()
    assert response.status_code == 200, response.content
    return counted(captured.captured_queries)


def send_request(api, pool, to: str):
    return lambda: api.post(f"/pools/my/{pool.pk}/sms", {"to": to, "body": "hi"}, format="json")


def budget(api, account, size: int) -> dict[str, list[str]]:
    pool = geomatch_pool(account, size)
    return {
        "new recipient": statements_of(send_request(api, pool, "+12125550199")),
        "sticky hit": statements_of(send_request(api, pool, "+12125550199")),
        "new recipient in an overlay": statements_of(send_request(api, pool, "+16465550199")),
    }


@pytest.mark.parametrize("size", [10, 10_000])
def test_a_send_request_stays_within_its_statement_budget(api, account, size):
    spent = budget(api, account, size)

    assert len(spent["sticky hit"]) <= 8, spent["sticky hit"]
    assert len(spent["new recipient"]) <= 11, spent["new recipient"]
    assert len(spent["new recipient in an overlay"]) <= 11, spent["new recipient in an overlay"]


def test_a_send_takes_the_same_statements_in_a_pool_of_10_or_10000_numbers(api, account):
    small = budget(api, account, 10)
    large = budget(api, account, 10_000)

    assert {path: len(sql) for path, sql in small.items()} == {
        path: len(sql) for path, sql in large.items()
    }
    # A sticky hit reads its mapping only; no send counts the mappings table.
    assert not any('FROM "pools_poolnumber"' in sql for sql in large["sticky hit"])
    for sql in (*large["new recipient"], *large["sticky hit"]):
        assert not ("COUNT(" in sql.upper() and "pools_stickymapping" in sql), sql


def test_the_embedded_default_hands_a_message_over_in_a_few_statements(
    api, account, django_capture_on_commit_callbacks
):
    """Without a broker the simulator's message is dispatched right after the send's
    commit: from the message as it was written (not read again), Sent and Delivered
    recorded together. The answer still shows it as it was sent."""
    pool = geomatch_pool(account, 10)
    with (
        CaptureQueriesContext(connection) as captured,
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as request,
    ):
        response = send_request(api, pool, "+12125550199")()
    dispatch = counted(captured.captured_queries[len(request.captured_queries) :])

    assert response.json()["status"] == "Queued"
    message = Message.objects.get(pk=response.json()["trackingId"])
    assert message.status == "Delivered"
    assert list(message.status_events.values_list("status", flat=True).order_by("pk")) == [
        "Queued",
        "Sent",
        "Delivered",
    ]
    # The claim (which says the recipient has no opt-out to check), the part with the
    # Sent and Delivered events (one statement on PostgreSQL), the status with the
    # provider's id (not read first: the dispatcher holds the claim), the number's health.
    assert len(dispatch) <= (4 if connection.vendor == "postgresql" else 5), dispatch


@pytest.mark.postgres
def test_the_send_path_statements_are_prepared_once_per_connection(api, account):
    """PostgreSQL plans a statement the connection has run twice only once: planning
    cost more than running the send's statements."""
    pool = geomatch_pool(account, 10)
    for i in range(3):
        send_request(api, pool, recipient(i))()

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]

    assert any('INSERT INTO "messaging_message"' in statement for statement in prepared)
    assert any("FROM accounts_account a JOIN accounts_apikey k" in s for s in prepared)


def test_a_send_decides_on_the_settings_as_committed_not_as_loaded(account):
    """A send that loaded its pool just before sticky was turned off creates no mapping."""
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True)
    loaded = Pool.objects.get(pk=pool.pk)
    pool_update(pool=pool, sticky=False)

    message_send(pool=loaded, to=recipient(0), body="hi")

    assert not StickyMapping.objects.exists()
    assert kept_mapping_counts(pool) == {NEW_YORK: 0, SAN_FRANCISCO: 0}


def test_a_send_through_a_pool_deleted_since_it_was_loaded_is_refused(account):
    pool = pool_with(account, [NEW_YORK], sticky=True)
    loaded = Pool.objects.get(pk=pool.pk)
    pool.delete()

    with pytest.raises(ServiceError) as refusal:
        message_send(pool=loaded, to=recipient(0), body="hi")

    assert (refusal.value.code, refusal.value.status) == ("POOL_NOT_FOUND", 404)
    assert not StickyMapping.objects.exists()
