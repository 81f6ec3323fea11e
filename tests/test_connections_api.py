"""The connections API (SPEC §11): create, read, list, change, delete and check a carrier
connection; its secrets go in and never come out."""

import socket
import threading
import uuid

import pytest
from django.conf import settings as django_settings
from django.db import connection as db_connection
from django.test import Client
from rest_framework.test import APIClient

from carriers import services
from carriers.gateways.simulator import SimulatorGateway
from carriers.kinds import KINDS
from carriers.models import Connection
from tests import fake_telnyx, fake_twilio, fake_vonage
from tests.assertions import assert_error
from tests.conftest import client_for
from tests.factories import CONNECTION_EXAMPLES, ConnectionFactory, NumberFactory, UserFactory
from tests.smsc import running_smsc

pytestmark = pytest.mark.django_db

RESOURCE_FIELDS = {
    "connectionId",
    "name",
    "kind",
    "settings",
    "secretsSet",
    "limits",
    "state",
    "webhookUrls",
    "isDefault",
    "createdAt",
}
SMPP_SETTINGS, SMPP_SECRETS = CONNECTION_EXAMPLES["smpp"]


def create(api, **body):
    return api.post("/connections/my", body, format="json")


def smpp(api, **changes):
    body = {"name": "smsc", "kind": "smpp", "settings": SMPP_SETTINGS, "secrets": SMPP_SECRETS}
    return create(api, **{**body, **changes})


def patch(api, connection, **body):
    return api.patch(f"/connections/my/{connection.pk}", body, format="json")


def errors_of(response) -> dict:
    return assert_error(response, 400, "VALIDATION_ERROR")["errors"]


