"""Handing queued messages to their carriers (SPEC §12): claim, hand over, record.

Each step commits on its own and no transaction or row lock is open while a carrier
is called — the shape of healthchecks' `sendalerts`:

1. **claim**: a conditional UPDATE takes the message if it is still Queued, its turn
   (`dispatch_at`, reserved at send at its number's rate) has come and nobody holds
   it, and sets a lease; then the ttl, the recipient's opt-outs and the connection's
   cap are checked.
2. **hand over**: the connection's adapter is called, outside any transaction.
3. **record**: what the adapter returned is applied — Sent with the provider's ids,
   Failed with its code, or, when throttled or unreachable, the claim is released
   and the message waits again (the sender slowed down for a throttle).

A dispatcher that dies between claim and record leaves the lease to run out; then the
sweep (`messages_dispatch_due`) enqueues the message again. A message the carrier took
just before such a death is handed over twice: the README says so.
"""

import copy
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from carriers.gateways import gateway_for
from carriers.gateways.base import (
    Accepted,
    CheckResult,
    Gateway,
    Outbound,
    Outcome,
    Refused,
    Throttled,
    Unavailable,
)
from carriers.models import Connection
from carriers.services import (
    connection_push_back,
    connection_state_record,
    connection_take_slot,
)
from messaging import encoding, queue
from messaging.models import AUTO_REPLY_RULE, Message, MessagePart
from messaging.services.lifecycle import (
    EXPIRED,
    StatusMoved,
    Step,
    carrier_optout_record,
    message_report_status,
    message_report_steps,
    message_status_of,
    part_receipt,
    receipt_apply,
)
from optout.selectors import any_optout_sql, recipient_stopped
from pools_project.db import db_value
from virtual_numbers.pacing import number_push_back

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300
SWEEP_GRACE_SECONDS = 5


@dataclass(frozen=True)
class Wait:
    """Not now: try again in `seconds`."""

    seconds: float


@dataclass(frozen=True)
class Claim:
    """A message this dispatcher holds until `lease_until`, ready to hand over."""

    message: Message
    outbound: Outbound
    gateway: Gateway


def message_enqueue(message: Message) -> None:
    """Once the send commits, a dispatch at the message's turn. SMPP messages are taken
    by their connection's `run_smpp` process instead; the task finds that out.
    In-process (no broker), a message due now is handed over right after the commit,
    as it was written rather than read again; one due later is the sweep's."""
    delay = (message.dispatch_at - timezone.now()).total_seconds() if message.dispatch_at else 0
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        queue.enqueue_after_commit(
            queue.DISPATCH, str(message.pk), countdown=delay if delay > 0 else None
        )
    elif delay <= 0:
        # A copy: the sender's answer shows the message as it was sent, Queued.
        written = copy.copy(message)
        transaction.on_commit(lambda: message_dispatch_loaded(written), robust=True)


def unleased(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now)


def _due(now: datetime):
    # No turn at all: a message queued before turns existed, due since then.
    turn_came = Q(dispatch_at__lte=now) | Q(dispatch_at__isnull=True)
    return Message.objects.filter(unleased(now), turn_came, status=Message.Status.QUEUED)


# `_due` of one message, in SQL as written: every message handed over in-process or by a
# worker is claimed by it, where building it with the ORM cost more than running it.
_TABLE = connection.ops.quote_name(Message._meta.db_table)
_CLAIM = (
    f"UPDATE {_TABLE} SET lease_until = %s, handover_attempts = handover_attempts + 1 "
    "WHERE id = %s AND status = %s AND (lease_until IS NULL OR lease_until <= %s) "
    "AND (dispatch_at IS NULL OR dispatch_at <= %s)"
)
# What the claim answers: whether the recipient has any opt-out in the account. Without
# one (most sends) the hand-over need not read them: one statement fewer per message.
_OPTED_OUT_SOMEWHERE = any_optout_sql(
    f"{_TABLE}.account_id", f"{_TABLE}.{connection.ops.quote_name('to')}"
)
# A claim that commits on its own does not wait for the disk (PostgreSQL's
# synchronous_commit, turned off for its transaction alone, as it writes): nothing
# outside depends on it being durable. A database crash that loses it leaves the
# message Queued and free, taken again as after a dispatcher's death, and no record
# made after the claim can outlive it: the server's log is written in order, and the
# record's commit waits for the disk. The dispatch saves one of its waits for a flush.
_UNFLUSHED = ", set_config('synchronous_commit', 'off', true)"


def _claimed(message_id, now: datetime) -> bool | None:
    """None if the message could not be claimed; else whether its recipient may have
    opted out of something (True where the UPDATE cannot return rows: SQLite < 3.35)."""
    lease = now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
    moment = db_value(Message, "lease_until", now)
    # UPDATE … RETURNING came to SQLite with INSERT's.
    returning = connection.features.can_return_columns_from_insert
    sql = _CLAIM
    if returning:
        sql += f" RETURNING {_OPTED_OUT_SOMEWHERE}"
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            sql += _UNFLUSHED
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                db_value(Message, "lease_until", lease),
                db_value(Message, "id", message_id),
                Message.Status.QUEUED,
                moment,
                moment,
            ],
        )
        if not returning:
            return True if cursor.rowcount == 1 else None
        row = cursor.fetchone()
        return None if row is None else bool(row[0])


