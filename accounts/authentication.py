import weakref
from time import monotonic

from django.conf import settings
from django.db import connection
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions

from accounts.models import Account, ApiKey, hash_api_key
from pools_project.db import model_from_row, selected

_ACCOUNT_FIELDS, _ACCOUNT_COLUMNS = selected(Account, "a")
_KEY_SQL = (
    f"SELECT {_ACCOUNT_COLUMNS}, k.id "
    f"FROM {Account._meta.db_table} a JOIN {ApiKey._meta.db_table} k ON k.account_id = a.id "
    "WHERE k.key_hash = %s AND k.revoked_at IS NULL"
)
# What the triggers of migration accounts/0002 notify on when a key or an account changes.
CHANGED_CHANNEL = "accounts_changed"

# The keys read on each database connection (each thread has its own):
# key hash -> (monotonic time until which it is kept, its row of _KEY_SQL).
_kept: "weakref.WeakKeyDictionary[object, dict[str, tuple[float, tuple]]]"
_kept = weakref.WeakKeyDictionary()


def _key_row(key_hash: str) -> tuple | None:
    """The row of _KEY_SQL for the key (None: no such key, or revoked).

    On PostgreSQL a connection keeps the keys it has read, for up to
    API_KEY_CACHE_SECONDS: every API request would otherwise read its key again. The
    connection LISTENs for the notice the triggers send when any key or account changes
    and forgets all it keeps when one has come, so a change committed anywhere counts
    from the next request after its notice arrives. Inside a transaction the key is
    read: what the transaction itself changed is notified only when it commits.
    """
    if (
        connection.vendor != "postgresql"
        or settings.API_KEY_CACHE_SECONDS <= 0
        or connection.in_atomic_block
    ):
        return _key_read(key_hash)
    connection.ensure_connection()
    raw = connection.connection
    kept = _kept.get(raw)
    if kept is None:
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANGED_CHANNEL}")
        kept = _kept[raw] = {}
    elif list(raw.notifies(timeout=0)):  # every notice that came, none waited for
        kept.clear()
    now = monotonic()
    until, row = kept.get(key_hash, (now, None))
    if until <= now:
        row = _key_read(key_hash)
        if row is None:
            kept.pop(key_hash, None)
        else:
            kept[key_hash] = (now + settings.API_KEY_CACHE_SECONDS, row)
    return row


def _key_read(key_hash: str) -> tuple | None:
    with connection.cursor() as cursor:
        # In SQL as written: every request whose key is not kept runs it.
        cursor.execute(_KEY_SQL, [key_hash])
        return cursor.fetchone()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <apiKey>`; the request then acts as the key's account."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        raw_key = raw_key.strip()
        if not raw_key:
            raise exceptions.AuthenticationFailed("The Authorization header has no API key.")
        row = _key_row(hash_api_key(raw_key))
        if row is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        *account_values, api_key_id = row
        account = model_from_row(Account, _ACCOUNT_FIELDS, account_values)
        # The key as far as it was read; its other fields load if something asks for them.
        api_key = model_from_row(ApiKey, ("id", "account_id"), (api_key_id, account.pk))
        api_key.account = account
        return account, api_key

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema (and so the docs' "Authorize" button) how to send the key."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=ApiKeyAuthentication.keyword
        )
