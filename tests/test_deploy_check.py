"""`manage.py check --deploy` is clean with the production environment the README documents."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from accounts.models import new_webhook_secret

PROJECT_DIR = Path(__file__).resolve().parent.parent
# What the README leaves to the operator to fill in ("...").
SECRETS = {"SECRET_KEY", "CARRIER_WEBHOOK_SECRET"}


def readme_production_env() -> dict[str, str]:
    """The variables exported in the README's Production section, as written there."""
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme.split("\n## Production\n", 1)[1].split("\n## ", 1)[0]
    exports = [line for line in section.splitlines() if line.startswith("export ")]
    words = [word for line in exports for word in shlex.split(line)[1:]]
    return dict(word.split("=", 1) for word in words)


def production_env(tmp_path) -> dict[str, str]:
    env = readme_production_env()
    assert {name for name, value in env.items() if "..." in value} == SECRETS
    return env | {
        "SECRET_KEY": "k" + os.urandom(32).hex(),
        "CARRIER_WEBHOOK_SECRET": new_webhook_secret(),
        # The check needs no server; PostgreSQL's URL is only swapped for a file.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    # Only PATH from this process: nothing of the developer's own settings leaks in.
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env={"PATH": os.environ["PATH"]} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


DEPLOY_CHECK = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]
# The settings module alone: quicker than starting Django, and all these tests need.
SHOW_SETTINGS = """
import json
import pools_project.settings as s
print(json.dumps({name: getattr(s, name, None) for name in (
    "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER")}))
"""


def shown_settings(env) -> dict:
    process = run(["-c", SHOW_SETTINGS], env)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


def test_the_deploy_check_is_clean_with_the_readmes_production_environment(tmp_path):
    process = run(DEPLOY_CHECK, production_env(tmp_path))

    assert process.returncode == 0, process.stdout + process.stderr
    assert "System check identified no issues (0 silenced)" in process.stdout


def test_production_is_https_only_and_trusts_the_proxys_scheme(tmp_path):
    assert shown_settings(production_env(tmp_path)) == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_development_stays_on_plain_http(tmp_path):
    assert shown_settings({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}) == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }
