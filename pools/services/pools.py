from django.db import IntegrityError, transaction

from accounts.models import Account
from pools.models import DEFAULT_WEIGHTS, Pool, PoolNumber
from pools.services.selection import mappings_clear
from pools_project.errors import ServiceError
from virtual_numbers.models import Number
from virtual_numbers.phone import parse_e164

# The pool's fields that `smsSettings` exposes (everything but identity and timestamps).
SETTINGS_FIELDS = tuple(
    field.name
    for field in Pool._meta.concrete_fields
    if field.name not in ("id", "account", "name", "created_at", "updated_at")
)


def pool_settings_defaults() -> dict:
    return {name: Pool._meta.get_field(name).get_default() for name in SETTINGS_FIELDS}


def pool_name_taken_error(name: str) -> ServiceError:
    return ServiceError(
        "VALIDATION_ERROR",
        f"The account already has a pool named {name!r}.",
        errors={"name": ["The account already has a pool of this name."]},
    )


def _save_pool(pool: Pool) -> Pool:
    """Validate every setting against the model, then save; a name clash is a 400."""
    pool.weights = {**DEFAULT_WEIGHTS, **pool.weights}
    pool.full_clean(exclude=["account"], validate_constraints=False)
    try:
        with transaction.atomic():
            pool.save()
    except IntegrityError as exc:
        raise pool_name_taken_error(pool.name) from exc
    return pool


def pool_create(*, account: Account, name: str, **settings) -> Pool:
    return _save_pool(Pool(account=account, name=name, **settings))


@transaction.atomic
def pool_update(*, pool: Pool, **changes) -> Pool:
    """Change the name and settings given. Turning `sticky` off deletes the mappings (Telnyx)."""
    unknown = set(changes) - {"name", *SETTINGS_FIELDS}
    if unknown:
        raise TypeError(f"pool_update() got unexpected settings {sorted(unknown)}")
    was_sticky = pool.sticky
    for name, value in changes.items():
        setattr(pool, name, value)
    _save_pool(pool)
    if was_sticky and not pool.sticky:
        mappings_clear(pool=pool)
    return pool


def pool_update_settings(
    *, pool: Pool, settings: dict | None = None, name: str | None = None
) -> Pool:
    """Give the pool `settings` as its whole settings: those left out go back to their
    defaults (a PATCH, once merged, sends all it keeps). None leaves the settings as they
    are; `name` renames the pool."""
    changes = {} if settings is None else pool_settings_defaults() | settings
    if name is not None:
        changes["name"] = name
    return pool_update(pool=pool, **changes)


def pool_delete(*, pool: Pool) -> None:
    """Delete the pool; its numbers stay in the account, unassigned, and its mappings go."""
    pool.delete()


def _normalise(raw: str) -> str:
    try:
        return parse_e164(raw).number
    except ServiceError:
        return raw.strip()  # a short code's digits, or something that will not be found


def _account_numbers(account: Account, numbers: list[str]) -> list[Number]:
    """The account's numbers named in `numbers`; NUMBER_NOT_FOUND naming any it lacks.

    The rows are locked so a concurrent assign or remove of the same numbers waits.
    """
    wanted = {_normalise(raw): raw for raw in numbers}
    found = list(
        Number.objects.for_account(account)
        .filter(number__in=wanted)
        .select_related("pool_number")
        .select_for_update(of=("self",))
    )
    missing = sorted(set(wanted) - {number.number for number in found})
    if missing:
        raise ServiceError(
            "NUMBER_NOT_FOUND",
            f"Not numbers of this account: {', '.join(missing)}.",
            status=404,
            details={"numbers": missing},
        )
    return found


def in_another_pool_error(numbers: list[str]) -> ServiceError:
    return ServiceError(
        "NUMBER_IN_ANOTHER_POOL",
        f"Already in another pool (remove them from it first): {', '.join(numbers)}.",
        status=409,
        details={"numbers": numbers},
    )


@transaction.atomic
def pool_assign_numbers(*, pool: Pool, numbers: list[str]) -> list[Number]:
    """Assign the numbers to the pool, all or none. Numbers already in it stay."""
    found = _account_numbers(pool.account, numbers)
    elsewhere = sorted(
        n.number for n in found if hasattr(n, "pool_number") and n.pool_number.pool_id != pool.pk
    )
    if elsewhere:
        raise in_another_pool_error(elsewhere)
    new = [n for n in found if not hasattr(n, "pool_number")]
    try:
        with transaction.atomic():
            assignments = PoolNumber.objects.bulk_create(
                [PoolNumber(pool=pool, number=number) for number in new]
            )
    except IntegrityError as exc:
        # A concurrent assignment took one of them first; the unique index refused ours.
        raise in_another_pool_error(sorted(n.number for n in new)) from exc
    for number, assignment in zip(new, assignments, strict=True):
        number.pool_number = assignment
    return found


@transaction.atomic
def pool_remove_numbers(*, pool: Pool, numbers: list[str]) -> list[Number]:
    """Unassign the numbers from the pool; their sticky mappings go with the assignment."""
    found = _account_numbers(pool.account, numbers)
    removed = [
        n.pk for n in found if hasattr(n, "pool_number") and n.pool_number.pool_id == pool.pk
    ]
    PoolNumber.objects.filter(pool=pool, number__in=removed).delete()
    return list(Number.objects.filter(pk__in=removed))
