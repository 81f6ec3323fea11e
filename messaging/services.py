from collections.abc import Sequence

from django.db import transaction

from messaging.models import Message
from pools.models import Pool
from pools.sender import sender_select


@transaction.atomic
def message_send(
    *,
    pool: Pool,
    to: str,
    body: str,
    strategy: str = Message.Strategy.NUMERIC,
    media_urls: Sequence[str] = (),
) -> Message:
    """Pick the sender through the selection service and record the message.

    A recipient who opted out gets nothing: the message is kept as Undelivered /
    Opted-out (Routee) and never dispatched.
    """
    channel = Message.Channel.MMS if media_urls else Message.Channel.SMS
    chosen = sender_select(pool=pool, to=to, channel=channel, strategy=strategy)
    decision = chosen.decision
    return Message.objects.create(
        account=pool.account,
        pool=pool,
        to=chosen.recipient,
        sender=decision.sender,
        number_id=chosen.number_id,
        body=body,
        channel=channel,
        strategy=strategy,
        media_urls=list(media_urls),
        status=Message.Status.UNDELIVERED if decision.opted_out else Message.Status.QUEUED,
        detailed_status=Message.OPTED_OUT if decision.opted_out else "",
        rule=decision.rule,
        explanation="\n".join(decision.explanation),
    )
