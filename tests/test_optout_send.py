"""Sending to a person who wrote STOP (SPEC §2 steps 3 and 11, §3).

The message is kept as Undelivered / Opted-out and never dispatched. Scope `pool`
blocks the whole pool, scope `number` only that number — the pool does not route
around it — and STOPALL blocks every sender of the account.
"""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Message
from messaging.services.inbound import inbound_receive
from messaging.services.sending import message_send
from pools.services.pools import pool_assign_numbers
from tests.scenarios import NEW_YORK, number_of, pool_with
from virtual_numbers.models import Number
from virtual_numbers.services import number_delete, number_register

pytestmark = pytest.mark.django_db

A, B = NEW_YORK, "+12122030002"
PERSON = "+12125550100"
SOMEONE_ELSE = "+12125550111"
LONDONER = "+447400123456"


def write(text: str, *, to: str, sender: str = PERSON) -> str | None:
    """The person texts one of the service's numbers, as the carrier reports it."""
    return inbound_receive(
        message_id=f"in-{uuid.uuid4().hex}", sender=sender, to=to, body=text
    ).action


def outcome(message: Message) -> tuple[str, str, str]:
    return message.status, message.detailed_status, message.sender


def opted_out(message: Message) -> bool:
    return (message.status, message.detailed_status) == ("Undelivered", "Opted-out")


def use_first(pool, e164: str) -> None:
    """Make `e164` the pool's least recently used number, so the next send picks it."""
    now = timezone.now()
    Number.objects.filter(pool_number__pool=pool).update(last_used_at=now)
    Number.objects.filter(number=e164).update(last_used_at=now - timedelta(days=1))


# Scope pool


def test_with_scope_pool_a_stop_to_one_number_blocks_the_whole_pool(account):
    pool = pool_with(account, [A, B])
    write("STOP", to=A)

    for first in (A, B):
        use_first(pool, first)
        message = message_send(pool=pool, to=PERSON, body="Sale today")
        assert opted_out(message), outcome(message)
        assert message.number is None


def test_an_opted_out_message_is_never_dispatched(account, django_capture_on_commit_callbacks):
    pool = pool_with(account, [A, B])
    write("STOP", to=B)

    with django_capture_on_commit_callbacks(execute=True):
        message = message_send(pool=pool, to=PERSON, body="Sale today")

    message.refresh_from_db()
    assert (message.status, message.detailed_status, message.sent_at) == (
        "Undelivered",
        "Opted-out",
        None,
    )
    assert list(message.status_events.values_list("status", "detailed_status")) == [
        ("Undelivered", "Opted-out")
    ]
    assert Number.objects.filter(last_used_at__isnull=False).count() == 0


def test_an_opted_out_send_creates_no_mapping(account):
    pool = pool_with(account, [A, B], sticky=True)
    write("STOP", to=A)

    message_send(pool=pool, to=PERSON, body="hi")

    assert pool.mappings.count() == 0


def test_with_scope_pool_an_alphanumeric_send_is_blocked_too(account):
    pool = pool_with(account, [A], alphanumeric_sender_id="ACME")
    write("STOP", to=A, sender=LONDONER)

    message = message_send(pool=pool, to=LONDONER, body="hi", strategy="Alphanumeric")

    assert opted_out(message)


def test_a_stop_to_one_pool_does_not_block_another_pool(account):
    pool_with(account, [A])
    other = pool_with(account, [B])
    write("STOP", to=A)

    assert outcome(message_send(pool=other, to=PERSON, body="hi")) == ("Queued", "", B)


# Scope number


def test_with_scope_number_a_stop_blocks_the_number_when_the_pool_chooses_it(account):
    pool = pool_with(account, [A, B], opt_out_scope="number")
    write("STOP", to=A)
    use_first(pool, A)

    message = message_send(pool=pool, to=PERSON, body="Sale today")

    # The pool does not route around the STOP: no message from B instead.
    assert opted_out(message)
    assert message.sender == A
    assert Message.objects.filter(to=PERSON, sender=B).count() == 0


def test_with_scope_number_another_number_of_the_pool_still_reaches_the_person(account):
    pool = pool_with(account, [A, B], opt_out_scope="number")
    write("STOP", to=A)
    use_first(pool, B)

    assert outcome(message_send(pool=pool, to=PERSON, body="hi")) == ("Queued", "", B)


