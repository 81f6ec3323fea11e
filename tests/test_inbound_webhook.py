"""POST /webhooks/inbound: a person writes to one of the account's numbers (SPEC §3, §6).

Keywords act (opt-out, opt-in, help), auto-replies go out from the number written to,
a sticky pool keeps the conversation on that number, and every message is forwarded
to the pool's inboundSMSCallbackUrl.
"""

import json
import uuid
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from messaging.models import AUTO_REPLY_RULE, Message, Notification
from messaging.services.sending import message_send
from optout.models import InboundMessage, Keyword, OptOut, OptOutEvent
from pools.models import PoolNumber, StickyMapping
from tests.assertions import assert_error
from tests.factories import NumberFactory, StickyMappingFactory
from tests.scenarios import NEW_YORK, number_of, pool_with

pytestmark = pytest.mark.django_db

A, B = NEW_YORK, "+12122030002"
PERSON = "+12125550100"
FORWARD_URL = "https://app.example.com/inbound"
OTHER_SECRET = "whsec_bm90LXRoZS1jYXJyaWVyLXNlY3JldA=="


def signed_headers(body: str, secret: str) -> dict:
    msg_id = f"msg_{uuid.uuid4().hex}"
    at = datetime.now(tz=UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


@pytest.fixture
def write(client, settings):
    """Post an inbound message as the carrier does; returns the response."""

    def write(text, *, to=A, sender=PERSON, message_id=None, secret=None, **extra):
        payload = {
            "messageId": message_id or f"in-{uuid.uuid4().hex}",
            "from": sender,
            "to": to,
            "body": text,
            **extra,
        }
        body = json.dumps(payload)
        headers = signed_headers(body, secret or settings.CARRIER_WEBHOOK_SECRET)
        return client.post(
            "/webhooks/inbound", body, content_type="application/json", headers=headers
        )

    return write


@pytest.fixture
def pool(account):
    return pool_with(account, [A, B])


def acted(response) -> str | None:
    assert response.status_code == 200, response.json()
    return response.json()["action"]


def replies() -> list[tuple[str, str, str]]:
    return list(
        Message.objects.filter(rule=AUTO_REPLY_RULE)
        .order_by("created_at")
        .values_list("sender", "to", "body")
    )


def optouts(account) -> set[tuple[str, str]]:
    return set(OptOut.objects.filter(account=account).values_list("recipient", "number"))


def everything() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (InboundMessage, OptOut, OptOutEvent, Message, Notification, StickyMapping)
    }


# The contract


@pytest.mark.parametrize(
    ("text", "action"),
    [("STOP", "optout"), ("stop all", "optout"), ("Start", "optin"), ("help!", "help")],
)
def test_a_keyword_is_acknowledged_with_its_action(write, pool, text, action):
    assert acted(write(text)) == action


def test_any_other_message_is_acknowledged_and_recorded_with_no_action(write, pool, account):
    response = write("Can I move my appointment?", message_id="carrier-1")

    assert acted(response) is None
    inbound = InboundMessage.objects.get()
    assert (inbound.account, inbound.carrier_message_id, inbound.sender, inbound.to) == (
        account,
        "carrier-1",
        PERSON,
        A,
    )
    assert (inbound.pool, inbound.number.number, inbound.action) == (pool, A, "")
    assert optouts(account) == set()
    assert replies() == []


def test_the_carriers_received_at_is_kept(write, pool):
    write("hello", receivedAt="2025-03-01T12:30:00Z")

    assert InboundMessage.objects.get().received_at == datetime(2025, 3, 1, 12, 30, tzinfo=UTC)


def test_a_message_to_a_number_nobody_registered_is_acknowledged_and_changes_nothing(write, pool):
    before = everything()

    response = write("STOP", to="+12122039999")

    assert acted(response) is None
    assert everything() == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": "msg_1", "webhook-timestamp": "0", "webhook-signature": "v1,AAAA"},
    ],
    ids=["missing", "garbage"],
)
def test_an_unsigned_message_is_refused_and_changes_nothing(client, pool, headers):
    before = everything()
    body = json.dumps({"messageId": "m1", "from": PERSON, "to": A, "body": "STOP"})

    response = client.post(
        "/webhooks/inbound", body, content_type="application/json", headers=headers
    )

    assert_error(response, 401, "INVALID_SIGNATURE")
    assert everything() == before


