import uuid
from datetime import timedelta

from django.db.models import Count, Prefetch, Q, QuerySet
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


def live_mappings_filter(pool: Pool, prefix: str = "") -> Q:
    """Mappings not yet expired: used less than the pool's sticky TTL ago (0 = never expire)."""
    if not pool.sticky_ttl_days:
        return Q()
    cutoff = timezone.now() - timedelta(days=pool.sticky_ttl_days)
    return Q(**{f"{prefix}last_used_at__gt": cutoff})


def pool_numbers(*, pool: Pool) -> QuerySet[PoolNumber]:
    """The pool's assignments with their numbers and live mapping counts.

    Counted here rather than read from `PoolNumber.mapping_count`, which still
    includes expired mappings until they are purged.
    """
    return (
        PoolNumber.objects.filter(pool=pool)
        .prefetch_related(Prefetch("number", Number.objects.with_queue_depth()))
        .annotate(
            live_mapping_count=Count("mappings", filter=live_mappings_filter(pool, "mappings__"))
        )
        .order_by("number__number")
    )


def pool_mappings(*, pool: Pool) -> QuerySet[StickyMapping]:
    """The pool's live sticky mappings, most recently used first."""
    return (
        StickyMapping.objects.filter(pool=pool)
        .filter(live_mappings_filter(pool))
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
