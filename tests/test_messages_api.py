"""GET /sms/my and /sms/my/{trackingId} (SPEC §6): an account's messages, filtered and paged."""

import uuid
from datetime import datetime, timedelta

import pytest
from rest_framework.test import APIClient

from messaging.services.lifecycle import message_report_status
from messaging.services.sending import message_send
from tests.assertions import assert_error
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, pool_with

pytestmark = pytest.mark.django_db

START = datetime.fromisoformat("2025-06-01T12:00:00+00:00")


@pytest.fixture
def messages(account, other_account, time_machine):
    """Three messages an hour apart, through two pools, and one of another account.

    first  12:00  pool ny  +12125550100 from +12122030001  Queued
    second 13:00  pool sf  +14155550123 from +14152030001  Delivered
    third  14:00  pool ny  +12125550101 from +12122030001  Undelivered
    """
    ny = pool_with(account, [NEW_YORK], name="ny")
    sf = pool_with(account, [SAN_FRANCISCO], name="sf")
    theirs = pool_with(other_account, ["+12122030009"], name="theirs")
    sent = {}
    for hour, (name, pool, to, statuses) in enumerate(
        [
            ("first", ny, "+12125550100", []),
            ("second", sf, "+14155550123", ["Sent", "Delivered"]),
            ("third", ny, "+12125550101", ["Sent", "Undelivered"]),
        ]
    ):
        time_machine.move_to(START + timedelta(hours=hour), tick=False)
        message = message_send(pool=pool, to=to, body=f"Hello {name}")
        for status in statuses:
            message_report_status(message=message, status=status)
        sent[name] = str(message.pk)
    sent["theirs"] = str(message_send(pool=theirs, to="+12125550100", body="Hi").pk)
    sent.update(ny=str(ny.pk), sf=str(sf.pk))
    return sent


def listed(api, params=None, path="/sms/my") -> list[str]:
    response = api.get(path, params)
    assert response.status_code == 200, response.json()
    return [message["trackingId"] for message in response.json()["results"]]


def test_the_list_shows_the_accounts_messages_newest_first(api, messages):
    response = api.get("/sms/my")

    page = response.json()
    assert (page["count"], page["next"], page["previous"]) == (3, None, None)
    assert [m["trackingId"] for m in page["results"]] == [
        messages["third"],
        messages["second"],
        messages["first"],
    ]
    third = page["results"][0]
    assert (third["poolId"], third["poolName"], third["to"], third["from"]) == (
        messages["ny"],
        "ny",
        "+12125550101",
        "12122030001",
    )
    assert (third["status"], third["body"]) == ("Undelivered", "Hello third")
    assert "statusHistory" not in third


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"status": "Delivered"}, ["second"]),
        ({"status": "Queued"}, ["first"]),
        ({"to": "+12125550100"}, ["first"]),
        ({"to": "12125550100"}, ["first"]),
        ({"from": "+12122030001"}, ["third", "first"]),
        ({"from": "12122030001"}, ["third", "first"]),
        ({"from": "14152030001"}, ["second"]),
        ({"createdAfter": "2025-06-01T12:30:00Z"}, ["third", "second"]),
        ({"createdBefore": "2025-06-01T13:30:00Z"}, ["second", "first"]),
        (
            {"createdAfter": "2025-06-01T13:00:00Z", "createdBefore": "2025-06-01T14:00:00Z"},
            ["second"],
        ),
        ({"from": "12122030001", "status": "Undelivered"}, ["third"]),
        ({"to": "+19999999999"}, []),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, dict) else None,
)
def test_the_list_filters(api, messages, params, expected):
    assert listed(api, params) == [messages[name] for name in expected]


def test_the_list_filters_by_pool(api, messages):
    assert listed(api, {"poolId": messages["ny"]}) == [messages["third"], messages["first"]]
    assert listed(api, {"poolId": messages["sf"]}) == [messages["second"]]


def test_a_plus_left_unencoded_in_the_query_string_still_matches(api, messages):
    assert listed(api, path="/sms/my?from=+12122030001") == [messages["third"], messages["first"]]
    assert listed(api, path="/sms/my?to=+14155550123") == [messages["second"]]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "Read"}, "status"),
        ({"poolId": "not-a-uuid"}, "poolId"),
        ({"createdAfter": "yesterday"}, "createdAfter"),
    ],
)
def test_an_invalid_filter_is_a_validation_error(api, messages, params, field):
    response = api.get("/sms/my", params)

    assert field in assert_error(response, 400, "VALIDATION_ERROR")["errors"]


def test_the_list_is_paginated(api, messages):
    first_page = api.get("/sms/my", {"pageSize": 2}).json()
    second_page = api.get(first_page["next"]).json()

    assert first_page["count"] == second_page["count"] == 3
    assert [m["trackingId"] for m in first_page["results"]] == [
        messages["third"],
        messages["second"],
    ]
    assert [m["trackingId"] for m in second_page["results"]] == [messages["first"]]
    assert second_page["next"] is None
    assert second_page["previous"] is not None


def test_a_page_past_the_end_is_not_found(api, messages):
    assert_error(api.get("/sms/my", {"page": 9}), 404, "NOT_FOUND")


# One message


def test_a_message_shows_its_status_history(api, messages):
    response = api.get(f"/sms/my/{messages['third']}")

    assert response.status_code == 200
    body = response.json()
    assert (body["trackingId"], body["status"], body["from"]) == (
        messages["third"],
        "Undelivered",
        "12122030001",
    )
    assert [(event["status"], event["date"]) for event in body["statusHistory"]] == [
        ("Queued", "2025-06-01T14:00:00Z"),
        ("Sent", "2025-06-01T14:00:00Z"),
        ("Undelivered", "2025-06-01T14:00:00Z"),
    ]
    assert set(body["statusHistory"][0]) == {"status", "detailedStatus", "errorCode", "date"}


def test_the_detail_agrees_with_the_list(api, messages):
    detail = api.get(f"/sms/my/{messages['second']}").json()
    detail.pop("statusHistory")

    in_list = next(
        m for m in api.get("/sms/my").json()["results"] if m["trackingId"] == messages["second"]
    )
    assert detail == in_list


# Tenants


def test_another_accounts_messages_are_not_listed(other_api, messages):
    assert listed(other_api) == [messages["theirs"]]
    assert listed(other_api, {"poolId": messages["ny"]}) == []


@pytest.mark.parametrize("path", ["/sms/my/{id}", "/sms/my/{id}/clicks"])
def test_another_accounts_message_is_not_found(api, messages, path):
    response = api.get(path.format(id=messages["theirs"]))

    assert_error(response, 404, "MESSAGE_NOT_FOUND")


@pytest.mark.parametrize("tracking_id", [str(uuid.uuid4()), "not-a-uuid"])
@pytest.mark.parametrize("path", ["/sms/my/{id}", "/sms/my/{id}/clicks"])
def test_an_unknown_message_is_not_found(api, path, tracking_id):
    assert_error(api.get(path.format(id=tracking_id)), 404, "MESSAGE_NOT_FOUND")


@pytest.mark.parametrize("path", ["/sms/my", "/sms/my/{id}", "/sms/my/{id}/clicks"])
def test_messages_need_an_api_key(messages, path):
    response = APIClient().get(path.format(id=messages["first"]))

    assert_error(response, 401, "UNAUTHORIZED")
