"""What each kind of connection takes (SPEC §11): its plain settings and its secrets."""

from dataclasses import dataclass, field

from carriers.models import Connection


@dataclass(frozen=True)
class Setting:
    type: type
    required: bool = False
    default: object = None
    choices: tuple = ()


@dataclass(frozen=True)
class KindSpec:
    settings: dict[str, Setting] = field(default_factory=dict)
    secrets: dict[str, bool] = field(default_factory=dict)  # name → required

    def defaults(self) -> dict:
        return {name: s.default for name, s in self.settings.items() if s.default is not None}


KINDS: dict[str, KindSpec] = {
    Connection.Kind.SIMULATOR: KindSpec(),
    Connection.Kind.SMPP: KindSpec(
        settings={
            "host": Setting(str, required=True),
            "port": Setting(int, required=True),
            "systemId": Setting(str, required=True),
            "systemType": Setting(str, default=""),
            "bindMode": Setting(
                str, default="transceiver", choices=("transceiver", "transmitter+receiver")
            ),
            "tls": Setting(bool, default=False),
        },
        secrets={"password": True},
    ),
    Connection.Kind.TWILIO: KindSpec(
        settings={
            "accountSid": Setting(str, required=True),
            "baseUrl": Setting(str, default="https://api.twilio.com"),
        },
        secrets={"authToken": True},
    ),
    Connection.Kind.TELNYX: KindSpec(
        settings={
            "messagingProfileId": Setting(str, default=""),
            "publicKey": Setting(str, required=True),
            "baseUrl": Setting(str, default="https://api.telnyx.com"),
        },
        secrets={"apiKey": True},
    ),
    Connection.Kind.VONAGE: KindSpec(
        settings={
            "apiKey": Setting(str, required=True),
            "baseUrl": Setting(str, default="https://rest.nexmo.com"),
        },
        secrets={"apiSecret": True, "signatureSecret": True},
    ),
}
