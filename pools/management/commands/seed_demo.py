import os
import secrets

from django.core.management.base import BaseCommand
from django.urls import reverse

from pools.demo import DEMO_ACCOUNT, demo_admin_ensure, demo_seed
from pools.selectors import pool_list


class Command(BaseCommand):
    """Give a fresh install something to look at: the README's first command runs this.

    It creates what is missing of the demo account (five pools, each named for the rule
    of selection it shows, and their numbers), makes sure an admin login exists, and
    prints that login, a new API key and the pools' ids, so both the admin and the API
    can be tried at once — the README's "The demo, rule by rule" sends through each
    pool. Running it again changes no demo data.
    """

    help = (
        f"Create the {DEMO_ACCOUNT!r} account's pools and numbers if missing, issue it an API "
        "key and ensure an admin superuser (DEMO_ADMIN_USER, default admin; "
        "DEMO_ADMIN_PASSWORD, default a new random password on every run)."
    )

    def handle(self, *args, **options):
        seed = demo_seed()
        for report in seed.imports:
            for row in report.rejected:
                self.stderr.write(self.style.WARNING(f"Demo number not added: {row.reason}"))
        username = os.environ.get("DEMO_ADMIN_USER") or "admin"
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        demo_admin_ensure(username=username, password=password)

        created = sum(len(report.created) for report in seed.imports)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo account {seed.account.name!r}: {created} numbers added this run."
            )
        )
        for pool in pool_list(account=seed.account):
            self.stdout.write(
                f"  pool {pool.name!r}: {pool.number_count} numbers, poolId {pool.pk}"
            )
        self.stdout.write(self.style.SUCCESS(f"Admin: {reverse('admin:index')}"))
        self.stdout.write(f"  username: {username}")
        self.stdout.write(f"  password: {password}")
        self.stdout.write(self.style.SUCCESS(f"API key: {seed.issued.raw_key}"))
