"""The first run (issue 15): `PORT=8765 ./scripts/run` serves on 8765, and with no
PUBLIC_BASE_URL the short links in messages point there too, not at port 8000.

Settings are read once per process, so each case starts a fresh interpreter with only
the variables it names, on a database of its own.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
READ_HERE = ("PORT", "PUBLIC_BASE_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")

# Migrate a fresh SQLite database, send a message with a link through a pool, and print
# the base URL and the body as sent.
SEND_A_LINK = """
import json, django
django.setup()
from django.conf import settings
from django.core.management import call_command
call_command("migrate", verbosity=0)
from messaging.services.sending import message_send
from tests.factories import AccountFactory
from tests.scenarios import NEW_YORK, pool_with
pool = pool_with(AccountFactory(name="first-run"), [NEW_YORK])
message = message_send(
    pool=pool, to="+12125550100", body="Track it: https://example.com/o/1", url_shortener={}
)
print(json.dumps({"base": settings.PUBLIC_BASE_URL, "body": message.body}))
"""


PRINT_BASE = "from pools_project import settings; print(settings.PUBLIC_BASE_URL)"


def run(script: str, tmp_path, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in READ_HERE}
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_DIR,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "pools_project.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def sent(tmp_path, **env) -> dict:
    process = run(SEND_A_LINK, tmp_path, **env)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_with_only_port_set_short_links_use_the_served_port(tmp_path):
    printed = sent(tmp_path, PORT="8765")

    assert printed["base"] == "http://localhost:8765"
    assert printed["body"].startswith("Track it: http://localhost:8765/s/")


def base_url(tmp_path, **env) -> str:
    process = run(PRINT_BASE, tmp_path, **env)
    assert process.returncode == 0, process.stderr
    return process.stdout.strip()


def test_with_nothing_set_the_base_is_port_8000(tmp_path):
    assert base_url(tmp_path) == "http://localhost:8000"


def test_public_base_url_wins_over_port(tmp_path):
    assert (
        base_url(tmp_path, PORT="8765", PUBLIC_BASE_URL="https://sms.example.com/")
        == "https://sms.example.com"
    )


@pytest.mark.parametrize("port", ["abc", "0.0.0.0:8765"])
def test_a_port_that_is_not_a_number_stops_the_start_naming_it(tmp_path, port):
    process = run("import pools_project.settings", tmp_path, PORT=port)

    assert process.returncode != 0
    assert process.stderr.strip().splitlines()[-1] == (
        f"django.core.exceptions.ImproperlyConfigured: PORT must be an integer, got {port!r}."
    )
