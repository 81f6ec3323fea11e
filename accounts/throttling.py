"""The API's rate limit: requests per API key, counted in the cache (SPEC §6)."""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiKey

logger = logging.getLogger(__name__)

SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class ApiKeyRateThrottle(BaseThrottle):
    """At most `API_RATE_LIMIT` requests per key in each fixed window (a minute, …).

    A counter per key and window, incremented atomically (Redis INCR), so processes
    that share the cache share the count exactly; DRF's own throttles rewrite a list
    of timestamps per request and lose counts when processes race. Requests without
    a key (webhooks, short links, the schema) are not counted.
    """

    def allow_request(self, request, view):
        if settings.API_RATE_LIMIT is None or not isinstance(request.auth, ApiKey):
            return True
        limit, period = settings.API_RATE_LIMIT.split("/")
        window = SECONDS[period]
        now = time.time()
        self.retry_at = (now // window + 1) * window
        try:
            count = self.count(f"api-rate:{request.auth.pk}:{int(now // window)}", window)
        except Exception:
            # The limit protects the service; an unreachable cache must not take the
            # API down with it, so the request goes through.
            logger.exception("Cannot count the API rate limit; letting the request through.")
            return True
        return count <= int(limit)

    @staticmethod
    def count(key: str, window: int) -> int:
        try:
            return cache.incr(key)
        except ValueError:  # The window's first request (or a key that just expired).
            # The key outlives its window a little, so it cannot expire between add and incr.
            if cache.add(key, 1, timeout=window + 5):
                return 1
            return cache.incr(key)

    def wait(self):
        return max(1, self.retry_at - time.time())
