"""The selection service: the one place that picks a sender and writes sticky mappings.

It answers what `pools.decision.decide` asks in a fixed number of statements, whatever
the size of the pool or of the mappings table — the choice among the numbers is made in
SQL, on the location tier's numbers only — and for a send applies the decision in the
caller's transaction: the mapping, the counters, `last_used_at`. The send and preview
endpoints, the admin, the commands and the inbound handler all come through here.

What is serialised, and by what:
- a send reads its pool FOR SHARE: sends run side by side, and a change of the pool's
  settings waits for the sends under way (and they for it);
- two first messages to one recipient: the mapping's unique index — the second insert
  waits for the first to commit, finds its mapping, and uses it;
- two new recipients choosing at once: each locks the number it takes, and the other
  skips it (SKIP LOCKED) for the next best, so neither waits for the other;
- two new recipients for a number's last place under its daily cap: the number's row —
  the statement that records the use waits for the other's and checks the cap again;
  the send that finds no place left raises `SelectionRaced`, and its caller rolls its
  transaction back and sends again (no savepoint per send).
"""

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from carriers.models import Connection
from optout.models import OptOut
from optout.selectors import of_pool_sql
from pools import decision as core
from pools.alphanumeric import accepts_alphanumeric
from pools.choices import Channel, Strategy
from pools.models import Pool, PoolNumber, StickyMapping
from pools.selectors import pool_not_found
from pools_project.db import db_value, in_list, model_from_row, selected
from pools_project.errors import ServiceError
from virtual_numbers import capacity
from virtual_numbers.choices import NumberState, NumberType
from virtual_numbers.models import Number
from virtual_numbers.pacing import number_record_use
from virtual_numbers.phone import parse_e164


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
        accepts_alphanumeric=accepts_alphanumeric(facts.country),
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


class DefaultConnection(NamedTuple):
    """The account's default connection: where its numbers that name none send."""

    id: object = None  # None: the built-in simulator
    status: str = Connection.Status.UP


# The send path's statements are written in SQL: they run on every send, and the ORM's
# building of them cost several times their execution. A number as the core reads it:
_CANDIDATE = (
    "pn.id, pn.number_id, pn.mapping_count, pn.assignment_count, n.number, n.type, "
    "n.country, n.area_code, n.location, n.sms_capable, n.mms_capable, n.last_used_at, "
    "n.next_slot_at, COALESCE(n.health_override, n.computed_healthy), n.connection_id, "
    "c.state_status, n.state, n.daily_new_recipients, n.new_recipients_today, "
    "n.new_recipients_on"
)
_NUMBERS = (
    f"{PoolNumber._meta.db_table} pn JOIN {Number._meta.db_table} n ON n.id = pn.number_id "
    f"LEFT JOIN {Connection._meta.db_table} c ON c.id = n.connection_id"
)


def _candidate(row, default: DefaultConnection) -> core.Candidate:
    (pk, number_id, mapping_count, assignment_count, number, number_type, country, area_code,
     location, sms, mms, last_used_at, next_slot_at, healthy, connection_id, status, state,
     daily_cap, new_recipients, new_recipients_on) = row  # fmt: skip
    return core.Candidate(
        id=pk,
        number=number,
        type=number_type,
        country=country,
        area_code=area_code,
        location=location,
        sms=bool(sms),
        mms=bool(mms),
        healthy=bool(healthy),
        mapping_count=mapping_count,
        assignment_count=assignment_count,
        last_used_at=_datetime(last_used_at),
        number_id=_uuid(number_id),
        next_slot_at=next_slot_at,
        connection_id=_uuid(connection_id) or default.id,
        connection_status=status or default.status,
        cordoned=state != NumberState.ACTIVE,
        daily_cap=daily_cap,
        new_recipients=new_recipients,
        new_recipients_on=_date(new_recipients_on),
    )


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class _TierChanged(Exception):
    """Between two statements of one choice, another send's commit changed the tier
    (it took a number's last place under its daily cap, or a number was cordoned): the
    choice starts again on what is committed now."""


