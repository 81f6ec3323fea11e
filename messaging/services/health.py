"""Number health from delivery reports (Telnyx: a number delivering under 25% is unhealthy)."""

from django.conf import settings
from django.db import connection

from messaging.models import Message
from messaging.services.lifecycle import EXPIRED
from pools_project.db import db_value, in_list
from virtual_numbers.models import Number

# What says something about the number: a final status, but not an expiry in our own
# queue, nor a marketing message that quiet hours held past its ttl.
_FINAL = (Message.Status.DELIVERED, Message.Status.UNDELIVERED, Message.Status.FAILED)
_NOT_ABOUT_THE_NUMBER = (EXPIRED, Message.QUIET_HOURS)


def number_health_recompute(*, number_id) -> None:
    """Healthy unless the delivered share of the number's recent final statuses is under
    the threshold, over at least the minimum of reports. An operator's override, kept
    in its own column, still wins when health is read. One statement, written only when
    the verdict changes: it runs after every final status."""
    final, final_params = in_list("status", _FINAL)
    not_about, not_about_params = in_list("detailed_status", _NOT_ABOUT_THE_NUMBER)
    number = db_value(Number, "id", number_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH recent AS (SELECT status FROM {Message._meta.db_table} "
            f"WHERE number_id = %s AND {final} AND NOT ({not_about}) "
            "ORDER BY updated_at DESC, id DESC LIMIT %s), "
            "verdict AS (SELECT COUNT(*) < %s OR CAST(SUM(CASE WHEN status = %s THEN 1 ELSE 0 END) "
            "AS DOUBLE PRECISION) / NULLIF(COUNT(*), 0) >= %s AS healthy FROM recent) "
            f"UPDATE {Number._meta.db_table} SET computed_healthy = (SELECT healthy FROM verdict) "
            "WHERE id = %s AND computed_healthy <> (SELECT healthy FROM verdict)",
            [
                number,
                *final_params,
                *not_about_params,
                settings.NUMBER_HEALTH_WINDOW,
                settings.NUMBER_HEALTH_MIN_REPORTS,
                Message.Status.DELIVERED,
                settings.NUMBER_HEALTH_THRESHOLD,
                number,
            ],
        )


def numbers_health_recompute() -> int:
    """Every number that has sent something: the scheduled sweep behind the per-report one."""
    numbers = Number.objects.filter(messages__isnull=False).distinct().values_list("pk", flat=True)
    for number_id in numbers:
        number_health_recompute(number_id=number_id)
    return len(numbers)
