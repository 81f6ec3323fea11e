from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from accounts.models import Account
from carriers.models import Connection
from pools_project.errors import ServiceError
from virtual_numbers.models import Number
from virtual_numbers.phone import PhoneFacts, invalid, parse_e164, parse_short_code

CAPABILITIES = ("sms", "mms")
MAX_PARTS_PER_SECOND = 1000
# More than the fastest number sends in a day: a higher cap would never be reached.
MAX_DAILY_NEW_RECIPIENTS = MAX_PARTS_PER_SECOND * 24 * 60 * 60
UNSET = object()


def number_facts(*, number: str, type: str, country: str = "") -> PhoneFacts:
    """Validate a sender as registered with `type`; ServiceError INVALID_NUMBER if it is not."""
    if type == Number.Type.SHORTCODE:
        return parse_short_code(number, country)
    facts = parse_e164(number)
    if country and country.upper() != facts.country:
        raise invalid(f"{facts.number} is a number of {facts.country}, not of {country}.")
    if type == Number.Type.TOLLFREE and not facts.toll_free:
        raise invalid(f"{facts.number} is not a toll-free number.")
    if type == Number.Type.LONGCODE and facts.toll_free:
        raise invalid(f"{facts.number} is a toll-free number: register it with type tollfree.")
    return facts


def number_exists_error(number: str) -> ServiceError:
    return ServiceError("NUMBER_EXISTS", f"{number} is already registered.", status=409)


def check_connection_account(*, account_id, connection: Connection | None) -> None:
    """A number sends through one of its own account's connections, never another's."""
    if connection is not None and connection.account_id != account_id:
        raise ServiceError(
            "VALIDATION_ERROR",
            f"“{connection}” is a connection of another account than the number's.",
            errors={"connectionId": ["Not a connection of the number's account."]},
        )


def check_capacity(*, daily_new_recipients=None, state=Number.State.ACTIVE) -> None:
    """A daily cap is a whole number from 1 (None: no limit); a state is one of `Number.State`."""
    errors = {}
    if daily_new_recipients is not None and not (
        isinstance(daily_new_recipients, int)
        and 1 <= daily_new_recipients <= MAX_DAILY_NEW_RECIPIENTS
    ):
        errors["dailyNewRecipients"] = [
            f"A whole number from 1 to {MAX_DAILY_NEW_RECIPIENTS}, or null for no limit."
        ]
    if state not in Number.State.values:
        errors["state"] = [f"One of {', '.join(Number.State.values)}."]
    if errors:
        raise ServiceError(
            "VALIDATION_ERROR", " ".join(m for ms in errors.values() for m in ms), errors=errors
        )


def number_register(
    *,
    account: Account,
    number: str,
    type: str = Number.Type.LONGCODE,
    capabilities: Iterable[str] = ("sms",),
    country: str = "",
    connection: Connection | None = None,
    parts_per_second: float | None = None,
    daily_new_recipients: int | None = None,
    state: str = Number.State.ACTIVE,
) -> Number:
    """Register a sender. `connection` None: it sends through the account's default;
    `parts_per_second` None: at its type's rate; `daily_new_recipients` None: it takes
    any number of new recipients a day."""
    check_connection_account(account_id=account.pk, connection=connection)
    check_capacity(daily_new_recipients=daily_new_recipients, state=state)
    if type not in Number.Type.values:
        raise invalid(f"{type!r} is not a number type ({', '.join(Number.Type.values)}).")
    capabilities = set(capabilities)
    if not capabilities or not capabilities <= set(CAPABILITIES):
        raise invalid(f"Capabilities must be one or more of {', '.join(CAPABILITIES)}.")
    facts = number_facts(number=number, type=type, country=country)
    if Number.objects.filter(number=facts.number, country=facts.country).exists():
        raise number_exists_error(facts.number)
    try:
        # A savepoint, so a lost race leaves the caller's transaction usable.
        with transaction.atomic():
            return Number.objects.create(
                account=account,
                number=facts.number,
                type=type,
                country=facts.country,
                area_code=facts.area_code,
                location=facts.location,
                sms_capable="sms" in capabilities,
                mms_capable="mms" in capabilities,
                connection=connection,
                parts_per_second=parts_per_second,
                daily_new_recipients=daily_new_recipients,
                state=state,
            )
    except IntegrityError as exc:
        # Another request registered the same number between the check and the insert.
        raise number_exists_error(facts.number) from exc


def number_update(
    *,
    number: Number,
    type=UNSET,
    capabilities=UNSET,
    healthy=UNSET,
    connection=UNSET,
    parts_per_second=UNSET,
    daily_new_recipients=UNSET,
    state=UNSET,
) -> Number:
    """Change a number's type, capabilities, the operator's health override, its
    connection, its rate, its daily cap of new recipients or its state.

    `healthy=None` drops the override, so health follows delivery reports again;
    `connection=None` sends through the account's default; `parts_per_second=None` goes
    back to the type's rate; `daily_new_recipients=None` lifts the cap. The new
    recipients it took today still count against a cap set today.
    """
    changes = {}
    if type is not UNSET:
        number_facts(number=number.number, type=type, country=number.country)
        changes["type"] = type
    if capabilities is not UNSET:
        changes["sms_capable"] = "sms" in capabilities
        changes["mms_capable"] = "mms" in capabilities
    if healthy is not UNSET:
        changes["health_override"] = healthy
    if connection is not UNSET:
        check_connection_account(account_id=number.account_id, connection=connection)
        changes["connection"] = connection
    if parts_per_second is not UNSET:
        changes["parts_per_second"] = parts_per_second
    if daily_new_recipients is not UNSET:
        check_capacity(daily_new_recipients=daily_new_recipients)
        changes["daily_new_recipients"] = daily_new_recipients
    if state is not UNSET:
        check_capacity(state=state)
        changes["state"] = state
    for field, value in changes.items():
        setattr(number, field, value)
    # Only what changed: sending updates its counters and pacing slot at the same time.
    number.save(update_fields=list(changes))
    return number


def numbers_set_state(*, numbers: QuerySet[Number], state: str) -> int:
    """Cordon or activate the numbers; how many changed. A cordoned number takes no new
    recipients and keeps serving its sticky mappings until they expire (SPEC §14)."""
    check_capacity(state=state)
    return numbers.exclude(state=state).update(state=state)


def number_delete(*, number: Number) -> None:
    """Delete the number; its pool assignment and sticky mappings go with it.

    Opt-outs are kept by E.164 string, so they still hold if it is registered again.
    """
    number.delete()
