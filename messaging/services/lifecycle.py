"""A message's way from Queued to its final status, and nothing after."""

from collections.abc import Sequence
from typing import NamedTuple

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from carriers.gateways.base import Receipt
from messaging import queue
from messaging.models import Message, MessagePart, StatusEvent
from messaging.services.notifications import message_notify_status
from optout.models import OptOut
from optout.services import optout_record
from pools_project.db import model_insert, model_update

# Statuses only move forward: (Scheduled →) Queued → Sent → one of the final ones.
RANK = {
    Message.Status.SCHEDULED: -1,
    Message.Status.QUEUED: 0,
    Message.Status.SENT: 1,
    Message.Status.DELIVERED: 2,
    Message.Status.UNDELIVERED: 2,
    Message.Status.FAILED: 2,
    Message.Status.CANCELED: 2,
}
EXPIRED = "Expired"


def status_event_record(
    *,
    message: Message,
    detailed_status: str = "",
    error_code: str = "",
    later: list[StatusEvent] | None = None,
):
    """The status the message just took: its history, its callback, and for a final
    status from a number, that number's health. With `later`, the event is left in it
    for the caller to write with others, unless a callback's payload, which shows the
    history, needs it written first."""
    event = StatusEvent(
        message=message,
        status=message.status,
        detailed_status=detailed_status,
        error_code=error_code,
    )
    if later is not None and not message.callback_url:
        later.append(event)
    else:
        model_insert(event)
    message_notify_status(message=message)
    if message.is_final and message.number_id:
        queue.enqueue_after_commit(queue.RECOMPUTE_HEALTH, str(message.number_id))


def clipped(field: str, value: str) -> str:
    """A carrier's text cut to its column: a long refusal reason must not lose the report."""
    return value[: Message._meta.get_field(field).max_length]


# What reports change once the message is sent: read again, under the row's lock, before
# a report applies. The rest stays as the send wrote it.
_REPORTED = (
    "status",
    "detailed_status",
    "error_code",
    "provider_message_id",
    "sent_at",
    "lease_until",
    "updated_at",
)


class Step(NamedTuple):
    """A status a report moves a message to."""

    status: str
    detailed_status: str = ""
    error_code: str = ""


def message_report_status(
    *, message: Message, status: str, detailed_status: str = "", error_code: str = ""
) -> bool:
    """Move the message to `status` if that is a step forward; False if it changes nothing.

    A final status never regresses, and a late or repeated report does not reopen a
    message. The row is locked so two reports for one message apply one after the other.
    """
    return message_report_steps(message=message, steps=[Step(status, detailed_status, error_code)])


class StatusMoved(Exception):
    """A report for a message its caller holds found it moved on meanwhile (a carrier's
    report, a cancel): the caller rolls back and reports again, reading the row first."""


@transaction.atomic(savepoint=False)  # inside a caller's, its failure is the caller's
def message_report_steps(
    *,
    message: Message,
    steps: Sequence[Step],
    also: dict | None = None,
    held: bool = False,
    rows: Sequence = (),
) -> bool:
    """`message_report_status` for reports that arrived together (Sent, and the
    simulator's Delivered): each step forward is recorded and notified as it would be
    alone, and the row is locked and written once. `also`: columns the caller writes
    in that same UPDATE (the provider's id of a message just handed over), whether or
    not a step applies. `held`: the caller holds the message's claim, so the row is as
    the caller has it: it is not read first, and written only if its status still is
    the caller's (the UPDATE locks it), else `StatusMoved` is raised. `rows`: new rows
    the caller's report brings (a message's parts), written with the events."""
    if not held:
        locked = Message.objects.select_for_update().filter(pk=message.pk)
        message.__dict__.update(zip(_REPORTED, locked.values_list(*_REPORTED).get(), strict=True))
    was = message.status
    message.__dict__.update(also or {})
    stepped, events = set(), []
    for status, detailed_status, error_code in steps:
        if RANK[status] <= RANK[message.status]:
            continue
        message.status = status
        message.detailed_status = clipped("detailed_status", detailed_status)
        message.error_code = clipped("error_code", error_code)
        message.updated_at = timezone.now()
        stepped.update(("status", "detailed_status", "error_code", "updated_at"))
        if status == Message.Status.SENT:
            message.sent_at = message.updated_at
            stepped.add("sent_at")
        if message.is_final:
            message.lease_until = None
            stepped.add("lease_until")
        status_event_record(
            message=message,
            detailed_status=message.detailed_status,
            error_code=message.error_code,
            later=events,
        )
    model_insert(*rows, *events)
    if written := stepped.union(also or ()):
        row = {"pk": message.pk, **({"status": was} if held else {})}
        if not model_update(Message, {f: getattr(message, f) for f in written}, where=row) and held:
            raise StatusMoved(message.pk)
    return bool(stepped)


@transaction.atomic
def receipt_apply(*, connection_id, receipt: Receipt) -> Message | None:
    """A delivery report for one part: the message is Delivered once every part is,
    Undelivered or Failed as soon as one is. None for an id the connection never gave
    (another account's connection included: ids are looked up per connection)."""
    part = (
        MessagePart.objects.select_for_update()
        .select_related("message__account")
        .filter(connection_id=connection_id, provider_id=receipt.provider_id)
        .first()
    )
    if part is None:
        return None
    message = part.message
    if receipt.recipient_stopped:
        carrier_optout_record(message=message)
    if not part_receipt(part, receipt):
        return message
    part.save(update_fields=["status", "detailed_status", "error_code"])
    statuses = set(message.parts.values_list("status", flat=True))
    status = message_status_of(statuses, receipt.status)
    if status is not None:
        message_report_status(
            message=message,
            status=status,
            detailed_status=receipt.detailed_status,
            error_code=receipt.error_code,
        )
    return message


def part_receipt(part: MessagePart, receipt: Receipt) -> bool:
    """The part as the report leaves it; False, unchanged, for "unknown" or a late word
    after a final one."""
    if receipt.status is None or RANK[receipt.status] < RANK[part.status]:
        return False
    part.status = receipt.status
    part.detailed_status = clipped("detailed_status", receipt.detailed_status)
    part.error_code = clipped("error_code", receipt.error_code)
    return True


def message_status_of(statuses: set[str], status: str) -> str | None:
    """The status a part's report of `status` gives its message, its parts being at
    `statuses` now (that part's included): Delivered once every part is, Undelivered
    or Failed as soon as one is; None: not yet."""
    if status != Message.Status.DELIVERED:
        return status
    return status if statuses == {Message.Status.DELIVERED} else None


def carrier_optout_record(*, message: Message) -> None:
    """The carrier says the recipient stopped hearing from this number (Twilio 21610,
    Telnyx 40300): recorded as their opt-out, so the pool stops routing to them."""
    if message.number_id:
        optout_record(
            account=message.account,
            recipient=message.to,
            number=message.sender,
            source=OptOut.Source.CARRIER,
        )


def messages_expire(*, now=None) -> int:
    """Fail the messages still waiting past their ttl; one being handed over is left to
    its dispatcher, which checks the ttl when it takes it."""
    now = now or timezone.now()
    expired = Message.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lte=now),
        status=Message.Status.QUEUED,
        expires_at__lte=now,
    )
    failed = 0
    for message in expired.iterator():
        failed += message_report_status(
            message=message, status=Message.Status.FAILED, detailed_status=EXPIRED
        )
    return failed