def free_port() -> int:
    """A port nothing listens on: the system's pick, closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Creating and reading


@pytest.mark.parametrize("kind", list(KINDS))
def test_creating_a_connection_of_each_kind_answers_the_resource_without_secrets(
    api, account, kind
):
    settings, secrets = CONNECTION_EXAMPLES[kind]

    response = create(api, name=f"my {kind}", kind=kind, settings=settings, secrets=secrets)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == RESOURCE_FIELDS
    assert (body["name"], body["kind"], body["isDefault"]) == (f"my {kind}", kind, False)
    assert body["settings"] == {**KINDS[kind].defaults(), **settings}
    assert body["secretsSet"] == sorted(secrets)
    assert body["limits"] == {"messagesPerSecond": None, "window": 10}
    assert body["state"] == {"status": "unknown", "detail": None, "checkedAt": None}
    stored = Connection.objects.get(pk=body["connectionId"])
    assert (stored.account, stored.secrets, stored.settings) == (account, secrets, settings)
    assert not any(value in response.content.decode() for value in secrets.values())


def test_an_smpp_connection_shows_the_defaults_of_the_settings_it_was_not_given(api):
    body = smpp(api).json()

    assert body["settings"] == {
        "host": "smsc.example.net",
        "port": 2775,
        "systemId": "acme",
        "systemType": "",
        "bindMode": "transceiver",
        "tls": False,
    }


def test_the_webhook_urls_are_absolute_on_the_public_base_url(api):
    body = smpp(api).json()

    base = f"{django_settings.PUBLIC_BASE_URL}/webhooks/connections/{body['connectionId']}"
    assert body["webhookUrls"] == {"inbound": f"{base}/inbound", "status": f"{base}/status"}


def test_limits_are_taken_as_given(api):
    body = smpp(api, limits={"messagesPerSecond": 12.5, "window": 1}).json()

    assert body["limits"] == {"messagesPerSecond": 12.5, "window": 1}


@pytest.mark.parametrize(
    "limits",
    [{"messagesPerSecond": 10_000, "window": 1000}, {"messagesPerSecond": None}, {}],
)
def test_limits_at_their_bounds_or_left_out_are_accepted(api, limits):
    assert smpp(api, limits=limits).status_code == 201


def test_reading_one_connection(api, account):
    connection = ConnectionFactory(account=account, kind="twilio", name="twilio us")

    response = api.get(f"/connections/my/{connection.pk}")

    assert response.status_code == 200
    assert response.json()["connectionId"] == str(connection.pk)
    assert response.json()["settings"]["baseUrl"] == "https://api.twilio.com"


def test_the_list_is_paginated_by_name_and_shows_only_the_accounts_connections(
    api, account, other_account
):
    for name in ("b", "a", "c"):
        ConnectionFactory(account=account, name=name)
    ConnectionFactory(account=other_account, name="theirs")

    first = api.get("/connections/my?pageSize=2").json()
    last = api.get("/connections/my?pageSize=2&page=2").json()

    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 3
    assert [c["name"] for c in first["results"]] == ["a", "b"]
    assert [c["name"] for c in last["results"]] == ["c"]
    assert set(first["results"][0]) == RESOURCE_FIELDS


# Validation


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "sms-gateway"}, "kind"),
        ({"kind": None}, "kind"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"settings": {"port": 2775, "systemId": "acme"}}, "settings.host"),
        ({"settings": {**SMPP_SETTINGS, "host": ""}}, "settings.host"),
        ({"secrets": {}}, "secrets.password"),
        ({"secrets": {"password": ""}}, "secrets.password"),
        ({"secrets": {"password": None}}, "secrets.password"),
        ({"secrets": {"password": 1234}}, "secrets.password"),
        ({"secrets": {**SMPP_SECRETS, "token": "x"}}, "secrets.token"),
        ({"settings": {**SMPP_SETTINGS, "hostname": "x"}}, "settings.hostname"),
        ({"settings": {**SMPP_SETTINGS, "host": 42}}, "settings.host"),
        ({"settings": {**SMPP_SETTINGS, "port": "2775"}}, "settings.port"),
        ({"settings": {**SMPP_SETTINGS, "port": 2775.0}}, "settings.port"),
        ({"settings": {**SMPP_SETTINGS, "port": True}}, "settings.port"),
        ({"settings": {**SMPP_SETTINGS, "port": 0}}, "settings.port"),
        ({"settings": {**SMPP_SETTINGS, "port": 65536}}, "settings.port"),
        ({"settings": {**SMPP_SETTINGS, "tls": "true"}}, "settings.tls"),
        ({"settings": {**SMPP_SETTINGS, "tls": 1}}, "settings.tls"),
        ({"settings": {**SMPP_SETTINGS, "bindMode": "receiver"}}, "settings.bindMode"),
        ({"settings": {**SMPP_SETTINGS, "systemId": "s" * 16}}, "settings.systemId"),
        ({"settings": {**SMPP_SETTINGS, "systemType": "t" * 13}}, "settings.systemType"),
        ({"secrets": {"password": "nine-char"}}, "secrets.password"),  # SMPP: at most 8
        ({"settings": "host=smsc"}, "settings"),
        ({"secrets": ["smPa55wd"]}, "secrets"),
        ({"limits": {"messagesPerSecond": 0}}, "limits.messagesPerSecond"),
        ({"limits": {"messagesPerSecond": -1}}, "limits.messagesPerSecond"),
        ({"limits": {"messagesPerSecond": 10_001}}, "limits.messagesPerSecond"),
        ({"limits": {"messagesPerSecond": "5"}}, "limits.messagesPerSecond"),
        ({"limits": {"messagesPerSecond": True}}, "limits.messagesPerSecond"),
        ({"limits": {"window": 0}}, "limits.window"),
        ({"limits": {"window": 1001}}, "limits.window"),
        ({"limits": {"window": "10"}}, "limits.window"),
        ({"limits": {"window": 2.5}}, "limits.window"),
        ({"limits": {"window": None}}, "limits.window"),
        ({"limits": {"burst": 3}}, "limits.burst"),
        ({"isDefault": "maybe"}, "isDefault"),
        ({"isDefault": "yes"}, "isDefault"),  # JSON booleans only
        ({"secretsSet": ["password"]}, "secretsSet"),
    ],
)
def test_an_invalid_connection_is_a_validation_error_naming_the_field(api, changes, field):
    response = smpp(api, **changes)

    assert field in errors_of(response)
    assert not Connection.objects.exists()


@pytest.mark.parametrize(
    ("kind", "settings", "field"),
    [
        ("twilio", {}, "settings.accountSid"),
        ("twilio", {"accountSid": "AC1", "baseUrl": "ftp://api.twilio.com"}, "settings.baseUrl"),
        ("telnyx", {"messagingProfileId": "p"}, "settings.publicKey"),
        ("vonage", {"apiKey": "k", "baseUrl": "not a url"}, "settings.baseUrl"),
        ("simulator", {"host": "x"}, "settings.host"),
    ],
)
def test_each_kind_checks_its_own_settings(api, kind, settings, field):
    _, secrets = CONNECTION_EXAMPLES[kind]

    response = create(api, name="c", kind=kind, settings=settings, secrets=secrets)

    assert field in errors_of(response)


def test_every_missing_setting_and_secret_is_named_at_once(api):
    response = create(api, name="c", kind="vonage")

    assert set(errors_of(response)) == {
        "settings.apiKey",
        "secrets.apiSecret",
        "secrets.signatureSecret",
    }


def test_a_setting_sent_as_null_takes_its_default(api):
    body = smpp(api, settings={**SMPP_SETTINGS, "bindMode": None}).json()

    assert body["settings"]["bindMode"] == "transceiver"


def test_a_name_is_unique_within_the_account_only(api, account, other_account):
    ConnectionFactory(account=account, name="smsc")
    ConnectionFactory(account=other_account, name="other")

    assert "name" in errors_of(smpp(api, name="smsc"))
    assert smpp(api, name="other").status_code == 201


# Changing


@pytest.fixture
def smsc_connection(account):
    return ConnectionFactory(account=account, kind="smpp", name="smsc")


def test_patching_settings_merges_them_key_by_key(api, smsc_connection):
    response = patch(api, smsc_connection, settings={"port": 2776, "tls": True})

    assert response.status_code == 200
    assert response.json()["settings"] == {
        "host": "smsc.example.net",
        "port": 2776,
        "systemId": "acme",
        "systemType": "",
        "bindMode": "transceiver",
        "tls": True,
    }


def test_patching_a_setting_to_null_puts_back_its_default(api, smsc_connection):
    patch(api, smsc_connection, settings={"bindMode": "transmitter+receiver"})

    body = patch(api, smsc_connection, settings={"bindMode": None}).json()

    assert body["settings"]["bindMode"] == "transceiver"
    smsc_connection.refresh_from_db()
    assert "bindMode" not in smsc_connection.settings


def test_removing_a_required_setting_is_refused(api, smsc_connection):
    assert "settings.host" in errors_of(patch(api, smsc_connection, settings={"host": None}))
    smsc_connection.refresh_from_db()
    assert smsc_connection.settings["host"] == "smsc.example.net"


def test_patching_secrets_sets_the_ones_given_and_keeps_the_others(api, account):
    connection = ConnectionFactory(account=account, kind="vonage")

    response = patch(api, connection, secrets={"apiSecret": "rotated-S3cret"})

    assert response.status_code == 200
    assert response.json()["secretsSet"] == ["apiSecret", "signatureSecret"]
    connection.refresh_from_db()
    assert connection.secrets == {"apiSecret": "rotated-S3cret", "signatureSecret": "vonage-Sig"}


@pytest.mark.parametrize("value", [None, ""])
def test_a_required_secret_cannot_be_removed_or_emptied(api, smsc_connection, value):
    response = patch(api, smsc_connection, secrets={"password": value})

    assert "secrets.password" in errors_of(response)
    smsc_connection.refresh_from_db()
    assert smsc_connection.secrets == SMPP_SECRETS


def test_patching_limits_merges_them(api, smsc_connection):
    patch(api, smsc_connection, limits={"window": 4})

    body = patch(api, smsc_connection, limits={"messagesPerSecond": 50}).json()
    assert body["limits"] == {"messagesPerSecond": 50.0, "window": 4}
    body = patch(api, smsc_connection, limits={"messagesPerSecond": None}).json()
    assert body["limits"] == {"messagesPerSecond": None, "window": 4}


def test_patching_the_name(api, smsc_connection):
    assert patch(api, smsc_connection, name="primary smsc").json()["name"] == "primary smsc"


def test_patching_the_name_to_one_the_account_uses_is_refused(api, account, smsc_connection):
    ConnectionFactory(account=account, name="backup")

    assert "name" in errors_of(patch(api, smsc_connection, name="backup"))


def test_the_kind_cannot_change(api, smsc_connection):
    assert "kind" in errors_of(patch(api, smsc_connection, kind="twilio"))
    assert patch(api, smsc_connection, kind="smpp").status_code == 200
    smsc_connection.refresh_from_db()
    assert smsc_connection.kind == "smpp"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"settings": {"port": "2776"}}, "settings.port"),
        ({"settings": {"colour": "blue"}}, "settings.colour"),
        ({"secrets": {"apiKey": "x"}}, "secrets.apiKey"),
        ({"limits": {"window": 0}}, "limits.window"),
        ({"settings": None}, "settings"),
        ({"connectionId": str(uuid.uuid4())}, "connectionId"),
    ],
)
def test_an_invalid_patch_changes_nothing(api, smsc_connection, body, field):
    before = Connection.objects.values().get(pk=smsc_connection.pk)

    assert field in errors_of(patch(api, smsc_connection, **body))
    assert Connection.objects.values().get(pk=smsc_connection.pk) == before


def test_a_patch_leaves_the_state_a_check_wrote_meanwhile(api, smsc_connection):
    Connection.objects.filter(pk=smsc_connection.pk).update(state_status="up")

    patch(api, smsc_connection, name="renamed")  # smsc_connection still says "unknown"

    smsc_connection.refresh_from_db()
    assert smsc_connection.state_status == "up"


# The account's default


def defaults_of(account) -> list[str]:
    return list(
        Connection.objects.filter(account=account, is_default=True).values_list("name", flat=True)
    )


def test_a_new_default_connection_ends_the_previous_default(api, account):
    ConnectionFactory(account=account, name="old", is_default=True)

    response = smpp(api, name="new", isDefault=True)

    assert response.json()["isDefault"] is True
    assert defaults_of(account) == ["new"]


def test_patching_is_default_moves_the_default_within_the_account_only(api, account, other_account):
    first = ConnectionFactory(account=account, name="first", is_default=True)
    second = ConnectionFactory(account=account, name="second")
    ConnectionFactory(account=other_account, name="theirs", is_default=True)

    assert patch(api, second, isDefault=True).json()["isDefault"] is True
    assert api.get(f"/connections/my/{first.pk}").json()["isDefault"] is False
    assert defaults_of(account) == ["second"]
    assert defaults_of(other_account) == ["theirs"]


def test_a_failed_switch_keeps_the_previous_default(api, account):
    ConnectionFactory(account=account, name="old", is_default=True)
    other = ConnectionFactory(account=account, name="other")
    ConnectionFactory(account=account, name="taken")

    response = patch(api, other, isDefault=True, name="taken")

    assert "name" in errors_of(response)
    assert defaults_of(account) == ["old"]


def test_is_default_false_leaves_the_account_without_a_default(api, account):
    connection = ConnectionFactory(account=account, is_default=True)

    assert patch(api, connection, isDefault=False).json()["isDefault"] is False
    assert defaults_of(account) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_default_switches_at_once_leave_one_default(account):
    ConnectionFactory(account=account, name="old", is_default=True)
    contenders = ConnectionFactory.create_batch(4, account=account)
    barrier, errors = threading.Barrier(len(contenders)), []

    def switch(connection):
        try:
            barrier.wait(timeout=10)
            services.connection_update(connection=connection, is_default=True)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=switch, args=(c,)) for c in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(defaults_of(account)) == 1


# Deleting


def test_deleting_an_unused_connection(api, account):
    connection = ConnectionFactory(account=account)
    NumberFactory(account=account)  # names no connection, and this one is not the default

    assert api.delete(f"/connections/my/{connection.pk}").status_code == 204
    assert not Connection.objects.filter(pk=connection.pk).exists()


def test_a_connection_numbers_use_cannot_be_deleted(api, account, smsc_connection):
    NumberFactory.create_batch(2, account=account, connection=smsc_connection)

    body = assert_error(
        api.delete(f"/connections/my/{smsc_connection.pk}"), 409, "CONNECTION_IN_USE"
    )

    assert "2 number(s)" in body["developerMessage"]
    assert body["numberCount"] == 2
    assert Connection.objects.filter(pk=smsc_connection.pk).exists()


def test_the_default_cannot_be_deleted_while_numbers_name_no_connection(api, account):
    default = ConnectionFactory(account=account, is_default=True)
    NumberFactory(account=account)

    body = assert_error(api.delete(f"/connections/my/{default.pk}"), 409, "CONNECTION_IN_USE")

    assert "1 number(s)" in body["developerMessage"]
    assert "default" in body["developerMessage"]


def test_the_default_can_be_deleted_when_every_number_names_its_connection(api, account):
    default = ConnectionFactory(account=account, is_default=True)
    NumberFactory(account=account, connection=ConnectionFactory(account=account))

    assert api.delete(f"/connections/my/{default.pk}").status_code == 204


# Checking


def check(api, connection):
    return api.post(f"/connections/my/{connection.pk}/check")


def state_of(api, connection) -> dict:
    return api.get(f"/connections/my/{connection.pk}").json()["state"]


def test_checking_a_simulator_finds_it_up_and_records_it(api, account):
    connection = ConnectionFactory(account=account)

    response = check(api, connection)

    assert response.status_code == 200
    assert response.json() == {"status": "up", "detail": "The simulator is always there."}
    state = state_of(api, connection)
    assert (state["status"], state["detail"]) == ("up", "The simulator is always there.")
    assert state["checkedAt"] is not None


def test_checking_an_smpp_connection_with_nothing_listening_finds_it_down(api, account):
    port = free_port()
    connection = ConnectionFactory(
        account=account, kind="smpp", settings={**SMPP_SETTINGS, "host": "127.0.0.1", "port": port}
    )

    body = check(api, connection).json()

    assert body["status"] == "down"
    assert f"127.0.0.1:{port}" in body["detail"]
    assert state_of(api, connection)["status"] == "down"


def test_checking_an_smpp_connection_binds_to_the_smsc(api, account, tmp_path):
    with running_smsc(tmp_path, system_id="acme", password="right") as smsc:
        settings = {"host": "127.0.0.1", "port": smsc.port, "systemId": "acme"}
        right, wrong = (
            ConnectionFactory(
                account=account, kind="smpp", settings=settings, secrets={"password": password}
            )
            for password in ("right", "wrong")
        )

        assert check(api, right).json()["status"] == "up"
        assert check(api, wrong).json()["status"] == "down"


def provider_connection(account, kind, fake, **secrets):
    """A connection of `kind` to its fake provider, with the fake's own credentials."""
    settings, defaults = {
        "twilio": ({"accountSid": fake_twilio.ACCOUNT_SID}, {"authToken": fake_twilio.AUTH_TOKEN}),
        "telnyx": (
            {"publicKey": CONNECTION_EXAMPLES["telnyx"][0]["publicKey"]},
            {"apiKey": fake_telnyx.API_KEY},
        ),
        "vonage": (
            {"apiKey": fake_vonage.API_KEY},
            {"apiSecret": fake_vonage.API_SECRET, "signatureSecret": "sig"},
        ),
    }[kind]
    return ConnectionFactory(
        account=account,
        kind=kind,
        settings={**settings, "baseUrl": fake.base_url},
        secrets={**defaults, **secrets},
    )


