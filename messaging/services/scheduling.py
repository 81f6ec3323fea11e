"""Messages that wait for their time (SPEC §13): released at `sendAt`, or canceled first.

A scheduled message has its sender already (chosen at send, so stickiness and the
preview see it); the schedule runner — `run_schedules` in the embedded default, Celery
beat and a worker otherwise — makes it Queued once its time has come, and dispatch
takes it from there like any other. Two runners overlapping release each message once:
the conditional UPDATE that moves it says which of them won.
"""

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from messaging import encoding
from messaging.models import Message
from messaging.quiet_hours import MarketingPlan, recipient_rules
from messaging.selectors import marketing_hold_for
from messaging.services.dispatch import message_enqueue
from messaging.services.lifecycle import status_event_record
from pools.models import Pool
from pools_project.api import get_or_404
from pools_project.db import transaction_lock
from pools_project.errors import ServiceError
from virtual_numbers.pacing import number_reserve_slot


def marketing_hold_locked(
    *, pool: Pool, to: str, requested: datetime, deadline: datetime | None
) -> MarketingPlan:
    """`marketing_hold` for a send: where a law limits the marketing messages a day, the
    recipient's others are counted under a lock held until the transaction ends, so that
    two sends at once cannot both take the last of Florida's three."""
    rules = recipient_rules(to)
    if rules.limited:
        transaction_lock(f"marketing:{pool.account_id}:{rules.number}")
    return marketing_hold_for(pool=pool, rules=rules, requested=requested, deadline=deadline)


def slot_time(slot: float | None, now: datetime) -> datetime:
    """A turn reserved at the number's rate (epoch seconds) as a time; now without one."""
    return datetime.fromtimestamp(slot, UTC) if slot is not None else now


def messages_release_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Every Scheduled message whose time has come becomes Queued, earliest first; how
    many this runner released."""
    now = now or timezone.now()
    due = (
        Message.objects.filter(status=Message.Status.SCHEDULED, send_at__lte=now)
        .order_by("send_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(message_release(message_id=message_id, now=now) for message_id in list(due))


@transaction.atomic
def message_release(*, message_id, now: datetime) -> bool:
    """Scheduled → Queued, its turn at its number's rate reserved now; False if another
    runner (or a cancel) came first."""
    released = Message.objects.filter(
        pk=message_id, status=Message.Status.SCHEDULED, send_at__lte=now
    ).update(status=Message.Status.QUEUED, updated_at=now)
    if not released:
        return False
    message = Message.objects.select_related("account", "pool").get(pk=message_id)
    slot = None
    if message.number_id:
        parts = len(encoding.segment(message.body)[1])
        slot = number_reserve_slot(number_id=message.number_id, now=now, parts=parts)
    message.dispatch_at = slot_time(slot, now)
    message.save(update_fields=["dispatch_at"])
    status_event_record(message=message)
    message_enqueue(message)
    return True


def cancelable(message: Message, now: datetime) -> bool:
    """Scheduled, or Queued and not in a dispatcher's hands (it may be at the carrier)."""
    if message.status == Message.Status.SCHEDULED:
        return True
    in_hand = message.lease_until is not None and message.lease_until > now
    return message.status == Message.Status.QUEUED and not in_hand


@transaction.atomic
def message_cancel(*, account: Account, message_id) -> Message:
    """Canceled, or 409 NOT_CANCELABLE once it is at a carrier or has ended.

    The row is locked: a dispatcher's claim of the same message (a conditional UPDATE)
    waits for the cancel, then finds it no longer Queued.
    """
    message = get_or_404(
        Message.objects.select_for_update(of=("self",))
        .select_related("account", "pool")
        .filter(account=account),
        "MESSAGE_NOT_FOUND",
        "No such message in this account.",
        pk=message_id,
    )
    if not cancelable(message, timezone.now()):
        where = "being handed to its carrier" if message.status == Message.Status.QUEUED else ""
        raise ServiceError(
            "NOT_CANCELABLE",
            f"The message is {where or message.status}; only a Scheduled message, or a "
            "Queued one not yet handed to a carrier, can be canceled.",
            status=409,
        )
    message.status = Message.Status.CANCELED
    message.detailed_status = ""
    message.lease_until = None
    message.save(update_fields=["status", "detailed_status", "lease_until", "updated_at"])
    status_event_record(message=message)
    return message
