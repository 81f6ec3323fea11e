"""The client's address for the admin's login lockout (django-axes)."""

from django.conf import settings


def client_ip(request) -> str:
    """REMOTE_ADDR, or behind our TLS proxy the address it appended to X-Forwarded-For.

    Only the last entry is the proxy's: the ones before it come from the client and
    could be forged to dodge the lockout.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.BEHIND_TLS_PROXY and forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")