FAKES = {
    "twilio": fake_twilio.running_fake_twilio,
    "telnyx": fake_telnyx.running_fake_telnyx,
    "vonage": fake_vonage.running_fake_vonage,
}
WRONG_SECRET = {"twilio": "authToken", "telnyx": "apiKey", "vonage": "apiSecret"}


@pytest.mark.parametrize("kind", ["twilio", "telnyx", "vonage"])
def test_checking_a_provider_connection_tries_its_credentials_and_records_the_state(
    api, account, kind
):
    with FAKES[kind]() as fake:
        right = provider_connection(account, kind, fake)
        wrong = provider_connection(account, kind, fake, **{WRONG_SECRET[kind]: "wrong-one"})

        assert check(api, right).json()["status"] == "up"
        body = check(api, wrong).json()

    assert body["status"] == "down"
    assert "credentials" in body["detail"] or "refused" in body["detail"].lower()
    assert "wrong-one" not in body["detail"]
    state = state_of(api, wrong)
    assert (state["status"], state["detail"]) == ("down", body["detail"])
    assert state["checkedAt"] is not None


@pytest.mark.django_db(transaction=True)
def test_the_check_runs_with_no_transaction_open(account, monkeypatch):
    connection = ConnectionFactory(account=account)
    original, in_transaction = SimulatorGateway.check, []

    def recording_check(gateway):
        in_transaction.append(db_connection.in_atomic_block)
        return original(gateway)

    monkeypatch.setattr(SimulatorGateway, "check", recording_check)

    assert check(client_for(account), connection).json()["status"] == "up"
    assert in_transaction == [False]
    connection.refresh_from_db()
    assert connection.state_status == "up"


# Tenants and ids


def connection_endpoints(connection_id):
    return [
        ("get", f"/connections/my/{connection_id}"),
        ("patch", f"/connections/my/{connection_id}"),
        ("delete", f"/connections/my/{connection_id}"),
        ("post", f"/connections/my/{connection_id}/check"),
    ]


@pytest.mark.parametrize("connection_id", [str(uuid.uuid4()), "not-a-uuid"])
@pytest.mark.parametrize("index", range(4))
def test_an_unknown_connection_is_not_found(api, connection_id, index):
    method, path = connection_endpoints(connection_id)[index]

    response = getattr(api, method)(path, {}, format="json")

    assert_error(response, 404, "CONNECTION_NOT_FOUND")


@pytest.mark.parametrize("index", range(4))
def test_another_accounts_connection_is_not_found_and_untouched(api, other_account, index):
    theirs = ConnectionFactory(account=other_account, name="theirs")
    method, path = connection_endpoints(theirs.pk)[index]

    response = getattr(api, method)(path, {"name": "mine now"}, format="json")

    assert_error(response, 404, "CONNECTION_NOT_FOUND")
    theirs.refresh_from_db()
    assert (theirs.name, theirs.state_checked_at) == ("theirs", None)


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/connections/my"), ("post", "/connections/my"), *connection_endpoints(uuid.uuid4())],
)
def test_every_connections_endpoint_needs_an_api_key(method, path):
    assert_error(getattr(APIClient(), method)(path, {}, format="json"), 401, "UNAUTHORIZED")


