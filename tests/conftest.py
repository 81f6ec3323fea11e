import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.services import api_key_create
from tests.factories import AccountFactory


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


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
