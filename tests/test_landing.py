"""`/`, the landing page, and `/health`: what this service is, where to go, and whether
its database and broker answer; never a server error when they do not."""

import socket

import pytest
from django.db import DatabaseError
from django.test import Client, override_settings

from pools_project import views
from pools_project.views import Health, broker_status

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def broker_down():
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port()}/0"):
        yield


def test_the_landing_page_says_what_this_is_and_where_to_go(client):
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "pools of virtual phone numbers" in page
    for link in ["/admin/", "/api/docs/", "/api/redoc/", "/api/schema/", "/health"]:
        assert f'href="{link}"' in page


def test_the_landing_page_shows_the_services_health(client):
    page = client.get("/").content.decode()

    assert '<th scope="row">Database</th><td class="ok">ok</td>' in page
    # The embedded default: no broker, background work runs in the web process.
    assert '<td class="not-configured">not configured' in page


def test_the_landing_page_needs_no_login(client):
    assert client.get("/").status_code == 200
    assert client.get("/health").status_code == 200


def test_health_is_ok_when_the_database_answers_and_no_broker_is_configured(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "not configured"}


def test_health_is_degraded_but_answers_when_the_broker_is_down(client, broker_down):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "broker": "unavailable"}


def test_the_landing_page_shows_a_broker_that_is_down(client, broker_down):
    response = client.get("/")

    assert response.status_code == 200
    assert '<td class="degraded">degraded</td>' in response.content.decode()
    assert '<td class="unavailable">unavailable</td>' in response.content.decode()


def test_health_is_503_when_the_database_does_not_answer(client, monkeypatch):
    def refused(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(views.connection, "cursor", refused)

    response = client.get("/health")

    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": "unavailable",
        "broker": "not configured",
    }
    assert client.get("/").status_code == 503


def test_health_answers_get_and_head_only(client):
    assert client.head("/health").status_code == 200
    assert client.post("/health").status_code == 405


@pytest.mark.parametrize(
    ("database", "broker", "status", "http_status"),
    [
        ("ok", "ok", "ok", 200),
        ("ok", "not configured", "ok", 200),
        ("ok", "unavailable", "degraded", 200),
        ("unavailable", "ok", "degraded", 503),
        ("unavailable", "not configured", "degraded", 503),
        ("unavailable", "unavailable", "degraded", 503),
    ],
)
def test_the_status_follows_the_database_and_the_broker(database, broker, status, http_status):
    health = Health(database=database, broker=broker)
    assert (health.status, health.http_status) == (status, http_status)


def test_no_broker_url_is_not_configured():
    assert broker_status("") == "not configured"


def test_a_broker_refusing_connections_is_unavailable():
    assert broker_status(f"redis://127.0.0.1:{closed_port()}/0") == "unavailable"
    assert broker_status(f"amqp://guest:guest@127.0.0.1:{closed_port()}//") == "unavailable"


def test_a_load_balancers_plain_http_health_check_is_not_redirected_to_https(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # its middleware is built with the settings above

    assert client.get("/health").status_code == 200
    assert client.get("/").status_code == 301