# Secrets never come back


def test_secret_values_appear_in_no_response_anywhere(api, account):
    secret, rotated = "F1rst7f3", "R0ta91c2"  # SMPP passwords: 8 characters at most
    port = free_port()
    settings = {**SMPP_SETTINGS, "host": "127.0.0.1", "port": port}
    created = smpp(api, settings=settings, secrets={"password": secret})
    connection_id = created.json()["connectionId"]
    detail = f"/connections/my/{connection_id}"
    number = api.post(
        "/numbers/my", {"number": "+12125550100", "connectionId": connection_id}, format="json"
    )
    number_id = number.json()["id"]
    admin = Client()
    admin.force_login(UserFactory(is_superuser=True, account=None))

    responses = [
        created,
        api.get("/connections/my"),
        api.get(detail),
        api.patch(detail, {"secrets": {"password": rotated}}, format="json"),
        api.patch(detail, {"name": "renamed"}, format="json"),
        api.patch(detail, {"secrets": {"password": secret, "pin": secret}}, format="json"),
        api.post(f"{detail}/check"),
        number,
        api.get("/numbers/my"),
        api.get(f"/numbers/my/{number_id}"),
        api.patch(f"/numbers/my/{number_id}", {"connectionId": connection_id}, format="json"),
        admin.get("/admin/carriers/connection/"),
        admin.get(f"/admin/carriers/connection/{connection_id}/change/"),
        admin.get(f"/admin/carriers/connection/{connection_id}/history/"),
        admin.get(f"/admin/numbers/number/{number_id}/change/"),
    ]

    assert [r.status_code for r in responses] == [201, *[200] * 4, 400, 200, 201, *[200] * 7]
    for response in responses:
        body = response.content.decode()
        assert secret not in body and rotated not in body, response.request["PATH_INFO"]
    assert Connection.objects.get(pk=connection_id).secrets == {"password": rotated}


# The schema


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/?format=json").json()


def test_the_schema_documents_every_connection_operation(schema):
    paths = schema["paths"]

    assert set(paths["/connections/my"]) >= {"get", "post"}
    assert set(paths["/connections/my/{connection_id}"]) >= {"get", "patch", "delete"}
    check_responses = paths["/connections/my/{connection_id}/check"]["post"]["responses"]
    assert {"200", "404"} <= set(check_responses)
    delete_responses = paths["/connections/my/{connection_id}"]["delete"]["responses"]
    assert {"204", "404", "409"} <= set(delete_responses)


def test_the_schema_takes_secrets_in_and_never_gives_them_out(schema):
    components = schema["components"]["schemas"]

    assert "secrets" in components["ConnectionCreate"]["properties"]
    assert "secrets" not in components["Connection"]["properties"]
    assert "secretsSet" in components["Connection"]["properties"]
