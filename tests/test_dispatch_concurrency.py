"""Pacing across processes (SPEC §12), and no transaction open while a carrier is called.

The pacing state is in the database, so it holds across dispatchers on any number of
hosts: here two sending threads with their own connections, and two dispatcher
processes of their own, on PostgreSQL.
"""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections

from carriers.gateways.base import Accepted, Gateway
from messaging.models import Message
from messaging.services.dispatch import message_dispatch
from messaging.services.sending import message_send
from tests.scenarios import NEW_YORK, pool_with
from tests.test_celery_worker import worker_database_url
from tests.test_selection_concurrency import run_in_parallel
from virtual_numbers.models import Number

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TICKS = 12

# A dispatcher process: at each tick of a clock it is given, it tries every message.
DISPATCHER = """
import json, sys, django
from datetime import datetime, timedelta
django.setup()
from messaging.services.dispatch import message_dispatch
import tests.test_dispatch_concurrency as here
ids, start, ticks = json.loads(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), int(sys.argv[3])
for tick in range(ticks):
    here.TICK = tick
    for message_id in ids:
        message_dispatch(message_id=message_id, now=start + timedelta(seconds=tick))
"""
TICK = None  # set by a dispatcher process before each round


class LoggingGateway(Gateway):
    """Appends (body, tick) of every hand-over to HANDOVER_LOG: one line, one write."""

    def send(self, outbound):
        with open(os.environ["HANDOVER_LOG"], "a") as log:
            log.write(json.dumps([outbound.body, TICK]) + "\n")
        return Accepted((f"log-{outbound.tracking_id}",))


def paced_pool(account):
    pool = pool_with(account, [NEW_YORK])
    Number.objects.update(parts_per_second=None)  # a long code's 1 part per second
    return pool


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_sends_from_one_long_code_take_distinct_turns_a_second_apart(
    account, time_machine
):
    time_machine.move_to(START, tick=False)
    pool = paced_pool(account)

    def sender(i):
        return lambda: [
            message_send(pool=pool, to="+12125550100", body=f"{i}-{k}") for k in range(5)
        ]

    assert run_in_parallel([sender(0), sender(1)]) == []

    turns = sorted(Message.objects.values_list("dispatch_at", flat=True))
    assert turns == [START + timedelta(seconds=s) for s in range(10)]
    for i in (0, 1):  # each sender's own messages keep their order
        mine = Message.objects.filter(body__startswith=f"{i}-").order_by("dispatch_at")
        assert [m.body for m in mine] == [f"{i}-{k}" for k in range(5)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatcher_processes_hand_each_message_over_once_in_turn_and_in_order(
    account, time_machine, tmp_path, monkeypatch
):
    time_machine.move_to(START, tick=False)
    pool = paced_pool(account)
    # No dispatch at send in this process: the two dispatchers do all of it.
    monkeypatch.setattr("messaging.services.sending.message_enqueue", lambda message: None)
    messages = [message_send(pool=pool, to="+12125550100", body=f"m{i}") for i in range(10)]
    log = tmp_path / "handovers.jsonl"
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "DJANGO_SETTINGS_MODULE": "pools_project.settings",
        "SMS_GATEWAY_BACKEND": "tests.test_dispatch_concurrency.LoggingGateway",
        "HANDOVER_LOG": str(log),
    }
    ids = json.dumps([str(m.pk) for m in messages])
    command = [sys.executable, "-c", DISPATCHER, ids, START.isoformat(), str(TICKS)]
    dispatchers = [
        subprocess.Popen(command, cwd=django_settings.BASE_DIR, env=env, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in dispatchers:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors.decode()[-3000:]

    handovers = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(body for body, _ in handovers) == sorted(f"m{i}" for i in range(10))
    # Message i's turn is at i seconds: never handed over before it, and in order.
    assert {body: tick for body, tick in handovers} == {f"m{i}": i for i in range(10)}
    assert set(Message.objects.values_list("status", flat=True)) == {"Sent"}


class TransactionProbe(Gateway):
    """What the database looked like from inside the carrier call."""

    seen: list[dict] = []

    def send(self, outbound):
        probe = {"in_atomic_block": connection.in_atomic_block}
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # This very statement runs in a transaction of its own (autocommit):
                # none was open before it if the transaction began just now.
                cursor.execute("SELECT now() = statement_timestamp()")
                probe["fresh_transaction"] = cursor.fetchone()[0]
            probe["rows_free"] = rows_lockable(outbound.tracking_id)
        self.seen.append(probe)
        return Accepted((f"probe-{outbound.tracking_id}",))


def rows_lockable(tracking_id: str) -> bool:
    """From another connection: can the message and its number be locked right now?"""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
            cursor.execute(
                "SELECT 1 FROM messaging_message m JOIN numbers_number n ON n.id = m.number_id "
                "WHERE m.id = %s FOR UPDATE NOWAIT",
                [tracking_id],
            )
            return cursor.fetchone() is not None
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_no_transaction_or_row_lock_is_open_while_the_carrier_is_called(account, settings):
    settings.SMS_GATEWAY_BACKEND = "tests.test_dispatch_concurrency.TransactionProbe"
    TransactionProbe.seen = []
    pool = pool_with(account, [NEW_YORK])

    message = message_send(pool=pool, to="+12125550100", body="Hello")  # dispatched on commit

    assert Message.objects.get(pk=message.pk).status == "Sent"
    assert len(TransactionProbe.seen) == 1
    probe = TransactionProbe.seen[0]
    assert probe["in_atomic_block"] is False
    if connection.vendor == "postgresql":
        assert probe["fresh_transaction"] is True
        assert probe["rows_free"] is True
    message_dispatch(message_id=message.pk)  # and again: nothing left to hand over
    assert len(TransactionProbe.seen) == 1
