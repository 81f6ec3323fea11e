"""Connections in the admin console: scoped to the operator's account, settings as form
fields checked like the API's, secrets write-only; and the numbers' connection and rate."""

import socket

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.groups import OPERATORS
from carriers.models import Connection
from tests.factories import CONNECTION_EXAMPLES, ConnectionFactory, NumberFactory, UserFactory

pytestmark = pytest.mark.django_db

SMPP_PASSWORD = CONNECTION_EXAMPLES["smpp"][1]["password"]


def url(name, *args):
    return reverse(f"admin:{name}", args=args)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser_client():
    return logged_in(UserFactory(is_superuser=True, account=None))


@pytest.fixture
def staff_client(account):
    """An operator of `account` ("acme"), with the Account operators group's permissions."""
    operator = UserFactory(account=account)
    operator.groups.add(Group.objects.get(name=OPERATORS))
    return logged_in(operator)


def listed(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def form_data(response, **changes) -> dict:
    """What a browser posts back from the admin form on the page, with `changes` made."""
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def form_errors(response) -> dict:
    assert response.status_code == 200, "the form was accepted"
    return response.context["adminform"].form.errors


def add(client, **fields):
    page = client.get(url("carriers_connection_add"))
    return client.post(url("carriers_connection_add"), form_data(page, **fields))


def change(client, connection, **fields):
    page = client.get(url("carriers_connection_change", connection.pk))
    return client.post(url("carriers_connection_change", connection.pk), form_data(page, **fields))


SMPP_FORM = {
    "name": "smsc",
    "kind": "smpp",
    "smpp_host": "smsc.example.net",
    "smpp_port": "2775",
    "smpp_systemId": "acme",
    "smpp_secret_password": SMPP_PASSWORD,
}


# The list


def test_the_list_shows_kind_state_default_and_the_numbers_each_connection_carries(
    superuser_client, account
):
    default = ConnectionFactory(account=account, name="a default", is_default=True)
    smsc = ConnectionFactory(account=account, name="b smsc", kind="smpp", state_status="down")
    NumberFactory.create_batch(2, account=account)  # name none: the default's
    NumberFactory(account=account, connection=default)
    NumberFactory(account=account, connection=smsc)

    response = superuser_client.get(url("carriers_connection_changelist"))

    assert [(c.name, c.number_count) for c in listed(response)] == [
        ("a default", 3),
        ("b smsc", 1),
    ]
    assert response.context["cl"].list_display[1:] == [
        "name",
        "kind",
        "state",
        "default",
        "number_count",
        "account",
    ]
    assert "Down" in response.content.decode()
    assert "the account&#x27;s default" in response.content.decode()  # a word, not a red ✕


def test_operators_see_and_open_only_their_accounts_connections(
    staff_client, account, other_account
):
    ours = ConnectionFactory(account=account)
    theirs = ConnectionFactory(account=other_account)

    response = staff_client.get(url("carriers_connection_changelist"))

    assert listed(response) == [ours]
    assert "account" not in response.context["cl"].list_display
    assert staff_client.get(url("carriers_connection_change", ours.pk)).status_code == 200
    opened = staff_client.get(url("carriers_connection_change", theirs.pk), follow=True)
    assert opened.redirect_chain == [(url("index"), 302)]


def test_superusers_see_every_accounts_connections(superuser_client, account, other_account):
    connections = {ConnectionFactory(account=account), ConnectionFactory(account=other_account)}

    assert set(listed(superuser_client.get(url("carriers_connection_changelist")))) == connections


# Adding


def test_an_smpp_connection_added_in_the_admin_stores_its_settings_and_password(
    staff_client, account
):
    response = add(staff_client, **SMPP_FORM)

    assert response.status_code == 302, form_errors(response)
    connection = Connection.objects.get(name="smsc")
    assert connection.account == account
    # The defaults (systemType, bindMode, tls) are not stored: they stay the defaults.
    assert connection.settings == {"host": "smsc.example.net", "port": 2775, "systemId": "acme"}
    assert connection.secrets == {"password": SMPP_PASSWORD}


def test_the_add_page_offers_the_settings_of_every_kind_with_their_defaults(staff_client):
    page = staff_client.get(url("carriers_connection_add"))
    form = page.context["adminform"].form

    assert {"smpp_host", "twilio_accountSid", "telnyx_publicKey", "vonage_apiKey"} <= set(
        form.fields
    )
    assert form["twilio_baseUrl"].value() == "https://api.twilio.com"
    assert form["smpp_bindMode"].value() == "transceiver"


def test_a_twilio_connection_added_in_the_admin(superuser_client, account):
    response = add(
        superuser_client,
        account=account.pk,
        name="twilio",
        kind="twilio",
        twilio_accountSid="AC123",
        twilio_baseUrl="http://127.0.0.1:8765",
        twilio_secret_authToken="tok",
    )

    assert response.status_code == 302, form_errors(response)
    connection = Connection.objects.get(name="twilio")
    assert connection.settings == {"accountSid": "AC123", "baseUrl": "http://127.0.0.1:8765"}
    assert connection.secrets == {"authToken": "tok"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"smpp_host": ""}, "smpp_host"),
        ({"smpp_port": "70000"}, "smpp_port"),
        ({"smpp_port": "two"}, "smpp_port"),
        ({"smpp_secret_password": ""}, "smpp_secret_password"),
        ({"messages_per_second": "0"}, "messages_per_second"),
        ({"messages_per_second": "10001"}, "messages_per_second"),
        ({"window": "0"}, "window"),
        ({"window": "1001"}, "window"),
    ],
)
def test_the_add_form_refuses_what_the_api_refuses(staff_client, changes, field):
    response = add(staff_client, **{**SMPP_FORM, **changes})

    assert field in form_errors(response)
    assert not Connection.objects.exists()


