"""Assigning numbers to pools and removing them: all or nothing, one pool per number."""

import threading

import pytest
from django.db import connection

from pools.models import PoolNumber, StickyMapping
from pools.services.pools import pool_assign_numbers
from pools_project.errors import ServiceError
from tests.assertions import assert_error
from tests.factories import NumberFactory, PoolFactory, PoolNumberFactory, StickyMappingFactory

pytestmark = pytest.mark.django_db


def assign(api, pool, numbers):
    return api.post(f"/pools/my/{pool.pk}/numbers", {"numbers": numbers}, format="json")


def remove(api, pool, numbers):
    return api.post(f"/pools/my/{pool.pk}/numbers/remove", {"numbers": numbers}, format="json")


def pool_numbers(pool) -> list[str]:
    return sorted(PoolNumber.objects.filter(pool=pool).values_list("number__number", flat=True))


def e164(i: int) -> str:
    return f"+1212555{i:04d}"


@pytest.fixture
def pool(account):
    return PoolFactory(account=account, name="marketing")


@pytest.fixture
def other_pool(account):
    return PoolFactory(account=account, name="alerts")


@pytest.fixture
def free(account):
    """Three of the account's numbers, in no pool."""
    return [NumberFactory(account=account, number=e164(i)) for i in range(3)]


# Assigning


def test_assigned_numbers_join_the_pool_and_are_returned(api, pool, free):
    response = assign(api, pool, [e164(0), e164(1)])

    assert response.status_code == 200
    body = response.json()
    assert body["poolId"] == str(pool.pk)
    assert sorted((n["number"], n["poolId"]) for n in body["numbers"]) == [
        (e164(0), str(pool.pk)),
        (e164(1), str(pool.pk)),
    ]
    assert pool_numbers(pool) == [e164(0), e164(1)]
    assert api.get(f"/pools/my/{pool.pk}").json()["numberCount"] == 2


def test_numbers_are_found_however_they_are_written(api, pool, free):
    response = assign(api, pool, ["+1 (212) 555-0000"])

    assert response.status_code == 200
    assert pool_numbers(pool) == [e164(0)]


def test_assigning_a_number_already_in_the_pool_again_changes_nothing(api, pool, free):
    assign(api, pool, [e164(0)])

    response = assign(api, pool, [e164(0), e164(1)])

    assert response.status_code == 200
    assert pool_numbers(pool) == [e164(0), e164(1)]


def test_a_short_code_is_assigned_by_its_digits(api, account, pool):
    NumberFactory(account=account, number="60123", type="shortcode", country="US", area_code="")

    assert assign(api, pool, ["60123"]).status_code == 200
    assert pool_numbers(pool) == ["60123"]


def test_fifty_numbers_can_be_assigned_in_one_call(api, account, pool):
    numbers = [NumberFactory(account=account, number=e164(i)).number for i in range(50)]

    response = assign(api, pool, numbers)

    assert response.status_code == 200
    assert len(response.json()["numbers"]) == 50
    assert len(pool_numbers(pool)) == 50


@pytest.mark.parametrize(("count", "code"), [(0, "VALIDATION_ERROR"), (51, "TOO_MANY_NUMBERS")])
def test_assigning_no_number_or_more_than_fifty_is_refused(api, account, pool, count, code):
    numbers = [NumberFactory(account=account, number=e164(i)).number for i in range(count)]

    assert_error(assign(api, pool, numbers), 400, code)
    assert not PoolNumber.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"numbers": "+12125550000"}, {"numbers": [e164(0)], "poolId": "x"}, {"numbers": None}],
)
def test_a_malformed_assignment_is_a_validation_error(api, pool, free, body):
    response = api.post(f"/pools/my/{pool.pk}/numbers", body, format="json")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert not PoolNumber.objects.exists()


def test_one_unknown_number_means_nothing_is_assigned(api, pool, free):
    response = assign(api, pool, [e164(0), "+12125559999", e164(1), "not a number"])

    body = assert_error(response, 404, "NUMBER_NOT_FOUND")
    assert "+12125559999" in body["developerMessage"]
    assert body["numbers"] == ["+12125559999", "not a number"]
    assert not PoolNumber.objects.exists()


def test_another_accounts_number_cannot_be_assigned(api, pool, free, other_account):
    NumberFactory(account=other_account, number="+12125559999")

    body = assert_error(assign(api, pool, [e164(0), "+12125559999"]), 404, "NUMBER_NOT_FOUND")

    assert body["numbers"] == ["+12125559999"]
    assert not PoolNumber.objects.exists()