def message_dispatch(*, message_id, now: datetime | None = None) -> Wait | None:
    """Hand one message over if its turn has come; Wait when it must be tried again.
    Safe to run twice, or in two workers at once: only one claim can win."""
    message = Message.objects.select_related("connection", "pool").filter(pk=message_id).first()
    if message is None:
        return None
    return message_dispatch_loaded(message, now=now)


def message_dispatch_loaded(message: Message, *, now: datetime | None = None) -> Wait | None:
    """`message_dispatch` of a message already read."""
    now = now or timezone.now()
    if message.status != Message.Status.QUEUED:
        return None
    if message.connection and not gateway_for(message.connection).sends_inline:
        return None  # its connection's run_smpp process takes it
    if message.dispatch_at and message.dispatch_at > now:
        return Wait((message.dispatch_at - now).total_seconds())
    claim = message_claim(message=message, now=now)
    if not isinstance(claim, Claim):
        return claim
    outcome = hand_over(claim)
    return dispatch_record(claim=claim, outcome=outcome)


def message_claim(*, message: Message, now: datetime) -> Claim | Wait | None:
    """Take the message for hand-over: None if it is not Queued and free, or ended
    here (expired, opted out); Wait if its connection's cap says not yet."""
    opted_out_somewhere = _claimed(message.pk, now)
    if opted_out_somewhere is None:
        return None
    if message.expires_at and message.expires_at <= now:
        message_report_status(
            message=message, status=Message.Status.FAILED, detailed_status=EXPIRED
        )
        return None
    if (
        opted_out_somewhere
        and message.rule != AUTO_REPLY_RULE
        and recipient_stopped(
            account_id=message.account_id,
            recipient=message.to,
            number=message.sender,
            pool=message.pool,
        )
    ):
        # A STOP that arrived while the message waited: it is never sent (SPEC §4).
        message_report_status(
            message=message,
            status=Message.Status.UNDELIVERED,
            detailed_status=Message.OPTED_OUT,
        )
        return None
    outbound = outbound_of(message)
    if message.connection_id:
        wait = connection_take_slot(
            connection_id=message.connection_id,
            parts=len(outbound.segments),
            now=now.timestamp(),
        )
        if wait is not None:
            message_release(message=message)
            return Wait(wait)
    return Claim(message, outbound, gateway_for(message.connection))


def outbound_of(message: Message) -> Outbound:
    """The message as its adapter sends it: the parts as bodyAnalysis counted them."""
    unicode, segments = encoding.segment(message.body)
    status_url = message.connection.webhook_urls()["status"] if message.connection else ""
    return Outbound(
        tracking_id=str(message.pk),
        sender=message.sender,
        to=message.to,
        body=message.body,
        segments=tuple(segments),
        unicode=unicode,
        media_urls=tuple(message.media_urls),
        status_url=status_url,
    )


def hand_over(claim: Claim) -> Outcome:
    """The carrier call, with no transaction open; an adapter's crash is no refusal."""
    try:
        return claim.gateway.send(claim.outbound)
    except Exception as exc:  # the message must not be lost to an adapter's bug
        logger.exception("hand-over of %s failed", claim.message.pk)
        return Unavailable(f"{type(exc).__name__}: {exc}")


def dispatch_record(*, claim: Claim, outcome: Outcome) -> Wait | None:
    """Apply what the carrier answered; Wait when the message must be tried again."""
    message = claim.message
    if isinstance(outcome, Accepted):
        message_accepted(message=message, accepted=outcome)
        return None
    if isinstance(outcome, Refused):
        message_refused(message=message, refused=outcome)
        return None
    if isinstance(outcome, Throttled):
        seconds = sender_slow_down(message=message, throttled=outcome)
        message_release(message=message)
        return Wait(seconds)
    connection_state_record(
        connection_id=message.connection_id, result=CheckResult("down", outcome.reason)
    )
    seconds = backoff(message.handover_attempts)
    message_release(message=message, retry_at=timezone.now() + timedelta(seconds=seconds))
    return Wait(seconds)


def message_accepted(*, message: Message, accepted: Accepted) -> None:
    """Sent, with the provider's ids (one per part), and what it already reported, in
    one transaction: no crash can leave the simulator's message Sent without its report.
    The message is the dispatcher's (its claim), so it is written without being read
    first, unless a report moved it meanwhile."""
    try:
        _accepted_record(message=message, accepted=accepted, held=True)
    except StatusMoved:
        _accepted_record(message=message, accepted=accepted, held=False)
    connection_state_record(
        connection_id=message.connection_id, result=CheckResult("up", "Accepted a message.")
    )