def test_a_message_signed_with_another_secret_is_refused_and_changes_nothing(write, pool):
    before = everything()

    assert_error(write("STOP", secret=OTHER_SECRET), 401, "INVALID_SIGNATURE")
    assert everything() == before


def test_a_tampered_body_is_refused(client, pool, settings):
    signed_for = json.dumps({"messageId": "m1", "from": PERSON, "to": A, "body": "hi"})
    sent = signed_for.replace("hi", "STOP")
    headers = signed_headers(signed_for, settings.CARRIER_WEBHOOK_SECRET)

    response = client.post(
        "/webhooks/inbound", sent, content_type="application/json", headers=headers
    )

    assert_error(response, 401, "INVALID_SIGNATURE")
    assert OptOut.objects.count() == 0


@pytest.mark.parametrize("sender", ["12125550100", "+1212555", "not a number"])
def test_an_invalid_sender_is_a_validation_error(write, pool, sender):
    body = assert_error(write("STOP", sender=sender), 400, "VALIDATION_ERROR")

    assert list(body["errors"]) == ["from"]
    assert everything()["InboundMessage"] == 0


def test_missing_fields_are_validation_errors(client, settings, pool):
    body = json.dumps({"from": PERSON})
    headers = signed_headers(body, settings.CARRIER_WEBHOOK_SECRET)

    response = client.post(
        "/webhooks/inbound", body, content_type="application/json", headers=headers
    )

    errors = assert_error(response, 400, "VALIDATION_ERROR")["errors"]
    assert {"messageId", "to", "body"} <= set(errors)


# Opt-out and its confirmation


def test_stop_records_the_opt_out_of_the_number_written_to(write, pool, account):
    write("STOP", to=B)

    assert optouts(account) == {(PERSON, B)}
    assert OptOut.objects.get().source == "keyword"


def test_stop_all_records_an_opt_out_of_every_number(write, pool, account):
    write("Stop all")

    assert optouts(account) == {(PERSON, "")}


def test_the_confirmation_goes_out_from_the_number_written_to(write, pool):
    pool.opt_out_reply = "Acme: unsubscribed. Reply START to resubscribe."
    pool.save()

    write("STOP", to=B)

    reply = Message.objects.get(rule=AUTO_REPLY_RULE)
    assert (reply.sender, reply.number.number, reply.to, reply.pool) == (B, B, PERSON, pool)
    assert reply.body == "Acme: unsubscribed. Reply START to resubscribe."
    assert InboundMessage.objects.get().auto_reply == reply


