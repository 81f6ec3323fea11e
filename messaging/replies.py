"""Automatic replies to keywords: from the number that received them, past the opt-out block."""

from django.db import transaction

from messaging.lifecycle import status_event_record
from messaging.models import Message
from messaging.services import body_prepare
from messaging.tasks import dispatch_after_commit
from pools.models import Pool
from virtual_numbers.models import Number

AUTO_REPLY_RULE = "autoReply"


@transaction.atomic
def message_send_reply(
    *, pool: Pool | None, number: Number, to: str, body: str, keyword: str
) -> Message:
    """Recorded as a message like any other, but not chosen by selection and never
    blocked: the confirmation of a STOP must reach the person who sent it."""
    text, _, analysis = body_prepare(
        body=body, shorten=False, transcode=bool(pool and pool.transcode)
    )
    message = Message.objects.create(
        account=number.account,
        pool=pool,
        to=to,
        sender=number.number,
        number=number,
        body=text,
        body_analysis=analysis.as_api(),
        rule=AUTO_REPLY_RULE,
        explanation=(
            f"Auto-reply to the keyword {keyword!r}, from {number.number}, the number it was "
            "sent to; it bypasses the opt-out block."
        ),
        callback_url=pool.callback_url if pool else "",
        callback_strategy=pool.callback_strategy if pool and pool.callback_url else "",
    )
    status_event_record(message=message)
    dispatch_after_commit(message)
    return message
