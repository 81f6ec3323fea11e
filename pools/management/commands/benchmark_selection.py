import statistics
import time
import uuid

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Account
from messaging.services.sending import message_send
from pools.models import Pool, PoolNumber
from virtual_numbers.models import Number


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Measure sends through the selection service: new recipients and sticky hits."

    # Performance is measured here and reported, never asserted in tests. Everything
    # the benchmark writes is rolled back at the end.

    def add_arguments(self, parser):
        parser.add_argument(
            "--numbers", default="10,1000,5000", help="Pool sizes, comma-separated."
        )
        parser.add_argument("--sends", type=int, default=200, help="Sends per measurement.")

    def handle(self, *args, **options):
        for size in [int(n) for n in options["numbers"].split(",")]:
            try:
                with transaction.atomic():
                    self.measure(size, options["sends"])
                    raise Rollback
            except Rollback:
                pass

    def measure(self, size: int, sends: int) -> None:
        pool = self.sticky_pool(size)
        recipients = [f"+1332{5550000 + i:07d}" for i in range(sends)]
        for label in ("new recipient", "sticky hit"):
            timings = []
            for to in recipients:
                started = time.perf_counter()
                message_send(pool=pool, to=to, body="Benchmark")
                timings.append((time.perf_counter() - started) * 1000)
            self.report(size, label, timings)

    def sticky_pool(self, size: int) -> Pool:
        account = Account.objects.create(name=f"benchmark-{uuid.uuid4()}")
        # +1 999 is no area code in service: these rows cannot clash with real numbers.
        numbers = Number.objects.bulk_create(
            Number(
                account=account,
                number=f"+1999{i:07d}",
                country="US",
                area_code="212",
                location="NY",
            )
            for i in range(size)
        )
        pool = Pool.objects.create(account=account, name="benchmark", sticky=True, geomatch=True)
        PoolNumber.objects.bulk_create(PoolNumber(pool=pool, number=n) for n in numbers)
        return pool

    def report(self, size: int, label: str, timings: list[float]) -> None:
        timings.sort()
        p95 = timings[int(len(timings) * 0.95) - 1]
        self.stdout.write(
            f"pool of {size:>5} numbers, {label:<13}: median {statistics.median(timings):6.1f} ms, "
            f"p95 {p95:6.1f} ms, {1000 * len(timings) / sum(timings):6.0f} sends/s (one connection)"
        )
