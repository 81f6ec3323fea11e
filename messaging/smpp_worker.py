"""The process that keeps an SMPP connection's bind (SPEC §11, `manage.py run_smpp`).

One loop per connection: bind (reconnecting with backoff), take the connection's
messages whose turn has come (`messages_claim_for_connection`, the same claim as every
dispatcher), submit their parts — at most `window` without an answer — and apply what
comes back: `submit_sm_resp` (Sent once every part is accepted; a throttle slows the
sender and retries the part; a refusal fails the message), delivery receipts, and
inbound messages through the same handler as the webhooks. No transaction is open
while the SMSC is written to or waited on: each step commits on its own.

A part the SMSC acknowledged is never submitted again by this process; parts sent but
not answered when the bind drops are submitted again once it is back. A message with no
acknowledged part is given back at once, so any process may take it.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections

from carriers.gateways import gateway_for
from carriers.gateways.base import Accepted, CheckResult, Inbound, Receipt, Refused, Throttled
from carriers.gateways.smpp import Disconnected, SmppSession, SubmitAnswer
from carriers.models import Connection
from carriers.services import connection_state_record
from messaging.services.dispatch import (
    Claim,
    claims_renew,
    message_accepted,
    message_refused,
    message_release,
    messages_claim_for_connection,
    sender_slow_down,
)
from messaging.services.inbound import inbound_event_receive
from messaging.services.lifecycle import receipt_apply
from pools_project.errors import ServiceError

logger = logging.getLogger(__name__)

MAX_RECONNECT_SECONDS = 60


@dataclass
class Handover:
    """A message being handed over: which of its parts the SMSC has taken."""

    claim: Claim
    provider_ids: list[str | None]
    to_submit: list[int]

    @property
    def acknowledged(self) -> bool:
        return any(self.provider_ids)

    @property
    def complete(self) -> bool:
        return all(self.provider_ids)


class SmppWorker:
    """Hands one SMPP connection's messages over, until `stop` is set."""

    POLL_SECONDS = 0.05  # how long to wait for the SMSC when there is work in flight
    IDLE_SECONDS = 0.2  # and when there is none: how soon new work is noticed

    def __init__(self, connection_id, stop: threading.Event | None = None):
        self.connection_id = connection_id
        self.account_id = None
        self.stop = stop or threading.Event()
        self.handovers: dict[str, Handover] = {}  # by tracking id
        self.in_flight: dict[int, tuple[Handover, int]] = {}  # sequence → part
        self.early_receipts: dict[str, Receipt] = {}
        self.renewed_at = 0.0
        self.paused_until = 0.0  # monotonic: the SMSC throttled the bind

    def run(self) -> None:
        delay = 1.0
        while not self.stop.is_set():
            connection = Connection.objects.filter(
                pk=self.connection_id, kind=Connection.Kind.SMPP
            ).first()
            if connection is None:
                logger.info("connection %s is gone; its worker stops", self.connection_id)
                return
            self.account_id = connection.account_id
            session = gateway_for(connection).session()
            try:
                session.open()
            except Disconnected as exc:
                self._state("down", str(exc))
                self.stop.wait(delay)
                delay = min(delay * 2, MAX_RECONNECT_SECONDS)
                continue
            delay = 1.0
            self._state("up", f"bound to {session._where()}")
            try:
                self._serve(session, connection.window)
                self._drain(session)
            except Disconnected as exc:
                self._state("down", str(exc))
                self._lost_bind()
            finally:
                session.close()
                close_old_connections()
        self._give_back_all()

    def _state(self, status: str, detail: str) -> None:
        logger.info("connection %s: %s (%s)", self.connection_id, status, detail)
        connection_state_record(
            connection_id=self.connection_id, result=CheckResult(status, detail)
        )

    def _serve(self, session: SmppSession, window: int) -> None:
        while not self.stop.is_set():
            self._take_work(window)
            self._submit(session, window)
            busy = self.in_flight or self.handovers
            for event in session.poll(self.POLL_SECONDS if busy else self.IDLE_SECONDS):
                self._apply(event)
            self._renew_leases()

    def _drain(self, session: SmppSession, seconds: float = 5) -> None:
        """Stopping: wait a little for the answers to what is in flight."""
        deadline = time.monotonic() + seconds
        while self.in_flight and time.monotonic() < deadline:
            for event in session.poll(self.POLL_SECONDS):
                self._apply(event)

    def _take_work(self, window: int) -> None:
        if self.paused_until > time.monotonic():
            return
        room = window - sum(len(h.to_submit) for h in self.handovers.values()) - len(self.in_flight)
        if room <= 0:
            return
        for claim in messages_claim_for_connection(connection_id=self.connection_id, limit=room):
            parts = len(claim.outbound.segments)
            self.handovers[claim.outbound.tracking_id] = Handover(
                claim, [None] * parts, list(range(parts))
            )

    def _submit(self, session: SmppSession, window: int) -> None:
        now = time.monotonic()
        if self.paused_until > now:
            return
        for handover in list(self.handovers.values()):
            while handover.to_submit and len(self.in_flight) < window:
                index = handover.to_submit.pop(0)
                sequence = session.submit(handover.claim.outbound, index)
                self.in_flight[sequence] = (handover, index)

    def _apply(self, event) -> None:
        if isinstance(event, SubmitAnswer):
            self._answered(event)
        elif isinstance(event, Receipt):
            self._receipt(event)
        elif isinstance(event, Inbound):
            self._inbound(event)

    def _answered(self, answer: SubmitAnswer) -> None:
        handover, index = self.in_flight.pop(answer.sequence, (None, None))
        if handover is None or handover.claim.outbound.tracking_id not in self.handovers:
            return  # a part of a message already ended (refused meanwhile)
        message = handover.claim.message
        if answer.accepted:
            handover.provider_ids[index] = answer.message_id
            if handover.complete:
                self._finish(handover)
        elif answer.throttled:
            seconds = sender_slow_down(message=message, throttled=Throttled(answer.reason))
            handover.to_submit.insert(0, index)
            # The bind is what the SMSC throttles: nothing goes through it for a while.
            self.paused_until = time.monotonic() + seconds
        else:
            message_refused(message=message, refused=Refused(answer.code, answer.reason))
            self._forget(handover)

    def _finish(self, handover: Handover) -> None:
        message = handover.claim.message
        message_accepted(message=message, accepted=Accepted(tuple(handover.provider_ids)))
        self._forget(handover)
        for provider_id in handover.provider_ids:
            receipt = self.early_receipts.pop(provider_id, None)
            if receipt is not None:
                receipt_apply(connection_id=self.connection_id, receipt=receipt)

    def _forget(self, handover: Handover) -> None:
        self.handovers.pop(handover.claim.outbound.tracking_id, None)
        for sequence in [s for s, (h, _) in self.in_flight.items() if h is handover]:
            del self.in_flight[sequence]

    def _receipt(self, receipt: Receipt) -> None:
        pending = any(receipt.provider_id in h.provider_ids for h in self.handovers.values())
        if pending:  # a receipt for one part before the answer to another
            self.early_receipts[receipt.provider_id] = receipt
        elif receipt_apply(connection_id=self.connection_id, receipt=receipt) is None:
            logger.warning("receipt for an unknown message id %r", receipt.provider_id)

    def _inbound(self, inbound: Inbound) -> None:
        try:
            inbound_event_receive(
                inbound=inbound, account_id=self.account_id, connection_id=self.connection_id
            )
        except ServiceError as exc:  # acknowledged to the SMSC all the same: no redelivery
            logger.warning("inbound message from %r refused: %s", inbound.sender, exc.message)

    def _renew_leases(self) -> None:
        now = time.monotonic()
        if self.handovers and now - self.renewed_at > settings.DISPATCH_LEASE_SECONDS / 3:
            claims_renew(message_ids=list(self.handovers))
            self.renewed_at = now

    def _lost_bind(self) -> None:
        """Parts sent without an answer go again after the reconnect; a message of which
        the SMSC acknowledged nothing is given back for anyone to take."""
        for handover, index in self.in_flight.values():
            handover.to_submit.append(index)
        self.in_flight.clear()
        for handover in list(self.handovers.values()):
            handover.to_submit.sort()
            if not handover.acknowledged:
                message_release(message=handover.claim.message)
                self.handovers.pop(handover.claim.outbound.tracking_id)

    def _give_back_all(self) -> None:
        for handover in self.handovers.values():
            message_release(message=handover.claim.message)
        self.handovers.clear()
