"""Background work, as Celery tasks: each calls a service and may run twice without harm.

Services enqueue these by name (`messaging.queue`), so this module sits on top of them.
"""

from celery import shared_task

from messaging import queue
from messaging.services.dispatch import message_dispatch, messages_dispatch_due
from messaging.services.health import number_health_recompute, numbers_health_recompute
from messaging.services.lifecycle import messages_expire
from messaging.services.notifications import notification_deliver, notifications_due
from messaging.services.replays import received_webhooks_forget
from messaging.services.scheduling import messages_release_due


@shared_task
def dispatch_message(message_id: str) -> None:
    wait = message_dispatch(message_id=message_id)
    if wait is not None:
        # With a broker, at its turn; in-process, the due-message sweep takes it then.
        queue.enqueue(queue.DISPATCH, message_id, countdown=wait.seconds)


@shared_task
def release_scheduled_messages() -> int:
    return messages_release_due()


@shared_task
def dispatch_due_messages() -> int:
    return messages_dispatch_due()


@shared_task
def deliver_notification(notification_id: str) -> None:
    delay = notification_deliver(notification_id=notification_id)
    if delay is not None:
        # In-process (no broker), the retry sweep picks the notification up when it is due.
        queue.enqueue(queue.DELIVER_NOTIFICATION, notification_id, countdown=delay)


@shared_task
def recompute_number_health(number_id: str) -> None:
    number_health_recompute(number_id=number_id)


@shared_task
def deliver_due_notifications() -> int:
    due = list(notifications_due().values_list("pk", flat=True))
    for notification_id in due:
        queue.enqueue(queue.DELIVER_NOTIFICATION, str(notification_id))
    return len(due)


@shared_task
def expire_queued_messages() -> int:
    return messages_expire()


@shared_task
def recompute_all_number_health() -> int:
    return numbers_health_recompute()


@shared_task
def forget_received_webhooks() -> int:
    return received_webhooks_forget()
