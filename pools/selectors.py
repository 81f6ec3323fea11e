import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account
from pools.models import Pool, PoolNumber, StickyMapping
from pools_project.errors import ServiceError
from virtual_numbers.models import Number


def pool_list(*, account: Account) -> QuerySet[Pool]:
    return (
        Pool.objects.filter(account=account)
        .annotate(number_count=Count("pool_numbers"))
        .order_by("name", "created_at")
    )


def pool_not_found() -> ServiceError:
    return ServiceError("POOL_NOT_FOUND", "No such pool in this account.", status=404)


def pool_or_404(*, account: Account, pool_id) -> Pool:
    """The account's pool, with its `number_count`; POOL_NOT_FOUND (404) for another
    account's pool, a missing one, or an id that is not even well-formed."""
    try:
        return pool_list(account=account).get(pk=pool_id)
    except (Pool.DoesNotExist, ValidationError, ValueError):
        raise pool_not_found() from None


# "Mappings" on every page and in the API are the live ones, counted here: not
# `PoolNumber.mapping_count`, the selection service's counter, which still includes
# expired mappings until they are purged.


def live_mappings() -> QuerySet[StickyMapping]:
    """Mappings not yet expired: used less than their pool's sticky TTL ago (0 = never).

    Each mapping by its own pool's TTL, so one query serves a list of pools; the time is
    the application's, as in selection, not the database's.
    """
    # An IntegerField: SQLite's duration arithmetic refuses a PositiveIntegerField.
    ttl = ExpressionWrapper(F("pool__sticky_ttl_days"), output_field=IntegerField())
    age_limit = ExpressionWrapper(ttl * timedelta(days=1), output_field=DurationField())
    cutoff = Value(timezone.now()) - age_limit
    return StickyMapping.objects.filter(Q(pool__sticky_ttl_days=0) | Q(last_used_at__gt=cutoff))


def live_mapping_count(of: str) -> Coalesce:
    """Each row's live mappings, as an annotation: `of` is the mapping's field that points
    at the row ("pool" on pools, "pool_number" on pool numbers).

    A correlated subquery, not a Count() join: next to another join (a pool's numbers)
    it would count the product of the two.
    """
    mappings = (
        live_mappings()
        .filter(**{of: OuterRef("pk")})
        .order_by()
        .values(of)
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(mappings, output_field=IntegerField()), 0)


def with_counts(pools: QuerySet[Pool]) -> QuerySet[Pool]:
    """The pools, each with `number_count` and `live_mapping_count`."""
    return pools.annotate(
        number_count=Count("pool_numbers"), live_mapping_count=live_mapping_count("pool")
    )


def pool_numbers(*, pool: Pool) -> QuerySet[PoolNumber]:
    """The pool's assignments with their numbers and `live_mapping_count`."""
    return (
        PoolNumber.objects.filter(pool=pool)
        .prefetch_related(Prefetch("number", Number.objects.with_queue_depth()))
        .annotate(live_mapping_count=live_mapping_count("pool_number"))
        .order_by("number__number")
    )


def pool_mappings(*, pool: Pool) -> QuerySet[StickyMapping]:
    """The pool's live sticky mappings, most recently used first."""
    return (
        live_mappings()
        .filter(pool=pool)
        .select_related("pool_number__number")
        .order_by("-last_used_at", "recipient")
    )


def pool_by_reference(reference: str, *, account: Account | None = None) -> Pool:
    """A pool by id or by name (names are unique per account), for commands and the admin."""
    pools = Pool.objects.select_related("account")
    if account is not None:
        pools = pools.filter(account=account)
    try:
        matches = list(pools.filter(pk=uuid.UUID(reference)))
    except ValueError:
        matches = list(pools.filter(name=reference)[:2])
    if not matches:
        raise ServiceError("POOL_NOT_FOUND", f"No pool {reference!r}.", status=404)
    if len(matches) > 1:
        raise ServiceError(
            "POOL_AMBIGUOUS", f"Several accounts have a pool named {reference!r}; use its id."
        )
    return matches[0]


def pool_key(pool_id) -> uuid.UUID:
    """A pool id from a URL; POOL_NOT_FOUND (404) if it is not even well-formed."""
    try:
        return uuid.UUID(str(pool_id))
    except ValueError:
        raise pool_not_found() from None
