"""Settings come from the environment and a malformed value stops the process, naming it."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from pools_project.settings import env_bool, env_database, env_list, env_webhook_secret

PROJECT_DIR = Path(__file__).resolve().parent.parent
READ_BY_SETTINGS = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "CARRIER_WEBHOOK_SECRET")
GOOD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def start_with(**env) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter, with only `env` of the variables they read."""
    clean = {k: v for k, v in os.environ.items() if k not in READ_BY_SETTINGS}
    return subprocess.run(
        [sys.executable, "-c", "import pools_project.settings"],
        cwd=PROJECT_DIR,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def refusal(process: subprocess.CompletedProcess) -> str:
    assert process.returncode != 0
    last_line = process.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured:"), process.stderr
    return last_line


# The process at start


def test_the_embedded_defaults_start_with_nothing_set():
    assert start_with().returncode == 0


def test_production_settings_start_when_everything_is_given():
    process = start_with(
        DEBUG="false",
        SECRET_KEY="a-long-random-production-secret",
        DATABASE_URL="postgres://app:pw@db.internal:5432/numberpools",
        CARRIER_WEBHOOK_SECRET=GOOD_SECRET,
    )

    assert process.returncode == 0, process.stderr


def database_options(**env) -> dict:
    """DATABASES["default"]["OPTIONS"] as the settings make them from `env`."""
    clean = {k: v for k, v in os.environ.items() if k not in READ_BY_SETTINGS}
    clean.pop("DATABASE_PREPARED_STATEMENTS", None)
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pools_project.settings as s; print(repr(s.DATABASES['default']['OPTIONS']))",
        ],
        cwd=PROJECT_DIR,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stderr
    return ast.literal_eval(process.stdout.strip())


POSTGRES = "postgres://app:pw@db.internal:5432/numberpools"


def test_postgresql_binds_on_the_server_and_prepares_what_a_connection_repeats():
    assert database_options(DATABASE_URL=POSTGRES) == {
        "server_side_binding": True,
        "prepare_threshold": 2,
    }


def test_prepared_statements_can_be_turned_off_for_an_old_pgbouncer():
    options = database_options(DATABASE_URL=POSTGRES, DATABASE_PREPARED_STATEMENTS="false")

    assert options == {"server_side_binding": True}


def test_secret_key_is_required_when_debug_is_off():
    assert "SECRET_KEY" in refusal(start_with(DEBUG="false"))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "postgres://app@db.internal:port/numberpools"),
        ("DATABASE_URL", "postgres://db.internal"),
        ("CARRIER_WEBHOOK_SECRET", "not-a-secret"),
    ],
)
def test_a_malformed_variable_stops_the_start_naming_it(variable, value):
    assert variable in refusal(start_with(**{variable: value}))


# The helpers, one by one


@pytest.mark.parametrize("raw", ["1", "true", "True", " YES ", "on"])
def test_env_bool_reads_true(monkeypatch, raw):
    monkeypatch.setenv("FEATURE", raw)

    assert env_bool("FEATURE", False) is True


@pytest.mark.parametrize("raw", ["0", "false", "FALSE", "no", "off", ""])
def test_env_bool_reads_false(monkeypatch, raw):
    monkeypatch.setenv("FEATURE", raw)

    assert env_bool("FEATURE", True) is False


def test_env_bool_falls_back_to_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("FEATURE", raising=False)

    assert env_bool("FEATURE", True) is True


@pytest.mark.parametrize("raw", ["2", "yes please", "enabled", "t"])
def test_env_bool_refuses_anything_else_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("FEATURE", raw)

    with pytest.raises(ImproperlyConfigured, match="FEATURE"):
        env_bool("FEATURE", False)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("HOSTS", " api.example.com, ,admin.example.com,")

    assert env_list("HOSTS", []) == ["api.example.com", "admin.example.com"]


def test_env_database_reads_a_postgres_url(monkeypatch):
    monkeypatch.setenv("DB", "postgres://app:pw@db.internal:5433/numberpools")

    config = env_database("DB", "sqlite:///unused.sqlite3")

    assert (config["ENGINE"], config["NAME"], config["HOST"], config["PORT"]) == (
        "django.db.backends.postgresql",
        "numberpools",
        "db.internal",
        5433,
    )
    assert config["USER"] == "app"


def test_env_database_uses_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("DB", raising=False)

    config = env_database("DB", "sqlite:////tmp/embedded.sqlite3")

    assert (config["ENGINE"], config["NAME"]) == (
        "django.db.backends.sqlite3",
        "/tmp/embedded.sqlite3",
    )


@pytest.mark.parametrize(
    "raw",
    [
        "nonsense",
        "redis://localhost:6379/0",
        "postgres://db.internal",
        "postgres://app@db.internal:port/numberpools",
    ],
)
def test_env_database_refuses_a_malformed_url_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("DB", raw)

    with pytest.raises(ImproperlyConfigured, match="DB"):
        env_database("DB", "sqlite:///unused.sqlite3")


def test_env_webhook_secret_accepts_a_standard_webhooks_secret(monkeypatch):
    monkeypatch.setenv("SECRET", GOOD_SECRET)

    assert env_webhook_secret("SECRET", "unused") == GOOD_SECRET


@pytest.mark.parametrize(
    "raw",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "wh_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # wrong prefix
        "whsec_not base64!",
        "whsec_c2hvcnQ=",  # 5 bytes: too short to be a key
        "whsec_",
    ],
)
def test_env_webhook_secret_refuses_a_malformed_secret_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("SECRET", raw)

    with pytest.raises(ImproperlyConfigured, match="SECRET"):
        env_webhook_secret("SECRET", "unused")
