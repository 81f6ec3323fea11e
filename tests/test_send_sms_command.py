"""`send_sms` (SPEC §8): a send from the shell, answering what the API would."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from messaging.models import Message
from pools.models import PoolNumber
from tests.scenarios import NEW_YORK, number_of, pool_with, written_state

pytestmark = pytest.mark.django_db


def send_sms(*args) -> dict:
    out = StringIO()
    call_command("send_sms", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.parametrize("reference", ["name", "id"])
def test_send_sms_prints_the_send_response(account, reference):
    pool = pool_with(account, [NEW_YORK], name="alerts")
    pool_ref = pool.name if reference == "name" else str(pool.pk)

    body = send_sms("--pool", pool_ref, "--to", "+12125550100", "--body", "Hello")

    message = Message.objects.get()
    assert body["trackingId"] == str(message.pk)
    assert (body["status"], body["poolName"], body["to"], body["from"], body["body"]) == (
        "Queued",
        "alerts",
        "+12125550100",
        "12122030001",
        "Hello",
    )
    assert body["selection"] == {"rule": message.rule, "explanation": message.explanation}
    assert body["bodyAnalysis"]["parts"] == 1


def test_send_sms_answers_what_the_api_answers(api, account):
    pool = pool_with(account, [NEW_YORK])

    printed = send_sms("--pool", str(pool.pk), "--to", "+12125550100", "--body", "Hello")

    detail = api.get(f"/sms/my/{printed['trackingId']}").json()
    detail.pop("statusHistory")
    assert printed == detail


def test_send_sms_with_media_sends_an_mms(account):
    pool = pool_with(account, [NEW_YORK])
    PoolNumber.objects.create(
        pool=pool, number=number_of(account, "+12122030002", mms_capable=True)
    )

    body = send_sms(
        "--pool",
        pool.name,
        "--to",
        "+12125550100",
        "--body",
        "Look",
        "--media-url",
        "https://example.com/cat.jpg",
    )

    assert (body["channel"], body["from"]) == ("mms", "12122030002")


def test_send_sms_with_the_alphanumeric_strategy(account):
    pool = pool_with(account, [NEW_YORK], alphanumeric_sender_id="ACME")

    body = send_sms(
        "--pool", pool.name, "--to", "+447400123456", "--body", "Hi", "--strategy", "Alphanumeric"
    )

    assert (body["from"], body["poolStrategy"]) == ("ACME", "Alphanumeric")


@pytest.mark.parametrize(
    "args, error",
    [
        (["--pool", "nowhere", "--to", "+12125550100", "--body", "Hi"], "POOL_NOT_FOUND"),
        (["--pool", "alerts", "--to", "12125550100", "--body", "Hi"], "INVALID_RECIPIENT"),
        (["--pool", "alerts", "--to", "+12125550100", "--body", ""], "The body is empty"),
        (["--pool", "alerts", "--to", "+12125550100", "--body", "a" * 1531], "BODY_TOO_LONG"),
        (
            [
                "--pool",
                "alerts",
                "--to",
                "+447400123456",
                "--body",
                "Hi",
                "--strategy",
                "Alphanumeric",
            ],
            "NO_ALPHANUMERIC_SENDER",
        ),
    ],
    ids=["unknown-pool", "bad-recipient", "empty-body", "too-long", "no-alphanumeric"],
)
def test_a_refused_send_is_a_command_error_and_writes_nothing(account, args, error):
    pool_with(account, [NEW_YORK], name="alerts", sticky=True)
    before = written_state(account)

    with pytest.raises(CommandError, match=error):
        call_command("send_sms", *args, stdout=StringIO())

    assert written_state(account) == before


def test_a_pool_name_two_accounts_use_must_be_given_by_id(account, other_account):
    pool_with(account, [NEW_YORK], name="alerts")
    pool_with(other_account, ["+12122030002"], name="alerts")

    with pytest.raises(CommandError, match="POOL_AMBIGUOUS"):
        call_command(
            "send_sms",
            "--pool",
            "alerts",
            "--to",
            "+12125550100",
            "--body",
            "Hi",
            stdout=StringIO(),
        )

    assert not Message.objects.exists()
