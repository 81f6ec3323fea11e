"""`simulate_inbound` (issue 15): a person writes to one of the numbers, without a carrier.

It goes through the inbound handler the carriers' webhooks call, so keywords, opt-outs,
auto-replies, forwarding and stickiness happen as they do in tests/test_inbound_webhook.py.
"""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from messaging.models import AUTO_REPLY_RULE, Message, Notification
from optout.models import InboundMessage, OptOut, UnroutedInbound
from pools.models import StickyMapping
from tests.factories import ConnectionFactory, NumberFactory
from tests.scenarios import NEW_YORK, number_of, pool_with

pytestmark = pytest.mark.django_db

A, B = NEW_YORK, "+12122030002"
PERSON = "+12125550100"
FORWARD_URL = "https://app.example.com/inbound"
HELP_REPLY = "Acme support: call 212-555-0199. Reply STOP to stop."
OPT_OUT_REPLY = "Acme: you are unsubscribed. Reply START to come back."
OPT_IN_REPLY = "Acme: welcome back. Reply STOP to stop."


def simulate(body: str, *, to: str = A, sender: str = PERSON, json_output=False):
    """The command's output: its lines, or with `json_output` the object it printed."""
    out = StringIO()
    args = ["--from", sender, "--to", to, "--body", body]
    call_command("simulate_inbound", *args, *(["--json"] if json_output else []), stdout=out)
    if json_output:
        return json.loads(out.getvalue())
    return out.getvalue().splitlines()


@pytest.fixture
def pool(account):
    return pool_with(
        account,
        [A, B],
        help_reply=HELP_REPLY,
        opt_out_reply=OPT_OUT_REPLY,
        opt_in_reply=OPT_IN_REPLY,
    )


def replies() -> list[tuple[str, str, str]]:
    return list(
        Message.objects.filter(rule=AUTO_REPLY_RULE)
        .order_by("created_at")
        .values_list("sender", "to", "body")
    )


# Committed as a real run commits: the reply is dispatched then, before it is printed.
@pytest.mark.django_db(transaction=True)
def test_stop_opts_the_person_out_and_prints_the_confirmation(pool, account):
    lines = simulate("STOP")

    assert lines == ["Action: optout", f"Auto-reply from {A} (Delivered): {OPT_OUT_REPLY}"]
    assert list(OptOut.objects.values_list("account", "recipient", "number")) == [
        (account.pk, PERSON, A)
    ]
    assert replies() == [(A, PERSON, OPT_OUT_REPLY)]


def test_it_goes_through_the_carriers_handler_and_is_recorded_as_inbound(pool, account):
    simulate("STOP")

    inbound = InboundMessage.objects.get()
    assert (inbound.account, inbound.sender, inbound.to, inbound.pool) == (account, PERSON, A, pool)
    assert (inbound.action, inbound.auto_reply.body) == ("optout", OPT_OUT_REPLY)
    assert inbound.carrier_message_id.startswith("simulated-")


def test_start_opts_the_person_back_in(pool):
    simulate("STOP")

    lines = simulate("start")

    assert lines == ["Action: optin", f"Auto-reply from {A} (Queued): {OPT_IN_REPLY}"]
    assert OptOut.objects.count() == 0


def test_help_answers_with_the_pools_help_reply(pool):
    assert simulate("HELP", to=B) == [
        "Action: help",
        f"Auto-reply from {B} (Queued): {HELP_REPLY}",
    ]


def test_a_plain_message_takes_no_action_and_is_forwarded_to_the_pools_inbound_url(account):
    pool_with(account, [A], inbound_sms_callback_url=FORWARD_URL)

    lines = simulate("Can I move my appointment?")

    assert lines == ["Action: none", "Auto-reply: none", f"Forwarded to {FORWARD_URL}"]
    notification = Notification.objects.get()
    assert (notification.kind, notification.url) == ("inbound", FORWARD_URL)
    assert notification.payload["body"] == "Can I move my appointment?"
    assert notification.payload["keywordAction"] is None
    assert replies() == []