def test_with_scope_number_a_sticky_mapping_to_the_stopped_number_is_not_rerouted(account):
    pool = pool_with(account, [A, B], opt_out_scope="number", sticky=True)
    write("hello", to=A)  # the conversation is on A
    write("STOP", to=A)

    message = message_send(pool=pool, to=PERSON, body="hi")

    assert opted_out(message)
    assert message.sender == A
    assert list(pool.mappings.values_list("pool_number__number__number", flat=True)) == [A]


def test_with_scope_number_an_alphanumeric_send_is_not_blocked(account):
    pool = pool_with(account, [A], opt_out_scope="number", alphanumeric_sender_id="ACME")
    write("STOP", to=A, sender=LONDONER)

    message = message_send(pool=pool, to=LONDONER, body="hi", strategy="Alphanumeric")

    assert outcome(message) == ("Queued", "", "ACME")


@pytest.mark.parametrize("scope", ["pool", "number"])
def test_a_stop_does_not_affect_sends_to_other_people(account, scope):
    pool = pool_with(account, [A, B], opt_out_scope=scope)
    write("STOP", to=A)
    use_first(pool, A)

    assert outcome(message_send(pool=pool, to=SOMEONE_ELSE, body="hi")) == ("Queued", "", A)


# STOPALL


@pytest.mark.parametrize("keyword", ["STOPALL", "stop all"])
def test_stop_all_blocks_every_pool_of_the_account(account, keyword):
    pools = [
        pool_with(account, [A]),
        pool_with(account, [B], opt_out_scope="number"),
        pool_with(account, ["+12122030003"], sticky=True),
    ]
    write(keyword, to=A)

    assert [opted_out(message_send(pool=pool, to=PERSON, body="hi")) for pool in pools] == [
        True,
        True,
        True,
    ]


@pytest.mark.parametrize("scope", ["pool", "number"])
def test_stop_all_blocks_alphanumeric_sends(account, scope):
    number_of(account, A)
    pool = pool_with(account, [B], alphanumeric_sender_id="ACME", opt_out_scope=scope)
    write("STOPALL", to=A, sender=LONDONER)

    message = message_send(pool=pool, to=LONDONER, body="hi", strategy="Alphanumeric")

    assert opted_out(message)


def test_start_after_stop_all_lets_every_pool_send_again(account):
    first = pool_with(account, [A])
    second = pool_with(account, [B], opt_out_scope="number")
    write("STOPALL", to=A)

    assert write("START", to=B) == "optin"

    assert outcome(message_send(pool=first, to=PERSON, body="hi")) == ("Queued", "", A)
    assert outcome(message_send(pool=second, to=PERSON, body="hi")) == ("Queued", "", B)


# Opt-outs outlive the number


@pytest.mark.parametrize("scope", ["pool", "number"])
def test_a_stop_to_a_deleted_number_holds_when_it_is_registered_again(account, scope):
    number = number_register(account=account, number=A)
    pool_assign_numbers(pool=pool_with(account), numbers=[A])
    write("STOP", to=A)
    number_delete(number=number)

    number_register(account=account, number=A)
    pool = pool_with(account, opt_out_scope=scope)
    pool_assign_numbers(pool=pool, numbers=[A])

    message = message_send(pool=pool, to=PERSON, body="We're back")

    assert opted_out(message)


# Tenants


def test_a_stop_to_one_account_does_not_block_another_accounts_sends(account, other_account):
    pool_with(account, [A])
    theirs = pool_with(other_account, [B])
    write("STOPALL", to=A)

    assert outcome(message_send(pool=theirs, to=PERSON, body="hi")) == ("Queued", "", B)


# Over the API


def test_the_send_endpoint_answers_undelivered_opted_out(api, account):
    pool = pool_with(account, [A, B])
    write("STOP", to=B)

    response = api.post(f"/pools/my/{pool.pk}/sms", {"to": PERSON, "body": "hi"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["detailedStatus"]) == ("Undelivered", "Opted-out")


def test_the_preview_says_the_person_opted_out(api, account):
    pool = pool_with(account, [A, B], opt_out_scope="number")
    write("STOP", to=A)
    use_first(pool, A)

    response = api.post(f"/pools/my/{pool.pk}/preview", {"to": PERSON}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["from"], response.json()["optedOut"]) == (A[1:], True)
