from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions

from accounts.models import ApiKey, hash_api_key


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
        api_key = (
            ApiKey.objects.active()
            .select_related("account")
            .filter(key_hash=hash_api_key(raw_key))
            .first()
        )
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        return api_key.account, api_key

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
