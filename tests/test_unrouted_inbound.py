"""Inbound to an unknown number (SPEC §3, issue 15): still 200 to the carrier, so it does
not retry, but recorded as "unrouted inbound", listed in the admin and counted on the
dashboard, so a number mistyped in a provider's console is found."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from twilio.request_validator import RequestValidator

from accounts.groups import operators_group_sync
from messaging.models import Message
from optout.models import InboundMessage, OptOut, UnroutedInbound
from tests.factories import ConnectionFactory, UserFactory
from tests.scenarios import NEW_YORK, number_of, pool_with
from tests.test_inbound_webhook import signed_headers

pytestmark = pytest.mark.django_db

PERSON = "+12125550100"
UNKNOWN = "+12122039999"
OTHER_ACCOUNTS_NUMBER = "+12122030099"
UNROUTED_LIST = reverse("admin:optout_unroutedinbound_changelist")
NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)


@pytest.fixture
def write(client, settings):
    """Post an inbound message to the carriers' generic webhook."""

    def write(text, *, to=UNKNOWN, message_id=None, **extra):
        payload = {
            "messageId": message_id or f"in-{uuid.uuid4().hex}",
            "from": PERSON,
            "to": to,
            "body": text,
            **extra,
        }
        body = json.dumps(payload)
        headers = signed_headers(body, settings.CARRIER_WEBHOOK_SECRET)
        return client.post(
            "/webhooks/inbound", body, content_type="application/json", headers=headers
        )

    return write


@pytest.fixture
def twilio(account):
    """The account's Twilio connection, with one of its numbers in a pool."""
    connection = ConnectionFactory(account=account, name="Twilio US", kind="twilio")
    number = number_of(account, NEW_YORK, connection=connection)
    pool_with(account).pool_numbers.create(number=number)
    return connection


