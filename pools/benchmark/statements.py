"""Statements per send request, counted in-process through the real endpoint.

Counting is exact where timing is not, so SPEC §15's budgets are counted here, for a
sticky hit and for a new recipient. The requests run in a transaction that is rolled
back: they write nothing, and their dispatch, which waits for the commit, is left
undone as a broker would leave it to a worker. It is then run on its own, to tell
what the embedded default (dispatch in-process) adds.
"""

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.management import CommandError
from django.db import connection, transaction
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

# Transaction control, not work: SPEC §15 leaves it out of the budget.
NOT_COUNTED = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


@dataclass(frozen=True)
class SendStatements:
    request: list[str]  # the send request's own, authentication included
    dispatch: list[str]  # what the embedded default's in-process dispatch adds


@dataclass(frozen=True)
class PoolStatements:
    sticky_hit: SendStatements
    new_recipient: SendStatements


def counted(statements: list[dict]) -> list[str]:
    sql = (statement["sql"] for statement in statements)
    return [s for s in sql if not s.lstrip().upper().startswith(NOT_COUNTED)]


def pool_statements(*, pool_id, raw_key: str, known: list[str], new: list[str]) -> PoolStatements:
    """A sticky hit to `known[1]` and a first send to `new[1]`, after one of each to
    `known[0]` and `new[0]` so that what a process does once (caches) is not counted."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    path = reverse("pool-send", kwargs={"pool_id": pool_id})
    # The dispatch measured is the embedded default's, whatever this process is set to.
    with (
        override_settings(ALLOWED_HOSTS=["testserver"], CELERY_TASK_ALWAYS_EAGER=True),
        _quiet("celery.app.trace"),
        transaction.atomic(),
    ):
        _send(client, path, known[0])
        _send(client, path, new[0])
        measured = PoolStatements(_send(client, path, known[1]), _send(client, path, new[1]))
        transaction.set_rollback(True)
    return measured


def _send(client: Client, path: str, to: str) -> SendStatements:
    body = json.dumps({"to": to, "body": "Your verification code is 482913."})
    with (
        CaptureQueriesContext(connection) as everything,
        TestCase.captureOnCommitCallbacks(execute=True),
        CaptureQueriesContext(connection) as request,
    ):
        response = client.post(path, body, content_type="application/json", secure=True)
    if response.status_code != 200:
        raise CommandError(f"A send to {to} answered {response.status_code}: {response.content!r}")
    dispatch = everything.captured_queries[len(request.captured_queries) :]
    return SendStatements(counted(request.captured_queries), counted(dispatch))


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Without a line per task the in-process dispatch runs in the benchmark's output."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
