"""Each number's send rate (SPEC §12): a message reserves its turn when it is sent.

A number's `next_slot_at` is when (epoch seconds) its next part may leave. A send
takes the slot at max(next_slot_at, now) and moves it on by parts / rate, in the same
statement that records the use — so the turns of one number are handed out in order,
at least 1/rate apart, by the database, across any number of processes and hosts.

The same statement counts a new recipient towards the number's daily cap (SPEC §14),
and takes the place only while one is left: it waits for the row's lock, so of sends
racing for a number's last place, exactly one finds it.
"""

from datetime import UTC

from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Greatest

from pools_project.db import db_value
from virtual_numbers.capacity import takes_new_recipients
from virtual_numbers.models import DEFAULT_PARTS_PER_SECOND, Number

# The type's default rate, in SQL, for numbers that have none of their own.
_RATE = "COALESCE(parts_per_second, CASE type {} END)".format(
    " ".join(f"WHEN '{t}' THEN {rate}" for t, rate in DEFAULT_PARTS_PER_SECOND.items())
)


def _greatest() -> str:
    return "GREATEST" if connection.vendor == "postgresql" else "MAX"


def number_record_use(
    *, number_id, used_at, parts: int, new_recipient: bool = False
) -> float | None:
    """Count a message sent from the number and reserve its turn; the slot (epoch
    seconds) at which its first part may leave.

    A `new_recipient` (a new assignment) also counts towards the number's daily cap, on
    `used_at`'s UTC day: None, and nothing written, if the number takes none now — it
    was cordoned, or another send took its last place, since it was chosen.
    """
    also = "last_used_at = %s, messages_sent = messages_sent + 1, "
    also_params = [db_value(Number, "last_used_at", used_at)]
    where, where_params = "", []
    if new_recipient:
        day = used_at.astimezone(UTC).date()
        # Every SET expression reads the row as it was: a counter of another day restarts.
        also += (
            "new_recipients_today = CASE WHEN new_recipients_on = %s "
            "THEN new_recipients_today + 1 ELSE 1 END, new_recipients_on = %s, "
        )
        also_params += [db_value(Number, "new_recipients_on", day)] * 2
        where, where_params = takes_new_recipients(Number._meta.db_table, day)
        where = f" AND {where}"
    return _reserve(number_id, used_at, parts, also, also_params, where, where_params)


def number_reserve_slot(*, number_id, now, parts: int) -> float:
    """Reserve the number's turn for a message that is no use of it by selection
    (an auto-reply): its pace counts, its distribution counters do not."""
    return _reserve(number_id, now, parts, "", [])


def _reserve(
    number_id, now, parts: int, also: str, also_params: list, where: str = "", where_params=()
) -> float | None:
    table = Number._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {also}"
            f"next_slot_at = {_greatest()}(next_slot_at, %s) + %s / {_RATE} "
            f"WHERE id = %s{where} RETURNING next_slot_at, {_RATE}",
            [
                *also_params,
                now.timestamp(),
                parts,
                db_value(Number, "id", number_id),
                *where_params,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    next_slot_at, rate = row
    return next_slot_at - parts / rate


def number_push_back(*, number_id, now: float, seconds: float) -> None:
    """A carrier said "too fast": the number's next turn moves `seconds` later."""
    Number.objects.filter(pk=number_id).update(
        next_slot_at=Greatest(F("next_slot_at"), Value(now)) + seconds
    )