def twilio_writes(connection, text, *, to, message_id=None):
    """Twilio posts what a person wrote to `to`, signed with the connection's token."""
    params = {
        "MessageSid": message_id or "SM" + uuid.uuid4().hex,
        "AccountSid": connection.settings["accountSid"],
        "From": PERSON,
        "To": to,
        "Body": text,
    }
    url = connection.webhook_urls()["inbound"]
    signature = RequestValidator(connection.secrets["authToken"]).compute_signature(url, params)
    return Client().post(
        urlsplit(url).path,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def operator_of(account) -> Client:
    user = UserFactory(account=account)
    user.groups.add(operators_group_sync())
    return logged_in(user)


@pytest.fixture
def superuser_client():
    return logged_in(UserFactory(is_superuser=True, account=None))


def listed(client, url=UNROUTED_LIST, **query) -> list[UnroutedInbound]:
    response = client.get(url, query)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def nothing_else_changed():
    return (InboundMessage.objects.count(), OptOut.objects.count(), Message.objects.count())


# Recorded, and still answered as before


def test_the_generic_webhook_acknowledges_a_message_to_an_unknown_number_and_records_it(
    write, account
):
    pool_with(account, [NEW_YORK])

    response = write("STOP", message_id="carrier-1", receivedAt="2025-03-01T12:30:00Z")

    assert (response.status_code, response.json()) == (200, {"action": None})
    unrouted = UnroutedInbound.objects.get()
    assert (unrouted.sender, unrouted.to, unrouted.body, unrouted.carrier_message_id) == (
        PERSON,
        UNKNOWN,
        "STOP",
        "carrier-1",
    )
    assert unrouted.received_at == datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    # The generic webhook belongs to no account: nobody's staff is shown it.
    assert (unrouted.account, unrouted.connection) == (None, None)
    assert nothing_else_changed() == (0, 0, 0)


def test_a_carriers_retry_of_an_unrouted_message_is_recorded_once(write):
    write("hello", message_id="carrier-1")
    response = write("hello", message_id="carrier-1")

    assert response.status_code == 200
    assert UnroutedInbound.objects.count() == 1


def test_a_message_to_a_known_number_is_not_recorded_as_unrouted(write, account, twilio):
    pool_with(account, ["+12122030002"])

    assert write("hello", to="+12122030002").status_code == 200
    assert twilio_writes(twilio, "hello", to=NEW_YORK).status_code == 200

    assert UnroutedInbound.objects.count() == 0
    assert InboundMessage.objects.count() == 2


def test_a_providers_webhook_to_an_unknown_number_is_answered_and_recorded_for_its_account(
    twilio, account
):
    response = twilio_writes(twilio, "STOP", to=UNKNOWN, message_id="SM1")

    assert response.status_code == 200
    assert response.content.endswith(b"<Response />")  # empty TwiML: Twilio sends nothing
    unrouted = UnroutedInbound.objects.get()
    assert (unrouted.account, unrouted.connection, unrouted.carrier_message_id) == (
        account,
        twilio,
        "SM1",
    )
    assert (unrouted.sender, unrouted.to, unrouted.body) == (PERSON, UNKNOWN, "STOP")
    assert nothing_else_changed() == (0, 0, 0)


def test_another_accounts_number_through_this_connection_is_unrouted_for_this_account(
    twilio, account, other_account
):
    number_of(other_account, OTHER_ACCOUNTS_NUMBER)

    assert twilio_writes(twilio, "STOP", to=OTHER_ACCOUNTS_NUMBER).status_code == 200

    unrouted = UnroutedInbound.objects.get()
    assert (unrouted.account, unrouted.connection, unrouted.to) == (
        account,
        twilio,
        OTHER_ACCOUNTS_NUMBER,
    )
    assert nothing_else_changed() == (0, 0, 0)


# The admin list


@pytest.fixture
def both(write, twilio):
    """One unrouted message from the generic webhook, one through the Twilio connection."""
    write("via the generic webhook", to="+12122039998")
    twilio_writes(twilio, "via twilio", to=UNKNOWN)
    return (
        UnroutedInbound.objects.get(connection=None),
        UnroutedInbound.objects.get(connection=twilio),
    )


def test_superusers_see_every_unrouted_message(superuser_client, both):
    assert sorted(listed(superuser_client), key=lambda u: u.pk) == list(both)
    page = superuser_client.get(UNROUTED_LIST).content.decode()
    assert "the generic webhook" in page and "Twilio US" in page


def test_an_accounts_staff_see_only_what_came_through_its_connections(account, other_account, both):
    generic, through_twilio = both

    assert listed(operator_of(account)) == [through_twilio]
    assert listed(operator_of(other_account)) == []
    change = reverse("admin:optout_unroutedinbound_change", args=[generic.pk])
    assert operator_of(account).get(change).status_code == 302  # not theirs: not found


def test_the_list_is_searchable_by_from_to_and_body(superuser_client, both):
    generic, through_twilio = both

    assert listed(superuser_client, q="generic") == [generic]
    assert listed(superuser_client, q=UNKNOWN) == [through_twilio]
    assert len(listed(superuser_client, q=PERSON)) == 2


def test_the_list_is_read_only_with_a_date_hierarchy(superuser_client, both):
    response = superuser_client.get(UNROUTED_LIST)

    assert response.context["cl"].date_hierarchy == "received_at"
    assert not response.context["has_add_permission"]
    change = reverse("admin:optout_unroutedinbound_change", args=[both[0].pk])
    page = superuser_client.get(change)
    assert page.status_code == 200 and not page.context["has_change_permission"]


# The dashboard


def unrouted_on_dashboard(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return response.context["unrouted"], response.content.decode()


def test_the_dashboard_counts_todays_unrouted_inbound_and_links_to_them(
    superuser_client, write, time_machine
):
    time_machine.move_to(NOW - timedelta(days=1), tick=False)
    write("yesterday")
    time_machine.move_to(NOW, tick=False)
    write("today")
    write("today, again")

    figure, page = unrouted_on_dashboard(superuser_client)

    assert (figure.label, figure.count) == ("Unrouted inbound today", 2)
    assert sorted(u.body for u in listed(superuser_client, figure.url)) == [
        "today",
        "today, again",
    ]
    assert 'data-figure="Unrouted inbound today"' in page
    assert 'class="figure alarm"' in page


def test_an_accounts_staff_count_only_what_came_through_its_connections(
    account, other_account, both
):
    figure, _ = unrouted_on_dashboard(operator_of(account))
    assert figure.count == 1
    assert unrouted_on_dashboard(operator_of(other_account))[0].count == 0
