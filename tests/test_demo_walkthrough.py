"""The README's "The demo, rule by rule", run against the demo (issue 15): every send
it shows, exactly as written there, names the rule its comment says, and its
explanation holds the piece the comment quotes. The sends are read from the README,
so the README and this test cannot drift apart."""

import re
import shlex
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from pools.decision import Rule
from pools.demo import DEMO_POOLS

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## The demo, rule by rule"
RULES = {value for name, value in vars(Rule).items() if name.isupper()}
# `STICKY=...     # poolId of 'US sticky, by area code'`
POOL_VARIABLE = re.compile(r"^(\w+)=\.\.\.\s+# poolId of '(.+)'$", re.MULTILINE)
# A curl command, over as many lines as it takes, then `# → rule areaCode, "in area code 415"`.
SEND = re.compile(r'^(curl .*?)\s+# → rule (\w+)(?:, "([^"\n]*)")?$', re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Send:
    """One send of the section: the request as curl writes it, and what it should show."""

    command: str
    method: str
    url: str
    headers: dict[str, str]
    data: str
    rule: str
    says: str


def section_script() -> str:
    """The shell block of the section, as written."""
    section = README.read_text().split(f"\n{SECTION}\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def pool_variables(script: str) -> dict[str, str]:
    """Each shell variable the section sets to a pool's id, with the pool's name."""
    return dict(POOL_VARIABLE.findall(script))


def sends(script: str) -> list[Send]:
    """The section's curl commands in order, each with the rule its comment gives."""
    found = [_send(*match.groups(default="")) for match in SEND.finditer(script)]
    curls = re.findall(r"^curl ", script, re.MULTILINE)
    assert len(found) == len(curls), "A send of the README has no `# → rule` comment."
    return found


def _send(command: str, rule: str, says: str) -> Send:
    tokens = iter(shlex.split(command.replace("\\\n", " "))[1:])
    method, url, headers, data = "GET", "", {}, ""
    for token in tokens:
        if token == "-X":
            method = next(tokens)
        elif token == "-H":
            name, value = next(tokens).split(": ", 1)
            headers[name] = value
        elif token == "-d":
            data = next(tokens)
        elif token.startswith("-"):
            assert token == "-s", f"curl option {token} is not read by this test: {command}"
        else:
            url = token
    return Send(command, method, url, headers, data, rule, says)


def expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$(\w+)", lambda variable: values[variable[1]], text)


def seed_demo() -> dict[str, str]:
    """Seed the demo and read what it prints as the README's reader does: the API key
    and each pool's id."""
    output = StringIO()
    call_command("seed_demo", stdout=output, stderr=StringIO())
    printed = output.getvalue()
    pool_ids = dict(re.findall(r"pool '(.+)': \d+ numbers, poolId (\S+)", printed))
    return {"KEY": re.search(r"API key: (\S+)", printed)[1], **pool_ids}


def perform(send: Send, values: dict[str, str]) -> dict:
    headers = {name: expand(value, values) for name, value in send.headers.items()}
    response = APIClient().generic(
        send.method,
        expand(send.url, values),
        send.data,
        content_type=headers.pop("Content-Type"),
        headers=headers,
    )
    assert response.status_code == 200, (send.command, response.json())
    return response.json()["selection"]


def test_the_readme_sets_a_variable_for_each_demo_pool_and_sends_through_each():
    script = section_script()
    variables = pool_variables(script)

    assert sorted(variables.values()) == sorted(pool.name for pool in DEMO_POOLS)
    used = {variable for send in sends(script) for variable in re.findall(r"\$(\w+)", send.url)}
    assert set(variables) <= used
    assert {send.rule for send in sends(script)} <= RULES


def test_each_send_of_the_readme_names_the_rule_its_comment_says():
    script = section_script()
    printed = seed_demo()
    values = {"API": "", "KEY": printed["KEY"]}
    values |= {variable: printed[name] for variable, name in pool_variables(script).items()}

    wrong = []
    for send in sends(script):
        selection = perform(send, values)
        if selection["rule"] != send.rule or send.says not in selection["explanation"]:
            wrong.append(f"{send.command}\n→ rule {selection['rule']}\n{selection['explanation']}")

    assert not wrong, "\n\n".join(wrong)
