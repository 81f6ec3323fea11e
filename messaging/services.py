from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from messaging import encoding
from messaging.lifecycle import status_event_record
from messaging.links import body_shorten, links_create
from messaging.models import Message
from messaging.tasks import dispatch_after_commit
from pools.models import Pool
from pools.sender import sender_select
from pools_project.errors import ServiceError


def body_prepare(*, body: str, shorten: bool, transcode: bool):
    """The text to send, its links and its analysis; BODY_TOO_LONG over the part limit.

    Links are shortened first, so the parts are counted on what is sent; then, with
    transcoding on, look-alikes are replaced if that makes the whole body GSM-7.
    """
    text, links = body_shorten(body) if shorten else (body, [])
    analysis = encoding.analyse(text, transcoding=transcode)
    if analysis.transcode:
        text = analysis.transcode.message
    parts = analysis.transcode.parts if analysis.transcode else analysis.parts
    if parts > encoding.MAX_PARTS:
        raise ServiceError(
            "BODY_TOO_LONG",
            f"The body needs {parts} parts; at most {encoding.MAX_PARTS} are sent.",
            status=422,
        )
    return text, links, analysis


@transaction.atomic
def message_send(
    *,
    pool: Pool,
    to: str,
    body: str,
    strategy: str = Message.Strategy.NUMERIC,
    media_urls: Sequence[str] = (),
    callback: dict | None = None,
    url_validity: int | None = None,
    transcode: bool | None = None,
    ttl: int | None = None,
) -> Message:
    """Pick the sender through the selection service, record the message, queue it.

    `callback` ({url, strategy}) and `transcode` override the pool's. With
    `url_validity`, URLs in the body become short links living that many seconds.
    A recipient who opted out gets nothing: the message is kept as Undelivered /
    Opted-out (Routee) and never dispatched.
    """
    text, links, analysis = body_prepare(
        body=body,
        shorten=url_validity is not None,
        transcode=pool.transcode if transcode is None else transcode,
    )
    channel = Message.Channel.MMS if media_urls else Message.Channel.SMS
    chosen = sender_select(pool=pool, to=to, channel=channel, strategy=strategy)
    decision = chosen.decision
    callback = callback or (
        {"url": pool.callback_url, "strategy": pool.callback_strategy} if pool.callback_url else {}
    )
    message = Message.objects.create(
        account=pool.account,
        pool=pool,
        to=chosen.recipient,
        sender=decision.sender,
        number_id=chosen.number_id,
        body=text,
        body_analysis=analysis.as_api(),
        channel=channel,
        strategy=strategy,
        media_urls=list(media_urls),
        callback_url=callback.get("url", ""),
        callback_strategy=callback.get("strategy", ""),
        url_validity=url_validity,
        expires_at=timezone.now() + timedelta(seconds=ttl) if ttl else None,
        status=Message.Status.UNDELIVERED if decision.opted_out else Message.Status.QUEUED,
        detailed_status=Message.OPTED_OUT if decision.opted_out else "",
        rule=decision.rule,
        explanation="\n".join(decision.explanation),
    )
    # The links first: the Queued notification carries the message with its links.
    links_create(message=message, links=links, validity_seconds=url_validity or 0)
    status_event_record(message=message, detailed_status=message.detailed_status)
    if not decision.opted_out:
        dispatch_after_commit(message)
    return message