class SqlPoolNumbers:
    """The pool's numbers as the core asks about them, answered in SQL.

    Each question is one statement over the numbers of one location tier (the indexes on
    the numbers' area code and region find them); only a pool without geomatch, or a
    fallback to any number, has the whole pool as its tier. With `claim`, the best
    number is locked for this send, and numbers other sends have locked are skipped.
    """

    def __init__(self, loaded: "PoolForSend", *, claim: bool):
        self.pool = loaded.pool
        self.default = loaded.default_connection
        self.opted_out_pool_numbers = loaded.opted_out_pool_numbers
        self.claim = claim
        self.pool_id = db_value(PoolNumber, "pool", self.pool.pk)

    def among(self, numbers):
        return numbers & self.opted_out_pool_numbers

    def first_tier(self, tiers, eligibility, busy_after):
        index, held = self._first_tiers(tiers, eligibility) if len(tiers) > 1 else (0, 0)
        if held is None:
            return None
        shown = held if index is None else index
        counts, assigned, left_out = Counter(), Counter(), Counter()
        rows = self._grouped(tiers[shown], eligibility, busy_after)
        for number_type, down, over, healthy, cordoned, at_cap, count, assigned_sum in rows:
            reason = eligibility.reason(
                healthy=bool(healthy), cordoned=bool(cordoned), at_cap=bool(at_cap)
            )
            if reason:
                left_out[reason] += count
                continue
            key = (number_type, bool(down), bool(over))
            counts[key] += count
            assigned[key] += assigned_sum or 0
        if not counts and not (left_out[core.CORDONED] or left_out[core.AT_CAP]):
            return None  # the only tier (not probed), and no number in it even capacity aside
        return core.TierFacts(
            shown,
            tuple(core.Group(t, n, assigned[t, d, o], d, o) for (t, d, o), n in counts.items()),
            left_out[core.UNHEALTHY],
            left_out[core.CORDONED],
            left_out[core.AT_CAP],
            passed=held if index is not None and held < index else None,
        )

    def _first_tiers(self, tiers, eligibility) -> tuple[int | None, int | None]:
        """One statement of index probes, tier by tier, stopping at the first that has
        an eligible number: no tier is counted to find out whether it is empty. Probed
        again capacity aside (which tier capacity alone passes over) only when the first
        tier has no eligible number: if it has, it is also the first capacity aside."""
        (eligible, eligible_params), (held, held_params) = (
            self._probes(tiers, probed) for probed in (eligibility, eligibility.ignoring_capacity())
        )
        return _rows(
            f"SELECT e, CASE WHEN e = 0 THEN 0 ELSE {held} END FROM (SELECT {eligible} AS e) t",
            [*held_params, *eligible_params],  # in the order they appear
        )[0]

    def _probes(self, tiers, eligibility) -> tuple[str, list]:
        probes, params = [], []
        for i, tier in enumerate(tiers):
            where, where_params = self._where(eligibility, tier)
            probes.append(f"(SELECT {i} FROM {_NUMBERS} WHERE {where} LIMIT 1)")
            params += where_params
        return f"COALESCE({', '.join(probes)})", params

    def _grouped(self, tier, eligibility, busy_after):
        """The tier's numbers grouped by what the choice reads; those health or capacity
        leave out too, to say how many."""
        everyone = core.Eligibility(eligibility.channel, eligibility.country)
        where, params = self._where(everyone, tier)
        over, over_params = (
            ("1 = 0", []) if busy_after is None else ("n.next_slot_at > %s", [busy_after])
        )
        active, active_params = capacity.active("n")
        # Asked without a day, `Eligibility.reason` reads no capacity: any day fills the column.
        under_cap, cap_params = capacity.under_daily_cap("n", eligibility.new_on or date.min)
        return _rows(
            "SELECT n.type, COALESCE(c.state_status, %s) = %s, "
            f"{over}, COALESCE(n.health_override, n.computed_healthy), "
            f"NOT ({active}), NOT {under_cap}, "
            f"COUNT(*), SUM(pn.assignment_count) FROM {_NUMBERS} WHERE {where} "
            "GROUP BY 1, 2, 3, 4, 5, 6",
            [
                self.default.status,
                Connection.Status.DOWN,
                *over_params,
                *active_params,
                *cap_params,
                *params,
            ],
        )

    def members(self, tier, eligibility):
        where, params = self._where(eligibility, tier)
        rows = _rows(f"SELECT {_CANDIDATE} FROM {_NUMBERS} WHERE {where}", params)
        if not rows:
            raise _TierChanged  # asked of a tier that had numbers a statement ago
        return [_candidate(row, self.default) for row in rows]

    def best(self, tier, eligibility, number_type, by_mappings):
        where, params = self._where(eligibility, tier)
        order = "n.last_used_at IS NOT NULL, n.last_used_at, n.number"  # never used first
        sql = (
            f"SELECT {_CANDIDATE} FROM {_NUMBERS} WHERE {where} AND n.type = %s "
            f"ORDER BY {'pn.mapping_count, ' if by_mappings else ''}{order} LIMIT 1"
        )
        params.append(number_type)
        if self.claim and connection.features.has_select_for_update_skip_locked:
            # Another send holding the best number is skipped for the next best: new
            # recipients are served side by side, a number apart (SKIP LOCKED).
            free = _rows(sql + " FOR NO KEY UPDATE OF pn SKIP LOCKED", params)
            if free:
                return _candidate(free[0], self.default)
        rows = _rows(sql, params)
        if not rows:
            raise _TierChanged  # the group the tier probe counted is gone
        return _candidate(rows[0], self.default)

    def _where(self, eligibility: core.Eligibility, tier: core.Tier) -> tuple[str, list]:
        capable = "n.mms_capable" if eligibility.channel == Channel.MMS else "n.sms_capable"
        where = [f"pn.pool_id = %s AND {capable} AND (n.type <> %s OR n.country = %s)"]
        params = [
            self.pool_id,
            NumberType.SHORTCODE,
            eligibility.country,
        ]
        if eligibility.healthy_only:
            where.append("COALESCE(n.health_override, n.computed_healthy)")
        if eligibility.new_on is not None:
            takes_new, takes_new_params = capacity.takes_new_recipients("n", eligibility.new_on)
            where.append(takes_new)
            params += takes_new_params
        if tier.area_codes:
            in_codes, codes = in_list("n.area_code", tier.area_codes)
            where.append(in_codes)
            params += codes
        elif tier.location:
            where.append("n.location = %s AND n.country = %s")
            params += [tier.location, tier.country]
        elif tier.country:
            where.append("n.country = %s")
            params.append(tier.country)
        return " AND ".join(where), params


