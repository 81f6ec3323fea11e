import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import API_KEY_PREFIX, Account, ApiKey, hash_api_key


@dataclass(frozen=True)
class IssuedKey:
    """A new API key: `raw_key` exists only here, the database keeps its hash."""

    api_key: ApiKey
    raw_key: str


def api_key_create(*, account: Account, name: str = "") -> IssuedKey:
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        account=account, name=name, prefix=raw_key[:10], key_hash=hash_api_key(raw_key)
    )
    return IssuedKey(api_key=api_key, raw_key=raw_key)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


@transaction.atomic
def account_create_with_key(*, name: str, key_name: str = "") -> tuple[Account, IssuedKey]:
    """Create the account, or reuse the one of that name, and issue it a new key."""
    account, _ = Account.objects.get_or_create(name=name)
    return account, api_key_create(account=account, name=key_name)
