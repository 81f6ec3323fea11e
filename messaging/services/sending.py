"""Messages into the world: a send through a pool, and the auto-replies to keywords."""

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from carriers.selectors import account_default_connection_id
from messaging import encoding
from messaging.models import AUTO_REPLY_RULE, Message
from messaging.services.dispatch import message_enqueue
from messaging.services.lifecycle import status_event_record
from messaging.services.links import body_shorten, links_create
from messaging.services.scheduling import marketing_hold_locked, slot_time
from pools.models import Pool
from pools.services.selection import (
    SelectionRaced,
    pool_for_send,
    recipient_facts,
    sender_select,
)
from pools_project.db import model_insert
from pools_project.errors import ServiceError
from virtual_numbers.models import Number
from virtual_numbers.pacing import number_reserve_slot


def body_prepare(*, body: str, shorten: bool, transcode: bool):
    """The text to send, its links, its analysis and the parts it leaves in;
    BODY_TOO_LONG over the part limit.

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
    return text, links, analysis, parts


def _again_when_raced(send):
    """`send`, a transaction of its own (a savepoint in the caller's), made again when
    its new assignment lost a race after writing (`SelectionRaced`): rolled back, it
    chooses again on what the other send committed."""

    @functools.wraps(send)
    def again(**kwargs):
        while True:
            try:
                return send(**kwargs)
            except SelectionRaced:
                continue

    return again


@_again_when_raced
@transaction.atomic
def message_send(
    *,
    pool: Pool,
    to: str,
    body: str,
    strategy: str = Message.Strategy.NUMERIC,
    media_urls: Sequence[str] = (),
    callback: dict | None = None,
    url_shortener: dict | None = None,
    transcode: bool | None = None,
    ttl: int | None = None,
    send_at: datetime | None = None,
    intent: str = Message.Intent.TRANSACTIONAL,
) -> Message:
    """Pick the sender through the selection service, record the message, queue it —
    or, with a `send_at` still ahead, keep it Scheduled until then (SPEC §13).

    `callback` ({url, strategy}) and `transcode` override the pool's. With
    `url_shortener` ({urlValidity}), URLs in the body become short links living that
    many seconds (SHORT_LINK_DEFAULT_VALIDITY if it names none).
    A recipient who opted out gets nothing: the message is kept as Undelivered /
    Opted-out (Routee) and never dispatched. The message waits its turn at its
    number's rate, and leaves through that number's connection. `ttl` counts from when
    it is due to go: `send_at`, else now. A marketing `intent` is held to the hours the
    recipient may receive it (Scheduled until then), or Failed / Quiet hours when its ttl
    would pass first. `pool` may be a reference
    (`Pool(pk=..., account_id=...)`): its settings are read here, as committed.
    """
    recipient = recipient_facts(to)
    loaded = pool_for_send(
        pool_id=pool.pk, account_id=pool.account_id, recipient=recipient.number, lock=True
    )
    pool = loaded.pool
    url_validity = None
    if url_shortener is not None:
        url_validity = url_shortener.get("urlValidity", settings.SHORT_LINK_DEFAULT_VALIDITY)
    text, links, analysis, parts = body_prepare(
        body=body,
        shorten=url_validity is not None,
        transcode=pool.transcode if transcode is None else transcode,
    )
    channel = Message.Channel.of(media_urls)
    now = timezone.now()
    due = max(send_at, now) if send_at else now
    expires_at = due + timedelta(seconds=ttl) if ttl else None
    plan = None
    if intent == Message.Intent.MARKETING:
        plan = marketing_hold_locked(
            pool=pool, to=recipient.number, requested=due, deadline=expires_at
        )
        send_at = plan.send_at if plan.held else send_at
    goes_now = not (send_at and send_at > now) and not (plan and plan.expired)
    chosen = sender_select(
        loaded=loaded,
        recipient=recipient,
        channel=channel,
        strategy=strategy,
        # A message that goes later takes its turn at its number's rate when it does.
        parts=parts if goes_now else 0,
        now=now,
    )
    decision = chosen.decision
    callback = callback or (
        {"url": pool.callback_url, "strategy": pool.callback_strategy} if pool.callback_url else {}
    )
    connection_id = chosen.connection_id
    if chosen.number_id is None and not decision.opted_out:
        connection_id = loaded.default_connection.id
    explanation = decision.explanation
    if plan is not None and not decision.opted_out:
        explanation += plan.explanation
    if decision.opted_out:
        status, detailed_status = Message.Status.UNDELIVERED, Message.OPTED_OUT
    elif plan is not None and plan.expired:
        status, detailed_status = Message.Status.FAILED, Message.QUIET_HOURS
    elif send_at and send_at > now:
        status, detailed_status = Message.Status.SCHEDULED, ""
    else:
        status, detailed_status = Message.Status.QUEUED, ""
    message = Message(
        account_id=pool.account_id,
        pool=pool,
        to=chosen.recipient,
        sender=decision.sender,
        number_id=chosen.number_id,
        connection_id=connection_id,
        body=text,
        body_analysis=analysis.as_api(),
        channel=channel,
        strategy=strategy,
        media_urls=list(media_urls),
        callback_url=callback.get("url", ""),
        callback_strategy=callback.get("strategy", ""),
        url_validity=url_validity,
        intent=intent,
        send_at=send_at,
        ttl=ttl,
        expires_at=expires_at,
        dispatch_at=slot_time(chosen.slot, now) if status == Message.Status.QUEUED else None,
        status=status,
        detailed_status=detailed_status,
        rule=decision.rule,
        explanation="\n".join(explanation),
        created_at=now,
    )
    # A callback's Queued notification carries the message as written, with its links
    # and history: each row goes as it is made. Without one (most sends), the message
    # is written last, with its first event, in one statement on PostgreSQL (its links
    # wait for its row until the commit, where foreign keys are checked).
    unwritten = [] if message.callback_url else [message]
    if message.callback_url:
        model_insert(message)
    links_create(message=message, links=links, validity_seconds=url_validity or 0)
    status_event_record(message=message, detailed_status=message.detailed_status, later=unwritten)
    model_insert(*unwritten)
    if status == Message.Status.QUEUED:
        message_enqueue(message)
    return message


@transaction.atomic
def message_send_reply(
    *, pool: Pool | None, number: Number, to: str, body: str, keyword: str
) -> Message:
    """An auto-reply: recorded as a message like any other, but not chosen by selection
    and never blocked — the confirmation of a STOP must reach the person who sent it.
    It leaves from the number written to, through that number's connection."""
    text, _, analysis, parts = body_prepare(
        body=body, shorten=False, transcode=bool(pool and pool.transcode)
    )
    now = timezone.now()
    slot = number_reserve_slot(number_id=number.pk, now=now, parts=parts)
    message = Message.objects.create(
        account=number.account,
        pool=pool,
        to=to,
        sender=number.number,
        number=number,
        connection_id=number.connection_id
        or account_default_connection_id(account_id=number.account_id),
        body=text,
        body_analysis=analysis.as_api(),
        dispatch_at=slot_time(slot, now),
        rule=AUTO_REPLY_RULE,
        explanation=(
            f"Auto-reply to the keyword {keyword!r}, from {number.number}, the number it was "
            "sent to; it bypasses the opt-out block."
        ),
        callback_url=pool.callback_url if pool else "",
        callback_strategy=pool.callback_strategy if pool and pool.callback_url else "",
    )
    status_event_record(message=message)
    message_enqueue(message)
    return message
