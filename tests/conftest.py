import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.services import api_key_create
from tests.factories import AccountFactory

# Chromium for the admin's browser tests.
pytest_plugins = ["tests.browser"]


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def no_rate_limit():
    """Tests send many requests with one key; tests/test_rate_limits.py sets a limit.

    Not pytest-django's `settings` fixture: some tests take a parameter of that name.
    """
    with override_settings(API_RATE_LIMIT=None):
        yield


@pytest.fixture
def account(db):
    return AccountFactory(name="acme")


@pytest.fixture
def other_account(db):
    return AccountFactory(name="globex")


def client_for(account) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(account=account).raw_key}")
    return client


@pytest.fixture
def api(account):
    """An API client authenticated as `account`."""
    return client_for(account)


@pytest.fixture
def other_api(other_account):
    """An API client authenticated as another tenant."""
    return client_for(other_account)