class PoolForSend(NamedTuple):
    pool: Pool
    opted_out: frozenset[str]  # numbers the recipient opted out of
    opted_out_pool_numbers: frozenset[str]  # those of them that are this pool's
    opted_out_everywhere: bool  # STOPALL
    default_connection: DefaultConnection


_POOL_FIELDS, _POOL_COLUMNS = selected(Pool, "p")


def pool_for_send(*, pool_id, account_id, recipient: str, lock: bool) -> PoolForSend:
    """The pool as committed, with the recipient's opt-outs and the account's default
    connection, in one statement; with
    `lock`, held FOR SHARE until the transaction ends (see the module's docstring)."""
    pool_table, optout_table = Pool._meta.db_table, OptOut._meta.db_table
    in_pool = of_pool_sql("p.id")
    share = " FOR SHARE OF p" if lock and connection.features.has_select_for_update else ""
    rows = _rows(
        f"SELECT {_POOL_COLUMNS}, o.number, {in_pool}, c.id, c.state_status "
        f"FROM {pool_table} p LEFT JOIN {optout_table} o "
        "ON o.account_id = p.account_id AND o.recipient = %s "
        f"LEFT JOIN {Connection._meta.db_table} c "
        "ON c.account_id = p.account_id AND c.is_default "
        f"WHERE p.id = %s AND p.account_id = %s{share}",
        [recipient, db_value(Pool, "id", pool_id), db_value(Pool, "account", account_id)],
    )
    if not rows:
        raise pool_not_found()
    # A row per opt-out of the recipient (one with none if there is none).
    extra = len(_POOL_FIELDS)
    opt_outs = [(number, of_pool) for number, of_pool, *_ in (row[extra:] for row in rows)]
    numbers = {number for number, _ in opt_outs if number is not None}
    default_id, default_status = rows[0][extra + 2 :]
    return PoolForSend(
        model_from_row(Pool, _POOL_FIELDS, rows[0][:extra]),
        frozenset(numbers - {""}),
        frozenset(number for number, of_pool in opt_outs if of_pool),
        "" in numbers,
        DefaultConnection(_uuid(default_id), default_status) if default_id else DefaultConnection(),
    )


class MappingRow(NamedTuple):
    pk: int
    pool_number_id: int
    last_used_at: datetime


# A sticky hit's one read, in SQL as written: the query every known recipient's send
# runs costs several times its execution in the ORM's building of it.
_MAPPING_SQL = (
    f"SELECT m.id, m.last_used_at, {_CANDIDATE} FROM {_NUMBERS} "
    f"JOIN {StickyMapping._meta.db_table} m ON m.pool_number_id = pn.id "
    "WHERE m.pool_id = %s AND m.recipient = %s"
)


