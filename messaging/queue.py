"""Work that leaves the process, enqueued by task name once the transaction commits.

Services import no task objects: they name the task, and `messaging.tasks` (on top of
the services) runs it. With a broker the task goes to a worker; without one (the
embedded default) it runs in this process after the commit, and work due later is
left to the schedule runner's sweeps (`run_schedules`).
"""

import logging

from celery import current_app
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

DISPATCH = "messaging.tasks.dispatch_message"
DELIVER_NOTIFICATION = "messaging.tasks.deliver_notification"
RECOMPUTE_HEALTH = "messaging.tasks.recompute_number_health"


def enqueue(name: str, *args, countdown: float | None = None) -> None:
    """Run task `name` with `args` now, or in `countdown` seconds: with a broker, a
    worker does; in-process, a retry later is the schedule runner's sweeps' to make."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        current_app.send_task(name, args=args, countdown=countdown)
    elif countdown is None:
        # Its function run, not the task `apply`d or called: Celery's tracing of an eager
        # task, and its request context, cost more than most of these tasks do. None of
        # them reads its request. A task's failure is logged, as a worker would.
        try:
            current_app.tasks[name].run(*args)
        except Exception:
            logger.exception("task %s%r failed", name, args)


def enqueue_after_commit(name: str, *args, countdown: float | None = None) -> None:
    """A worker must find what the transaction wrote, and a rollback enqueues nothing."""
    transaction.on_commit(lambda: enqueue(name, *args, countdown=countdown), robust=True)
