"""What the benchmark sends through: its own account and key, and sticky geomatch pools
of numbers spread over real US area codes, with recipients they already know.

No phone number is stored in a list: each is computed from an index, so the Lua script
that drives the load (`send.lua`) makes the very same ones. Recipient `index` of a pool
is in area code `codes[index % len(codes)]`, on line `start + index // len(codes)` (the
seven digits after the area code). Known recipients, new ones and the pools' own
numbers take lines of their own, so none of them is another.
"""

import csv
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account
from accounts.services import api_key_create
from messaging.models import Message
from pools.models import Pool, PoolNumber, StickyMapping
from pools.services.pools import pool_create
from pools_project.errors import ServiceError
from virtual_numbers.models import Number
from virtual_numbers.nanp import DATA_FILE
from virtual_numbers.phone import PhoneFacts, parse_e164
from virtual_numbers.services import MAX_PARTS_PER_SECOND, number_facts

ACCOUNT_NAME = "manage.py benchmark"
# Lines by exchange: the pools' numbers 900-999, known recipients 200-599 (4 million
# per area code), new recipients 600-899 (3 million per area code).
SENDER_START = 9_000_000
KNOWN_START = 2_000_000
NEW_START = 6_000_000
_LAST_LINE = 9_999_999


@functools.cache
def area_codes() -> tuple[str, ...]:
    """The US area codes in service in which `phonenumbers` takes every line the
    benchmark uses as valid (it does not know the newest codes yet)."""
    with DATA_FILE.open(newline="") as f:
        npas = [
            row["npa"]
            for row in csv.DictReader(f)
            if row["country"] == "US" and row["in_service"] == "Y"
        ]
    lines = (KNOWN_START, NEW_START, SENDER_START, _LAST_LINE)
    return tuple(npa for npa in npas if all(_valid(f"+1{npa}{line}") for line in lines))


def _valid(number: str) -> bool:
    try:
        parse_e164(number)
    except ServiceError:
        return False
    return True


def phone(codes: tuple[str, ...], index: int, start: int) -> str:
    return f"+1{codes[index % len(codes)]}{start + index // len(codes):07d}"


def known_recipient(codes: tuple[str, ...], index: int) -> str:
    return phone(codes, index, KNOWN_START)


def new_recipient(codes: tuple[str, ...], index: int) -> str:
    return phone(codes, index, NEW_START)


@dataclass(frozen=True)
class Tenant:
    account: Account
    raw_key: str


@dataclass
class BenchPool:
    """A seeded pool: recipients 0 … known-1 have a mapping to a number of their area code."""

    pool: Pool
    codes: tuple[str, ...]
    pool_number_ids: list[int] = field(repr=False)  # in the order the numbers were made
    known: int = 0

    @property
    def size(self) -> int:
        return len(self.pool_number_ids)


def tenant_create() -> Tenant:
    """The benchmark's own account and API key; the one an interrupted run left goes first."""
    tenant_delete()
    account = Account.objects.create(name=ACCOUNT_NAME)
    return Tenant(account, api_key_create(account=account, name="benchmark").raw_key)


# Messages deleted at a time: Django's cascade writes one statement over all the
# messages it deletes (their inbound replies' `auto_reply`), and PostgreSQL takes at most
# 65,535 parameters in one; a full benchmark sends more messages than that.
DELETE_BATCH = 10_000


def tenant_delete() -> None:
    """The benchmark's account and everything in it, its messages a batch at a time."""
    messages = Message.objects.filter(account__name=ACCOUNT_NAME)
    while batch := list(messages.values_list("pk", flat=True)[:DELETE_BATCH]):
        Message.objects.filter(pk__in=batch).delete()
    Account.objects.filter(name=ACCOUNT_NAME).delete()


