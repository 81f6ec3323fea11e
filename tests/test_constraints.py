"""The invariants the database itself enforces, whatever path (API, admin, command) writes.

Each test writes with the ORM, past every form and serializer, and expects the
database to refuse.
"""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from pools.models import Pool, PoolNumber, StickyMapping
from tests.factories import AccountFactory, NumberFactory, PoolFactory, PoolNumberFactory
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db


# A number is in at most one pool


def test_a_number_cannot_be_in_two_pools():
    assignment = PoolNumberFactory()
    second_pool = PoolFactory(account=assignment.pool.account)

    with pytest.raises(IntegrityError), transaction.atomic():
        PoolNumber.objects.create(pool=second_pool, number=assignment.number)

    assert PoolNumber.objects.get(number=assignment.number).pool == assignment.pool


def test_a_number_cannot_be_assigned_twice_to_the_same_pool():
    assignment = PoolNumberFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        PoolNumber.objects.bulk_create([PoolNumber(pool=assignment.pool, number=assignment.number)])

    assert PoolNumber.objects.count() == 1


# Numbers


def test_a_number_cannot_be_registered_twice_even_by_two_accounts():
    NumberFactory(number="+12125550100")

    with pytest.raises(IntegrityError), transaction.atomic():
        NumberFactory(number="+12125550100")

    assert Number.objects.count() == 1


def test_short_code_digits_are_unique_per_country_only():
    NumberFactory(number="60123", type="shortcode", country="US")
    NumberFactory(number="60123", type="shortcode", country="GB")

    with pytest.raises(IntegrityError), transaction.atomic():
        NumberFactory(number="60123", type="shortcode", country="GB")

    assert Number.objects.filter(number="60123").count() == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "landline"},
        {"type": "shortcode", "number": "+12125550100"},
        {"type": "longcode", "number": "12125550100"},
        {"type": "tollfree", "number": "18005550199"},
        {"sms_capable": False, "mms_capable": False},
    ],
    ids=[
        "unknown-type",
        "shortcode-with-plus",
        "longcode-without-plus",
        "tollfree-without-plus",
        "no-capability",
    ],
)
def test_a_number_that_breaks_a_check_constraint_is_refused(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        NumberFactory(**{"number": "+12125550100", **fields})

    assert not Number.objects.exists()


def test_an_mms_only_number_is_allowed():
    NumberFactory(sms_capable=False, mms_capable=True)

    assert Number.objects.get().capabilities == ["mms"]


# Pools


def test_pool_names_are_unique_within_an_account_only():
    account = AccountFactory()
    PoolFactory(account=account, name="alerts")
    PoolFactory(name="alerts")

    with pytest.raises(IntegrityError), transaction.atomic():
        PoolFactory(account=account, name="alerts")

    assert Pool.objects.filter(name="alerts").count() == 2


@pytest.mark.parametrize(
    "fields",
    [{"fallback": "Retry"}, {"opt_out_scope": "all"}, {"callback_strategy": "OnFailure"}],
)
def test_a_pool_with_a_setting_outside_its_choices_is_refused(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        PoolFactory(**fields)

    assert not Pool.objects.exists()


# Sticky mappings


def test_a_recipient_has_at_most_one_mapping_per_pool():
    first, second = PoolNumberFactory.create_batch(2, pool=PoolFactory())
    StickyMapping.objects.create(
        pool=first.pool, pool_number=first, recipient="+447700900001", last_used_at=timezone.now()
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        StickyMapping.objects.create(
            pool=second.pool,
            pool_number=second,
            recipient="+447700900001",
            last_used_at=timezone.now(),
        )

    assert StickyMapping.objects.get().pool_number == first


def test_a_recipient_may_have_a_mapping_in_each_pool():
    for pool_number in (PoolNumberFactory(), PoolNumberFactory()):
        StickyMapping.objects.create(
            pool=pool_number.pool,
            pool_number=pool_number,
            recipient="+447700900001",
            last_used_at=timezone.now(),
        )

    assert StickyMapping.objects.count() == 2


def test_unassigning_a_number_deletes_the_mappings_to_it():
    pool_number = PoolNumberFactory()
    StickyMapping.objects.create(
        pool=pool_number.pool,
        pool_number=pool_number,
        recipient="+447700900001",
        last_used_at=timezone.now(),
    )

    pool_number.delete()

    assert not StickyMapping.objects.exists()
    assert Number.objects.filter(pk=pool_number.number_id).exists()