def _mapping(
    loaded: "PoolForSend", recipient, *, lock: bool
) -> tuple[core.Mapping | None, MappingRow | None]:
    """The recipient's mapping in the pool, with its number, in one statement."""
    sql = _MAPPING_SQL
    if lock and connection.features.has_select_for_update:
        # Locked as it is read, before any number is claimed: a send and an inbound
        # engagement (or the purge) take the mapping, then the numbers, in that order.
        sql += " FOR NO KEY UPDATE OF m"
    with connection.cursor() as cursor:
        cursor.execute(sql, [db_value(StickyMapping, "pool", loaded.pool.pk), recipient])
        row = cursor.fetchone()
    if row is None:
        return None, None
    pk, used, *number = row
    mapped = _candidate(number, loaded.default_connection)
    mapping_row = MappingRow(pk, mapped.id, _datetime(used))
    return core.Mapping(mapped, mapping_row.last_used_at), mapping_row


def _uuid(value) -> uuid.UUID | None:
    """An id from a raw row: SQLite gives its hex."""
    return uuid.UUID(value) if isinstance(value, str) else value


def _date(value) -> date | None:
    """A date from a raw row: SQLite gives its ISO text."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _datetime(value) -> datetime | None:
    """A timestamp from a raw row: SQLite's are naive, in UTC as Django stored them."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _decide(loaded: PoolForSend, request: core.Request, *, claim: bool):
    pool = loaded.pool
    mapping, mapping_row = _mapping(loaded, request.recipient.number, lock=claim)
    numbers = SqlPoolNumbers(loaded, claim=claim)
    try:
        while True:
            try:
                return core.decide(pool_settings(pool), request, mapping, numbers), mapping_row
            except _TierChanged:
                continue  # read as it is now
    except core.Refusal as refusal:
        raise ServiceError(
            refusal.code,
            refusal.message,
            status=422,
            details={"explanation": "\n".join(refusal.explanation)},
        ) from None


def _request(loaded: PoolForSend, recipient, channel, strategy, now) -> core.Request:
    return core.Request(
        recipient=recipient,
        now=now or timezone.now(),
        channel=channel,
        strategy=strategy,
        opted_out_numbers=loaded.opted_out,
        opted_out_everywhere=loaded.opted_out_everywhere,
    )


def sender_preview(
    *, pool: Pool, to: str, channel: str = Channel.SMS, strategy: str = Strategy.NUMERIC, now=None
) -> Selection:
    """The decision a send would take now. Writes nothing, locks nothing."""
    recipient = recipient_facts(to)
    loaded = pool_for_send(
        pool_id=pool.pk, account_id=pool.account_id, recipient=recipient.number, lock=False
    )
    request = _request(loaded, recipient, channel, strategy, now)
    decision, _ = _decide(loaded, request, claim=False)
    return Selection(request.recipient.number, decision)


def sender_select(
    *,
    loaded: PoolForSend,
    recipient: core.Recipient,
    channel: str = Channel.SMS,
    strategy: str = Strategy.NUMERIC,
    parts: int = 1,
    now=None,
) -> Selection:
    """Decide and record: the mapping, the number's counters and the turn its `parts`
    take at the number's rate. Runs in the caller's transaction, which `pool_for_send`
    (with `lock`) read the pool in; SelectionRaced: roll that transaction back and
    send again."""
    request = _request(loaded, recipient, channel, strategy, now)
    while True:
        decision, mapping_row = _decide(loaded, request, claim=True)
        selection = _write(loaded.pool, request, decision, mapping_row, parts)
        if selection is not None:
            return selection


class SelectionRaced(Exception):
    """A new assignment lost a race after it had written (another send took the chosen
    number's last place under its daily cap): what it wrote must go, with the caller's
    transaction, and the send be made again on what is committed then."""


def _write(pool, request, decision: core.Decision, mapping_row, parts: int) -> Selection | None:
    """The decision's mapping, counters and turn; None if another send got in the way
    before anything was written: it changed the recipient's mapping meanwhile (created
    it, or it was purged or moved). SelectionRaced once something was."""
    if not _apply(pool, request, decision, mapping_row):
        return None
    selection = _record_use(request, decision, parts)
    if selection is None:
        raise SelectionRaced
    return selection


def _apply(pool, request, decision: core.Decision, mapping_row) -> bool:
    """False if the first write found the mapping changed: nothing is written then."""
    dropped = decision.drop_mapping and mapping_row is not None
    if dropped and not _mapping_delete(mapping_row):
        return False
    if decision.reuse_mapping and not _touch(mapping_row, request.now):
        return False
    if decision.create_mapping and not _mapping_insert(
        pool=pool,
        pool_number_id=decision.number.id,
        recipient=request.recipient.number,
        now=request.now,
    ):
        if dropped:
            raise SelectionRaced
        return False
    if decision.new_assignment:
        with connection.cursor() as cursor:
            cursor.execute(_ASSIGNED_SQL, [int(decision.create_mapping), decision.number.id])
    return True