def test_only_the_chosen_kinds_settings_are_checked(staff_client):
    # The SMPP fields are left empty: a simulator has no settings to give.
    response = add(staff_client, name="sim", kind="simulator")

    assert response.status_code == 302, form_errors(response)
    assert Connection.objects.get(name="sim").settings == {}


def test_a_name_is_unique_within_the_account_in_the_admin_too(staff_client, account):
    ConnectionFactory(account=account, name="smsc")

    errors = form_errors(add(staff_client, **SMPP_FORM))

    assert "already has a connection of this name" in str(errors)
    assert Connection.objects.filter(name="smsc").count() == 1


# Changing


@pytest.fixture
def smsc(account):
    return ConnectionFactory(account=account, kind="smpp", name="smsc")


def test_the_change_page_shows_the_kinds_settings_and_which_secrets_are_set_never_their_value(
    staff_client, smsc
):
    page = staff_client.get(url("carriers_connection_change", smsc.pk))
    form = page.context["adminform"].form
    html = page.content.decode()

    assert {name for name in form.fields if name.startswith("smpp_")} == {
        "smpp_host",
        "smpp_port",
        "smpp_systemId",
        "smpp_systemType",
        "smpp_bindMode",
        "smpp_tls",
        "smpp_secret_password",
    }
    assert not any(name.startswith("twilio_") for name in form.fields)
    assert form["smpp_host"].value() == "smsc.example.net"
    assert '<input type="password" name="smpp_secret_password"' in html
    assert SMPP_PASSWORD not in html
    assert "Secrets set" in html
    assert smsc.webhook_urls()["inbound"] in html


def test_a_blank_password_keeps_the_stored_one_and_a_typed_one_replaces_it(staff_client, smsc):
    assert change(staff_client, smsc, smpp_port="2776").status_code == 302
    smsc.refresh_from_db()
    assert (smsc.settings["port"], smsc.secrets) == (2776, {"password": SMPP_PASSWORD})

    assert change(staff_client, smsc, smpp_secret_password="n3w-Pa55").status_code == 302
    smsc.refresh_from_db()
    assert smsc.secrets == {"password": "n3w-Pa55"}


def test_setting_a_setting_back_to_its_default_stores_nothing_for_it(staff_client, smsc):
    smsc.settings = {**smsc.settings, "bindMode": "transmitter+receiver", "tls": True}
    smsc.save()

    response = change(staff_client, smsc, smpp_bindMode="transceiver", smpp_tls=False)

    assert response.status_code == 302, form_errors(response)
    smsc.refresh_from_db()
    assert smsc.settings == {"host": "smsc.example.net", "port": 2775, "systemId": "acme"}


def test_a_required_setting_cannot_be_emptied(staff_client, smsc):
    assert "smpp_host" in form_errors(change(staff_client, smsc, smpp_host=""))


def test_the_kind_is_read_only_once_created(staff_client, smsc):
    change(staff_client, smsc, kind="twilio")

    smsc.refresh_from_db()
    assert smsc.kind == "smpp"


def test_making_a_connection_the_default_in_the_admin_ends_the_previous_default(
    staff_client, account, smsc
):
    ConnectionFactory(account=account, name="old", is_default=True)

    response = change(staff_client, smsc, is_default=True)

    assert response.status_code == 302, form_errors(response)
    defaults = Connection.objects.filter(account=account, is_default=True)
    assert list(defaults.values_list("name", flat=True)) == ["smsc"]


def test_the_history_names_a_changed_secret_but_not_its_value(staff_client, smsc):
    change(staff_client, smsc, smpp_secret_password="n3w-Pa55")

    history = staff_client.get(url("carriers_connection_history", smsc.pk)).content.decode()

    assert "password" in history
    assert "n3w-Pa55" not in history