@transaction.atomic
def _accepted_record(*, message: Message, accepted: Accepted, held: bool) -> None:
    """A report on a part just made is applied as the row is written, not looked up."""
    provider_id = accepted.provider_ids[0] if accepted.provider_ids else ""
    parts = {
        pid: MessagePart(
            message=message, index=i, connection_id=message.connection_id, provider_id=pid
        )
        for i, pid in enumerate(accepted.provider_ids)
    }
    steps, later = [Step(Message.Status.SENT)], []
    for receipt in accepted.receipts:
        part = parts.get(receipt.provider_id)
        if part is None:
            later.append(receipt)
            continue
        if receipt.recipient_stopped:
            carrier_optout_record(message=message)
        if part_receipt(part, receipt):
            status = message_status_of({p.status for p in parts.values()}, receipt.status)
            if status is not None:
                steps.append(Step(status, receipt.detailed_status, receipt.error_code))
    message_report_steps(
        message=message,
        steps=steps,
        also={"provider_message_id": provider_id, "lease_until": None},
        held=held,
        rows=tuple(parts.values()),
    )
    for receipt in later:
        receipt_apply(connection_id=message.connection_id, receipt=receipt)


def message_refused(*, message: Message, refused: Refused) -> None:
    """Failed with the provider's code; a carrier that says the person stopped records
    their opt-out, so the pool stops routing to them (SPEC §11)."""
    with transaction.atomic():
        message_report_status(
            message=message,
            status=Message.Status.FAILED,
            detailed_status=refused.reason,
            error_code=refused.code,
        )
        if refused.recipient_stopped:
            carrier_optout_record(message=message)


def sender_slow_down(*, message: Message, throttled: Throttled) -> float:
    """The carrier said "too fast": the message's number and connection wait, and the
    number's waiting messages move back with it, keeping their order. The seconds."""
    seconds = throttled.retry_after or backoff(message.handover_attempts)
    now = timezone.now()
    turn = message.dispatch_at or now
    with transaction.atomic():
        if message.number_id:
            number_push_back(number_id=message.number_id, now=now.timestamp(), seconds=seconds)
            Message.objects.filter(
                number_id=message.number_id,
                status=Message.Status.QUEUED,
                dispatch_at__gt=turn,
            ).exclude(pk=message.pk).update(
                dispatch_at=F("dispatch_at") + timedelta(seconds=seconds)
            )
        if message.connection_id:
            connection_push_back(
                connection_id=message.connection_id, now=now.timestamp(), seconds=seconds
            )
        retry_at = max(turn, now) + timedelta(seconds=seconds)
        Message.objects.filter(pk=message.pk).update(dispatch_at=retry_at)
        message.dispatch_at = retry_at
    return seconds


def message_release(*, message: Message, retry_at: datetime | None = None) -> None:
    """Give the claim back: the message waits again, for anyone to take."""
    changes = {"lease_until": None}
    if retry_at is not None:
        changes["dispatch_at"] = retry_at
        message.dispatch_at = retry_at
    Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED).update(**changes)


def backoff(attempts: int) -> float:
    return min(2.0 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


def messages_dispatch_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """The sweep behind the per-message tasks: every message whose turn has come and
    that nobody holds (its task lost, its dispatcher dead past the lease) is enqueued
    again. SMPP connections' messages are their run_smpp process's."""
    now = now or timezone.now()
    # With a broker, a message's own task is due at its turn: the sweep leaves it a
    # moment, so that it does not enqueue every paced message twice.
    grace = 0 if settings.CELERY_TASK_ALWAYS_EAGER else SWEEP_GRACE_SECONDS
    due = (
        _due(now - timedelta(seconds=grace))
        .exclude(connection__kind=Connection.Kind.SMPP)
        .order_by("dispatch_at")
        .values_list("pk", flat=True)[:limit]
    )
    due = list(due)
    for message_id in due:
        queue.enqueue(queue.DISPATCH, str(message_id))
    return len(due)


def messages_claim_for_connection(
    *, connection_id, limit: int, now: datetime | None = None
) -> list[Claim]:
    """Up to `limit` of the connection's messages whose turn has come, claimed, in turn
    order: how a run_smpp process takes its work."""
    now = now or timezone.now()
    candidates = (
        _due(now)
        .filter(connection_id=connection_id)
        .select_related("connection", "pool")
        .order_by("dispatch_at", "created_at")[:limit]
    )
    claims = []
    for message in candidates:
        claim = message_claim(message=message, now=now)
        if isinstance(claim, Wait):
            break  # the connection's cap: nothing more this round
        if claim is not None:
            claims.append(claim)
    return claims


def claims_renew(*, message_ids, now: datetime | None = None) -> None:
    """Keep holding messages still being handed over (a multi-part submit waiting out a
    throttle, or a bind coming back)."""
    now = now or timezone.now()
    Message.objects.filter(pk__in=list(message_ids), status=Message.Status.QUEUED).update(
        lease_until=now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
    )
