from celery import shared_task
from django.db import transaction

from messaging.lifecycle import message_dispatch


@shared_task
def dispatch_message(message_id: str) -> None:
    message_dispatch(message_id=message_id)


def dispatch_after_commit(message) -> None:
    """Queue the message for the gateway once the transaction commits: a worker must
    find it, and a rolled-back send sends nothing."""
    message_id = str(message.pk)
    transaction.on_commit(lambda: dispatch_message.delay(message_id), robust=True)
