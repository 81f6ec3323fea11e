import logging
import signal
import threading
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from carriers.models import Connection
from messaging.smpp_worker import SmppWorker

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Keep the binds of the SMPP connections (or of one) open: submits, receipts, inbound. "
        "Runs until stopped; picks up connections added meanwhile."
    )

    # SMPP is a session, not a request: a message leaves through a bind that some
    # process keeps, so this command is that process. Run one or more: every process
    # claims messages the same way the dispatch workers do, so two never submit the same.

    RESCAN_SECONDS = 10

    def add_arguments(self, parser):
        parser.add_argument("--connection", help="Only this connection (its id).")

    def handle(self, *args, **options):
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        only = options["connection"]
        if only:
            try:
                uuid.UUID(only)
            except ValueError:
                raise CommandError(f"{only!r} is not a connection id.") from None
            if not self._smpp(only).exists():
                raise CommandError(f"No SMPP connection {only}.")
        workers: dict = {}
        while not stop.is_set():
            for connection_id in self._smpp(only).values_list("pk", flat=True):
                thread = workers.get(connection_id)
                if thread is None or not thread.is_alive():
                    workers[connection_id] = self._start(connection_id, stop)
            stop.wait(self.RESCAN_SECONDS)
        for thread in workers.values():
            thread.join(timeout=15)
        self.stdout.write("Stopped.")

    def _smpp(self, only):
        smpp = Connection.objects.filter(kind=Connection.Kind.SMPP)
        return smpp.filter(pk=only) if only else smpp

    def _start(self, connection_id, stop: threading.Event) -> threading.Thread:
        self.stdout.write(self.style.SUCCESS(f"Binding connection {connection_id}."))
        thread = threading.Thread(
            target=self._work, args=(connection_id, stop), name=f"smpp-{connection_id}", daemon=True
        )
        thread.start()
        return thread

    def _work(self, connection_id, stop: threading.Event) -> None:
        try:
            SmppWorker(connection_id, stop).run()
        except Exception:  # started again at the next rescan; its claims' leases run out
            logger.exception("the worker of connection %s crashed", connection_id)
        finally:
            connections.close_all()
