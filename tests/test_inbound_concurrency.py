"""A carrier delivering one inbound message twice at the same moment (SPEC §3).

Both deliveries race to record it; the unique carrier message id lets one through and
the other answers from the first one's work. Real parallel connections: PostgreSQL.
"""

import threading

import pytest
from django.db import connection

from messaging.models import AUTO_REPLY_RULE, Message, Notification
from messaging.services.inbound import inbound_receive
from optout.models import InboundMessage, OptOut, OptOutEvent
from tests.scenarios import NEW_YORK, pool_with

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PERSON = "+12125550100"
DELIVERIES = 4


def deliver_in_parallel(body: str, message_id: str = "carrier-1") -> list:
    """The same inbound message, delivered by DELIVERIES threads at once, each on its
    own connection; returns what each delivery answered (or raised)."""
    barrier = threading.Barrier(DELIVERIES)
    answers = []

    def deliver():
        try:
            barrier.wait(timeout=10)
            answers.append(
                inbound_receive(message_id=message_id, sender=PERSON, to=NEW_YORK, body=body)
            )
        except BaseException as exc:  # reported by the test, not lost in the thread
            answers.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a delivery never finished"
    return answers


def test_a_stop_delivered_twice_at_once_is_processed_once(account):
    pool_with(account, [NEW_YORK], inbound_sms_callback_url="https://app.example.com/in")

    answers = deliver_in_parallel("STOP")

    assert not [a for a in answers if isinstance(a, BaseException)], answers
    assert [a.action for a in answers] == ["optout"] * DELIVERIES
    assert sorted(a.duplicate for a in answers) == [False] + [True] * (DELIVERIES - 1)
    assert InboundMessage.objects.count() == 1
    assert list(OptOut.objects.values_list("recipient", "number")) == [(PERSON, NEW_YORK)]
    assert OptOutEvent.objects.count() == 1
    reply = Message.objects.get(rule=AUTO_REPLY_RULE)
    assert {a.auto_reply.pk for a in answers} == {reply.pk}
    assert Notification.objects.filter(kind="inbound").count() == 1


def test_a_conversation_message_delivered_twice_at_once_engages_one_mapping(account):
    pool = pool_with(account, [NEW_YORK, "+12122030002"], sticky=True)

    answers = deliver_in_parallel("Is my order ready?")

    assert not [a for a in answers if isinstance(a, BaseException)], answers
    assert InboundMessage.objects.count() == 1
    mapping = pool.mappings.get()
    assert (mapping.recipient, mapping.pool_number.number.number) == (PERSON, NEW_YORK)
    assert mapping.pool_number.mapping_count == 1
