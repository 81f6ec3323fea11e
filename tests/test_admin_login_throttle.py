"""The admin's login is locked after repeated failures (django-axes), per username and address."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client, RequestFactory

from accounts.client_ip import client_ip
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "pw-for-tests"


@pytest.fixture
def lockout(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    # These tests log in many times: a fast hash keeps them quick (and checks nothing else).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def operator(lockout):
    return UserFactory(username="operator")


def log_in(password, username="operator", address="203.0.113.7"):
    client = Client(REMOTE_ADDR=address)
    return client.post(LOGIN, {"username": username, "password": password})


def logged_in(response) -> bool:
    return response.status_code == 302 and response.url == "/admin/"


def fail(times, **who):
    return [log_in("wrong", **who).status_code for _ in range(times)]


def test_the_right_password_is_refused_after_the_failure_limit_until_the_cool_off(
    lockout, operator
):
    with time_machine.travel("2030-01-01 12:00", tick=False) as clock:
        assert fail(3) == [200, 200, 429]
        refused = log_in(PASSWORD)
        clock.shift(timedelta(minutes=14))
        still_refused = log_in(PASSWORD)
        clock.shift(timedelta(minutes=1, seconds=1))
        admitted = log_in(PASSWORD)

    assert refused.status_code == still_refused.status_code == 429
    assert "too many login attempts" in refused.content.decode()
    assert logged_in(admitted)


def test_a_success_resets_the_failures(lockout, operator):
    fail(2)
    assert logged_in(log_in(PASSWORD))

    assert fail(2) == [200, 200]
    assert logged_in(log_in(PASSWORD))


def test_the_lock_is_for_one_username_from_one_address(lockout, operator):
    other = UserFactory(username="other")
    fail(3)

    assert logged_in(log_in(PASSWORD, address="198.51.100.9"))
    assert logged_in(log_in(PASSWORD, username=other.username))


def test_behind_the_tls_proxy_the_address_is_the_one_the_proxy_appended(settings):
    request = RequestFactory().get(
        "/admin/login/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7"
    )

    settings.BEHIND_TLS_PROXY = False
    assert client_ip(request) == "10.0.0.2"
    settings.BEHIND_TLS_PROXY = True
    assert client_ip(request) == "203.0.113.7"
