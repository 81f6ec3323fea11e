"""A message's way from Queued to its final status, and nothing after."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from carriers.gateways.base import Receipt
from messaging import queue
from messaging.models import Message, MessagePart, StatusEvent
from messaging.services.notifications import message_notify_status
from optout.models import OptOut
from optout.services import optout_record
from pools_project.db import model_insert

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


def status_event_record(*, message: Message, detailed_status: str = "", error_code: str = ""):
    """The status the message just took: its history, its callback, and for a final
    status from a number, that number's health."""
    model_insert(
        StatusEvent(
            message=message,
            status=message.status,
            detailed_status=detailed_status,
            error_code=error_code,
        )
    )
    message_notify_status(message=message)
    if message.is_final and message.number_id:
        queue.enqueue_after_commit(queue.RECOMPUTE_HEALTH, str(message.number_id))


def clipped(field: str, value: str) -> str:
    """A carrier's text cut to its column: a long refusal reason must not lose the report."""
    return value[: Message._meta.get_field(field).max_length]


@transaction.atomic
def message_report_status(
    *, message: Message, status: str, detailed_status: str = "", error_code: str = ""
) -> bool:
    """Move the message to `status` if that is a step forward; False if it changes nothing.

    A final status never regresses, and a late or repeated report does not reopen a
    message. The row is locked so two reports for one message apply one after the other.
    """
    detailed_status = clipped("detailed_status", detailed_status)
    error_code = clipped("error_code", error_code)
    current = Message.objects.select_for_update().get(pk=message.pk)
    if RANK[status] <= RANK[current.status]:
        return False
    current.status = status
    current.detailed_status = detailed_status
    current.error_code = error_code
    fields = ["status", "detailed_status", "error_code", "updated_at"]
    if status == Message.Status.SENT:
        current.sent_at = timezone.now()
        fields.append("sent_at")
    if current.is_final:
        current.lease_until = None
        fields.append("lease_until")
    current.save(update_fields=fields)
    status_event_record(message=current, detailed_status=detailed_status, error_code=error_code)
    message.__dict__.update({f: getattr(current, f) for f in ("status", *fields)})
    return True


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
    if receipt.status is None or RANK[receipt.status] < RANK[part.status]:
        return message  # "unknown", or a late word after a final one
    part.status = receipt.status
    part.detailed_status = clipped("detailed_status", receipt.detailed_status)
    part.error_code = clipped("error_code", receipt.error_code)
    part.save(update_fields=["status", "detailed_status", "error_code"])
    status = _aggregate(message, receipt.status)
    if status is not None:
        message_report_status(
            message=message,
            status=status,
            detailed_status=receipt.detailed_status,
            error_code=receipt.error_code,
        )
    return message


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


def _aggregate(message: Message, status: str) -> str | None:
    if status != Message.Status.DELIVERED:
        return status
    statuses = set(message.parts.values_list("status", flat=True))
    return status if statuses == {Message.Status.DELIVERED} else None


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
