"""The service's own pages: `/` for people, `/health` for load balancers and monitors."""

import logging
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe
from kombu import Connection as BrokerConnection

logger = logging.getLogger(__name__)

# Seconds a check may wait on the broker: a health check answers fast, or says it is away.
BROKER_TIMEOUT = 1.0


@dataclass(frozen=True)
class Health:
    database: str  # "ok" | "unavailable"
    broker: str  # "ok" | "not configured" (work runs in-process) | "unavailable"

    @property
    def status(self) -> str:
        up = self.database == "ok" and self.broker != "unavailable"
        return "ok" if up else "degraded"

    @property
    def http_status(self) -> int:
        # Without its database a web process can answer nothing: take it out of the
        # load balancer. Without the broker it still answers and stores what it is
        # sent; its background work waits, which "degraded" says.
        return 200 if self.database == "ok" else 503


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("Health check: the database does not answer.", exc_info=True)
        return "unavailable"
    return "ok"


def broker_status(url: str) -> str:
    if not url:
        return "not configured"
    timeouts = {"socket_connect_timeout": BROKER_TIMEOUT, "socket_timeout": BROKER_TIMEOUT}
    try:
        with BrokerConnection(
            url, connect_timeout=BROKER_TIMEOUT, transport_options=timeouts
        ) as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)
    except Exception:  # whatever the transport raises, the broker is not usable
        logger.warning("Health check: the broker does not answer.", exc_info=True)
        return "unavailable"
    return "ok"


def service_health() -> Health:
    return Health(database=database_status(), broker=broker_status(settings.CELERY_BROKER_URL))


@require_safe
def health(request):
    checked = service_health()
    return JsonResponse({"status": checked.status, **asdict(checked)}, status=checked.http_status)


@require_safe
def landing(request):
    checked = service_health()
    return render(request, "landing.html", {"health": checked}, status=checked.http_status)