def test_a_plain_message_to_a_pool_without_an_inbound_url_is_not_forwarded(pool):
    assert simulate("Thanks!") == ["Action: none", "Auto-reply: none"]
    assert Notification.objects.count() == 0


def test_in_a_sticky_pool_the_conversation_stays_on_the_number_written_to(account):
    pool_with(account, [A, B], sticky=True)

    simulate("Is my order ready?", to=B)

    mapping = StickyMapping.objects.get()
    assert (mapping.recipient, mapping.pool_number.number.number) == (PERSON, B)


def test_json_prints_one_object_with_the_action_and_the_auto_reply(pool):
    printed = simulate("STOP", json_output=True)

    reply = Message.objects.get(rule=AUTO_REPLY_RULE)
    assert printed == {
        "from": PERSON,
        "to": A,
        "body": "STOP",
        "unrouted": False,
        "action": "optout",
        "autoReply": {
            "trackingId": str(reply.pk),
            "from": A,
            "body": OPT_OUT_REPLY,
            "status": "Queued",
        },
        "forwardedTo": None,
    }


def test_json_without_a_reply_says_null(pool):
    printed = simulate("hello", json_output=True)

    assert (printed["action"], printed["autoReply"], printed["unrouted"]) == (None, None, False)


def test_a_number_nobody_registered_is_reported_and_recorded_as_unrouted(pool):
    unknown = "+12122039999"

    lines = simulate("STOP", to=unknown)

    [line] = lines
    assert line.startswith(f"Unrouted: no number {unknown} is registered.")
    assert "Unrouted inbound" in line
    unrouted = UnroutedInbound.objects.get()
    assert (unrouted.sender, unrouted.to, unrouted.body) == (PERSON, unknown, "STOP")
    assert (unrouted.account, unrouted.connection) == (None, None)
    assert (InboundMessage.objects.count(), OptOut.objects.count(), replies()) == (0, 0, [])
    assert simulate("STOP", to=unknown, json_output=True)["unrouted"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "12125550100"], "is not an E.164 number"),
        (["--from", "+1212"], "is not a valid phone number"),
        (["--to", "+1999"], "is not a valid phone number"),
        (["--to", "not-a-number"], "is not a short code"),
    ],
)
def test_a_bad_number_is_a_command_error_and_changes_nothing(pool, args, message):
    options = {"--from": PERSON, "--to": A, **dict([args])}

    with pytest.raises(CommandError, match=message):
        call_command("simulate_inbound", *sum(options.items(), ()), "--body", "STOP")

    assert InboundMessage.objects.count() == UnroutedInbound.objects.count() == 0


def test_a_short_code_of_the_senders_country_can_be_written_to(account):
    short_code = NumberFactory(
        account=account, number="12345", type="shortcode", country="US", area_code=""
    )
    pool_with(account).pool_numbers.create(number=short_code)

    lines = simulate("HELP", to="12345")

    assert lines[0] == "Action: help"
    assert lines[1].startswith("Auto-reply from 12345 (Queued): ")


def test_a_number_on_a_simulator_connection_is_written_to(account):
    connection = ConnectionFactory(account=account, kind="simulator")
    number = number_of(account, A, connection=connection)
    pool_with(account).pool_numbers.create(number=number)

    assert simulate("STOP")[0] == "Action: optout"
    assert Message.objects.get(rule=AUTO_REPLY_RULE).connection == connection


@pytest.mark.parametrize("on", ["the number", "the account's default"])
def test_a_number_on_a_real_providers_connection_is_refused(account, on):
    twilio = ConnectionFactory(
        account=account, name="Twilio US", kind="twilio", is_default=on != "the number"
    )
    number_of(account, A, connection=twilio if on == "the number" else None)

    with pytest.raises(
        CommandError, match=re.escape("Twilio US (Twilio), not the simulator")
    ) as refused:
        simulate("STOP")

    assert f"would reach {PERSON} for real" in str(refused.value)
    assert (InboundMessage.objects.count(), OptOut.objects.count(), replies()) == (0, 0, [])
