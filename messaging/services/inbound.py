"""What happens when a person writes to one of the service's numbers (SPEC §3)."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from carriers.gateways.base import Inbound
from messaging.models import Message, Notification
from messaging.phone import number_carrier
from messaging.services.notifications import notification_record
from messaging.services.sending import message_send_reply
from optout.models import InboundMessage, Keyword, UnroutedInbound
from optout.selectors import numbers_in_scope, recipient_stopped
from optout.services import ACCOUNT_WIDE, keyword_match, optout_record, optout_remove
from pools.models import DEFAULT_HELP_REPLY, DEFAULT_OPT_IN_REPLY, DEFAULT_OPT_OUT_REPLY, Pool
from pools.services.selection import mapping_engage
from pools_project.errors import ServiceError
from virtual_numbers.models import Number
from virtual_numbers.phone import parse_e164, parse_short_code

REPLIES = {
    Keyword.Action.OPTOUT: ("opt_out_reply", DEFAULT_OPT_OUT_REPLY),
    Keyword.Action.OPTIN: ("opt_in_reply", DEFAULT_OPT_IN_REPLY),
    Keyword.Action.HELP: ("help_reply", DEFAULT_HELP_REPLY),
}


@dataclass(frozen=True)
class InboundResult:
    action: str | None
    auto_reply: Message | None = None
    duplicate: bool = False
    # Written to no number of the service's (or of the connection's account): recorded
    # as an UnroutedInbound, nothing else done.
    unrouted: bool = False
    forwarded_to: str | None = None  # the pool's inboundSMSCallbackUrl, when it was posted to


def _sender_facts(sender: str):
    try:
        return parse_e164(sender)
    except ServiceError as exc:
        raise ServiceError(
            "VALIDATION_ERROR", exc.message, errors={"from": [exc.message]}
        ) from None


def _our_number(to: str, sender_country: str, account_id) -> Number | None:
    """The number written to: E.164, or a short code of the sender's country; of the
    account whose connection brought the message, when one did."""
    to = (to or "").strip()
    if to.startswith("+"):
        try:
            to = parse_e164(to).number
        except ServiceError:
            return None
        numbers = Number.objects.filter(number=to)
    else:
        numbers = Number.objects.filter(
            number=to, type=Number.Type.SHORTCODE, country=sender_country
        )
    if account_id is not None:
        numbers = numbers.filter(account_id=account_id)
    return numbers.select_related("account", "pool_number__pool").first()


def inbound_receive(
    *,
    message_id: str,
    sender: str,
    to: str,
    body: str,
    received_at: datetime | None = None,
    account_id=None,
    connection_id=None,
) -> InboundResult:
    """Record, act on keywords, reply, keep the conversation on its number, forward.

    A message to a number the service does not know (or, through a connection, that the
    connection's account does not own) is acknowledged all the same, so the carrier does
    not retry, and only recorded as unrouted; a carrier's retry of a message already
    received is processed once.
    """
    facts = _sender_facts(sender)
    number = _our_number(to, facts.country, account_id)
    if number is None:
        _unrouted_record(
            message_id=message_id,
            sender=facts.number,
            to=to,
            body=body,
            received_at=received_at,
            account_id=account_id,
            connection_id=connection_id,
        )
        return InboundResult(action=None, unrouted=True)
    pool_number = getattr(number, "pool_number", None)
    pool = pool_number.pool if pool_number else None
    with transaction.atomic():
        try:
            with transaction.atomic():
                inbound = InboundMessage.objects.create(
                    account=number.account,
                    carrier_message_id=message_id,
                    sender=facts.number,
                    to=number.number,
                    number=number,
                    pool=pool,
                    body=body,
                    received_at=received_at or timezone.now(),
                )
        except IntegrityError:
            # A retry: the first delivery of this message id did all the work.
            first = InboundMessage.objects.select_related("auto_reply").get(
                carrier_message_id=message_id
            )
            return InboundResult(first.action or None, first.auto_reply, duplicate=True)
        keyword = keyword_match(account=number.account, body=body, country=facts.country)
        reply = _act(keyword, inbound, number, pool) if keyword else None
        if pool_number is not None and (keyword is None or keyword.action != Keyword.Action.OPTOUT):
            mapping_engage(pool=pool, recipient=facts.number, pool_number=pool_number)
        inbound.action = keyword.action if keyword else ""
        inbound.auto_reply = reply
        inbound.save(update_fields=["action", "auto_reply"])
        forwarded_to = (pool.inbound_sms_callback_url or None) if pool else None
        if forwarded_to:
            _forward(inbound, pool)
    return InboundResult(inbound.action or None, reply, forwarded_to=forwarded_to)


def _unrouted_record(*, message_id, sender, to, body, received_at, account_id, connection_id):
    # `to` is whatever the carrier wrote (a mistyped number is the point): kept as
    # written, cut to the column. A retry of the same message id is recorded once.
    UnroutedInbound.objects.get_or_create(
        carrier_message_id=message_id,
        defaults={
            "account_id": account_id,
            "connection_id": connection_id,
            "sender": sender,
            "to": (to or "").strip()[: UnroutedInbound._meta.get_field("to").max_length],
            "body": body,
            "received_at": received_at or timezone.now(),
        },
    )


def inbound_event_receive(*, inbound: Inbound, account_id, connection_id) -> InboundResult:
    """An inbound message as a connection's adapter parsed it, for that connection's account."""
    return inbound_receive(
        message_id=inbound.message_id,
        sender=inbound.sender,
        to=inbound.to,
        body=inbound.body,
        received_at=inbound.received_at,
        account_id=account_id,
        connection_id=connection_id,
    )


def inbound_simulate(*, sender: str, to: str, body: str) -> InboundResult:
    """A message as if `sender` had written it to `to` through a carrier, for trying
    keywords and replies without one: the very handler a carrier's webhook calls.

    Refused for a number whose messages leave through a real provider: the auto-reply
    would go, through that provider, to whoever really has `sender`'s number.
    """
    facts = _sender_facts(sender)
    written_to = _written_to(to, facts.country)
    number = _our_number(written_to, facts.country, None)
    if number is not None:
        _refuse_unless_simulated(number, facts.number)
    return inbound_receive(
        message_id=f"simulated-{uuid.uuid4()}", sender=facts.number, to=written_to, body=body
    )


def _written_to(to: str, sender_country: str) -> str:
    """`to` as a carrier would give it: E.164, or a short code of the sender's country."""
    try:
        if (to or "").strip().startswith("+"):
            return parse_e164(to).number
        return parse_short_code(to, sender_country).number
    except ServiceError as exc:
        raise ServiceError("VALIDATION_ERROR", exc.message, errors={"to": [exc.message]}) from None


def _refuse_unless_simulated(number: Number, recipient: str) -> None:
    carrier = number_carrier(number)
    if not carrier:
        return
    raise ServiceError(
        "NOT_SIMULATED",
        f"{number.number} answers through {carrier}, not the simulator: an auto-reply "
        f"would reach {recipient} for real. Only numbers whose messages go through the "
        "simulator can be written to this way; write from a real phone to try this one.",
        status=409,
    )


def inbound_action(*, message_id: str) -> str | None:
    """What the message with this carrier id was taken for, the first time it came."""
    action = (
        InboundMessage.objects.filter(carrier_message_id=message_id)
        .values_list("action", flat=True)
        .first()
    )
    return action or None


def _act(keyword: Keyword, inbound: InboundMessage, number: Number, pool: Pool | None):
    account, recipient = number.account, inbound.sender
    if keyword.action == Keyword.Action.OPTOUT:
        # One confirmation only (FCC): a repeated STOP is not answered again, nor a STOP
        # to a number the person had already stopped (with STOPALL, or scope `pool`).
        already = not keyword.account_wide and _opted_out(recipient, number, pool)
        stopped = ACCOUNT_WIDE if keyword.account_wide else number.number
        new = optout_record(
            account=account, recipient=recipient, number=stopped, keyword=keyword.word
        )
        return _reply(keyword, inbound, number, pool) if new and not already else None
    if keyword.action == Keyword.Action.OPTIN:
        optout_remove(
            account=account,
            recipient=recipient,
            numbers=numbers_in_scope(number=number.number, pool=pool) | {ACCOUNT_WIDE},
            keyword=keyword.word,
        )
        return _reply(keyword, inbound, number, pool)
    if _opted_out(recipient, number, pool):
        return None  # HELP is never answered to a person who said STOP
    return _reply(keyword, inbound, number, pool)


def _opted_out(recipient: str, number: Number, pool: Pool | None) -> bool:
    return recipient_stopped(
        account_id=number.account_id, recipient=recipient, number=number.number, pool=pool
    )


def _reply(keyword: Keyword, inbound: InboundMessage, number: Number, pool: Pool | None):
    field, default = REPLIES[keyword.action]
    return message_send_reply(
        pool=pool,
        number=number,
        to=inbound.sender,
        body=getattr(pool, field) if pool else default,
        keyword=keyword.word,
    )


def _forward(inbound: InboundMessage, pool: Pool) -> None:
    notification_record(
        account=inbound.account,
        kind=Notification.Kind.INBOUND,
        url=pool.inbound_sms_callback_url,
        payload={
            "messageId": inbound.carrier_message_id,
            "from": inbound.sender,
            "to": inbound.to,
            "body": inbound.body,
            "receivedAt": inbound.received_at.isoformat(),
            "poolId": str(pool.pk),
            "keywordAction": inbound.action or None,
            "autoReplySent": inbound.auto_reply_id is not None,
            "autoReplyTrackingId": str(inbound.auto_reply_id) if inbound.auto_reply_id else None,
        },
    )
