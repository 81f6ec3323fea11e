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
        with connection.cursor() as cursor:
            # Every API request runs this: in SQL as written, not built by the ORM.
            cursor.execute(_KEY_SQL, [hash_api_key(raw_key)])
            row = cursor.fetchone()
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
