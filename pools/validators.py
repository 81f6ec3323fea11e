"""Validation of pool settings, shared by the model (admin, services) and the API."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from pools.choices import Channel
from pools.decision import DEFAULT_WEIGHT, Settings
from virtual_numbers.choices import NumberType
from virtual_numbers.phone import is_country_code

OVERRIDABLE_SETTINGS = {
    "sticky": bool,
    "geomatch": bool,
    "skipUnhealthy": bool,
    "weights": dict,
}
ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z0-9 ]{1,11}")
# Ten years: longer is "never" in practice (that is 0), and a date this far ahead still
# fits in a datetime when expiries are computed.
MAX_STICKY_TTL_DAYS = 3650
# Weights are shares: a thousand to one is as lopsided as a pool gets.
MAX_WEIGHT = 1000
# The weight of a type a pool's weights leave out (the model's default for each).
STICKY_TTL_TOO_LONG = f"At most {MAX_STICKY_TTL_DAYS} days (ten years); 0 means never expire."
ALL_ZERO_WEIGHTS = (
    "All weights are 0: a weight of 0 means a type is used only when no other type fits, "
    "so at least one type needs a weight above 0."
)

validate_http_url = URLValidator(schemes=["http", "https"], message="Enter an http(s) URL.")


def validate_country(value) -> None:
    if not isinstance(value, str) or not is_country_code(value):
        raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code.")


def validate_country_list(value) -> None:
    if not isinstance(value, list):
        raise ValidationError("Expected a list of ISO 3166-1 alpha-2 country codes.")
    for country in value:
        validate_country(country)
    if len(set(value)) != len(value):
        raise ValidationError("A country is listed twice.")


def validate_alphanumeric_sender(value) -> None:
    if not isinstance(value, str) or not ALPHANUMERIC_SENDER.fullmatch(value) or not value.strip():
        raise ValidationError(
            f"{value!r} is not an alphanumeric sender ID: 1 to 11 letters, digits or spaces."
        )


def validate_alphanumeric_sender_map(value) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Expected an object mapping country codes to sender IDs.")
    for country, sender in value.items():
        validate_country(country)
        validate_alphanumeric_sender(sender)


def validate_weights(value) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Expected an object of number type to weight.")
    for number_type, weight in value.items():
        if number_type not in NumberType.values:
            raise ValidationError(
                f"{number_type!r} is not a number type ({', '.join(NumberType.values)})."
            )
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
            raise ValidationError(
                f"The weight of {number_type} must be an integer from 0 to {MAX_WEIGHT}."
            )
    if all_zero(value):
        raise ValidationError(ALL_ZERO_WEIGHTS)


def all_zero(weights: dict) -> bool:
    """Whether `weights` (the types left out at their default) leave no type above 0."""
    return all(weights.get(number_type, DEFAULT_WEIGHT) == 0 for number_type in NumberType.values)


def validate_sticky_ttl_days(value) -> None:
    if isinstance(value, int) and value > MAX_STICKY_TTL_DAYS:
        raise ValidationError(STICKY_TTL_TOO_LONG)


def validate_overrides(value) -> None:
    """A list of `{country?, channel?, <setting>: value, …}`, at most one per scope."""
    if not isinstance(value, list):
        raise ValidationError("Expected a list of overrides.")
    scopes = set()
    for override in value:
        if not isinstance(override, dict):
            raise ValidationError("Each override is an object.")
        country, channel = override.get("country"), override.get("channel")
        if country is None and channel is None:
            raise ValidationError("Each override names a country, a channel or both.")
        if country is not None:
            validate_country(country)
        if channel is not None and channel not in Channel.values:
            raise ValidationError(f"{channel!r} is not a channel ({', '.join(Channel.values)}).")
        if (country, channel) in scopes:
            raise ValidationError(
                f"Two overrides share the scope {country or '*'}/{channel or '*'}."
            )
        scopes.add((country, channel))
        settings = {k: v for k, v in override.items() if k not in ("country", "channel")}
        if not settings:
            raise ValidationError("An override changes at least one setting.")
        for key, setting in settings.items():
            expected = OVERRIDABLE_SETTINGS.get(key)
            if expected is None:
                raise ValidationError(
                    f"{key!r} cannot be overridden (only {', '.join(OVERRIDABLE_SETTINGS)})."
                )
            if not isinstance(setting, expected):
                raise ValidationError(f"The override's {key} must be a {expected.__name__}.")
            if key == "weights":
                validate_weights(setting)


def validate_fallback_sender(*, fallback: str, sender_id: str, sender_ids: dict) -> None:
    """CustomFrom sends from the alphanumeric sender: the pool must have one somewhere."""
    if fallback == "CustomFrom" and not sender_id and not sender_ids:
        raise ValidationError(
            "The CustomFrom fallback sends from the pool's alphanumeric sender, and it has "
            "none: set alphanumericSenderId or alphanumericSenderIds, or choose another fallback."
        )


def validate_override_weights(*, weights: dict, overrides: list) -> None:
    """No destination's weights, overrides applied, may all be 0. Selection's own merge
    (Settings.for_destination) decides what they are; "" is any country no override names."""
    settings = Settings(weights=weights, overrides=tuple(overrides))
    countries = {o.get("country") for o in overrides if "weights" in o} - {None}
    for country in [*sorted(countries), ""]:
        for channel in Channel.values:
            if all_zero(settings.for_destination(country, channel).weights):
                raise ValidationError(
                    f"For {country or 'any other country'}/{channel} the overrides leave every "
                    "weight at 0; a weight of 0 means a type is used only when no other type "
                    "fits, so at least one type needs a weight above 0."
                )
