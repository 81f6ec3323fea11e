"""Registering many numbers at once from a CSV file: the `import_numbers` command, the
demo data and the admin's CSV import share this.

Every row ends up created, skipped (the account already has the number, so running an
import again changes nothing) or rejected with a reason. A bad row never stops the
others. Numbers are registered and assigned only through the services, so an import
follows the same rules as the API.
"""

import csv
import re
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import islice

from django.db import transaction

from accounts.models import Account
from pools.models import Pool, PoolNumber
from pools.services.pools import pool_assign_numbers
from pools_project.errors import ServiceError
from virtual_numbers.models import Number
from virtual_numbers.services import CAPABILITIES, number_facts, number_register

CSV_COLUMNS = ("number", "type", "capabilities", "country")
# `|` is the documented separator ("sms|mms"). `;`, `,` and spaces are accepted too
# because spreadsheets export lists every which way.
CAPABILITY_SEPARATORS = re.compile(r"[|;,\s]+")
# The API's limit for one assignment call: each chunk locks few rows and commits soon.
CHUNK_SIZE = 50


@dataclass(frozen=True)
class ImportRow:
    """One row of the file as written; `line` is its line number in the file."""

    line: int
    number: str
    type: str = ""
    capabilities: str = ""
    country: str = ""


@dataclass(frozen=True)
class RejectedRow:
    line: int
    number: str
    reason: str


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do), row by row."""

    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    pooled: int = 0  # rows whose number is now in the pool
    dry_run: bool = False


def invalid_csv(message: str) -> ServiceError:
    return ServiceError("INVALID_CSV", message)


def read_numbers_csv(lines: Iterable[str]) -> list[ImportRow]:
    """The rows of a CSV with a header row; ServiceError INVALID_CSV if it has no `number`."""
    reader = csv.DictReader(lines)
    try:
        header = reader.fieldnames or []
        columns = {(name or "").strip().lower(): name for name in header}
        if "number" not in columns:
            raise invalid_csv(
                "The CSV needs a header row with a 'number' column "
                f"(columns: {','.join(CSV_COLUMNS)})."
            )
        return [ImportRow(line=reader.line_num, **_values(record, columns)) for record in reader]
    except csv.Error as exc:
        raise invalid_csv(f"Line {reader.line_num} is not valid CSV: {exc}.") from exc


def _values(record: dict, columns: dict[str, str]) -> dict[str, str]:
    # A short row leaves None in its missing columns.
    return {name: (record[columns[name]] or "").strip() for name in CSV_COLUMNS if name in columns}


def numbers_import(
    *,
    account: Account,
    rows: Iterable[ImportRow],
    pool: Pool | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Register the rows' numbers to the account and, with `pool`, assign them to it.

    A dry run does all of it for real inside one transaction and then rolls it back,
    so its report is exactly what the import would do, and nothing stays written.
    """
    report = ImportReport(dry_run=dry_run)
    with transaction.atomic() if dry_run else nullcontext():
        for chunk in _chunks(rows, CHUNK_SIZE):
            # A chunk's numbers and their assignment to the pool commit together.
            with transaction.atomic():
                _import_chunk(account, chunk, pool, report)
        if dry_run:
            transaction.set_rollback(True)
    report.rejected.sort(key=lambda row: row.line)
    return report


def _chunks(rows: Iterable[ImportRow], size: int) -> Iterator[list[ImportRow]]:
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield chunk


def _import_chunk(
    account: Account, chunk: list[ImportRow], pool: Pool | None, report: ImportReport
) -> None:
    kept = []  # (row, number as stored, whether this row created it)
    for row in chunk:
        try:
            kept.append((row, *_register(account, row)))
        except ServiceError as exc:
            report.rejected.append(RejectedRow(row.line, row.number, exc.message))
    if pool is not None:
        refused = _assign(pool, [number for _, number, _ in kept])
        for row, number, _ in kept:
            if number in refused:
                report.rejected.append(RejectedRow(row.line, row.number, refused[number]))
        kept = [entry for entry in kept if entry[1] not in refused]
        report.pooled += len(kept)
    for _, number, created in kept:
        (report.created if created else report.skipped).append(number)


def _register(account: Account, row: ImportRow) -> tuple[str, bool]:
    """The number as stored and whether this row created it; ServiceError to reject it."""
    if not row.number:
        raise ServiceError("INVALID_NUMBER", "The row has no number.")
    number_type = _type(row.type)
    try:
        number = number_register(
            account=account,
            number=row.number,
            type=number_type,
            capabilities=_capabilities(row.capabilities),
            country=row.country.upper(),
        )
        return number.number, True
    except ServiceError as exc:
        if exc.code != "NUMBER_EXISTS":
            raise
        facts = number_facts(number=row.number, type=number_type, country=row.country.upper())
        ours = Number.objects.for_account(account).filter(
            number=facts.number, country=facts.country
        )
        if not ours.exists():
            raise  # another account's number
        return facts.number, False


def _type(value: str) -> str:
    value = value.lower() or Number.Type.LONGCODE
    if value not in Number.Type.values:
        raise ServiceError(
            "VALIDATION_ERROR",
            f"Unknown type {value!r}: use {', '.join(Number.Type.values)}.",
        )
    return value


def _capabilities(value: str) -> set[str]:
    """`sms|mms` (or `sms mms`, `sms;mms`); empty means SMS only, as in the API."""
    names = {name for name in CAPABILITY_SEPARATORS.split(value.lower()) if name}
    unknown = names - set(CAPABILITIES)
    if unknown:
        raise ServiceError(
            "VALIDATION_ERROR",
            f"Unknown capabilities {', '.join(sorted(unknown))}: use sms, mms or sms|mms.",
        )
    return names or {"sms"}


def _assign(pool: Pool, numbers: list[str]) -> dict[str, str]:
    """Assign the numbers to the pool; the ones it refused, with the reason."""
    refused: dict[str, str] = {}
    numbers = sorted(set(numbers))
    while numbers:
        try:
            pool_assign_numbers(pool=pool, numbers=numbers)
            break
        except ServiceError as exc:
            if exc.code != "NUMBER_IN_ANOTHER_POOL":
                raise
            # All or nothing per call: set the ones in another pool aside and retry.
            elsewhere = set(exc.details["numbers"])
            refused.update(_in_another_pool_reasons(pool.account, elsewhere))
            numbers = [number for number in numbers if number not in elsewhere]
    return refused


def _in_another_pool_reasons(account: Account, numbers: set[str]) -> dict[str, str]:
    """A reason per number that names the pool holding it, so the operator can act."""
    pool_names = dict(
        PoolNumber.objects.filter(number__account=account, number__number__in=numbers).values_list(
            "number__number", "pool__name"
        )
    )
    reasons = {}
    for number in numbers:
        where = f"pool {pool_names[number]!r}" if number in pool_names else "another pool"
        reasons[number] = f"{number} is already in {where}: remove it from there first."
    return reasons
