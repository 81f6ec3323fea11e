"""A message's way from Queued to its final status, and nothing after."""

from django.db import transaction
from django.utils import timezone

from messaging.gateways import GatewayError, get_gateway
from messaging.models import Message, StatusEvent
from messaging.notifications import message_notify_status
from messaging.tasks import health_recompute_after_commit

# Statuses only move forward: Queued → Sent → one of the final ones.
RANK = {
    Message.Status.QUEUED: 0,
    Message.Status.SENT: 1,
    Message.Status.DELIVERED: 2,
    Message.Status.UNDELIVERED: 2,
    Message.Status.FAILED: 2,
}
EXPIRED = "Expired"


def status_event_record(*, message: Message, detailed_status: str = "", error_code: str = ""):
    """The status the message just took: its history, its callback, and for a final
    status from a number, that number's health."""
    StatusEvent.objects.create(
        message=message,
        status=message.status,
        detailed_status=detailed_status,
        error_code=error_code,
    )
    message_notify_status(message=message)
    if message.is_final and message.number_id:
        health_recompute_after_commit(message.number_id)


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
    if status == Message.Status.SENT:
        current.sent_at = timezone.now()
    current.save(update_fields=["status", "detailed_status", "error_code", "sent_at", "updated_at"])
    status_event_record(message=current, detailed_status=detailed_status, error_code=error_code)
    message.__dict__.update(
        {f: getattr(current, f) for f in ("status", "detailed_status", "error_code", "sent_at")}
    )
    return True


def message_dispatch(*, message_id) -> None:
    """Hand a queued message to the gateway. Safe to run twice: only a Queued message goes."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status != Message.Status.QUEUED:
            return
        if message.expires_at and message.expires_at <= timezone.now():
            message_report_status(
                message=message, status=Message.Status.FAILED, detailed_status=EXPIRED
            )
            return
        gateway = get_gateway()
        try:
            message.gateway_message_id = gateway.send(message)
        except GatewayError as exc:
            message_report_status(
                message=message,
                status=Message.Status.FAILED,
                detailed_status=str(exc),
                error_code=exc.code,
            )
            return
        message.save(update_fields=["gateway_message_id", "updated_at"])
        message_report_status(message=message, status=Message.Status.SENT)
    gateway.after_send(message)


def messages_expire(*, now=None) -> int:
    """Fail the messages still Queued past their ttl."""
    now = now or timezone.now()
    expired = Message.objects.filter(status=Message.Status.QUEUED, expires_at__lte=now)
    failed = 0
    for message in expired.iterator():
        failed += message_report_status(
            message=message, status=Message.Status.FAILED, detailed_status=EXPIRED
        )
    return failed
