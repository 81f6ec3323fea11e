"""What each kind of connection takes (SPEC §11): its plain settings and its secrets,
and the rules a connection's settings and secrets must follow — one set of rules for the
API and the admin alike."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    URLValidator,
)

from carriers.models import Connection

JSON_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false"}

PORT_VALIDATORS = (MinValueValidator(1), MaxValueValidator(65535))
# SMPP 3.4 §5.2: system_id, password and system_type are C-strings of at most 16, 9
# and 13 octets, their terminating NUL included; an SMSC refuses longer ones.
SYSTEM_ID_VALIDATORS = (MaxLengthValidator(15),)
SYSTEM_TYPE_VALIDATORS = (MaxLengthValidator(12),)
BASE_URL_VALIDATORS = (URLValidator(schemes=["http", "https"], message="Enter an http(s) URL."),)


@dataclass(frozen=True)
class Setting:
    type: type
    required: bool = False
    default: object = None
    choices: tuple = ()
    validators: tuple[Callable, ...] = ()
    help_text: str = ""


@dataclass(frozen=True)
class KindSpec:
    settings: dict[str, Setting] = field(default_factory=dict)
    secrets: dict[str, bool] = field(default_factory=dict)  # name → required
    secret_lengths: dict[str, int] = field(default_factory=dict)  # name → at most

    def defaults(self) -> dict:
        return {name: s.default for name, s in self.settings.items() if s.default is not None}


KINDS: dict[str, KindSpec] = {
    Connection.Kind.SIMULATOR: KindSpec(),
    Connection.Kind.SMPP: KindSpec(
        settings={
            "host": Setting(str, required=True, help_text="The SMSC's host name or IP address."),
            "port": Setting(int, required=True, validators=PORT_VALIDATORS),
            "systemId": Setting(
                str,
                required=True,
                validators=SYSTEM_ID_VALIDATORS,
                help_text="The system_id to bind with.",
            ),
            "systemType": Setting(
                str,
                default="",
                validators=SYSTEM_TYPE_VALIDATORS,
                help_text="The system_type, if it wants one.",
            ),
            "bindMode": Setting(
                str,
                default="transceiver",
                choices=("transceiver", "transmitter+receiver"),
                help_text="One transceiver bind, or a transmitter and a receiver bind.",
            ),
            "tls": Setting(bool, default=False, help_text="Connect over TLS."),
        },
        secrets={"password": True},
        secret_lengths={"password": 8},
    ),
    Connection.Kind.TWILIO: KindSpec(
        settings={
            "accountSid": Setting(str, required=True),
            "baseUrl": Setting(
                str,
                default="https://api.twilio.com",
                validators=BASE_URL_VALIDATORS,
                help_text="A region's edge, or a local server in tests.",
            ),
        },
        secrets={"authToken": True},
    ),
    Connection.Kind.TELNYX: KindSpec(
        settings={
            "messagingProfileId": Setting(str, default=""),
            "publicKey": Setting(str, required=True, help_text="Verifies its webhooks."),
            "baseUrl": Setting(
                str, default="https://api.telnyx.com", validators=BASE_URL_VALIDATORS
            ),
        },
        secrets={"apiKey": True},
    ),
    Connection.Kind.VONAGE: KindSpec(
        settings={
            "apiKey": Setting(str, required=True),
            "baseUrl": Setting(
                str, default="https://rest.nexmo.com", validators=BASE_URL_VALIDATORS
            ),
            "signatureMethod": Setting(
                str,
                default="md5hash",
                choices=("md5hash", "md5", "sha1", "sha256", "sha512"),
                help_text="How the account signs its webhooks (Vonage dashboard → Settings).",
            ),
        },
        secrets={"apiSecret": True, "signatureSecret": True},
    ),
}


def is_json_type(value, expected: type) -> bool:
    # In Python a bool is an int; in JSON true is not 1.
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def setting_errors(setting: Setting, value) -> list[str]:
    if not is_json_type(value, setting.type):
        return [f"Must be {JSON_TYPE_NAMES[setting.type]}."]
    if setting.required and value == "":
        return ["This setting may not be blank."]
    if setting.choices and value not in setting.choices:
        return [f"Must be one of: {', '.join(setting.choices)}."]
    messages = []
    for validate in setting.validators:
        try:
            validate(value)
        except ValidationError as exc:
            messages.extend(exc.messages)
    return messages


def settings_errors(kind: str, settings: dict) -> dict[str, list[str]]:
    """What is wrong with a connection's settings (a setting left out takes its default),
    by setting name; empty when nothing is."""
    spec = KINDS[kind]
    errors = {
        name: ["Not a setting of this kind."] for name in settings if name not in spec.settings
    }
    for name, setting in spec.settings.items():
        if name in settings:
            messages = setting_errors(setting, settings[name])
        else:
            messages = ["This setting is required."] if setting.required else []
        if messages:
            errors[name] = messages
    return errors


def secret_errors(value, *, required: bool) -> list[str]:
    if value is None:
        return ["This secret is required."] if required else []
    if not isinstance(value, str):
        return ["Must be a string."]
    if value == "":
        return ["Enter the secret: an empty string is not a value."]
    return []


def secrets_errors(kind: str, secrets: dict) -> dict[str, list[str]]:
    """What is wrong with a connection's secrets, by name; empty when nothing is."""
    spec = KINDS[kind]
    errors = {name: ["Not a secret of this kind."] for name in secrets if name not in spec.secrets}
    for name, required in spec.secrets.items():
        messages = secret_errors(secrets.get(name), required=required)
        limit = spec.secret_lengths.get(name)
        value = secrets.get(name)
        if not messages and limit and isinstance(value, str) and len(value) > limit:
            messages = [f"At most {limit} characters."]
        if messages:
            errors[name] = messages
    return errors
