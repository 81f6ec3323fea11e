"""The virtual phone's reads: a recipient's conversation as they see it, and which of the
account's numbers and pools stay inside the simulator (SPEC §11), so that trying a pool
from the console never reaches a real carrier."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import Q, QuerySet

from carriers.gateways import gateway_for
from carriers.gateways.simulator import SimulatorGateway
from carriers.models import Connection
from messaging.models import AUTO_REPLY_RULE, Message
from optout.models import InboundMessage
from pools.models import Pool
from virtual_numbers.models import Number

THREAD_LIMIT = 200  # entries of a conversation on the page: the most recent ones
RECENT_RECIPIENTS = 20
# The recent recipients are read from the account's latest messages, along the index
# on (account, -created_at): a GROUP BY over every message the account sent would not.
RECENT_SCAN = 500


@dataclass(frozen=True)
class ThreadEntry:
    """One message of the conversation: sent to the recipient, or written by them."""

    at: datetime
    body: str
    by_recipient: bool
    number: str  # the service's side: the sender, or the number written to
    message_id: UUID | None = None
    number_id: UUID | None = None  # sent: the pool number that sent it
    pool_id: UUID | None = None
    pool: str = ""
    status: str = ""
    detailed_status: str = ""
    rule: str = ""
    explanation: tuple[str, ...] = ()
    action: str = ""  # what a written message triggered, as the keyword list names it
    answered: bool = False  # written: an auto-reply went back

    @property
    def auto_reply(self) -> bool:
        return self.rule == AUTO_REPLY_RULE


@dataclass(frozen=True)
class Thread:
    entries: list[ThreadEntry]
    earlier: bool  # older entries exist than those shown


@dataclass(frozen=True)
class PhoneNumber:
    """A number of the account the recipient may write to, and whether they may here."""

    number: Number
    wrote: bool  # it sent the recipient a message
    carrier: str  # the real carrier its messages leave through; "": the simulator


def phone_thread(*, account_id, recipient: str, limit: int = THREAD_LIMIT) -> Thread:
    """What the recipient's phone shows, oldest first: the account's messages to them and
    what they wrote to its numbers, interleaved by time."""
    sent = (
        Message.objects.filter(account_id=account_id, to=recipient)
        .select_related("pool")
        .order_by("-created_at", "-pk")[: limit + 1]
    )
    wrote = InboundMessage.objects.filter(account_id=account_id, sender=recipient).order_by(
        "-received_at", "-pk"
    )[: limit + 1]
    # On a tie a written message comes first: its auto-reply is recorded after it.
    entries = sorted(
        [*(_written(inbound) for inbound in wrote), *(_sent(message) for message in sent)],
        key=lambda entry: (entry.at, not entry.by_recipient),
    )
    return Thread(entries=entries[-limit:], earlier=len(entries) > limit)


def _sent(message: Message) -> ThreadEntry:
    return ThreadEntry(
        at=message.created_at,
        body=message.body,
        by_recipient=False,
        number=message.sender,
        message_id=message.pk,
        number_id=message.number_id,
        pool_id=message.pool_id,
        pool=str(message.pool) if message.pool else "",
        status=message.status,
        detailed_status=message.detailed_status,
        rule=message.rule,
        explanation=tuple(message.explanation.splitlines()),
    )


def _written(inbound: InboundMessage) -> ThreadEntry:
    return ThreadEntry(
        at=inbound.received_at,
        body=inbound.body,
        by_recipient=True,
        number=inbound.to,
        action=inbound.get_action_display() if inbound.action else "none",
        answered=inbound.auto_reply_id is not None,
    )


def recent_recipients(*, account_id, limit: int = RECENT_RECIPIENTS) -> list[str]:
    """The account's latest recipients, the most recent first."""
    latest = (
        Message.objects.filter(account_id=account_id)
        .order_by("-created_at")
        .values_list("to", flat=True)[:RECENT_SCAN]
    )
    return list(dict.fromkeys(latest))[:limit]


def _default_connection(*, account_id) -> Connection | None:
    """Where the account's numbers that name no connection send; None: SMS_GATEWAY_BACKEND."""
    return Connection.objects.filter(account_id=account_id, is_default=True).first()


def _simulated(connection: Connection | None) -> bool:
    # As dispatch finds the adapter: a number naming no connection, of an account with no
    # default, goes to SMS_GATEWAY_BACKEND, the simulator unless configured otherwise.
    return isinstance(gateway_for(connection), SimulatorGateway)


def _carrier(connection: Connection | None) -> str:
    """What a number's messages leave through when that is not the simulator; "" if it is."""
    if _simulated(connection):
        return ""
    return str(connection) if connection else "SMS_GATEWAY_BACKEND"


def number_carrier(number: Number) -> str:
    """What a reply from `number` leaves through when that is not the simulator (its
    connection, else the account's default, else SMS_GATEWAY_BACKEND); "" when it is."""
    return _carrier(number.connection or _default_connection(account_id=number.account_id))


def _on_carrier(default: Connection | None) -> Q:
    """The numbers whose messages leave through a real carrier, as a filter."""
    on_carrier = Q(connection__isnull=False) & ~Q(connection__kind=Connection.Kind.SIMULATOR)
    if not _simulated(default):
        on_carrier |= Q(connection__isnull=True)
    return on_carrier


def phone_numbers(*, account_id, recipient: str) -> list[PhoneNumber]:
    """The account's numbers, those that sent the recipient a message first."""
    default = _default_connection(account_id=account_id)
    wrote = set(
        Message.objects.filter(account_id=account_id, to=recipient, number__isnull=False)
        .values_list("number_id", flat=True)
        .distinct()
    )
    numbers = Number.objects.filter(account_id=account_id).select_related("connection")
    carriers = {}  # by connection: the account's numbers share a few
    choices = []
    for number in numbers:
        connection = number.connection or default
        if connection not in carriers:
            carriers[connection] = _carrier(connection)
        choices.append(PhoneNumber(number, wrote=number.pk in wrote, carrier=carriers[connection]))
    return sorted(choices, key=lambda choice: (not choice.wrote, choice.number.number))


def simulated_pools(*, account_id) -> QuerySet[Pool]:
    """The account's pools whose every message leaves through the simulator: none of their
    numbers is on a real carrier's connection, nor, when the account's default connection
    is one, do they fall back to an alphanumeric sender (which leaves through the default)."""
    default = _default_connection(account_id=account_id)
    on_carrier = Number.objects.filter(_on_carrier(default), account_id=account_id)
    pools = Pool.objects.filter(account_id=account_id).exclude(pool_numbers__number__in=on_carrier)
    if not _simulated(default):
        pools = pools.filter(alphanumeric_sender_id="", alphanumeric_sender_ids={})
    return pools.order_by("name")
