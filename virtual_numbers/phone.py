"""Parsing the numbers the service meets: senders it registers and recipients it texts."""

import functools
from dataclasses import dataclass

import phonenumbers
from phonenumbers import shortnumberinfo

from pools_project.errors import ServiceError
from virtual_numbers.nanp import area_code

NANP_COUNTRY_CODE = 1


@dataclass(frozen=True)
class PhoneFacts:
    """What selection and registration need to know about one number."""

    number: str  # E.164 with its `+`, or a short code's digits
    country: str  # ISO 3166-1 alpha-2
    area_code: str = ""  # NANP only
    location: str = ""  # NANP only: state, province, or the Caribbean country
    overlay: frozenset[str] = frozenset()  # NANP only: area codes serving the same area
    toll_free: bool = False


def invalid(message: str) -> ServiceError:
    return ServiceError("INVALID_NUMBER", message)


def is_country_code(value: str) -> bool:
    return value in phonenumbers.SUPPORTED_REGIONS


# The facts of a number never change: a recipient texted again is not parsed again
# (every send parses its recipient, and phonenumbers' parsing costs more than a lookup).
@functools.lru_cache(maxsize=16_384)
def parse_e164(raw: str) -> PhoneFacts:
    """Facts about an E.164 number; ServiceError INVALID_NUMBER if it is not a valid one."""
    text = (raw or "").strip()
    if not text.startswith("+"):
        raise invalid(f"{raw!r} is not an E.164 number: it must start with + and the country code.")
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise invalid(f"{raw!r} is not a phone number: {exc}.") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise invalid(f"{raw!r} is not a valid phone number.")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    facts = {
        "number": e164,
        "country": phonenumbers.region_code_for_number(parsed),
        "toll_free": phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.TOLL_FREE,
    }
    if parsed.country_code == NANP_COUNTRY_CODE:
        npa = str(parsed.national_number)[:3]
        facts["area_code"] = npa
        if known := area_code(npa):
            facts["location"] = known.location
            facts["overlay"] = known.overlay
    return PhoneFacts(**facts)


def parse_short_code(raw: str, country: str) -> PhoneFacts:
    """A short code is national: its digits only mean something within `country`."""
    digits = (raw or "").strip()
    country = (country or "").strip().upper()
    if not is_country_code(country):
        raise invalid("A short code needs the ISO 3166-1 alpha-2 code of its country.")
    if not digits.isascii() or not digits.isdigit():
        raise invalid(f"{raw!r} is not a short code: a short code is digits only.")
    parsed = phonenumbers.parse(digits, country)
    if not shortnumberinfo.is_possible_short_number_for_region(parsed, country):
        raise invalid(f"{raw!r} is not a possible short code in {country}.")
    return PhoneFacts(number=digits, country=country)
