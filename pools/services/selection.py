"""The selection service: the one place that picks a sender and writes sticky mappings.

It loads what `pools.core.decide` needs in a fixed number of queries, and for a
send applies the decision in the caller's transaction: the mapping, the counters,
`last_used_at`. The send and preview endpoints, the admin, the commands and the
inbound handler all come through here.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db import transaction
from django.db.models import F, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from carriers.models import Connection
from optout.selectors import recipient_optouts
from pools import decision as core
from pools.models import Pool, PoolNumber, StickyMapping
from pools_project.errors import ServiceError
from virtual_numbers.pacing import number_record_use
from virtual_numbers.phone import parse_e164

REFUSAL_STATUS = {"INVALID_RECIPIENT": 400}


@dataclass(frozen=True)
class Selection:
    """A decision and the recipient it was taken for, in E.164; for a send, the turn
    (epoch seconds) its number's rate gives it."""

    recipient: str
    decision: core.Decision
    slot: float | None = None

    @property
    def number_id(self):
        decision = self.decision
        return decision.number.number_id if decision.number and not decision.opted_out else None

    @property
    def connection_id(self):
        """The chosen number's connection (None: the built-in simulator, or no number)."""
        return self.decision.number.connection_id if self.number_id else None


def recipient_facts(to: str) -> core.Recipient:
    try:
        facts = parse_e164(to)
    except ServiceError as exc:
        # A refusal of its own code, not a validation error: `errors` is for those only (SPEC §6).
        raise ServiceError("INVALID_RECIPIENT", exc.message) from None
    return core.Recipient(
        number=facts.number,
        country=facts.country,
        area_code=facts.area_code,
        location=facts.location,
        overlay=facts.overlay,
    )


def pool_settings(pool: Pool) -> core.Settings:
    return core.Settings(
        sticky=pool.sticky,
        sticky_ttl_days=pool.sticky_ttl_days,
        geomatch=pool.geomatch,
        default_country=pool.default_country,
        priority_countries=tuple(pool.priority_countries),
        allowed_countries=tuple(pool.allowed_countries),
        alphanumeric_sender_id=pool.alphanumeric_sender_id,
        alphanumeric_sender_ids=dict(pool.alphanumeric_sender_ids),
        fallback=pool.fallback,
        weights=dict(pool.weights),
        skip_unhealthy=pool.skip_unhealthy,
        opt_out_scope=pool.opt_out_scope,
        overrides=tuple(pool.overrides),
        max_queue_seconds=pool.max_queue_seconds,
    )


# Candidate field → PoolNumber column: what the core reads of a number, as plain rows.
CANDIDATE_COLUMNS = {
    "id": "id",
    "number_id": "number_id",
    "mapping_count": "mapping_count",
    "assignment_count": "assignment_count",
    "number": "number__number",
    "type": "number__type",
    "country": "number__country",
    "area_code": "number__area_code",
    "location": "number__location",
    "sms": "number__sms_capable",
    "mms": "number__mms_capable",
    "last_used_at": "number__last_used_at",
    "next_slot_at": "number__next_slot_at",
}


def candidate_rows(queryset, account_id, path: str = "", *extra: str):
    """(Candidate, *extra values) per row of `queryset`, the account's pool numbers at
    `path`: one query, plain rows, no model instances — cheap in a pool of thousands."""
    number = f"{path}number__"
    rows = queryset.annotate(
        healthy=Coalesce(f"{number}health_override", f"{number}computed_healthy"),
        connection=Coalesce(f"{number}connection_id", default_connection(account_id, "id")),
        connection_status=Coalesce(
            f"{number}connection__state_status",
            default_connection(account_id, "state_status"),
            Value(Connection.Status.UP),  # the built-in simulator
        ),
    ).values_list(
        *(path + column for column in CANDIDATE_COLUMNS.values()),
        "healthy",
        "connection",
        "connection_status",
        *extra,
    )
    names = [*CANDIDATE_COLUMNS, "healthy", "connection_id", "connection_status"]
    return [
        (
            core.Candidate(**dict(zip(names, row[: len(names)], strict=True))),
            *row[len(names) :],
        )
        for row in rows
    ]