@transaction.atomic
def pool_seed(*, account: Account, size: int, known: int) -> BenchPool:
    """A sticky geomatch pool of `size` numbers over `size` area codes (at most every one
    the benchmark can use), and `known` recipients mapped evenly over its numbers."""
    codes = area_codes()[:size]
    pool = pool_create(account=account, name=f"{size} numbers", sticky=True, geomatch=True)
    first = Number.objects.filter(account=account).count()
    facts = {npa: _facts(npa) for npa in codes}
    numbers = Number.objects.bulk_create(
        _number(account, facts[codes[j % len(codes)]], SENDER_START + first + j)
        for j in range(size)
    )
    pool_numbers = PoolNumber.objects.bulk_create(PoolNumber(pool=pool, number=n) for n in numbers)
    bench = BenchPool(pool, codes, [pn.pk for pn in pool_numbers])
    mappings_seed(bench, known=known)
    return bench


def _facts(npa: str) -> PhoneFacts:
    """What the import fills in for a long code of area code `npa`: the same for all its
    lines, so it is asked once per area code, not once for each of 10,000 numbers."""
    return number_facts(number=f"+1{npa}{SENDER_START}", type=Number.Type.LONGCODE)


def _number(account: Account, facts: PhoneFacts, line: int) -> Number:
    # The highest rate: every message is due at once, so the embedded default
    # dispatches each in its request rather than leaving it for later.
    return Number(
        account=account,
        number=f"+1{facts.area_code}{line:07d}",
        country=facts.country,
        area_code=facts.area_code,
        location=facts.location,
        parts_per_second=MAX_PARTS_PER_SECOND,
    )


@transaction.atomic
def mappings_seed(bench: BenchPool, *, known: int) -> None:
    """Grow the pool's known recipients to `known`, and its numbers' counters with them."""
    now = timezone.now()
    rows = (
        (
            bench.pool.pk,
            bench.pool_number_ids[mapped_number(index, bench.size, len(bench.codes))],
            known_recipient(bench.codes, index),
            now,
            now,
        )
        for index in range(bench.known, known)
    )
    _insert_mappings(rows)
    _recount(bench.pool)
    bench.known = max(bench.known, known)


def mapped_number(index: int, size: int, codes: int) -> int:
    """The number (its index in the pool) that known recipient `index` is mapped to: one
    of its own area code's, in turn, as geomatch would have chosen."""
    code = index % codes
    numbers_in_code = (size - code + codes - 1) // codes
    return code + codes * ((index // codes) % numbers_in_code)


MAPPING_COLUMNS = ("pool_id", "pool_number_id", "recipient", "created_at", "last_used_at")


def _insert_mappings(rows: Iterable[tuple]) -> None:
    if connection.vendor != "postgresql":
        StickyMapping.objects.bulk_create(
            (StickyMapping(**dict(zip(MAPPING_COLUMNS, row, strict=True))) for row in rows),
            batch_size=1000,
        )
        return
    # COPY: a million rows in seconds, where INSERTs take minutes.
    columns = ", ".join(MAPPING_COLUMNS)
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {StickyMapping._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _recount(pool: Pool) -> None:
    """Set the counters the selection service keeps as if it had made every mapping: each
    new one is a new assignment. (Seeding a million mappings through it would take hours.)"""
    live = Coalesce(
        Subquery(
            StickyMapping.objects.filter(pool_number=OuterRef("pk"))
            .order_by()
            .values("pool_number")
            .annotate(count=Count("pk"))
            .values("count")
        ),
        0,
    )
    PoolNumber.objects.filter(pool=pool).update(
        assignment_count=F("assignment_count") + live - F("mapping_count"),
        mapping_count=live,
    )


def analyze() -> None:
    """Planner statistics as a live database has them, not those of the empty tables
    the seeding started from (autovacuum would catch up, but not before the runs)."""
    if connection.vendor != "postgresql":
        return
    tables = (StickyMapping, PoolNumber, Number, Pool)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(model._meta.db_table for model in tables))
