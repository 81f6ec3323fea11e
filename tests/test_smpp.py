"""SMPP end to end (SPEC §11, §12): `manage.py run_smpp` against a real SMSC process.

The SMSC (`tests/smsc.py`) runs on smpp34's server side, a different SMPP
implementation from our client's smpplib, on 127.0.0.1. The bind keeper is the real
command in a process of its own, on the test database — so these run on PostgreSQL,
where a second process can share it.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings

from carriers.models import Connection
from messaging.models import Message
from messaging.services.sending import message_send
from optout.models import InboundMessage, OptOut
from tests.scenarios import NEW_YORK, pool_with
from tests.smsc import running_smsc
from tests.test_celery_worker import worker_database_url
from virtual_numbers.models import Number

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SYSTEM_ID, PASSWORD = "numberpools", "s3cretpw"  # SMPP 3.4: at most 8 characters
RECIPIENT = "+12125550100"
TIMEOUT = 30


@pytest.fixture
def smsc(tmp_path):
    with running_smsc(tmp_path, system_id=SYSTEM_ID, password=PASSWORD) as smsc:
        yield smsc


@pytest.fixture
def connection(account, smsc):
    return Connection.objects.create(
        account=account,
        name="Aggregator",
        kind=Connection.Kind.SMPP,
        settings={"host": "127.0.0.1", "port": smsc.port, "systemId": SYSTEM_ID},
        secrets={"password": PASSWORD},
        window=4,
    )


@pytest.fixture
def pool(account, connection):
    pool = pool_with(account, [NEW_YORK], sticky=True)
    Number.objects.filter(number=NEW_YORK).update(connection=connection)
    return pool


@pytest.fixture
def run_smpp(connection, tmp_path):
    """`manage.py run_smpp --connection ID`, as production runs it, until the test ends."""
    log = tmp_path / "run_smpp.log"
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "DJANGO_SETTINGS_MODULE": "pools_project.settings",
        "DISPATCH_LEASE_SECONDS": "10",
    }
    command = [sys.executable, "manage.py", "run_smpp", "--connection", str(connection.pk)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=django_settings.BASE_DIR, env=env, stdout=output, stderr=output
        )
    process.log = log
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for(condition, process, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if process.poll() is not None:
            pytest.fail(f"run_smpp exited ({process.returncode}):\n{process.log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n{process.log.read_text()[-5000:]}")
        time.sleep(0.1)
    return result


def status_of(message) -> str:
    return Message.objects.get(pk=message.pk).status


def send(pool, body, to=RECIPIENT) -> Message:
    return message_send(pool=pool, to=to, body=body)


def accepted(smsc, text_start: str) -> list[dict]:
    return [
        s
        for s in smsc.submits()
        if s["command_status"] == 0 and (s["text"] or "").startswith(text_start)
    ]


def test_a_message_goes_queued_sent_delivered_through_a_real_receipt(smsc, pool, run_smpp):
    message = send(pool, "Your code is 1234")

    wait_for(lambda: status_of(message) == "Delivered", run_smpp, "the receipt")

    message.refresh_from_db()
    history = list(message.status_events.values_list("status", flat=True))
    assert history == ["Queued", "Sent", "Delivered"]
    (submit,) = smsc.submits()
    assert (submit["source_addr"], submit["destination_addr"]) == (NEW_YORK[1:], RECIPIENT[1:])
    assert (submit["data_coding"], submit["registered_delivery"], submit["udh"]) == (0, 1, None)
    assert submit["text"] == "Your code is 1234"
    assert message.provider_message_id == submit["message_id"]
    assert message.detailed_status == "DELIVRD"
    assert Connection.objects.get(pk=message.connection_id).state_status == "up"


def test_a_three_part_ucs2_body_arrives_as_three_submits_with_one_udh_reference(
    smsc, pool, run_smpp
):
    body = "Привет, мир! " * 15  # 195 UTF-16 units: three parts of at most 67
    message = send(pool, body)
    assert (message.body_analysis["parts"], message.body_analysis["unicode"]) == (3, True)

    wait_for(lambda: status_of(message) == "Delivered", run_smpp, "three receipts")

    # Up to the window, parts are in flight together: the SMSC may take them in any order.
    submits = sorted(smsc.submits(), key=lambda s: s["udh"]["seq"])
    assert [s["data_coding"] for s in submits] == [8, 8, 8]
    assert all(s["esm_class"] & 0x40 for s in submits)
    assert len({s["udh"]["ref"] for s in submits}) == 1
    assert [(s["udh"]["total"], s["udh"]["seq"]) for s in submits] == [(3, 1), (3, 2), (3, 3)]
    assert "".join(s["text"] for s in submits) == body
    assert list(Message.objects.get(pk=message.pk).parts.values_list("provider_id", flat=True)) == [
        s["message_id"] for s in submits
    ]


def test_a_gsm7_body_with_extension_characters_is_cut_where_body_analysis_cuts_it(
    smsc, pool, run_smpp
):
    body = "Price: 10€ [promo] " * 9  # € [ ] cost two septets each
    message = send(pool, body)
    parts = message.body_analysis["parts"]

    wait_for(lambda: status_of(message) == "Delivered", run_smpp, "the receipts")

    submits = sorted(smsc.submits(), key=lambda s: s["udh"]["seq"])
    assert len(submits) == parts > 1
    assert {s["data_coding"] for s in submits} == {0}
    assert "".join(s["text"] for s in submits) == body


def test_an_mo_stop_records_an_opt_out_and_the_confirmation_goes_back_over_smpp(
    smsc, pool, run_smpp, account
):
    smsc.wait_bound()

    smsc.mo(source=RECIPIENT, destination=NEW_YORK, text="STOP")

    wait_for(lambda: OptOut.objects.filter(recipient=RECIPIENT).exists(), run_smpp, "the opt-out")
    confirmation = wait_for(
        lambda: accepted(smsc, "You have been unsubscribed"), run_smpp, "the confirmation"
    )
    assert (confirmation[0]["source_addr"], confirmation[0]["destination_addr"]) == (
        NEW_YORK[1:],
        RECIPIENT[1:],
    )
    inbound = InboundMessage.objects.get(sender=RECIPIENT)
    assert (inbound.body, inbound.action, inbound.to) == ("STOP", "optout", NEW_YORK)
    assert inbound.auto_reply.status in ("Sent", "Delivered")

    refused = send(pool, "A promotion")  # and the pool now sends them nothing
    assert (refused.status, refused.detailed_status) == ("Undelivered", "Opted-out")


def test_a_long_mo_message_arrives_whole(smsc, pool, run_smpp):
    smsc.wait_bound()
    text = "I would like to change my appointment to Thursday afternoon, please. " * 3

    assert smsc.mo(source=RECIPIENT, destination=NEW_YORK, text=text)["parts"] > 1

    inbound = wait_for(
        lambda: InboundMessage.objects.filter(sender=RECIPIENT).first(), run_smpp, "the MO"
    )
    assert inbound.body == text
    # A conversation engaged on this number stays on it (sticky pool).
    assert pool.mappings.get(recipient=RECIPIENT).pool_number.number.number == NEW_YORK


def test_a_throttling_answer_is_retried_and_the_message_is_sent_once(smsc, pool, run_smpp):
    smsc.wait_bound()
    smsc.throttle(1)

    message = send(pool, "Throttled once")

    wait_for(lambda: status_of(message) == "Delivered", run_smpp, "the retry")
    submits = smsc.submits()
    assert [s["command_status"] for s in submits] == [0x58, 0]
    assert len(accepted(smsc, "Throttled once")) == 1
    statuses = list(message.status_events.values_list("status", flat=True))
    assert statuses == ["Queued", "Sent", "Delivered"]


def test_the_smsc_restarting_mid_batch_loses_no_message_and_resends_none_acknowledged(
    smsc, pool, run_smpp
):
    Number.objects.filter(number=NEW_YORK).update(parts_per_second=5)
    smsc.wait_bound()
    smsc.exit_after(3)  # the SMSC goes away after its third accepted submit

    messages = [send(pool, f"Batch message {i}") for i in range(8)]

    assert smsc.wait_exit(timeout=TIMEOUT) == 0
    wait_for(
        lambda: Connection.objects.get(pk=messages[0].connection_id).state_status == "down",
        run_smpp,
        "the bind to be seen down",
    )
    smsc.start()

    wait_for(
        lambda: all(status_of(m) in ("Sent", "Delivered") for m in messages),
        run_smpp,
        "the whole batch handed over",
    )
    for i, message in enumerate(messages):
        (submit,) = accepted(smsc, f"Batch message {i}")  # acknowledged once, never again
        assert Message.objects.get(pk=message.pk).provider_message_id == submit["message_id"]
    assert Connection.objects.get(pk=messages[0].connection_id).state_status == "up"
    # The first three's receipts went down with the SMSC; the others' come after it.
    wait_for(
        lambda: sum(status_of(m) == "Delivered" for m in messages) >= len(messages) - 3,
        run_smpp,
        "the receipts after the restart",
    )
