"""The virtual phone in the console: a recipient's conversation, a send through a pool to
them and a reply as them through the inbound handler — all without a carrier."""

from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission

from messaging.models import AUTO_REPLY_RULE, Message
from messaging.services.inbound import inbound_receive
from messaging.services.sending import message_send
from optout.models import InboundMessage, OptOut
from pools.models import DEFAULT_OPT_OUT_REPLY
from tests.factories import ConnectionFactory, UserFactory
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, number_of, pool_with
from tests.test_admin import logged_in, messages_of, url
from tests.test_admin_messaging import grant_console

pytestmark = pytest.mark.django_db

RECIPIENT = "+14155550123"


def phone_url(recipient=RECIPIENT, account=None) -> str:
    query = {"account": account, "recipient": recipient} if account else {"recipient": recipient}
    return f"{url('messaging_message_virtual_phone')}?{urlencode(query)}"


def opened(client, recipient=RECIPIENT, account=None):
    response = client.get(phone_url(recipient, account))
    assert response.status_code == 200
    return response


def entries(response) -> list[tuple[bool, str]]:
    """The conversation as (written by the recipient, body), oldest first."""
    return [(entry.by_recipient, entry.body) for entry in response.context["thread"].entries]


def send(client, pool, body, recipient=RECIPIENT):
    return client.post(phone_url(recipient), {"send": "", "pool": pool.pk, "body": body})


def reply(client, number, body, recipient=RECIPIENT):
    return client.post(phone_url(recipient), {"reply": "", "number": number.pk, "body": body})


@pytest.fixture
def staff_client(account):
    """Staff of `account` ("acme") with every console permission."""
    return logged_in(grant_console(UserFactory(account=account)))


@pytest.fixture
def pool(account):
    return pool_with(account, [NEW_YORK], name="Support")


@pytest.fixture
def new_york(pool):
    return pool.pool_numbers.get().number


# The conversation


def test_the_thread_shows_what_they_were_sent_and_wrote_in_order(staff_client, pool):
    first = message_send(pool=pool, to=RECIPIENT, body="Your code is 1234")
    inbound_receive(message_id="carrier-1", sender=RECIPIENT, to=NEW_YORK, body="Thanks!")
    message_send(pool=pool, to=RECIPIENT, body="Your order shipped")

    page = opened(staff_client)

    assert entries(page) == [
        (False, "Your code is 1234"),
        (True, "Thanks!"),
        (False, "Your order shipped"),
    ]
    sent = page.context["thread"].entries[0]
    assert (sent.number, sent.pool, sent.rule) == (NEW_YORK, "Support", first.rule)
    written = page.context["thread"].entries[1]
    assert (written.number, written.action) == (NEW_YORK, "none")
    html = page.content.decode()
    assert f"From {NEW_YORK} · Support" in html
    assert f"Why this sender: rule {first.rule}" in html
    assert first.explanation.splitlines()[0] in html


def test_the_recent_recipients_are_offered_the_latest_first(staff_client, pool):
    for recipient in ["+14155550101", "+14155550102", "+14155550101"]:
        message_send(pool=pool, to=recipient, body="hello")

    page = staff_client.get(url("messaging_message_virtual_phone"))

    choices = [value for value, _ in page.context["pick"].fields["recent"].widget.choices]
    assert choices == ["", "+14155550101", "+14155550102"]
    assert "thread" not in page.context


def test_a_typed_number_wins_over_the_recent_one_and_a_bad_one_is_explained(staff_client, pool):
    message_send(pool=pool, to="+14155550101", body="hello")
    base = url("messaging_message_virtual_phone")

    typed = staff_client.get(base, {"recent": "+14155550101", "recipient": "+1 415 555 0199"})
    assert typed.context["recipient"] == "+14155550199"
    assert entries(typed) == []

    bad = staff_client.get(base, {"recipient": "12345"})
    assert bad.context["recipient"] is None
    assert "is not an E.164 number" in bad.content.decode()


# Sending through a pool


