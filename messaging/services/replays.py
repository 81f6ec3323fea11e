"""Carrier webhooks replayed byte for byte: each webhook-id is processed once.

A Standard Webhooks signature holds for its tolerance window (five minutes), so a
captured request could be sent again within it. The ids seen are kept a while longer
than that window; a request whose id is among them is answered, but changes nothing.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging.models import ReceivedWebhook

# standardwebhooks' tolerance is five minutes either way; kept twice as long for safety.
REMEMBERED = timedelta(minutes=10)


def carrier_webhook_first_seen(*, webhook_id: str) -> bool:
    """True the first time `webhook_id` comes; call it in the transaction that processes
    the webhook, so that a failure leaves the id free for the carrier's retry."""
    try:
        with transaction.atomic():
            ReceivedWebhook.objects.create(webhook_id=webhook_id)
    except IntegrityError:
        return False
    return True


def received_webhooks_forget(*, now=None) -> int:
    """Forget the ids past the signature's window: nothing can replay them any more."""
    now = now or timezone.now()
    return ReceivedWebhook.objects.filter(received_at__lt=now - REMEMBERED).delete()[0]
