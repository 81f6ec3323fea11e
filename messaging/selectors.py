"""Reads about messages that other apps' pages ask for too (the pool's preview)."""

from datetime import datetime, timedelta

from django.db.models import Q
from django.db.models.functions import Coalesce

from messaging.models import Message
from messaging.quiet_hours import (
    MarketingPlan,
    QuietWindow,
    RecipientRules,
    marketing_plan,
    recipient_rules,
)
from pools.models import Pool


def marketing_hold(
    *, pool: Pool, to: str, requested: datetime, deadline: datetime | None
) -> MarketingPlan:
    """When a marketing message to `to` through `pool` may go (SPEC §13): the law's hours
    and limits where the recipient is, and the pool's quiet hours."""
    return marketing_hold_for(
        pool=pool, rules=recipient_rules(to), requested=requested, deadline=deadline
    )


def marketing_hold_for(
    *, pool: Pool, rules: RecipientRules, requested: datetime, deadline: datetime | None
) -> MarketingPlan:
    """`marketing_hold` for a recipient whose rules are already read."""
    recent = []
    if rules.limited:
        recent = marketing_times(account_id=pool.account_id, to=rules.number, since=requested)
    window = None
    if pool.quiet_hours_start is not None:
        window = QuietWindow(pool.quiet_hours_start, pool.quiet_hours_end)
    return marketing_plan(
        rules=rules, requested=requested, pool_quiet=window, recent=recent, deadline=deadline
    )


def marketing_times(*, account_id, to: str, since: datetime) -> list[datetime]:
    """When the recipient's other marketing messages of the account went or will go, from
    a day before `since` on: sent ones, and those still waiting; not those that ended
    before going (canceled, held past their ttl, opted out)."""
    day_before = since - timedelta(days=1)
    went_or_will = Q(sent_at__isnull=False) | Q(
        status__in=[Message.Status.SCHEDULED, Message.Status.QUEUED]
    )
    return list(
        Message.objects.filter(
            went_or_will, account_id=account_id, to=to, intent=Message.Intent.MARKETING
        )
        .annotate(at=Coalesce("sent_at", "send_at", "dispatch_at", "created_at"))
        .filter(at__gte=day_before)
        .values_list("at", flat=True)
    )
