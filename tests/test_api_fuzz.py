"""The whole OpenAPI schema, fuzzed against the app with Schemathesis.

Every operation gets generated requests — valid and invalid — and every answer must be
no 5xx and exactly what the schema says (status, body shape, nullability). The app runs
in-process over WSGI, inside the test's transaction, so each operation starts from the
same seeded account and nothing is left behind.

Bounded for CI: the schema's examples, the coverage phase's boundary values, then
MAX_EXAMPLES generated requests per operation; a fixed seed (the same requests every
run), no example database. Requests use the seeded ids most of the time, so they get
past the 404s to the views' real work; the rest keep the fuzzer's own ids.
"""

import socket
import time
import uuid

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import api_key_create
from carriers.models import Connection
from messaging.encoding import analyse
from pools_project.wsgi import application
from tests.factories import (
    AccountFactory,
    ClickFactory,
    ConnectionFactory,
    MessageFactory,
    NumberFactory,
    PoolFactory,
    PoolNumberFactory,
    ShortLinkFactory,
    StickyMappingFactory,
)

MAX_EXAMPLES = 50
SEED = 20_261_111

UNEXPECTED_METHODS = {"get", "put", "post", "delete", "patch", "options", "trace"}

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "mode": "all",  # valid requests and invalid ones
            "deterministic": True,
            "database": "none",
        },
        "phases": {
            # Boundary values and methods an operation does not take, a few per parameter.
            "coverage": {"unexpected-methods": sorted(UNEXPECTED_METHODS)},
            # Links between operations: the seeded ids already give each one real data.
            "stateful": {"enabled": False},
        },
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)

POOL_ID = uuid.UUID("00000000-0000-4000-8000-00000000a001")
NUMBER_ID = uuid.UUID("00000000-0000-4000-8000-00000000a002")
TRACKING_ID = uuid.UUID("00000000-0000-4000-8000-00000000a003")
# A Twilio connection: /connections/my/{id} and its provider webhooks both find it.
CONNECTION_ID = uuid.UUID("00000000-0000-4000-8000-00000000a004")
SEEDED_IDS = {
    "pool_id": str(POOL_ID),
    "number_id": str(NUMBER_ID),
    "tracking_id": str(TRACKING_ID),
    "connection_id": str(CONNECTION_ID),
}
POOL_NUMBERS = ["+12125550101", "+12125550102"]
FREE_NUMBER = "+12125550103"
RECIPIENT = "+14155550123"
BODY = "Your code is 1234: https://example.com/offer"


@pytest.fixture(scope="module", autouse=True)
def run_time_reported(request):
    """CI's log says how long the fuzzing took, to keep it well inside CI's limit."""
    started = time.monotonic()
    yield
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
        reporter.write_line(
            f"\nSchemathesis: {len(schema)} operations fuzzed in "
            f"{time.monotonic() - started:.1f} s ({MAX_EXAMPLES} generated requests each, "
            f"seed {SEED})."
        )


@pytest.fixture
def api_key(db) -> str:
    """The API key of an account with one of everything the paths name, at SEEDED_IDS."""
    account = AccountFactory(name="fuzzed")
    connection = ConnectionFactory(
        id=CONNECTION_ID,
        account=account,
        kind=Connection.Kind.TWILIO,
        # A closed local port: a connection check fails at once, and never leaves the host.
        settings={"accountSid": "AC" + "0" * 32, "baseUrl": "http://127.0.0.1:9"},
        secrets={"authToken": "twilio-T0ken"},
    )
    pool = PoolFactory(id=POOL_ID, account=account)
    pool_numbers = [
        PoolNumberFactory(pool=pool, number__number=number, number__connection=connection)
        for number in POOL_NUMBERS
    ]
    NumberFactory(id=NUMBER_ID, account=account, number=FREE_NUMBER)
    StickyMappingFactory(pool_number=pool_numbers[0], recipient=RECIPIENT)
    message = MessageFactory(
        id=TRACKING_ID,
        account=account,
        pool=pool,
        to=RECIPIENT,
        body=BODY,
        body_analysis=analyse(BODY).as_api(),  # as a send records it
    )
    ClickFactory(link=ShortLinkFactory(message=message))
    return api_key_create(account=account).raw_key


@pytest.fixture(autouse=True)
def one_connection_for_all_requests():
    """As Django's test client does: a request's end must not close the connection the
    test's transaction — seeded data and all — lives on."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


def is_local(host) -> bool:
    return isinstance(host, str) and (host == "localhost" or host.startswith(("127.", "::1", "/")))


@pytest.fixture(autouse=True)
def local_network_only(monkeypatch):
    """Whatever the fuzzer writes into a URL, nothing it triggers looks up or reaches
    another host."""
    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def guarded_resolve(host, *args, **kwargs):
        if not is_local(host):
            raise socket.gaierror(f"the fuzz test looks up no other host ({host})")
        return resolve(host, *args, **kwargs)

    def guarded_connect(sock, address):
        if not is_local(address[0] if isinstance(address, tuple) else address):
            raise ConnectionRefusedError(f"the fuzz test reaches no other host ({address})")
        return connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_resolve)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


def with_seeded_data(case):
    """The request pointed at the seeded pool, number, message and connection; a body
    that names numbers names the seeded ones, a send or preview goes to a real recipient."""
    case.path_parameters = {
        name: SEEDED_IDS.get(name, value) for name, value in (case.path_parameters or {}).items()
    }
    # Only values of the right type are replaced: an invalid request stays invalid.
    body = case.body if isinstance(case.body, dict) and case.path.startswith("/pools/") else {}
    if isinstance(body.get("numbers"), list):
        body["numbers"] = [*POOL_NUMBERS, FREE_NUMBER][: len(body["numbers"]) or 1]
    if isinstance(body.get("to"), str):
        body["to"] = RECIPIENT
    return case


@schema.hook
def flatmap_case(context, case):
    # Drawn by Hypothesis, so the choice is as reproducible as the rest of the case.
    return st.sampled_from([True, True, True, False]).map(
        lambda seeded: with_seeded_data(case) if seeded else case
    )


@pytest.mark.django_db
@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_every_operation_answers_as_the_schema_says(case, api_key):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {api_key}"},
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )
