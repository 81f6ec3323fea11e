"""Carrier gateways: where a message leaves the service (setting SMS_GATEWAY_BACKEND).

A backend takes a queued message and hands it to a carrier, returning the carrier's
id for it; the carrier's delivery report comes back later, through
`messaging.lifecycle.message_report_status` (the status webhook, or the backend
itself). SMPP and HTTP carriers plug in behind the same interface.
"""

from django.conf import settings
from django.utils.module_loading import import_string

from messaging.models import Message


class GatewayError(Exception):
    """The carrier refused the message; `code` is the carrier's error code."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class Gateway:
    def send(self, message: Message) -> str:
        """Hand the message over; the carrier's id for it, or GatewayError."""
        raise NotImplementedError

    def after_send(self, message: Message) -> None:
        """Called once the message is recorded as Sent."""


class SimulatorGateway(Gateway):
    """A carrier on the laptop: accepts everything, then reports Delivered — except to
    recipients whose number ends in 999, which it reports Undelivered."""

    def send(self, message: Message) -> str:
        return f"sim-{message.id}"

    def after_send(self, message: Message) -> None:
        from messaging.lifecycle import message_report_status

        if message.to.endswith("999"):
            message_report_status(
                message=message,
                status=Message.Status.UNDELIVERED,
                detailed_status="Simulated undelivered",
                error_code="SIMULATED",
            )
        else:
            message_report_status(message=message, status=Message.Status.DELIVERED)


def get_gateway() -> Gateway:
    return import_string(settings.SMS_GATEWAY_BACKEND)()
