from celery import shared_task

from messaging.lifecycle import message_dispatch


@shared_task
def dispatch_message(message_id: str) -> None:
    message_dispatch(message_id=message_id)
