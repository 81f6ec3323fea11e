from django.core.management.base import BaseCommand, CommandError

from pools.services.selection import mappings_purge_expired


class Command(BaseCommand):
    help = "Delete sticky mappings unused for longer than their pool's TTL."

    # Selection already ignores and replaces an expired mapping when it meets one;
    # purging keeps the table and the per-number mapping counts that distribution
    # reads close to the live mappings. Also run on a schedule.

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        purged = mappings_purge_expired(batch_size=options["batch_size"])
        self.stdout.write(self.style.SUCCESS(f"Purged {purged} expired sticky mapping(s)."))