def test_a_number_in_another_pool_is_refused_naming_it_and_nothing_is_assigned(
    api, pool, other_pool, free
):
    PoolNumber.objects.create(pool=other_pool, number=free[1])
    PoolNumber.objects.create(pool=other_pool, number=free[2])

    response = assign(api, pool, [e164(0), e164(1), e164(2)])

    body = assert_error(response, 409, "NUMBER_IN_ANOTHER_POOL")
    assert body["numbers"] == [e164(1), e164(2)]
    assert e164(1) in body["developerMessage"]
    assert e164(2) in body["developerMessage"]
    assert pool_numbers(pool) == []
    assert pool_numbers(other_pool) == [e164(1), e164(2)]


def test_a_number_moves_by_removing_it_then_assigning_it(api, pool, other_pool, free):
    assign(api, other_pool, [e164(0)])

    assert remove(api, other_pool, [e164(0)]).status_code == 200
    assert assign(api, pool, [e164(0)]).status_code == 200

    assert (pool_numbers(pool), pool_numbers(other_pool)) == ([e164(0)], [])


# Removing


def test_removing_numbers_unassigns_them_and_clears_only_their_mappings(api, pool, free):
    kept, removed = (PoolNumber.objects.create(pool=pool, number=n) for n in free[:2])
    StickyMappingFactory(pool_number=kept, recipient="+447700900001")
    StickyMappingFactory(pool_number=removed, recipient="+447700900002")

    response = remove(api, pool, [e164(1)])

    assert response.status_code == 200
    assert [(n["number"], n["poolId"]) for n in response.json()["numbers"]] == [(e164(1), None)]
    assert pool_numbers(pool) == [e164(0)]
    assert list(StickyMapping.objects.values_list("recipient", flat=True)) == ["+447700900001"]


def test_removing_leaves_numbers_of_another_pool_where_they_are(api, pool, other_pool, free):
    PoolNumber.objects.create(pool=other_pool, number=free[0])

    response = remove(api, pool, [e164(0)])

    assert response.status_code == 200
    assert response.json()["numbers"] == []
    assert pool_numbers(other_pool) == [e164(0)]


def test_removing_an_unknown_number_removes_nothing(api, pool, free):
    PoolNumber.objects.create(pool=pool, number=free[0])

    assert_error(remove(api, pool, [e164(0), "+12125559999"]), 404, "NUMBER_NOT_FOUND")
    assert pool_numbers(pool) == [e164(0)]


def test_another_accounts_number_cannot_be_removed(api, pool, other_account):
    foreign = PoolNumberFactory(pool__account=other_account, number__number="+12125559999")

    assert_error(remove(api, pool, ["+12125559999"]), 404, "NUMBER_NOT_FOUND")
    assert PoolNumber.objects.get() == foreign


@pytest.mark.parametrize(("count", "code"), [(0, "VALIDATION_ERROR"), (51, "TOO_MANY_NUMBERS")])
def test_removing_no_number_or_more_than_fifty_is_refused(api, account, pool, count, code):
    numbers = [NumberFactory(account=account, number=e164(i)) for i in range(count)]
    PoolNumber.objects.bulk_create(PoolNumber(pool=pool, number=n) for n in numbers)

    assert_error(remove(api, pool, [n.number for n in numbers]), 400, code)
    assert len(pool_numbers(pool)) == count


def test_fifty_numbers_can_be_removed_in_one_call(api, account, pool):
    numbers = [NumberFactory(account=account, number=e164(i)) for i in range(50)]
    PoolNumber.objects.bulk_create(PoolNumber(pool=pool, number=n) for n in numbers)

    assert remove(api, pool, [n.number for n in numbers]).status_code == 200
    assert pool_numbers(pool) == []


# Two assignments of one number at the same time


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_assignments_of_one_number_to_two_pools_let_exactly_one_win(account):
    number = NumberFactory(account=account, number=e164(0))
    pools = [PoolFactory(account=account, name=name) for name in ("first", "second")]
    barrier = threading.Barrier(len(pools))
    outcomes = {}

    def assign_in_own_connection(pool):
        try:
            barrier.wait(timeout=10)
            pool_assign_numbers(pool=pool, numbers=[number.number])
            outcomes[pool.name] = "assigned"
        except ServiceError as exc:
            outcomes[pool.name] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=assign_in_own_connection, args=(p,)) for p in pools]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == ["NUMBER_IN_ANOTHER_POOL", "assigned"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "assigned")
    assert list(PoolNumber.objects.values_list("pool__name", "number__number")) == [
        (winner, number.number)
    ]