def default_connection(account_id, column: str) -> Subquery:
    """A column of the account's default connection: the one of its numbers that name none.
    Not correlated with the rows: the database reads it once per query, not once per number."""
    return Subquery(
        Connection.objects.filter(account_id=account_id, is_default=True).values(column)[:1]
    )


def pool_candidates(pool: Pool) -> list[core.Candidate]:
    """Every number of the pool as the core sees it."""
    return [row[0] for row in candidate_rows(PoolNumber.objects.filter(pool=pool), pool.account_id)]


class MappingRow(NamedTuple):
    pk: int
    pool_number_id: int
    last_used_at: datetime


def _mapping(pool, recipient) -> tuple[core.Mapping | None, MappingRow | None]:
    """The recipient's mapping in the pool, with its number, in the same single query."""
    rows = candidate_rows(
        StickyMapping.objects.filter(pool=pool, recipient=recipient),
        pool.account_id,
        "pool_number__",
        "pk",
        "pool_number_id",
        "last_used_at",
    )
    if not rows:
        return None, None
    mapped, *row = rows[0]
    row = MappingRow(*row)
    return core.Mapping(mapped, row.last_used_at), row


class _ChoiceNeedsLock(Exception):
    """Raised by the candidate loader on the unlocked first try: this is not a sticky hit."""


def _decide(pool, request, *, locked: bool):
    mapping, mapping_row = _mapping(pool, request.recipient.number)

    def candidates():
        if not locked:
            raise _ChoiceNeedsLock
        return pool_candidates(pool)

    try:
        return core.decide(pool_settings(pool), request, mapping, candidates), mapping_row
    except core.Refusal as refusal:
        raise ServiceError(
            refusal.code,
            refusal.message,
            status=REFUSAL_STATUS.get(refusal.code, 422),
            details={"explanation": "\n".join(refusal.explanation)},
        ) from None


def _request(pool, to, channel, strategy, now) -> core.Request:
    recipient = recipient_facts(to)
    opted_out_numbers, opted_out_everywhere = recipient_optouts(
        account_id=pool.account_id, recipient=recipient.number
    )
    return core.Request(
        recipient=recipient,
        now=now or timezone.now(),
        channel=channel,
        strategy=strategy,
        opted_out_numbers=opted_out_numbers,
        opted_out_everywhere=opted_out_everywhere,
    )


def sender_preview(
    *, pool: Pool, to: str, channel: str = "sms", strategy: str = "Numeric", now=None
) -> Selection:
    """The decision a send would take now. Writes nothing."""
    request = _request(pool, to, channel, strategy, now)
    decision, _ = _decide(pool, request, locked=True)
    return Selection(request.recipient.number, decision)


def sender_select(
    *,
    pool: Pool,
    to: str,
    channel: str = "sms",
    strategy: str = "Numeric",
    parts: int = 1,
    now=None,
) -> Selection:
    """Decide and record: the mapping, the number's counters and the turn its `parts`
    take at the number's rate. Runs in the caller's transaction."""
    request = _request(pool, to, channel, strategy, now)
    with transaction.atomic():
        try:
            decision, mapping_row = _decide(pool, request, locked=False)
            if not decision.reuse_mapping or _touch(mapping_row, request.now):
                return _record_use(request, decision, parts)
        except _ChoiceNeedsLock:
            pass
        # Choosing among numbers reads counters that parallel sends change, and two
        # first messages to one recipient must not both create a mapping: new
        # assignments in a pool take its row lock, then decide on what is committed,
        # settings included (turning sticky off since the caller loaded it clears them).
        # NO KEY: a plain FOR UPDATE would also block the foreign-key checks of every
        # insert that points at the pool (a sticky hit's message), and deadlock with it.
        pool = Pool.objects.select_for_update(no_key=True).filter(pk=pool.pk).first()
        if pool is None:
            raise ServiceError("POOL_NOT_FOUND", "The pool was deleted meanwhile.", status=404)
        decision, mapping_row = _decide(pool, request, locked=True)
        _apply(pool, request, decision, mapping_row)
        return _record_use(request, decision, parts)


