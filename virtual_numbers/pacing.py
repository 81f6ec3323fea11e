"""Each number's send rate (SPEC §12): a message reserves its turn when it is sent.

A number's `next_slot_at` is when (epoch seconds) its next part may leave. A send
takes the slot at max(next_slot_at, now) and moves it on by parts / rate, in the same
statement that records the use — so the turns of one number are handed out in order,
at least 1/rate apart, by the database, across any number of processes and hosts.
"""

from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Greatest

from pools_project.db import db_value
from virtual_numbers.models import DEFAULT_PARTS_PER_SECOND, Number

# The type's default rate, in SQL, for numbers that have none of their own.
_RATE = "COALESCE(parts_per_second, CASE type {} END)".format(
    " ".join(f"WHEN '{t}' THEN {rate}" for t, rate in DEFAULT_PARTS_PER_SECOND.items())
)


def _greatest() -> str:
    return "GREATEST" if connection.vendor == "postgresql" else "MAX"


def number_record_use(*, number_id, used_at, parts: int) -> float:
    """Count a message sent from the number and reserve its turn; the slot (epoch
    seconds) at which its first part may leave."""
    return _reserve(
        number_id,
        used_at,
        parts,
        "last_used_at = %s, messages_sent = messages_sent + 1, ",
        [db_value(Number, "last_used_at", used_at)],
    )


def number_reserve_slot(*, number_id, now, parts: int) -> float:
    """Reserve the number's turn for a message that is no use of it by selection
    (an auto-reply): its pace counts, its distribution counters do not."""
    return _reserve(number_id, now, parts, "", [])


def _reserve(number_id, now, parts: int, also: str, also_params: list) -> float:
    table = Number._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {also}"
            f"next_slot_at = {_greatest()}(next_slot_at, %s) + %s / {_RATE} "
            f"WHERE id = %s RETURNING next_slot_at, {_RATE}",
            [*also_params, now.timestamp(), parts, db_value(Number, "id", number_id)],
        )
        next_slot_at, rate = cursor.fetchone()
    return next_slot_at - parts / rate


def number_push_back(*, number_id, now: float, seconds: float) -> None:
    """A carrier said "too fast": the number's next turn moves `seconds` later."""
    Number.objects.filter(pk=number_id).update(
        next_slot_at=Greatest(F("next_slot_at"), Value(now)) + seconds
    )
