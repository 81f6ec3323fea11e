"""The choice made in SQL is the choice the core makes from a list (SPEC §2, §15).

The selection service answers the core's questions about a pool's numbers in SQL, on
one location tier at a time (`SqlPoolNumbers`); the core's tests answer them from a
list (`NumberList`). For any pool, settings and recipient Hypothesis draws, both give
the same decision, explanation included.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from carriers.models import Connection
from pools.decision import Candidate, NumberList, Refusal, Request, decide
from pools.models import Pool, PoolNumber
from pools.services.selection import (
    SqlPoolNumbers,
    pool_for_send,
    pool_settings,
    recipient_facts,
)
from tests.factories import AccountFactory, ConnectionFactory
from tests.scenarios import number_of
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)

# Places that exercise every tier: an area code, its overlay, its state, its country,
# another country; a toll-free number belongs to no area code.
PLACES = ["+1212", "+1646", "+1518", "+1415", "+1800", "+44740"]
RECIPIENTS = ["+12125550100", "+16465550100", "+15185550100", "+14155550100", "+447400900100"]

number_spec = st.fixed_dictionaries(
    {
        "place": st.sampled_from(PLACES),
        "sms": st.booleans(),
        "mms": st.booleans(),
        "healthy": st.booleans(),
        "down": st.booleans(),
        "mappings": st.integers(0, 3),
        "assignments": st.integers(0, 6),
        "used_minutes_ago": st.none() | st.integers(0, 3),
        "busy_seconds": st.sampled_from([0, 0, 30, 300]),
        "cordoned": st.booleans(),
        "daily_cap": st.none() | st.integers(1, 3),
        "new_recipients": st.integers(0, 4),
        # The day of that count: today (UTC), yesterday, never.
        "new_recipients_days_ago": st.sampled_from([0, 1, None]),
    }
)
settings_spec = st.fixed_dictionaries(
    {
        "sticky": st.booleans(),
        "geomatch": st.booleans(),
        "skip_unhealthy": st.booleans(),
        "fallback": st.sampled_from(["Pool", "CustomFrom", "Reject"]),
        "default_country": st.sampled_from(["", "GB"]),
        "priority_countries": st.sampled_from([[], ["GB"], ["US", "GB"]]),
        "max_queue_seconds": st.sampled_from([None, 60]),
        "weights": st.sampled_from(
            [{"longcode": 1, "tollfree": 1}, {"longcode": 3, "tollfree": 1}, {"tollfree": 0}]
        ),
    }
)


def seed(specs, pool_fields) -> Pool:
    account = AccountFactory()
    down = ConnectionFactory(account=account, state_status=Connection.Status.DOWN)
    pool = Pool.objects.create(account=account, name="drawn", **pool_fields)
    for i, spec in enumerate(specs):
        e164 = (
            f"{spec['place']}0200{i:03d}"
            if spec["place"] == "+44740"
            else f"{spec['place']}203{i:04d}"
        )
        number = number_of(
            account,
            e164,
            sms_capable=spec["sms"] or not spec["mms"],
            mms_capable=spec["mms"],
            health_override=spec["healthy"],
            connection=down if spec["down"] else None,
            next_slot_at=NOW.timestamp() + spec["busy_seconds"],
            state=Number.State.CORDONED if spec["cordoned"] else Number.State.ACTIVE,
            daily_new_recipients=spec["daily_cap"],
            new_recipients_today=spec["new_recipients"],
            new_recipients_on=(
                None
                if spec["new_recipients_days_ago"] is None
                else NOW.date() - timedelta(days=spec["new_recipients_days_ago"])
            ),
            last_used_at=(
                None
                if spec["used_minutes_ago"] is None
                else NOW - timedelta(minutes=spec["used_minutes_ago"])
            ),
        )
        PoolNumber.objects.create(
            pool=pool,
            number=number,
            mapping_count=spec["mappings"],
            assignment_count=spec["assignments"],
        )
    return pool


def as_candidate(pool_number: PoolNumber) -> Candidate:
    """The number as the core reads it, from the models: the list the SQL must agree with."""
    number = pool_number.number
    return Candidate(
        id=pool_number.pk,
        number=number.number,
        type=number.type,
        country=number.country,
        area_code=number.area_code,
        location=number.location,
        sms=number.sms_capable,
        mms=number.mms_capable,
        healthy=number.healthy,
        mapping_count=pool_number.mapping_count,
        assignment_count=pool_number.assignment_count,
        last_used_at=number.last_used_at,
        number_id=number.pk,
        next_slot_at=number.next_slot_at,
        connection_id=number.connection_id,
        connection_status=number.connection.state_status if number.connection else "up",
        cordoned=number.state == Number.State.CORDONED,
        daily_cap=number.daily_new_recipients,
        new_recipients=number.new_recipients_today,
        new_recipients_on=number.new_recipients_on,
    )


def outcome(pool, numbers, to, channel):
    request = Request(recipient=recipient_facts(to), now=NOW, channel=channel)
    try:
        decision = decide(pool_settings(pool), request, None, numbers)
    except Refusal as refusal:
        return refusal.code, refusal.explanation
    return decision.sender, decision.rule, decision.explanation


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=st.lists(number_spec, min_size=0, max_size=8),
    pool_fields=settings_spec,
    to=st.sampled_from(RECIPIENTS),
    channel=st.sampled_from(["sms", "mms"]),
)
def test_the_sql_choice_is_the_choice_the_core_makes_from_the_list(specs, pool_fields, to, channel):
    with transaction.atomic():
        pool = seed(specs, {**pool_fields, "alphanumeric_sender_id": "ACME"})
        loaded = pool_for_send(
            pool_id=pool.pk, account_id=pool.account_id, recipient=to, lock=False
        )
        listed = NumberList([as_candidate(pn) for pn in PoolNumber.objects.filter(pool=pool)])
        in_sql = SqlPoolNumbers(loaded, claim=False)

        assert outcome(pool, in_sql, to, channel) == outcome(pool, listed, to, channel)
        transaction.set_rollback(True)
