"""purge_sticky_mappings and explain_sender: the selection service from the command line."""

import json
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.services.sending import message_send
from pools.models import PoolNumber, StickyMapping
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, pool_with, written_state

pytestmark = pytest.mark.django_db


def run(*args, **options) -> str:
    stdout = StringIO()
    call_command(*args, stdout=stdout, stderr=StringIO(), **options)
    return stdout.getvalue()


def recipient(i: int) -> str:
    return f"+1646555{i:04d}"


def send_at(moment, pool, *recipients):
    with time_machine.travel(moment, tick=False):
        for to in recipients:
            message_send(pool=pool, to=to, body="hi")


def mapping_counts(pool) -> dict[str, int]:
    return dict(PoolNumber.objects.filter(pool=pool).values_list("number__number", "mapping_count"))


def real_mapping_counts(pool) -> dict[str, int]:
    counts = dict.fromkeys(mapping_counts(pool), 0)
    for number in StickyMapping.objects.filter(pool=pool).values_list(
        "pool_number__number__number", flat=True
    ):
        counts[number] += 1
    return counts


@pytest.fixture
def start():
    return timezone.now()


# purge_sticky_mappings


def test_purge_deletes_only_the_expired_mappings_and_keeps_the_counts_true(account, start):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True, sticky_ttl_days=8)
    send_at(start, pool, *map(recipient, range(5)))  # 3 to New York, 2 to San Francisco
    send_at(start + timedelta(days=3), pool, recipient(5), recipient(6))

    with time_machine.travel(start + timedelta(days=8), tick=False):
        output = run("purge_sticky_mappings")

    assert "Purged 5 expired sticky mapping(s)." in output
    assert sorted(StickyMapping.objects.values_list("recipient", flat=True)) == [
        recipient(5),
        recipient(6),
    ]
    assert mapping_counts(pool) == real_mapping_counts(pool) == {NEW_YORK: 1, SAN_FRANCISCO: 1}


