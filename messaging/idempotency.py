"""Idempotency-Key: a retried send returns the first answer and creates nothing new."""

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction

from accounts.models import Account
from messaging.models import IdempotencyKey
from pools_project.errors import ServiceError

MAX_KEY_LENGTH = 255


def request_fingerprint(*parts) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@transaction.atomic
def idempotent_response(
    *, account: Account, key: str, fingerprint: str, produce: Callable[[], bytes]
) -> bytes:
    """The stored response body for `key`, or `produce()`'s, stored with the key: the
    very bytes, so a replay answers byte for byte what the first request got.

    The key row is inserted first, in the same transaction as the send: a concurrent
    request with the same key waits on the unique index until this one commits (then
    finds the response) or rolls back (then sends itself). A refused send stores nothing.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ServiceError(
            "VALIDATION_ERROR",
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
            errors={"Idempotency-Key": [f"1 to {MAX_KEY_LENGTH} characters."]},
        )
    try:
        with transaction.atomic():
            record = IdempotencyKey.objects.create(
                account=account, key=key, request_hash=fingerprint
            )
    except IntegrityError:
        record = IdempotencyKey.objects.get(account=account, key=key)
        if record.request_hash != fingerprint:
            raise ServiceError(
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used for a different request.",
                status=422,
            ) from None
        return record.response_body.encode()
    body = produce()
    record.response_body = body.decode()
    record.save(update_fields=["response_body"])
    return body