def test_view_only_staff_see_the_settings_as_text(account, smsc):
    viewer = UserFactory(account=account)
    viewer.user_permissions.add(Permission.objects.get(codename="view_connection"))

    page = logged_in(viewer).get(url("carriers_connection_change", smsc.pk))

    assert page.status_code == 200
    html = page.content.decode()
    assert "host: smsc.example.net" in html
    assert SMPP_PASSWORD not in html


# Checking and deleting


def test_check_now_checks_each_selected_connection_and_records_its_state(staff_client, account):
    simulator = ConnectionFactory(account=account, name="sim")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    smpp = ConnectionFactory(
        account=account,
        name="smsc",
        kind="smpp",
        settings={"host": "127.0.0.1", "port": port, "systemId": "acme"},
    )

    response = staff_client.post(
        url("carriers_connection_changelist"),
        {"action": "check_now", ACTION_CHECKBOX_NAME: [simulator.pk, smpp.pk]},
        follow=True,
    )

    assert sorted(messages_of(response)) == [
        "sim: up, The simulator is always there.",
        f"smsc: down, bind to 127.0.0.1:{port} failed: Connection refused",
    ]
    simulator.refresh_from_db()
    smpp.refresh_from_db()
    assert (simulator.state_status, smpp.state_status) == ("up", "down")


def test_a_default_that_numbers_rely_on_cannot_be_deleted_in_the_admin(staff_client, account):
    default = ConnectionFactory(account=account, is_default=True)
    NumberFactory(account=account)  # names no connection: sends through the default

    page = staff_client.get(url("carriers_connection_delete", default.pk))
    staff_client.post(url("carriers_connection_delete", default.pk), {"post": "yes"})

    assert "1 number(s) send through this connection" in page.content.decode()
    assert Connection.objects.filter(pk=default.pk).exists()


def test_an_unused_connection_is_deleted_in_the_admin(staff_client, account):
    connection = ConnectionFactory(account=account)

    response = staff_client.post(url("carriers_connection_delete", connection.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Connection.objects.filter(pk=connection.pk).exists()


# The numbers' connection and rate


def test_a_numbers_connection_and_rate_are_edited_on_its_page(staff_client, account):
    number = NumberFactory(account=account)
    connection = ConnectionFactory(account=account)
    page = staff_client.get(url("numbers_number_change", number.pk))

    response = staff_client.post(
        url("numbers_number_change", number.pk),
        form_data(page, connection=connection.pk, parts_per_second="5"),
    )

    assert response.status_code == 302, form_errors(response)
    number.refresh_from_db()
    assert (number.connection, number.parts_per_second) == (connection, 5.0)


def test_a_number_is_offered_only_its_accounts_connections(
    superuser_client, account, other_account
):
    number = NumberFactory(account=account)
    ours = ConnectionFactory(account=account)
    theirs = ConnectionFactory(account=other_account)
    page = superuser_client.get(url("numbers_number_change", number.pk))

    assert list(page.context["adminform"].form.fields["connection"].queryset) == [ours]
    response = superuser_client.post(
        url("numbers_number_change", number.pk), form_data(page, connection=theirs.pk)
    )
    assert "connection" in form_errors(response)


def test_a_number_added_with_another_accounts_connection_is_refused(
    superuser_client, account, other_account
):
    theirs = ConnectionFactory(account=other_account)
    page = superuser_client.get(url("numbers_number_add"))

    response = superuser_client.post(
        url("numbers_number_add"),
        form_data(
            page, account=account.pk, number="+12125550100", type="longcode", connection=theirs.pk
        ),
    )

    assert "connection" in form_errors(response)


@pytest.mark.parametrize("rate", ["0", "-1", "1001"])
def test_a_numbers_rate_is_above_0_and_at_most_1000_in_the_admin_too(staff_client, account, rate):
    number = NumberFactory(account=account)
    page = staff_client.get(url("numbers_number_change", number.pk))

    response = staff_client.post(
        url("numbers_number_change", number.pk), form_data(page, parts_per_second=rate)
    )

    assert "parts_per_second" in form_errors(response)


def test_numbers_filter_by_connection_among_the_accounts_own(staff_client, account, other_account):
    connection = ConnectionFactory(account=account, name="smsc")
    ConnectionFactory(account=other_account, name="their smsc")
    on_it = NumberFactory(account=account, connection=connection)
    NumberFactory(account=account)

    response = staff_client.get(
        url("numbers_number_changelist"), {"connection__id__exact": connection.pk}
    )

    assert listed(response) == [on_it]
    html = staff_client.get(url("numbers_number_changelist")).content.decode()
    assert "smsc (Simulator)" in html
    assert "their smsc" not in html
