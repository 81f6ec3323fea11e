from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import Account
from pools.models import Pool, PoolNumber


def pool_list(*, account: Account) -> QuerySet[Pool]:
    return (
        Pool.objects.filter(account=account)
        .annotate(number_count=Count("pool_numbers"))
        .order_by("name", "created_at")
    )


def live_mappings_filter(pool: Pool, prefix: str = "") -> Q:
    """Mappings not yet expired: used within the pool's sticky TTL (0 = never expire)."""
    if not pool.sticky_ttl_days:
        return Q()
    cutoff = timezone.now() - timedelta(days=pool.sticky_ttl_days)
    return Q(**{f"{prefix}last_used_at__gte": cutoff})


def pool_numbers(*, pool: Pool) -> QuerySet[PoolNumber]:
    """The pool's assignments with their numbers and live mapping counts."""
    return (
        PoolNumber.objects.filter(pool=pool)
        .select_related("number")
        .annotate(mapping_count=Count("mappings", filter=live_mappings_filter(pool, "mappings__")))
        .order_by("number__number")
    )
