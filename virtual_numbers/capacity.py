"""A number's capacity for new recipients (SPEC §14), in the SQL written by hand.

Selection leaves out of its statements the numbers that take no new recipient, and the
statement that records a new assignment (`pacing.number_record_use`) checks the same
again under the row's lock, so that a daily cap is taken exactly. The ORM's
`NumberQuerySet.cordoned` and `at_daily_cap` say the same for the pages that count them.
"""

from datetime import UTC, date

from django.utils import timezone

from pools_project.db import db_value
from virtual_numbers.choices import NumberState
from virtual_numbers.models import Number


def utc_today() -> date:
    """The UTC day a daily cap counts in, now."""
    return timezone.now().astimezone(UTC).date()


def active(table: str) -> tuple[str, list]:
    """Not cordoned; `table` is the numbers' alias in the statement, or the table's name."""
    return f"{table}.state = %s", [NumberState.ACTIVE]


def under_daily_cap(table: str, day: date) -> tuple[str, list]:
    """Fewer new recipients taken on `day` (UTC) than its daily cap, or no cap. Never NULL."""
    return (
        f"({table}.daily_new_recipients IS NULL OR {table}.new_recipients_on IS NULL "
        f"OR {table}.new_recipients_on <> %s "
        f"OR {table}.new_recipients_today < {table}.daily_new_recipients)",
        [db_value(Number, "new_recipients_on", day)],
    )


def takes_new_recipients(table: str, day: date) -> tuple[str, list]:
    """Active, and under its daily cap on `day`."""
    (is_active, active_params), (under_cap, cap_params) = active(table), under_daily_cap(table, day)
    return f"{is_active} AND {under_cap}", [*active_params, *cap_params]
