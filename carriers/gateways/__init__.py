"""The adapter of each kind of connection, and the one for numbers with none."""

from django.conf import settings
from django.utils.module_loading import import_string

from carriers.gateways.base import Gateway
from carriers.gateways.simulator import SimulatorGateway
from carriers.gateways.smpp import SmppGateway
from carriers.gateways.telnyx import TelnyxGateway
from carriers.gateways.twilio import TwilioGateway
from carriers.gateways.vonage import VonageGateway
from carriers.kinds import KINDS
from carriers.models import Connection

GATEWAYS: dict[str, type[Gateway]] = {
    Connection.Kind.SIMULATOR: SimulatorGateway,
    Connection.Kind.SMPP: SmppGateway,
    Connection.Kind.TWILIO: TwilioGateway,
    Connection.Kind.TELNYX: TelnyxGateway,
    Connection.Kind.VONAGE: VonageGateway,
}


def gateway_for(connection: Connection | None) -> Gateway:
    """The connection's adapter; with none (an account without a default connection),
    the gateway of SMS_GATEWAY_BACKEND, the simulator unless configured otherwise."""
    if connection is None:
        return import_string(settings.SMS_GATEWAY_BACKEND)()
    spec = KINDS[connection.kind]
    return GATEWAYS[connection.kind](
        settings={**spec.defaults(), **connection.settings}, secrets=dict(connection.secrets)
    )
