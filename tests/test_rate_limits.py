"""The API's rate limit: per API key, 429 RATE_LIMITED with Retry-After (SPEC §6).

The suite runs with the limit off (tests/conftest.py); these tests set one, each on a
cache of its own so no count leaks between tests.
"""

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
import redis
import time_machine
from django.core.cache import CacheHandler
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from accounts.services import api_key_create
from accounts.throttling import ApiKeyRateThrottle
from pools_project.settings import env_cache, env_rate, redis_neighbour
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

REDIS_URL = "redis://127.0.0.1:6379/15"
NUMBERS = "/numbers/my"


@pytest.fixture
def limit(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(uuid.uuid4()),
        }
    }
    settings.API_RATE_LIMIT = "3/minute"
    return settings


def use_up(client, times=3):
    assert all(client.get(NUMBERS).status_code == 200 for _ in range(times))


def assert_rate_limited(response):
    assert response.status_code == 429
    assert response.json()["code"] == "RATE_LIMITED"
    assert set(response.json()) == {"code", "developerMessage"}
    assert 1 <= int(response["Retry-After"]) <= 60


# The limit


def test_a_key_over_its_limit_is_answered_429_rate_limited_with_retry_after(limit, api):
    use_up(api)

    assert_rate_limited(api.get(NUMBERS))


def test_the_limit_counts_per_key_not_per_account(limit, api, account, other_api):
    use_up(api)
    same_account = client_for(account)

    assert same_account.get(NUMBERS).status_code == 200
    assert other_api.get(NUMBERS).status_code == 200


def test_a_key_is_served_again_when_its_window_has_passed(limit, api):
    with time_machine.travel("2030-01-01 12:00:10", tick=False) as clock:
        use_up(api)
        refused = api.get(NUMBERS)
        clock.shift(timedelta(seconds=50))

        assert refused["Retry-After"] == "50"
        assert api.get(NUMBERS).status_code == 200


def test_no_limit_when_it_is_off(limit, api):
    limit.API_RATE_LIMIT = None

    use_up(api, times=10)


def test_requests_without_a_key_are_not_limited(limit, api):
    use_up(api)
    # The short link redirect takes no key, so even a used-up one does not count there.
    assert [api.get("/s/nosuchcode").status_code for _ in range(5)] == [404] * 5


def test_a_wrong_key_is_answered_401_not_429(limit, api):
    api.credentials(HTTP_AUTHORIZATION="Bearer np_wrong")

    assert [api.get(NUMBERS).status_code for _ in range(5)] == [401] * 5


def test_an_unreachable_cache_lets_requests_through(limit, api, monkeypatch):
    def unreachable(*args, **kwargs):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr("accounts.throttling.cache.incr", unreachable)

    use_up(api, times=5)


# Shared through Redis


@pytest.fixture
def redis_limit(settings):
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.ConnectionError:
        pytest.skip(f"needs Redis at {REDIS_URL}")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": str(uuid.uuid4()),  # This test's counts only; they expire.
        }
    }
    settings.API_RATE_LIMIT = "4/minute"


def test_processes_sharing_redis_share_the_count(redis_limit, account, monkeypatch):
    created = api_key_create(account=account)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {created.raw_key}")
    use_up(api, times=2)
    # Another process: its own cache connection (a new handler), the same Redis.
    other_process = CacheHandler()["default"]
    monkeypatch.setattr("accounts.throttling.cache", other_process)
    request = SimpleNamespace(auth=created.api_key)

    assert [ApiKeyRateThrottle().allow_request(request, None) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    monkeypatch.undo()
    assert_rate_limited(api.get(NUMBERS))


# The setting


@pytest.mark.parametrize(
    ("raw", "rate"),
    [("600/minute", "600/minute"), (" 10/Second ", "10/second"), ("off", None), ("0", None)],
)
def test_api_rate_limit_reads_a_rate_or_off(monkeypatch, raw, rate):
    monkeypatch.setenv("API_RATE_LIMIT", raw)

    assert env_rate("API_RATE_LIMIT", "600/minute") == rate


@pytest.mark.parametrize("raw", ["600", "600/fortnight", "0/minute", "-5/minute", "lots/day"])
def test_a_malformed_api_rate_limit_is_refused_naming_it(monkeypatch, raw):
    monkeypatch.setenv("API_RATE_LIMIT", raw)

    with pytest.raises(ImproperlyConfigured, match="API_RATE_LIMIT"):
        env_rate("API_RATE_LIMIT", "600/minute")


def test_the_cache_is_the_brokers_redis_next_database_when_no_cache_url(monkeypatch):
    monkeypatch.delenv("CACHE_URL", raising=False)

    config = env_cache("CACHE_URL", redis_neighbour("redis://broker:6379/0"))

    assert config["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert config["LOCATION"] == "redis://broker:6379/1"


def test_cache_url_wins_and_no_redis_means_a_per_process_cache(monkeypatch):
    monkeypatch.setenv("CACHE_URL", "rediss://cache:6380/3")
    assert env_cache("CACHE_URL", "redis://broker:6379/1")["LOCATION"] == "rediss://cache:6380/3"
    monkeypatch.delenv("CACHE_URL")
    assert redis_neighbour("amqp://guest@rabbit//") == ""
    assert env_cache("CACHE_URL", "")["BACKEND"].endswith("LocMemCache")


def test_a_cache_url_of_another_kind_is_refused(monkeypatch):
    monkeypatch.setenv("CACHE_URL", "memcached://cache:11211")

    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        env_cache("CACHE_URL", "")
