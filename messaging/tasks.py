"""Background work, as Celery tasks, and the helpers that enqueue it after commit.

The task bodies import the services they run: the services enqueue tasks, so this
module must not import them at load time. Every task may run twice without harm.
"""

from celery import shared_task
from django.conf import settings
from django.db import transaction


@shared_task
def dispatch_message(message_id: str) -> None:
    from messaging.lifecycle import message_dispatch

    message_dispatch(message_id=message_id)


@shared_task
def deliver_notification(notification_id: str) -> None:
    from messaging.notifications import notification_deliver

    delay = notification_deliver(notification_id=notification_id)
    if delay is not None and not settings.CELERY_TASK_ALWAYS_EAGER:
        deliver_notification.apply_async((notification_id,), countdown=delay)
    # In-process (no broker), the retry sweep picks the notification up when it is due.


@shared_task
def recompute_number_health(number_id: str) -> None:
    from messaging.health import number_health_recompute

    number_health_recompute(number_id=number_id)


@shared_task
def deliver_due_notifications() -> int:
    from messaging.notifications import notifications_due

    due = list(notifications_due().values_list("pk", flat=True))
    for notification_id in due:
        deliver_notification.delay(str(notification_id))
    return len(due)


@shared_task
def expire_queued_messages() -> int:
    from messaging.lifecycle import messages_expire

    return messages_expire()


@shared_task
def recompute_all_number_health() -> int:
    from messaging.health import numbers_health_recompute

    return numbers_health_recompute()


def _after_commit(task, *args) -> None:
    transaction.on_commit(lambda: task.delay(*args), robust=True)


def dispatch_after_commit(message) -> None:
    """Queue the message for the gateway once the transaction commits: a worker must
    find it, and a rolled-back send sends nothing."""
    _after_commit(dispatch_message, str(message.pk))


def deliver_after_commit(notification) -> None:
    _after_commit(deliver_notification, str(notification.pk))


def health_recompute_after_commit(number_id) -> None:
    _after_commit(recompute_number_health, str(number_id))
