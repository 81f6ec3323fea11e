"""Number health from delivery reports (Telnyx: a number delivering under 25% is unhealthy)."""

from django.conf import settings
from django.db.models import Q

from messaging.models import Message
from messaging.services.lifecycle import EXPIRED
from virtual_numbers.models import Number

# What says something about the number: not an expiry in our own queue, nor a marketing
# message that quiet hours held past its ttl.
REPORTS = Q(
    status__in=[Message.Status.DELIVERED, Message.Status.UNDELIVERED, Message.Status.FAILED]
) & ~Q(detailed_status__in=[EXPIRED, Message.QUIET_HOURS])


def number_health_recompute(*, number_id) -> bool:
    """Healthy unless the delivered share of the number's recent final statuses is under
    the threshold, over at least the minimum of reports. An operator's override, kept
    in its own column, still wins when health is read."""
    recent = list(
        Message.objects.filter(REPORTS, number_id=number_id)
        .order_by("-updated_at", "-pk")
        .values_list("status", flat=True)[: settings.NUMBER_HEALTH_WINDOW]
    )
    healthy = len(recent) < settings.NUMBER_HEALTH_MIN_REPORTS or (
        recent.count(Message.Status.DELIVERED) / len(recent) >= settings.NUMBER_HEALTH_THRESHOLD
    )
    Number.objects.filter(pk=number_id).exclude(computed_healthy=healthy).update(
        computed_healthy=healthy
    )
    return healthy


def numbers_health_recompute() -> int:
    """Every number that has sent something: the scheduled sweep behind the per-report one."""
    numbers = Number.objects.filter(messages__isnull=False).distinct().values_list("pk", flat=True)
    for number_id in numbers:
        number_health_recompute(number_id=number_id)
    return len(numbers)