def test_sending_through_a_pool_records_the_message_through_the_service(staff_client, pool):
    response = send(staff_client, pool, "Your table is ready")

    assert response.status_code == 302
    assert response.url == phone_url(account=pool.account_id, recipient=RECIPIENT)
    message = Message.objects.get(to=RECIPIENT)
    assert (message.pool, message.sender, message.body) == (pool, NEW_YORK, "Your table is ready")
    assert message.explanation  # chosen by selection, which explains itself
    page = staff_client.get(response.url)
    assert messages_of(page) == [f"Sent through “Support” from {NEW_YORK}: rule {message.rule}."]
    assert entries(page) == [(False, "Your table is ready")]
    assert message.explanation.splitlines()[-1] in page.content.decode()


def test_sending_starts_from_the_pool_and_number_of_the_last_message(staff_client, account, pool):
    pool_with(account, [SAN_FRANCISCO], name="Alerts")
    message_send(pool=pool, to=RECIPIENT, body="hello")

    page = opened(staff_client)

    assert page.context["send_form"].initial["pool"] == pool.pk
    number = page.context["reply_form"]
    assert number.initial["number"] == str(pool.pool_numbers.get().number_id)
    groups = [group for group, _ in number.fields["number"].choices]
    assert groups == ["Wrote to them", "The account's other numbers"]


def test_a_refused_send_shows_why_on_the_form(staff_client, account):
    empty = pool_with(account, [], name="Empty")

    response = send(staff_client, empty, "hello")

    assert response.status_code == 200
    assert response.context["send_form"].non_field_errors()
    assert not Message.objects.exists()


# Writing back as the recipient


def test_stop_records_the_opt_out_and_the_confirmation_then_a_send_is_opted_out(
    staff_client, pool, new_york
):
    message_send(pool=pool, to=RECIPIENT, body="Your code is 1234")

    response = reply(staff_client, new_york, "STOP")

    assert response.status_code == 302
    assert OptOut.objects.filter(recipient=RECIPIENT, number=NEW_YORK).exists()
    inbound = InboundMessage.objects.get(sender=RECIPIENT)
    assert inbound.carrier_message_id.startswith("simulated-")  # a carrier's id of its own
    assert (inbound.action, inbound.auto_reply.rule) == ("optout", AUTO_REPLY_RULE)
    page = staff_client.get(response.url)
    assert messages_of(page) == [
        f"{RECIPIENT} wrote to {NEW_YORK} (Opt-out); the auto-reply is in the conversation."
    ]
    assert entries(page) == [
        (False, "Your code is 1234"),
        (True, "STOP"),
        (False, DEFAULT_OPT_OUT_REPLY),
    ]
    assert page.context["thread"].entries[1].answered

    send(staff_client, pool, "Are you still there?")

    refused = Message.objects.get(body="Are you still there?")
    assert (refused.status, refused.detailed_status) == ("Undelivered", "Opted-out")
    page = opened(staff_client)
    assert "Undelivered / Opted-out" in page.content.decode()
    assert messages_of(page) == [
        f"{RECIPIENT} opted out: the message is kept as Undelivered / Opted-out, and never leaves."
    ]


def test_a_reply_keeps_the_conversation_on_the_number_written_to(staff_client, account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], name="Sticky", sticky=True)
    san_francisco = pool.pool_numbers.get(number__number=SAN_FRANCISCO).number

    reply(staff_client, san_francisco, "Hi, who is this?")
    send(staff_client, pool, "This is Acme")

    answer = Message.objects.get(body="This is Acme")
    assert (answer.sender, answer.rule) == (SAN_FRANCISCO, "sticky")


def test_a_number_on_a_real_carriers_connection_is_refused(staff_client, account):
    twilio = ConnectionFactory(account=account, kind="twilio", name="Twilio US")
    number = number_of(account, NEW_YORK, connection=twilio)
    pool_with(account, [SAN_FRANCISCO], name="Simulated")
    carried = pool_with(account, [], name="On Twilio")
    carried.pool_numbers.create(number=number)

    response = reply(staff_client, number, "STOP")

    assert response.status_code == 200
    assert response.context["reply_form"].errors["number"] == [
        f"{NEW_YORK} is on Twilio US (Twilio), a real carrier's connection: a message to it "
        "comes from that carrier. The virtual phone writes only to numbers on a simulator "
        "connection."
    ]
    assert "a real carrier&#x27;s connection" in response.content.decode()
    assert not InboundMessage.objects.exists()
    pools = response.context["send_form"].fields["pool"].queryset
    assert [pool.name for pool in pools] == ["Simulated"]