def test_purge_works_in_batches(account, start):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True, sticky_ttl_days=8)
    send_at(start, pool, *map(recipient, range(5)))
    send_at(start + timedelta(days=7), pool, recipient(9))

    with (
        time_machine.travel(start + timedelta(days=8), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        output = run("purge_sticky_mappings", "--batch-size", "2")

    deletes = [
        q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "pools_stickymapping"')
    ]
    assert len(deletes) == 3  # 2 + 2 + 1
    assert "Purged 5 expired sticky mapping(s)." in output
    assert list(StickyMapping.objects.values_list("recipient", flat=True)) == [recipient(9)]
    assert mapping_counts(pool) == real_mapping_counts(pool)


def test_purge_follows_each_pools_ttl_and_never_purges_a_ttl_of_zero(account, start):
    week = pool_with(account, [NEW_YORK], sticky=True, sticky_ttl_days=7)
    month = pool_with(account, [SAN_FRANCISCO], sticky=True, sticky_ttl_days=30)
    forever = pool_with(account, ["+12122030002"], sticky=True, sticky_ttl_days=0)
    for pool in (week, month, forever):
        send_at(start, pool, recipient(0))

    with time_machine.travel(start + timedelta(days=10), tick=False):
        run("purge_sticky_mappings")

    assert sorted(StickyMapping.objects.values_list("pool__name", flat=True)) == sorted(
        [month.name, forever.name]
    )
    for pool in (week, month, forever):
        assert mapping_counts(pool) == real_mapping_counts(pool)


def test_a_recipient_whose_mapping_was_purged_gets_a_fresh_choice(account, start):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True, sticky_ttl_days=8)
    send_at(start, pool, recipient(0))  # New York
    send_at(start + timedelta(days=1), pool, recipient(1))  # San Francisco
    later = start + timedelta(days=8, hours=12)
    with time_machine.travel(later, tick=False):
        run("purge_sticky_mappings")

    send_at(later, pool, recipient(0))

    mapping = StickyMapping.objects.get(recipient=recipient(0))
    assert (mapping.pool_number.number.number, mapping.created_at) == (NEW_YORK, later)
    assert mapping_counts(pool) == real_mapping_counts(pool) == {NEW_YORK: 1, SAN_FRANCISCO: 1}


def test_purge_with_nothing_expired_purges_nothing(account):
    pool = pool_with(account, [NEW_YORK], sticky=True)
    message_send(pool=pool, to=recipient(0), body="hi")

    assert "Purged 0 expired sticky mapping(s)." in run("purge_sticky_mappings")
    assert StickyMapping.objects.count() == 1


# explain_sender


def test_explain_sender_prints_the_decision_and_its_explanation(account):
    pool_with(account, [NEW_YORK, SAN_FRANCISCO], name="marketing", geomatch=True)

    output = run("explain_sender", "--pool", "marketing", "--to", "+14155550123")

    lines = output.splitlines()
    assert lines[0] == "+14155550123 gets 14152030001 (number), rule areaCode."
    assert lines[1] == "  Recipient +14155550123: country US, area code 415 (CA)."
    assert any("(areaCode)" in line for line in lines[2:])


def test_explain_sender_finds_the_pool_by_id_and_explains_a_sticky_mapping(account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True)
    message_send(pool=pool, to=recipient(0), body="hi")

    output = run("explain_sender", "--pool", str(pool.pk), "--to", recipient(0))

    assert "gets 12122030001 (number), rule sticky." in output
    assert f"Sticky: the recipient is mapped to {NEW_YORK}; it is used again." in output


def test_explain_sender_prints_json_on_request(account):
    pool_with(account, [NEW_YORK], name="marketing", alphanumeric_sender_id="ACME")

    args = ["--pool", "marketing", "--to", "+447400123456", "--strategy", "Alphanumeric"]
    output = run("explain_sender", *args, "--json")

    decision = json.loads(output)
    assert decision["from"] == "ACME"
    assert (decision["senderType"], decision["rule"], decision["optedOut"]) == (
        "alphanumeric",
        "alphanumeric",
        False,
    )


def test_explain_sender_writes_nothing(account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], name="marketing", sticky=True)
    message_send(pool=pool, to=recipient(0), body="hi")
    before = written_state(account)

    run("explain_sender", "--pool", "marketing", "--to", recipient(0))
    run("explain_sender", "--pool", "marketing", "--to", recipient(1))

    assert written_state(account) == before


@pytest.mark.parametrize(
    "pool_name, to, message",
    [
        ("nope", "+12125550100", "POOL_NOT_FOUND"),
        ("marketing", "+1212555", "INVALID_RECIPIENT"),
        ("marketing", "12125550100", "INVALID_RECIPIENT"),
    ],
)
def test_explain_sender_fails_with_a_clear_error(account, pool_name, to, message):
    pool_with(account, [NEW_YORK], name="marketing")

    with pytest.raises(CommandError, match=message):
        run("explain_sender", "--pool", pool_name, "--to", to)


def test_explain_sender_asks_for_the_id_of_a_pool_name_two_accounts_share(account, other_account):
    pool_with(account, [NEW_YORK], name="marketing")
    pool_with(other_account, [SAN_FRANCISCO], name="marketing")

    with pytest.raises(CommandError, match="POOL_AMBIGUOUS"):
        run("explain_sender", "--pool", "marketing", "--to", "+12125550100")


def test_explain_sender_shows_why_a_message_would_be_refused(account):
    pool_with(account, [NEW_YORK], name="marketing", geomatch=True, fallback="Reject")

    with pytest.raises(CommandError) as refusal:
        run("explain_sender", "--pool", "marketing", "--to", "+33612345678")

    text = str(refusal.value)
    assert text.startswith("NO_SENDER_AVAILABLE: ")
    assert "Recipient +33612345678: country FR." in text
    assert "Fallback Reject" in text


@pytest.mark.parametrize("size", ["0", "-5"])
def test_purge_refuses_a_batch_size_below_one(db, size):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("purge_sticky_mappings", "--batch-size", size, stdout=StringIO())
