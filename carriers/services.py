"""Writes of connections: their state, and the pace of their cap."""

from datetime import timedelta

from django.db.models import F, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from carriers.gateways.base import CheckResult
from carriers.models import Connection

# A state that has not changed is written again at most this often: "checkedAt" stays
# recent without a write per message.
STATE_REFRESH = timedelta(seconds=60)


def connection_state_record(*, connection_id, result: CheckResult) -> None:
    """What the last attempt or check on the connection found."""
    if connection_id is None:
        return
    now = timezone.now()
    Connection.objects.filter(pk=connection_id).filter(
        ~Q(state_status=result.status)
        | ~Q(state_detail=result.detail[:500])
        | Q(state_checked_at__isnull=True)
        | Q(state_checked_at__lt=now - STATE_REFRESH)
    ).update(state_status=result.status, state_detail=result.detail[:500], state_checked_at=now)


def connection_take_slot(*, connection_id, parts: int, now: float) -> float | None:
    """Take the connection's turn for `parts` under its cap, if it has come: None when
    it has (or there is no cap), else the seconds until it comes.

    A conditional update, so dispatchers on any number of hosts share the cap.
    """
    capped = Connection.objects.filter(pk=connection_id, messages_per_second__isnull=False)
    taken = capped.filter(next_slot_at__lte=now).update(
        next_slot_at=Greatest(F("next_slot_at"), Value(now)) + parts / F("messages_per_second")
    )
    if taken:
        return None
    next_slot_at = capped.values_list("next_slot_at", flat=True).first()
    return None if next_slot_at is None else max(next_slot_at - now, 0.001)


def connection_push_back(*, connection_id, now: float, seconds: float) -> None:
    """The provider said "too fast": nothing more leaves through it for `seconds`."""
    Connection.objects.filter(pk=connection_id).update(
        next_slot_at=Greatest(F("next_slot_at"), Value(now)) + seconds
    )