def test_the_confirmation_reaches_the_person_who_just_opted_out(
    write, pool, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        write("STOP")

    reply = Message.objects.get(rule=AUTO_REPLY_RULE)
    assert (reply.status, reply.detailed_status) == ("Delivered", "")
    assert list(reply.status_events.values_list("status", flat=True)) == [
        "Queued",
        "Sent",
        "Delivered",
    ]


def test_a_repeated_stop_is_confirmed_only_once(write, pool, account):
    write("STOP")
    second = write("stop.")

    assert acted(second) == "optout"
    assert len(replies()) == 1
    assert optouts(account) == {(PERSON, A)}
    assert OptOutEvent.objects.count() == 1
    assert InboundMessage.objects.filter(auto_reply__isnull=True).count() == 1


@pytest.mark.parametrize(
    ("scope", "confirmations"), [("pool", [A]), ("number", [A, B])], ids=["pool", "number"]
)
def test_a_stop_to_another_number_is_confirmed_only_if_it_was_not_already_stopped(
    write, account, scope, confirmations
):
    pool_with(account, [A, B], opt_out_scope=scope)

    write("STOP", to=A)
    write("STOP", to=B)

    assert optouts(account) == {(PERSON, A), (PERSON, B)}
    assert [sender for sender, _, _ in replies()] == confirmations


def test_a_stop_after_stop_all_is_not_confirmed_again(write, pool, account):
    write("STOPALL", to=A)
    write("STOP", to=B)

    assert optouts(account) == {(PERSON, ""), (PERSON, B)}
    assert len(replies()) == 1


def test_stop_all_after_a_stop_is_confirmed_it_stops_more(write, pool, account):
    write("STOP", to=A)
    write("STOP ALL", to=A)

    assert optouts(account) == {(PERSON, A), (PERSON, "")}
    assert len(replies()) == 2


def test_a_number_in_no_pool_still_takes_stop_and_replies_with_the_default(write, account):
    number_of(account, A)

    write("STOP")

    assert optouts(account) == {(PERSON, A)}
    [(sender, to, body)] = replies()
    assert (sender, to) == (A, PERSON)
    assert "START" in body


def test_stop_to_a_short_code_of_the_senders_country(write, account):
    pool = pool_with(account)
    code = NumberFactory(
        account=account, number="12345", type="shortcode", country="US", area_code="", location=""
    )
    PoolNumber.objects.create(pool=pool, number=code)

    assert acted(write("STOP", to="12345")) == "optout"
    assert acted(write("STOP", to="12345", sender="+447400123456")) is None

    assert optouts(account) == {(PERSON, "12345")}
    assert replies() == [("12345", PERSON, pool.opt_out_reply)]


# Opt-in


def test_start_removes_the_opt_out_and_confirms(write, pool, account):
    pool.opt_in_reply = "Acme: welcome back."
    pool.save()
    write("STOP")

    assert acted(write("START")) == "optin"

    assert optouts(account) == set()
    assert replies()[-1] == (A, PERSON, "Acme: welcome back.")


def test_start_after_stop_all_removes_the_account_wide_opt_out(write, pool, account):
    other_pool = pool_with(account, ["+12122030003"])
    write("STOPALL")
    write("STOP", to=B)

    write("START", to="+12122030003")

    # The account-wide opt-out is gone; the STOP to B, a number of another pool, stays.
    assert optouts(account) == {(PERSON, B)}
    assert message_send(pool=other_pool, to=PERSON, body="hi").status == "Queued"
    assert message_send(pool=pool, to=PERSON, body="hi").status == "Undelivered"


def test_with_scope_pool_start_to_any_number_removes_every_opt_out_of_the_pool(
    write, pool, account
):
    outside = number_of(account, "+12122030009").number
    write("STOP", to=A)
    write("STOP", to=outside)

    write("START", to=B)

    assert optouts(account) == {(PERSON, outside)}


def test_with_scope_number_start_removes_only_that_numbers_opt_out(write, account):
    pool_with(account, [A, B], opt_out_scope="number")
    write("STOP", to=A)
    write("STOP", to=B)

    write("START", to=B)

    assert optouts(account) == {(PERSON, A)}


# Help


def test_help_is_answered_with_the_pools_help_reply(write, pool):
    pool.help_reply = "Acme support: 800-555-0100. Reply STOP to opt out."
    pool.save()

    write("HELP", to=B)

    assert replies() == [(B, PERSON, "Acme support: 800-555-0100. Reply STOP to opt out.")]


def test_help_is_never_answered_to_a_person_who_opted_out(write, pool):
    write("STOP")

    assert acted(write("HELP")) == "help"

    assert len(replies()) == 1  # the STOP confirmation only
    assert InboundMessage.objects.get(action="help").auto_reply is None


def test_help_is_answered_again_after_start(write, pool):
    write("STOP")
    write("HELP")
    write("START")

    write("INFO")

    assert [body for _, _, body in replies()] == [
        pool.opt_out_reply,
        pool.opt_in_reply,
        pool.help_reply,
    ]


@pytest.mark.parametrize(("scope", "answered"), [("pool", False), ("number", True)])
def test_help_to_another_number_of_the_pool_follows_the_opt_out_scope(
    write, account, scope, answered
):
    pool_with(account, [A, B], opt_out_scope=scope)
    write("STOP", to=A)

    write("HELP", to=B)

    assert ((B, PERSON) in {(s, t) for s, t, _ in replies()}) is answered


def test_help_is_not_answered_after_stop_all(write, pool, account):
    other = pool_with(account, ["+12122030003"], opt_out_scope="number")
    write("STOPALL", to=A)

    write("HELP", to=other.pool_numbers.get().number.number)

    assert len(replies()) == 1


# The audit trail


def test_the_audit_records_opt_outs_added_and_removed_by_keyword(write, pool, account):
    write("STOP", to=B)
    write("STOP ALL", to=B)
    write("START", to=B)

    events = list(
        OptOutEvent.objects.filter(account=account)
        .order_by("pk")
        .values_list("recipient", "number", "change", "source", "keyword")
    )
    assert events[:2] == [
        (PERSON, B, "added", "keyword", "STOP"),
        (PERSON, "", "added", "keyword", "STOP ALL"),
    ]
    assert sorted(events[2:]) == [
        (PERSON, "", "removed", "keyword", "START"),
        (PERSON, B, "removed", "keyword", "START"),
    ]


# A carrier's retry


def test_a_retried_message_is_processed_once(write, account):
    pool_with(account, [A, B], inbound_sms_callback_url=FORWARD_URL)

    first = write("STOP", message_id="carrier-7")
    again = write("STOP", message_id="carrier-7")

    assert acted(first) == acted(again) == "optout"
    assert InboundMessage.objects.count() == 1
    assert optouts(account) == {(PERSON, A)}
    assert OptOutEvent.objects.count() == 1
    assert len(replies()) == 1
    assert Notification.objects.filter(kind="inbound").count() == 1


def test_a_retried_plain_message_is_acknowledged_with_no_action(write, account):
    pool_with(account, [A], inbound_sms_callback_url=FORWARD_URL)
    write("hi there", message_id="carrier-8")

    assert acted(write("hi there", message_id="carrier-8")) is None
    assert Notification.objects.count() == 1


# The conversation stays on the number written to


def test_in_a_sticky_pool_a_message_to_a_number_makes_it_the_persons_sender(write, account):
    pool = pool_with(account, [A, B], sticky=True)

    write("Is my order ready?", to=B)

    mapping = StickyMapping.objects.get()
    assert (mapping.pool, mapping.recipient, mapping.pool_number.number.number) == (
        pool,
        PERSON,
        B,
    )
    sent = message_send(pool=pool, to=PERSON, body="Yes, it is.")
    assert (sent.sender, sent.rule) == (B, "sticky")


def test_a_message_to_another_number_moves_the_persons_mapping_there(write, account):
    pool = pool_with(account, [A, B], sticky=True)
    StickyMappingFactory(pool_number=pool.pool_numbers.get(number__number=A), recipient=PERSON)
    PoolNumber.objects.filter(number__number=A).update(mapping_count=1)

    write("thanks", to=B)

    assert list(StickyMapping.objects.values_list("pool_number__number__number", flat=True)) == [B]
    assert dict(pool.pool_numbers.values_list("number__number", "mapping_count")) == {A: 0, B: 1}
    assert message_send(pool=pool, to=PERSON, body="hi").sender == B


def test_a_message_in_a_pool_that_is_not_sticky_makes_no_mapping(write, pool):
    write("hello", to=B)

    assert StickyMapping.objects.count() == 0


def test_a_stop_does_not_start_a_conversation(write, account):
    pool_with(account, [A, B], sticky=True)

    write("STOP", to=B)

    assert StickyMapping.objects.count() == 0


# Forwarding to the application


def test_every_inbound_message_is_forwarded_to_the_pools_callback_url(write, account):
    pool = pool_with(account, [A, B], inbound_sms_callback_url=FORWARD_URL)

    write("Is my order ready?", to=B, message_id="carrier-1")

    notification = Notification.objects.get()
    assert (notification.account, notification.kind, notification.url) == (
        account,
        "inbound",
        FORWARD_URL,
    )
    assert notification.payload | {"receivedAt": None} == {
        "messageId": "carrier-1",
        "from": PERSON,
        "to": B,
        "body": "Is my order ready?",
        "receivedAt": None,
        "poolId": str(pool.pk),
        "keywordAction": None,
        "autoReplySent": False,
        "autoReplyTrackingId": None,
    }


def test_a_forwarded_keyword_says_its_action_and_whether_it_was_answered(write, account):
    pool_with(account, [A], inbound_sms_callback_url=FORWARD_URL)

    write("STOP", message_id="first")
    write("HELP", message_id="second")

    payloads = {n.payload["messageId"]: n.payload for n in Notification.objects.all()}
    reply = Message.objects.get(rule=AUTO_REPLY_RULE)
    assert payloads["first"]["keywordAction"] == "optout"
    assert payloads["first"]["autoReplySent"] is True
    assert payloads["first"]["autoReplyTrackingId"] == str(reply.pk)
    assert (payloads["second"]["keywordAction"], payloads["second"]["autoReplySent"]) == (
        "help",
        False,
    )


def test_nothing_is_forwarded_without_a_callback_url(write, pool):
    write("STOP")
    write("hello")

    assert Notification.objects.filter(kind="inbound").count() == 0


def test_a_keyword_of_another_account_does_nothing_here(write, pool, account, other_account):
    Keyword.objects.create(account=other_account, word="HALT", action="optout")

    assert acted(write("halt")) is None
    assert optouts(account) == set()
