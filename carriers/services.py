"""Writes of connections: create, change, delete and check them, their state, and the
pace of their cap."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import Account
from carriers import kinds, selectors
from carriers.gateways import gateway_for
from carriers.gateways.base import CheckResult
from carriers.models import Connection
from pools_project.errors import ServiceError

MAX_MESSAGES_PER_SECOND = 10_000
MAX_WINDOW = 1000
DEFAULT_WINDOW = Connection._meta.get_field("window").default
UNSET = object()

# A state that has not changed is written again at most this often: "checkedAt" stays
# recent without a write per message.
STATE_REFRESH = timedelta(seconds=60)


def connection_state_record(*, connection_id, result: CheckResult) -> None:
    """What the last attempt or check on the connection found."""
    if connection_id is None:
        return
    now = timezone.now()
    Connection.objects.filter(pk=connection_id).filter(
        ~Q(state_status=result.status)
        | ~Q(state_detail=result.detail[:500])
        | Q(state_checked_at__isnull=True)
        | Q(state_checked_at__lt=now - STATE_REFRESH)
    ).update(state_status=result.status, state_detail=result.detail[:500], state_checked_at=now)


def connection_take_slot(*, connection_id, parts: int, now: float) -> float | None:
    """Take the connection's turn for `parts` under its cap, if it has come: None when
    it has (or there is no cap), else the seconds until it comes.

    A conditional update, so dispatchers on any number of hosts share the cap.
    """
    capped = Connection.objects.filter(pk=connection_id, messages_per_second__isnull=False)
    taken = capped.filter(next_slot_at__lte=now).update(
        next_slot_at=Greatest(F("next_slot_at"), Value(now)) + parts / F("messages_per_second")
    )
    if taken:
        return None
    next_slot_at = capped.values_list("next_slot_at", flat=True).first()
    return None if next_slot_at is None else max(next_slot_at - now, 0.001)


def connection_push_back(*, connection_id, now: float, seconds: float) -> None:
    """The provider said "too fast": nothing more leaves through it for `seconds`."""
    Connection.objects.filter(pk=connection_id).update(
        next_slot_at=Greatest(F("next_slot_at"), Value(now)) + seconds
    )


def validation_error(errors: dict[str, list[str]]) -> ServiceError:
    """VALIDATION_ERROR in the shape the API's handler gives DRF's validation errors."""
    message = "The request is not valid: " + "; ".join(
        f"{field}: {' '.join(messages)}" for field, messages in errors.items()
    )
    return ServiceError("VALIDATION_ERROR", message, errors=errors)


def _prefixed(prefix: str, errors: dict[str, list[str]]) -> dict[str, list[str]]:
    return {f"{prefix}.{name}": messages for name, messages in errors.items()}


def _merged(current: dict, changes: dict) -> dict:
    """Key by key: a value replaces, null removes (a setting goes back to its default)."""
    return {key: value for key, value in {**current, **changes}.items() if value is not None}


def _set_settings_and_secrets(connection: Connection, *, settings: dict, secrets: dict) -> None:
    """Merge the changes into the connection's settings and secrets, if the kind's rules
    allow the result; VALIDATION_ERROR naming `settings.<name>` and `secrets.<name>` if not."""
    new_settings = _merged(connection.settings, settings)
    new_secrets = _merged(connection.secrets, secrets)
    errors = {
        **_prefixed("settings", kinds.settings_errors(connection.kind, new_settings)),
        **_prefixed("secrets", kinds.secrets_errors(connection.kind, new_secrets)),
    }
    if errors:
        raise validation_error(errors)
    connection.settings, connection.secrets = new_settings, new_secrets


# What connection_update writes: the state and the pacing slot are written meanwhile by
# checks and sends, and a save of the whole row would put back what it read.
EDITABLE_FIELDS = ["name", "settings", "secrets", "messages_per_second", "window", "is_default"]


def _save(connection: Connection) -> Connection:
    if connection.is_default:
        _clear_default(connection)
    update_fields = None if connection._state.adding else EDITABLE_FIELDS
    try:
        # A savepoint, so a lost race on the name leaves the caller's transaction usable.
        with transaction.atomic():
            connection.save(update_fields=update_fields)
    except IntegrityError as exc:
        raise validation_error(
            {"name": ["The account already has a connection of this name."]}
        ) from exc
    return connection


def _clear_default(connection: Connection) -> None:
    """The account's previous default stops being one, so this one can take its place."""
    # The account's row is locked so that two switches at once queue up, instead of both
    # clearing the old default and then colliding on the one-default constraint. NO KEY:
    # rows that merely reference the account (a message, a number) are not held up.
    Account.objects.select_for_update(no_key=True).filter(pk=connection.account_id).first()
    Connection.objects.filter(account_id=connection.account_id, is_default=True).exclude(
        pk=connection.pk
    ).update(is_default=False)


@transaction.atomic
def connection_create(
    *,
    account: Account,
    name: str,
    kind: str,
    settings: dict | None = None,
    secrets: dict | None = None,
    messages_per_second: float | None = None,
    window: int = DEFAULT_WINDOW,
    is_default: bool = False,
) -> Connection:
    """A connection of the account. `is_default`: the numbers that name no connection
    send through it from now on, no longer through the previous default."""
    if kind not in kinds.KINDS:
        raise validation_error({"kind": [f"{kind!r} is not a kind of connection."]})
    connection = Connection(
        account=account,
        name=name,
        kind=kind,
        messages_per_second=messages_per_second,
        window=window,
        is_default=is_default,
    )
    _set_settings_and_secrets(connection, settings=settings or {}, secrets=secrets or {})
    return _save(connection)


@transaction.atomic
def connection_update(
    *,
    connection: Connection,
    name=UNSET,
    kind=UNSET,
    settings: dict | None = None,
    secrets: dict | None = None,
    messages_per_second=UNSET,
    window=UNSET,
    is_default=UNSET,
) -> Connection:
    """Change what is given. `settings` and `secrets` merge key by key, null removing one;
    the kind cannot change (its numbers were bought there: create another connection)."""
    if kind is not UNSET and kind != connection.kind:
        raise validation_error(
            {"kind": ["A connection's kind cannot change: create another connection."]}
        )
    _set_settings_and_secrets(connection, settings=settings or {}, secrets=secrets or {})
    changes = {
        "name": name,
        "messages_per_second": messages_per_second,
        "window": window,
        "is_default": is_default,
    }
    for field, value in changes.items():
        if value is not UNSET:
            setattr(connection, field, value)
    return _save(connection)


def connection_in_use_error(connection: Connection, count: int) -> ServiceError:
    reason = f"{count} number(s) send through this connection"
    if connection.is_default:
        reason += " (it is the account's default: the numbers that name none use it)"
    return ServiceError(
        "CONNECTION_IN_USE",
        f"{reason}: move them to another connection first.",
        status=409,
        details={"numberCount": count},
    )


@transaction.atomic
def connection_delete(*, connection: Connection) -> None:
    """Delete the connection, unless numbers send through it: they would have no way out."""
    # Locked so that a number moving onto it meanwhile waits for this delete (and then
    # fails) rather than slipping in between the count and the delete.
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    count = selectors.connection_numbers(connection=connection).count()
    if count:
        raise connection_in_use_error(connection, count)
    connection.delete()


def connection_check(*, connection: Connection) -> CheckResult:
    """Try the connection's credentials now, and record what that found as its state.

    Called with no transaction open: the adapter may take seconds (an SMPP bind, an HTTP
    request), and nothing should be locked while it waits."""
    result = gateway_for(connection).check()
    connection_state_record(connection_id=connection.pk, result=result)
    return result
