"""The numbers API: register, list, filter, read, change and delete (SPEC §6)."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create, api_key_revoke
from messaging.models import Message
from pools.models import PoolNumber
from tests.assertions import assert_error
from tests.factories import (
    ConnectionFactory,
    MessageFactory,
    NumberFactory,
    PoolFactory,
    PoolNumberFactory,
)
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db

NUMBER_FIELDS = {
    "id",
    "number",
    "country",
    "areaCode",
    "location",
    "type",
    "capabilities",
    "poolId",
    "healthy",
    "connectionId",
    "partsPerSecond",
    "queueDepth",
    "state",
    "dailyNewRecipients",
    "newRecipientsToday",
    "createdAt",
}


def stable(body: dict) -> dict:
    """The resource without the fields a test cannot predict."""
    return {k: v for k, v in body.items() if k not in ("id", "createdAt", "lastUsedAt")}


def register(api, **body):
    return api.post("/numbers/my", body, format="json")


def numbers_listed(api, query="") -> list[str]:
    response = api.get(f"/numbers/my{query}")
    assert response.status_code == 200, response.json()
    return [item["number"] for item in response.json()["results"]]


# Registering


def test_registering_a_new_york_long_code_fills_country_area_code_and_state(api, account):
    response = register(api, number="+12125550100")

    assert response.status_code == 201
    body = response.json()
    assert set(body) >= NUMBER_FIELDS
    assert stable(body) == {
        "number": "+12125550100",
        "country": "US",
        "areaCode": "212",
        "location": "NY",
        "type": "longcode",
        "capabilities": ["sms"],
        "poolId": None,
        "healthy": True,
        "connectionId": None,
        "partsPerSecond": 1.0,
        "queueDepth": 0,
        "state": "active",
        "dailyNewRecipients": None,
        "newRecipientsToday": 0,
    }
    assert Number.objects.get(pk=body["id"]).account == account


def test_a_canadian_number_gets_its_province(api):
    body = register(api, number="+14165550123").json()

    assert (body["country"], body["areaCode"], body["location"]) == ("CA", "416", "ONTARIO")


def test_a_number_outside_north_america_has_no_area_code_or_location(api):
    body = register(api, number="+442079460958", capabilities=["sms", "mms"]).json()

    assert (body["country"], body["areaCode"], body["location"]) == ("GB", None, None)
    assert body["capabilities"] == ["sms", "mms"]


def test_a_number_written_with_spaces_is_stored_in_e164(api):
    body = register(api, number="+1 212 555 0100").json()

    assert body["number"] == "+12125550100"


def test_a_toll_free_number_registers_as_tollfree(api):
    response = register(api, number="+18005550199", type="tollfree")

    assert response.status_code == 201
    assert response.json()["type"] == "tollfree"
    assert response.json()["areaCode"] == "800"
    assert response.json()["location"] is None


def test_a_toll_free_number_cannot_register_as_a_long_code(api):
    assert_error(register(api, number="+18005550199"), 400, "INVALID_NUMBER")
    assert not Number.objects.exists()


def test_a_geographic_number_cannot_register_as_toll_free(api):
    assert_error(register(api, number="+12125550100", type="tollfree"), 400, "INVALID_NUMBER")


def test_a_country_that_contradicts_the_number_is_refused(api):
    assert_error(register(api, number="+12125550100", country="GB"), 400, "INVALID_NUMBER")


@pytest.mark.parametrize(
    "number",
    ["12125550100", "+1212", "+999123456789", "not a number", "+1 212 555 010a", ""],
)
def test_an_invalid_number_is_refused_and_nothing_is_stored(api, number):
    response = register(api, number=number)

    if number == "":
        assert_error(response, 400, "VALIDATION_ERROR")
    else:
        assert_error(response, 400, "INVALID_NUMBER")
    assert not Number.objects.exists()


def test_a_short_code_is_registered_with_its_country(api):
    response = register(api, number="12345", type="shortcode", country="US")

    assert response.status_code == 201
    assert stable(response.json()) == {
        "number": "12345",
        "country": "US",
        "areaCode": None,
        "location": None,
        "type": "shortcode",
        "capabilities": ["sms"],
        "poolId": None,
        "healthy": True,
        "connectionId": None,
        "partsPerSecond": 100.0,
        "queueDepth": 0,
        "state": "active",
        "dailyNewRecipients": None,
        "newRecipientsToday": 0,
    }


def test_a_short_code_without_a_country_is_refused(api):
    assert_error(register(api, number="12345", type="shortcode"), 400, "INVALID_NUMBER")
    assert not Number.objects.exists()


@pytest.mark.parametrize(
    "number",
    ["+12125550100", "12a45", "\uff11\uff12\uff13\uff14\uff15"],  # full-width digits
)
def test_a_short_code_is_ascii_digits_only(api, number):
    assert_error(
        register(api, number=number, type="shortcode", country="US"), 400, "INVALID_NUMBER"
    )


def test_the_same_short_code_digits_may_exist_in_two_countries(api):
    assert register(api, number="60123", type="shortcode", country="US").status_code == 201
    assert register(api, number="60123", type="shortcode", country="GB").status_code == 201

    assert_error(
        register(api, number="60123", type="shortcode", country="GB"), 409, "NUMBER_EXISTS"
    )


def test_registering_a_number_twice_is_a_conflict(api):
    register(api, number="+12125550100")

    assert_error(register(api, number="+1 (212) 555-0100"), 409, "NUMBER_EXISTS")
    assert Number.objects.count() == 1


def test_a_number_of_another_account_cannot_be_registered_again(api, other_account):
    NumberFactory(account=other_account, number="+12125550100")

    assert_error(register(api, number="+12125550100"), 409, "NUMBER_EXISTS")
    assert Number.objects.get().account == other_account


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "number"),
        ({"number": "+12125550100", "type": "landline"}, "type"),
        ({"number": "+12125550100", "capabilities": []}, "capabilities"),
        ({"number": "+12125550100", "capabilities": ["voice"]}, "capabilities.0"),
        ({"number": "+12125550100", "country": "USA"}, "country"),
        ({"number": "+12125550100", "poolId": str(uuid.uuid4())}, "poolId"),
    ],
)
def test_a_malformed_registration_is_a_validation_error_naming_the_field(api, body, field):
    response = api.post("/numbers/my", body, format="json")

    assert field in assert_error(response, 400, "VALIDATION_ERROR")["errors"]
    assert not Number.objects.exists()


def test_a_body_that_is_not_json_is_a_validation_error(api):
    response = api.post("/numbers/my", "{not json", content_type="application/json")

    assert_error(response, 400, "VALIDATION_ERROR")


def test_a_json_list_instead_of_an_object_is_a_validation_error(api):
    response = api.post("/numbers/my", ["+12125550100"], format="json")

    assert_error(response, 400, "VALIDATION_ERROR")


# Listing and filtering


def test_the_list_is_paginated_and_shows_only_the_accounts_numbers(api, account, other_account):
    NumberFactory(account=account, number="+12125550101")
    NumberFactory(account=account, number="+12125550102")
    NumberFactory(account=other_account, number="+12125550103")

    body = api.get("/numbers/my").json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2
    assert [n["number"] for n in body["results"]] == ["+12125550101", "+12125550102"]


def test_page_size_splits_the_list_into_linked_pages(api, account):
    for i in range(5):
        NumberFactory(account=account, number=f"+1212555010{i}")

    first = api.get("/numbers/my?pageSize=2").json()
    last = api.get("/numbers/my?pageSize=2&page=3").json()

    assert first["count"] == 5
    assert [n["number"] for n in first["results"]] == ["+12125550100", "+12125550101"]
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert [n["number"] for n in last["results"]] == ["+12125550104"]
    assert last["next"] is None
    assert "pageSize=2" in last["previous"]


def test_a_page_past_the_end_is_not_found(api, account):
    NumberFactory(account=account)

    assert_error(api.get("/numbers/my?page=9"), 404, "NOT_FOUND")


@pytest.fixture
def numbers(account):
    """Three numbers of the account: in a pool, free, and an unhealthy GB toll-free."""
    pool = PoolFactory(account=account)
    in_pool = PoolNumberFactory(
        pool=pool, number__account=account, number__number="+12125550100"
    ).number
    free = NumberFactory(account=account, number="+12125550101", mms_capable=True)
    british = NumberFactory(
        account=account,
        number="+448001111111",
        type=Number.Type.TOLLFREE,
        country="GB",
        area_code="",
        location="",
        computed_healthy=False,
    )
    return {"pool": pool, "in_pool": in_pool, "free": free, "british": british}


def test_filter_by_country(api, numbers):
    assert numbers_listed(api, "?country=GB") == ["+448001111111"]
    assert numbers_listed(api, "?country=US") == ["+12125550100", "+12125550101"]


def test_filter_by_type(api, numbers):
    assert numbers_listed(api, "?type=tollfree") == ["+448001111111"]
    assert numbers_listed(api, "?type=shortcode") == []


def test_filter_by_pool(api, numbers):
    assert numbers_listed(api, f"?poolId={numbers['pool'].pk}") == ["+12125550100"]


def test_filter_by_pool_shows_the_pool_on_each_number(api, numbers):
    body = api.get(f"/numbers/my?poolId={numbers['pool'].pk}").json()

    assert body["results"][0]["poolId"] == str(numbers["pool"].pk)


def test_filter_by_another_accounts_pool_finds_nothing(api, other_account):
    foreign = PoolNumberFactory(pool__account=other_account)

    assert numbers_listed(api, f"?poolId={foreign.pool_id}") == []


def test_filter_by_assigned(api, numbers):
    assert numbers_listed(api, "?assigned=true") == ["+12125550100"]
    assert numbers_listed(api, "?assigned=false") == ["+12125550101", "+448001111111"]


def test_filter_by_health_follows_the_operators_override(api, numbers):
    Number.objects.filter(pk=numbers["free"].pk).update(health_override=False)
    Number.objects.filter(pk=numbers["british"].pk).update(health_override=True)

    assert numbers_listed(api, "?healthy=true") == ["+12125550100", "+448001111111"]
    assert numbers_listed(api, "?healthy=false") == ["+12125550101"]


def test_filters_combine(api, numbers):
    assert numbers_listed(api, "?country=US&assigned=false") == ["+12125550101"]


@pytest.mark.parametrize(
    "query", ["?type=landline", "?poolId=not-a-uuid", "?assigned=maybe", "?healthy=1x"]
)
def test_a_malformed_filter_is_a_validation_error(api, numbers, query):
    assert_error(api.get(f"/numbers/my{query}"), 400, "VALIDATION_ERROR")


# One number


def test_reading_one_number(api, numbers):
    body = api.get(f"/numbers/my/{numbers['in_pool'].pk}").json()

    assert body["number"] == "+12125550100"
    assert body["poolId"] == str(numbers["pool"].pk)


def test_patching_capabilities_replaces_them(api, numbers):
    response = api.patch(
        f"/numbers/my/{numbers['free'].pk}", {"capabilities": ["mms"]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["capabilities"] == ["mms"]
    numbers["free"].refresh_from_db()
    assert (numbers["free"].sms_capable, numbers["free"].mms_capable) == (False, True)


@pytest.mark.parametrize("override", [True, False])
def test_patching_healthy_overrides_the_computed_health(api, numbers, override):
    number = numbers["british"]  # computed unhealthy

    response = api.patch(f"/numbers/my/{number.pk}", {"healthy": override}, format="json")

    assert response.json()["healthy"] is override
    number.refresh_from_db()
    assert number.health_override is override
    assert number.healthy is override


def test_patching_healthy_null_goes_back_to_the_computed_health(api, numbers):
    number = numbers["british"]
    Number.objects.filter(pk=number.pk).update(health_override=True)

    response = api.patch(f"/numbers/my/{number.pk}", {"healthy": None}, format="json")

    assert response.json()["healthy"] is False
    number.refresh_from_db()
    assert number.health_override is None


def test_patching_only_health_leaves_type_and_capabilities(api, numbers):
    number = numbers["free"]

    body = api.patch(f"/numbers/my/{number.pk}", {"healthy": False}, format="json").json()

    assert (body["type"], body["capabilities"]) == ("longcode", ["sms", "mms"])


def test_patching_the_type_to_one_the_number_is_not_is_refused(api, numbers):
    number = numbers["free"]

    assert_error(
        api.patch(f"/numbers/my/{number.pk}", {"type": "shortcode"}, format="json"),
        400,
        "INVALID_NUMBER",
    )
    assert_error(
        api.patch(f"/numbers/my/{number.pk}", {"type": "tollfree"}, format="json"),
        400,
        "INVALID_NUMBER",
    )
    number.refresh_from_db()
    assert number.type == Number.Type.LONGCODE


def test_patching_the_type_to_what_the_number_is_succeeds(api, numbers):
    response = api.patch(
        f"/numbers/my/{numbers['british'].pk}", {"type": "tollfree"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["type"] == "tollfree"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"capabilities": []}, "capabilities"),
        ({"healthy": "perhaps"}, "healthy"),
        ({"number": "+12125559999"}, "number"),
        ({"country": "GB"}, "country"),
    ],
)
def test_patching_what_cannot_change_is_a_validation_error(api, numbers, body, field):
    number = numbers["free"]

    response = api.patch(f"/numbers/my/{number.pk}", body, format="json")

    assert field in assert_error(response, 400, "VALIDATION_ERROR")["errors"]
    number.refresh_from_db()
    assert (number.number, number.country, number.sms_capable) == ("+12125550101", "US", True)


def test_deleting_a_number_removes_it_and_its_pool_assignment(api, numbers):
    number = numbers["in_pool"]

    response = api.delete(f"/numbers/my/{number.pk}")

    assert response.status_code == 204
    assert not Number.objects.filter(pk=number.pk).exists()
    assert not PoolNumber.objects.filter(pool=numbers["pool"]).exists()
    assert_error(api.get(f"/numbers/my/{number.pk}"), 404, "NUMBER_NOT_FOUND")


@pytest.mark.parametrize("number_id", [str(uuid.uuid4()), "not-a-uuid"])
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_unknown_number_is_not_found(api, method, number_id):
    response = getattr(api, method)(f"/numbers/my/{number_id}", {}, format="json")

    assert_error(response, 404, "NUMBER_NOT_FOUND")


# Connection, rate and queue


def patch_number(api, number, **body):
    return api.patch(f"/numbers/my/{number.pk}", body, format="json")


def test_a_number_registered_at_a_connection_shows_it(api, account):
    connection = ConnectionFactory(account=account)

    response = register(api, number="+12125550100", connectionId=str(connection.pk))

    assert response.status_code == 201
    assert response.json()["connectionId"] == str(connection.pk)
    assert Number.objects.get().connection == connection


@pytest.mark.parametrize("connection_id", [str(uuid.uuid4()), "not-a-uuid", 42])
def test_registering_at_a_connection_the_account_lacks_is_refused(api, connection_id):
    response = register(api, number="+12125550100", connectionId=connection_id)

    assert "connectionId" in assert_error(response, 400, "VALIDATION_ERROR")["errors"]
    assert not Number.objects.exists()


def test_another_accounts_connection_cannot_be_given_to_a_number(api, account, other_account):
    theirs = ConnectionFactory(account=other_account)
    number = NumberFactory(account=account)

    for response in (
        register(api, number="+12125550100", connectionId=str(theirs.pk)),
        patch_number(api, number, connectionId=str(theirs.pk)),
    ):
        assert "connectionId" in assert_error(response, 400, "VALIDATION_ERROR")["errors"]
    number.refresh_from_db()
    assert number.connection is None


def test_patching_the_connection_and_back_to_the_accounts_default(api, account):
    number = NumberFactory(account=account)
    connection = ConnectionFactory(account=account)

    assert patch_number(api, number, connectionId=str(connection.pk)).json()["connectionId"] == (
        str(connection.pk)
    )
    assert patch_number(api, number, connectionId=None).json()["connectionId"] is None
    number.refresh_from_db()
    assert number.connection is None


@pytest.mark.parametrize(
    ("type", "number", "rate"),
    [("longcode", "+12125550100", 1.0), ("tollfree", "+18005550199", 3.0)],
)
def test_a_number_without_its_own_rate_shows_its_types(api, type, number, rate):
    assert register(api, number=number, type=type).json()["partsPerSecond"] == rate


def test_a_rate_given_is_the_rate_shown_until_patched_back_to_the_default(api, account):
    body = register(api, number="+12125550100", partsPerSecond=2.5).json()
    number = Number.objects.get(pk=body["id"])

    assert body["partsPerSecond"] == 2.5
    assert patch_number(api, number, partsPerSecond=10).json()["partsPerSecond"] == 10.0
    assert patch_number(api, number, partsPerSecond=None).json()["partsPerSecond"] == 1.0
    number.refresh_from_db()
    assert number.parts_per_second is None


@pytest.mark.parametrize("rate", [0, -1, 1000.5, "5", True, [5]])
def test_a_rate_that_is_not_a_number_above_0_and_at_most_1000_is_refused(api, account, rate):
    number = NumberFactory(account=account)

    for response in (
        register(api, number="+12125550100", partsPerSecond=rate),
        patch_number(api, number, partsPerSecond=rate),
    ):
        assert "partsPerSecond" in assert_error(response, 400, "VALIDATION_ERROR")["errors"]
    assert Number.objects.get().parts_per_second == number.parts_per_second


def test_the_queue_depth_counts_the_messages_still_waiting_for_the_number(api, account):
    number = NumberFactory(account=account)
    MessageFactory.create_batch(2, account=account, number=number)  # Queued
    MessageFactory(account=account, number=number, status=Message.Status.DELIVERED)

    assert api.get(f"/numbers/my/{number.pk}").json()["queueDepth"] == 2
    assert api.get("/numbers/my").json()["results"][0]["queueDepth"] == 2


def test_listing_numbers_costs_the_same_queries_for_one_number_or_many(api, account):
    def list_queries() -> int:
        with CaptureQueriesContext(db_connection) as captured:
            assert api.get("/numbers/my").status_code == 200
        return len(captured)

    MessageFactory(account=account, number=NumberFactory(account=account))
    one = list_queries()
    for _ in range(4):
        MessageFactory(account=account, number=NumberFactory(account=account))

    assert list_queries() == one


def test_filter_by_connection(api, account, other_account):
    connection = ConnectionFactory(account=account)
    NumberFactory(account=account, number="+12125550100", connection=connection)
    NumberFactory(account=account, number="+12125550101")
    theirs = ConnectionFactory(account=other_account)
    NumberFactory(account=other_account, number="+12125550102", connection=theirs)

    assert numbers_listed(api, f"?connectionId={connection.pk}") == ["+12125550100"]
    assert numbers_listed(api, f"?connectionId={theirs.pk}") == []
    assert_error(api.get("/numbers/my?connectionId=nope"), 400, "VALIDATION_ERROR")


def test_queue_depth_is_read_only(api, account):
    number = NumberFactory(account=account)

    assert (
        "queueDepth"
        in (
            assert_error(patch_number(api, number, queueDepth=0), 400, "VALIDATION_ERROR")["errors"]
        )
    )


# Capacity: the daily cap of new recipients and the state (SPEC §14)


def test_a_number_registers_with_a_daily_cap_and_a_state(api):
    response = register(api, number="+12125550100", dailyNewRecipients=200, state="cordoned")

    assert response.status_code == 201
    body = response.json()
    assert (body["dailyNewRecipients"], body["state"], body["newRecipientsToday"]) == (
        200,
        "cordoned",
        0,
    )
    number = Number.objects.get()
    assert (number.daily_new_recipients, number.state) == (200, Number.State.CORDONED)


def test_patching_the_cap_and_back_to_no_limit(api, account):
    number = NumberFactory(account=account)

    assert patch_number(api, number, dailyNewRecipients=1).json()["dailyNewRecipients"] == 1
    assert patch_number(api, number, dailyNewRecipients=None).json()["dailyNewRecipients"] is None
    number.refresh_from_db()
    assert number.daily_new_recipients is None


def test_patching_the_state_cordons_and_activates(api, account):
    number = NumberFactory(account=account, daily_new_recipients=5)

    assert patch_number(api, number, state="cordoned").json()["state"] == "cordoned"
    body = patch_number(api, number, state="active").json()

    assert (body["state"], body["dailyNewRecipients"]) == ("active", 5)


@pytest.mark.parametrize("cap", [0, -1, 2.5, "200", True, [200], 86_400_001])
def test_a_daily_cap_that_is_not_a_whole_number_from_1_is_refused(api, account, cap):
    number = NumberFactory(account=account, daily_new_recipients=7)

    for response in (
        register(api, number="+12125550100", dailyNewRecipients=cap),
        patch_number(api, number, dailyNewRecipients=cap),
    ):
        assert "dailyNewRecipients" in assert_error(response, 400, "VALIDATION_ERROR")["errors"]
    assert list(Number.objects.values_list("daily_new_recipients", flat=True)) == [7]


@pytest.mark.parametrize("state", ["retired", "", None, "CORDONED", 1])
def test_a_state_other_than_active_or_cordoned_is_refused(api, account, state):
    number = NumberFactory(account=account)

    for response in (
        register(api, number="+12125550100", state=state),
        patch_number(api, number, state=state),
    ):
        assert "state" in assert_error(response, 400, "VALIDATION_ERROR")["errors"]
    assert list(Number.objects.values_list("state", flat=True)) == ["active"]


def test_new_recipients_today_counts_todays_only_and_is_read_only(api, account):
    today = timezone.now().date()
    number = NumberFactory(
        account=account, daily_new_recipients=5, new_recipients_today=3, new_recipients_on=today
    )
    yesterdays = NumberFactory(
        account=account, new_recipients_today=3, new_recipients_on=today - timedelta(days=1)
    )

    assert api.get(f"/numbers/my/{number.pk}").json()["newRecipientsToday"] == 3
    assert api.get(f"/numbers/my/{yesterdays.pk}").json()["newRecipientsToday"] == 0
    response = patch_number(api, number, newRecipientsToday=0)
    assert "newRecipientsToday" in assert_error(response, 400, "VALIDATION_ERROR")["errors"]


def test_filter_by_state(api, numbers):
    Number.objects.filter(pk=numbers["free"].pk).update(state=Number.State.CORDONED)

    assert numbers_listed(api, "?state=cordoned") == ["+12125550101"]
    assert numbers_listed(api, "?state=active") == ["+12125550100", "+448001111111"]
    assert numbers_listed(api, "?state=active&country=US") == ["+12125550100"]
    assert_error(api.get("/numbers/my?state=retired"), 400, "VALIDATION_ERROR")


# Tenants


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_accounts_number_is_not_found_and_untouched(api, other_account, method):
    foreign = NumberFactory(account=other_account, number="+12125550100")

    response = getattr(api, method)(f"/numbers/my/{foreign.pk}", {"healthy": False}, format="json")

    assert_error(response, 404, "NUMBER_NOT_FOUND")
    foreign.refresh_from_db()
    assert foreign.health_override is None


def test_each_account_lists_only_its_own_numbers(api, other_api, account, other_account):
    NumberFactory(account=account, number="+12125550100")
    NumberFactory(account=other_account, number="+12125550101")

    assert numbers_listed(api) == ["+12125550100"]
    assert numbers_listed(other_api) == ["+12125550101"]


# Authentication


def number_endpoints():
    some_id = uuid.uuid4()
    return [
        ("get", "/numbers/my"),
        ("post", "/numbers/my"),
        ("get", f"/numbers/my/{some_id}"),
        ("patch", f"/numbers/my/{some_id}"),
        ("delete", f"/numbers/my/{some_id}"),
    ]


@pytest.mark.parametrize(("method", "path"), number_endpoints())
def test_every_numbers_endpoint_needs_an_api_key(method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")

    assert_error(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header", ["Bearer np_not-a-real-key", "Bearer ", "Bearer", "Basic dXNlcjpwYXNz"]
)
def test_a_wrong_api_key_is_unauthorized(account, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    assert_error(client.get("/numbers/my"), 401, "UNAUTHORIZED")


def test_a_revoked_api_key_is_unauthorized_and_writes_nothing(account):
    issued = api_key_create(account=account)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw_key}")
    assert client.get("/numbers/my").status_code == 200

    api_key_revoke(api_key=issued.api_key)

    assert_error(client.get("/numbers/my"), 401, "UNAUTHORIZED")
    assert_error(register(client, number="+12125550100"), 401, "UNAUTHORIZED")
    assert not Number.objects.exists()


def test_the_api_key_scheme_is_case_insensitive(account):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"bearer {api_key_create(account=account).raw_key}")

    assert client.get("/numbers/my").status_code == 200


def test_an_unsupported_method_answers_in_the_error_shape(api):
    assert_error(api.put("/numbers/my", {}, format="json"), 405, "METHOD_NOT_ALLOWED")