_ASSIGNED_SQL = (
    f"UPDATE {PoolNumber._meta.db_table} SET assignment_count = assignment_count + 1, "
    "mapping_count = mapping_count + %s WHERE id = %s"
)


def _touch(mapping_row: MappingRow, now: datetime) -> bool:
    """Slide the mapping's expiry; False if it was deleted or moved meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {StickyMapping._meta.db_table} SET last_used_at = %s "
            "WHERE id = %s AND pool_number_id = %s",
            [
                db_value(StickyMapping, "last_used_at", now),
                mapping_row.pk,
                mapping_row.pool_number_id,
            ],
        )
        return cursor.rowcount == 1


def _mapping_insert(*, pool, pool_number_id, recipient: str, now: datetime) -> bool:
    """The recipient's mapping, unless another transaction made one first: then False.

    ON CONFLICT DO NOTHING on the unique (pool, recipient) index: an insert racing an
    uncommitted one waits for it, and finds it if it commits."""
    table = StickyMapping._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (pool_id, pool_number_id, recipient, created_at, last_used_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (pool_id, recipient) DO NOTHING RETURNING id",
            [
                db_value(StickyMapping, "pool", pool.pk),
                pool_number_id,
                recipient,
                db_value(StickyMapping, "created_at", timezone.now()),
                db_value(StickyMapping, "last_used_at", now),
            ],
        )
        return cursor.fetchone() is not None


def _mapping_delete(mapping_row: MappingRow) -> bool:
    """Delete the stale mapping; False if it was deleted or moved meanwhile."""
    mapping = StickyMapping.objects.filter(
        pk=mapping_row.pk, pool_number_id=mapping_row.pool_number_id
    )
    if not mapping.delete()[0]:
        return False
    PoolNumber.objects.filter(pk=mapping_row.pool_number_id).update(
        mapping_count=F("mapping_count") - 1
    )
    return True


def _record_use(request: core.Request, decision: core.Decision, parts: int) -> Selection | None:
    """The selection with its turn; None if its number takes no new recipient now."""
    chosen = Selection(request.recipient.number, decision)
    if chosen.number_id is None:
        return chosen
    slot = number_record_use(
        number_id=chosen.number_id,
        used_at=request.now,
        parts=parts,
        new_recipient=decision.new_assignment,
    )
    return None if slot is None else Selection(chosen.recipient, decision, slot)


@transaction.atomic
def mappings_clear(*, pool: Pool) -> int:
    """Delete every mapping of the pool (sticky turned off, or an operator's reset)."""
    deleted, _ = StickyMapping.objects.filter(pool=pool).delete()
    PoolNumber.objects.filter(pool=pool).update(mapping_count=0)
    return deleted


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
    facts = recipient_facts(recipient)
    loaded = pool_for_send(
        pool_id=pool.pk, account_id=pool.account_id, recipient=facts.number, lock=True
    )
    if not pool_settings(loaded.pool).for_destination(facts.country, Channel.SMS).sticky:
        return
    now = now or timezone.now()
    while True:
        # The recipient's mapping row is locked: a send or another inbound message moving
        # it at the same moment waits, then reads where this one put it.
        mapping = (
            StickyMapping.objects.select_for_update()
            .filter(pool=pool, recipient=facts.number)
            .first()
        )
        if mapping is not None:
            _mapping_move(mapping, pool_number, now)
            return
        if _mapping_insert(
            pool=pool, pool_number_id=pool_number.pk, recipient=facts.number, now=now
        ):
            PoolNumber.objects.filter(pk=pool_number.pk).update(
                mapping_count=F("mapping_count") + 1
            )
            return


def _mapping_move(mapping: StickyMapping, pool_number: PoolNumber, now: datetime) -> None:
    """The locked mapping now points at `pool_number`, the counters following it."""
    if mapping.pool_number_id != pool_number.pk:
        PoolNumber.objects.filter(pk=mapping.pool_number_id).update(
            mapping_count=F("mapping_count") - 1
        )
        PoolNumber.objects.filter(pk=pool_number.pk).update(mapping_count=F("mapping_count") + 1)
    StickyMapping.objects.filter(pk=mapping.pk).update(pool_number=pool_number, last_used_at=now)