def _touch(mapping_row: MappingRow | StickyMapping, now: datetime) -> bool:
    """Slide the mapping's expiry; False if it was deleted meanwhile."""
    return StickyMapping.objects.filter(pk=mapping_row.pk).update(last_used_at=now) == 1


def _apply(pool, request, decision: core.Decision, mapping_row) -> None:
    if decision.drop_mapping and mapping_row is not None:
        _mapping_delete(mapping_row)
    if decision.reuse_mapping:
        _touch(mapping_row, request.now)
    if decision.create_mapping:
        StickyMapping.objects.create(
            pool=pool,
            pool_number_id=decision.number.id,
            recipient=request.recipient.number,
            last_used_at=request.now,
        )
    if decision.new_assignment:
        PoolNumber.objects.filter(pk=decision.number.id).update(
            assignment_count=F("assignment_count") + 1,
            mapping_count=F("mapping_count") + int(decision.create_mapping),
        )


def _mapping_delete(mapping_row: MappingRow | StickyMapping) -> None:
    if StickyMapping.objects.filter(pk=mapping_row.pk).delete()[0]:
        PoolNumber.objects.filter(pk=mapping_row.pool_number_id).update(
            mapping_count=F("mapping_count") - 1
        )


def _record_use(request: core.Request, decision: core.Decision, parts: int) -> Selection:
    chosen = Selection(request.recipient.number, decision)
    if chosen.number_id is None:
        return chosen
    slot = number_record_use(number_id=chosen.number_id, used_at=request.now, parts=parts)
    return Selection(chosen.recipient, decision, slot)


def mappings_purge_expired(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Delete the mappings unused for their pool's TTL, a batch per transaction."""
    now = now or timezone.now()
    purged = 0
    ttls = (
        Pool.objects.filter(sticky_ttl_days__gt=0)
        .order_by()
        .values_list("sticky_ttl_days", flat=True)
        .distinct()
    )
    for ttl in ttls:
        cutoff = now - timedelta(days=ttl)
        while batch := _purge_batch(ttl, cutoff, batch_size):
            purged += batch
    return purged


@transaction.atomic
def _purge_batch(ttl: int, cutoff: datetime, batch_size: int) -> int:
    # Locked, so a send that is sliding one of these mappings' expiry right now
    # either commits first (and the row no longer matches) or waits for the purge.
    expired = list(
        StickyMapping.objects.filter(pool__sticky_ttl_days=ttl, last_used_at__lte=cutoff)
        .select_for_update(of=("self",))
        .values_list("pk", "pool_number_id")[:batch_size]
    )
    if not expired:
        return 0
    StickyMapping.objects.filter(pk__in=[pk for pk, _ in expired]).delete()
    for pool_number_id, count in Counter(pn for _, pn in expired).items():
        PoolNumber.objects.filter(pk=pool_number_id).update(
            mapping_count=F("mapping_count") - count
        )
    return len(expired)


@transaction.atomic
def mapping_engage(*, pool: Pool, recipient: str, pool_number: PoolNumber, now=None) -> None:
    """A person wrote to a pool number: in a sticky pool, that number becomes (or stays)
    their sender (Vonage: once a conversation is engaged, it stays on one number)."""
    # The pool lock, as for any new assignment: a send choosing for this person
    # at the same moment must see this mapping, or be seen by it.
    pool = Pool.objects.select_for_update(no_key=True).filter(pk=pool.pk).first()
    if (
        pool is None
        or not pool_settings(pool).for_destination(recipient_facts(recipient).country, "sms").sticky
    ):
        return
    now = now or timezone.now()
    mapping = StickyMapping.objects.filter(pool=pool, recipient=recipient).first()
    if mapping is not None and mapping.pool_number_id == pool_number.pk:
        _touch(mapping, now)
        return
    if mapping is not None:
        _mapping_delete(mapping)
    StickyMapping.objects.create(
        pool=pool, pool_number=pool_number, recipient=recipient, last_used_at=now
    )
    PoolNumber.objects.filter(pk=pool_number.pk).update(mapping_count=F("mapping_count") + 1)