@pytest.mark.parametrize(("kind", "refused"), [("simulator", False), ("vonage", True)])
def test_a_number_naming_no_connection_follows_the_accounts_default(
    staff_client, account, kind, refused
):
    ConnectionFactory(account=account, kind=kind, is_default=True)
    number = number_of(account, NEW_YORK)

    response = reply(staff_client, number, "HELP")

    assert (response.status_code == 200) is refused
    assert InboundMessage.objects.exists() is not refused


def test_without_a_default_connection_the_configured_gateway_decides(
    staff_client, account, settings
):
    settings.SMS_GATEWAY_BACKEND = "carriers.gateways.twilio.TwilioGateway"
    number = number_of(account, NEW_YORK)

    response = reply(staff_client, number, "HELP")

    assert "is on SMS_GATEWAY_BACKEND" in response.context["reply_form"].errors["number"][0]
    assert not InboundMessage.objects.exists()


# Scope and permissions


def test_scoped_staff_see_only_their_accounts_side_of_a_recipient(
    staff_client, account, other_account
):
    message_send(pool=pool_with(account, [NEW_YORK]), to=RECIPIENT, body="From acme")
    message_send(pool=pool_with(other_account, [SAN_FRANCISCO]), to=RECIPIENT, body="From globex")

    page = opened(staff_client, account=other_account.pk)

    assert page.context["account"] == account
    assert entries(page) == [(False, "From acme")]
    assert "From globex" not in page.content.decode()


def test_scoped_staff_cannot_write_as_a_recipient_to_another_accounts_number(
    staff_client, other_account
):
    theirs = number_of(other_account, SAN_FRANCISCO)

    response = reply(staff_client, theirs, "STOP", recipient=RECIPIENT)

    assert response.status_code == 200
    assert response.context["reply_form"].errors["number"]
    assert not InboundMessage.objects.exists()
    assert not OptOut.objects.exists()


def test_a_superuser_picks_the_account(account, other_account):
    message_send(pool=pool_with(other_account, [SAN_FRANCISCO]), to=RECIPIENT, body="From globex")
    client = logged_in(UserFactory(is_superuser=True, account=None))

    page = opened(client, account=other_account.pk)

    assert page.context["account"] == other_account
    assert entries(page) == [(False, "From globex")]


def test_view_only_staff_see_the_conversation_but_cannot_send_or_reply(account, pool, new_york):
    viewer = UserFactory(account=account)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_message"))
    client = logged_in(viewer)
    message_send(pool=pool, to=RECIPIENT, body="hello")

    page = opened(client)

    assert entries(page) == [(False, "hello")]
    assert "send_form" not in page.context
    assert send(client, pool, "again").status_code == 403
    assert reply(client, new_york, "STOP").status_code == 403
    assert Message.objects.count() == 1
    assert not InboundMessage.objects.exists()


def test_staff_without_the_view_permission_have_no_virtual_phone(account):
    client = logged_in(UserFactory(account=account))

    assert client.get(phone_url()).status_code == 403


# Where it is linked from


def test_the_messages_list_and_a_message_page_link_to_the_virtual_phone(staff_client, pool):
    message = message_send(pool=pool, to=RECIPIENT, body="hello")

    listing = staff_client.get(url("messaging_message_changelist")).content.decode()
    assert f'href="{url("messaging_message_virtual_phone")}"' in listing
    page = staff_client.get(url("messaging_message_change", message.pk)).content.decode()
    link = phone_url(account=pool.account_id, recipient=RECIPIENT).replace("&", "&amp;")
    assert f'href="{link}">Open in the virtual phone' in page
