import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = "Run the periodic jobs of CELERY_BEAT_SCHEDULE in this process (no broker needed)."

    # The embedded default has no broker, so `celery beat` has nowhere to send its
    # jobs: this loop runs the same schedule itself — retries of notifications, ttl
    # expiry, health, mapping purges. With a broker, run `celery beat` instead.

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every job once and stop.")

    def handle(self, *args, **options):
        schedule = settings.CELERY_BEAT_SCHEDULE
        due_at = dict.fromkeys(schedule, 0.0)
        while True:
            now = time.monotonic()
            for name, entry in schedule.items():
                if options["once"] or due_at[name] <= now:
                    self.run(name, entry["task"])
                    due_at[name] = now + entry["schedule"]
            if options["once"]:
                return
            time.sleep(max(1.0, min(due_at.values()) - time.monotonic()))

    def run(self, name: str, task: str) -> None:
        # One job failing (a database blip) must not stop the others or the loop.
        result = import_string(task).apply()
        if result.failed():
            self.stderr.write(self.style.ERROR(f"{name} failed: {result.result!r}"))
        else:
            self.stdout.write(f"{name}: {result.result}")
