import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import Account
from pools.models import Pool
from pools.selectors import pool_by_reference
from pools_project.errors import ServiceError
from virtual_numbers.importing import ImportReport, numbers_import, read_numbers_csv


class Command(BaseCommand):
    """Register an account's numbers in bulk from a carrier's or spreadsheet's CSV export.

    Operators buy numbers by the hundred; typing them into the API or the admin one by
    one is not an option. The import can be run again after fixing the rejected rows:
    numbers the account already has are skipped.
    """

    help = (
        "Register numbers from a CSV with a header row: number,type,capabilities,country. "
        "type defaults to longcode (or tollfree, shortcode); capabilities sms, mms or "
        "sms|mms (default sms); country is needed for short codes only."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv_path", metavar="CSV", help="Path of the CSV file.")
        parser.add_argument("--account", required=True, help="Name of the account.")
        parser.add_argument(
            "--pool", help="Id or name of one of the account's pools to assign the numbers to."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would happen; write nothing."
        )

    def handle(self, *args, csv_path, account, pool, dry_run, **options):
        account = self.get_account(account)
        pool = self.get_pool(account, pool) if pool else None
        rows = self.read_rows(csv_path)
        progress = tqdm(
            rows, desc="Importing", unit="row", file=sys.stderr, disable=not self.stderr.isatty()
        )
        try:
            report = numbers_import(account=account, rows=progress, pool=pool, dry_run=dry_run)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        finally:
            progress.close()
        self.print_report(report, pool)

    def get_account(self, name: str) -> Account:
        try:
            return Account.objects.get(name=name)
        except Account.DoesNotExist:
            raise CommandError(
                f"No account named {name!r}; create it with `create_account {name}`."
            ) from None

    def get_pool(self, account: Account, reference: str) -> Pool:
        try:
            return pool_by_reference(reference, account=account)
        except ServiceError:
            raise CommandError(
                f"Account {account.name!r} has no pool with id or name {reference!r}."
            ) from None

    def read_rows(self, path: str):
        try:
            # utf-8-sig: spreadsheets often start their CSV exports with a byte-order mark.
            with open(path, newline="", encoding="utf-8-sig") as f:
                return read_numbers_csv(f)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text: {exc.reason}.") from exc
        except ServiceError as exc:
            raise CommandError(f"{path}: {exc.message}") from exc

    def print_report(self, report: ImportReport, pool: Pool | None) -> None:
        for row in report.rejected:
            number = f" ({row.number})" if row.number else ""
            self.stdout.write(self.style.WARNING(f"line {row.line}{number} rejected: {row.reason}"))
        summary = (
            f"{len(report.created)} created, {len(report.skipped)} skipped, "
            f"{len(report.rejected)} rejected"
        )
        if pool is not None:
            summary += f"; {report.pooled} in pool {pool.name!r}"
        if report.dry_run:
            summary = f"Dry run, nothing written: {summary}"
        self.stdout.write(self.style.SUCCESS(summary + "."))
