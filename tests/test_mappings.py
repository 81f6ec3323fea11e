"""The sticky mapping lifecycle (Telnyx's table) over HTTP, and GET /pools/my/{poolId}/mappings."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from pools.models import PoolNumber, StickyMapping
from tests.assertions import assert_error
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, number_of, pool_with

pytestmark = pytest.mark.django_db

RECIPIENT = "+12125550100"


@pytest.fixture
def start():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def pool(account):
    """Sticky, 8-day TTL, two numbers: a fresh choice goes to the one with fewer mappings."""
    return pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True, sticky_ttl_days=8)


def send(api, pool, to=RECIPIENT, **extra):
    response = api.post(
        f"/pools/my/{pool.pk}/sms", {"to": to, "body": "Hi", **extra}, format="json"
    )
    assert response.status_code == 200, response.json()
    return response.json()


def send_at(moment, api, pool, to=RECIPIENT, **extra):
    with time_machine.travel(moment, tick=False):
        return send(api, pool, to, **extra)


def mappings(api, pool, **filters):
    response = api.get(f"/pools/my/{pool.pk}/mappings", filters)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def mappings_at(moment, api, pool, **filters):
    with time_machine.travel(moment, tick=False):
        return mappings(api, pool, **filters)


def mapping_counts(pool) -> dict[str, int]:
    """Each number's kept counter, checked against the mappings that really exist."""
    counters = dict(
        PoolNumber.objects.filter(pool=pool).values_list("number__number", "mapping_count")
    )
    real = {number: 0 for number in counters}
    for number in StickyMapping.objects.filter(pool=pool).values_list(
        "pool_number__number__number", flat=True
    ):
        real[number] += 1
    assert counters == real
    return counters


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# The mapping's life


def test_the_first_message_maps_the_recipient_to_its_sender(api, pool, start):
    body = send_at(start, api, pool)

    assert mappings_at(start, api, pool) == [
        {
            "recipient": RECIPIENT,
            "number": NEW_YORK,
            "createdAt": iso(start),
            "lastUsedAt": iso(start),
            "expiresAt": iso(start + timedelta(days=8)),
        }
    ]
    assert body["from"] == "12122030001"


def test_reusing_a_mapping_within_the_ttl_resets_its_timer(api, pool, start):
    send_at(start, api, pool)
    later = start + timedelta(days=7, hours=23)

    body = send_at(later, api, pool)

    assert (body["from"], body["selection"]["rule"]) == ("12122030001", "sticky")
    [mapping] = mappings_at(later, api, pool)
    assert (mapping["createdAt"], mapping["lastUsedAt"], mapping["expiresAt"]) == (
        iso(start),
        iso(later),
        iso(later + timedelta(days=8)),
    )


def test_a_mapping_used_every_week_never_expires(api, pool, start):
    for week in range(6):
        body = send_at(start + timedelta(days=7 * week), api, pool)
        assert body["from"] == "12122030001"

    assert StickyMapping.objects.get().created_at == start
    assert mapping_counts(pool) == {NEW_YORK: 1, SAN_FRANCISCO: 0}


def test_a_mapping_unused_for_the_ttl_is_replaced_by_a_fresh_choice(api, pool, start):
    send_at(start, api, pool)
    expired = start + timedelta(days=8)

    body = send_at(expired, api, pool)

    # New York still counted the stale mapping when the choice was made: San Francisco wins.
    assert (body["from"], body["selection"]["rule"]) == ("14152030001", "pool")
    assert "expired" in body["selection"]["explanation"]
    [mapping] = mappings_at(expired, api, pool)
    assert (mapping["number"], mapping["createdAt"]) == (SAN_FRANCISCO, iso(expired))
    assert mapping_counts(pool) == {NEW_YORK: 0, SAN_FRANCISCO: 1}


def test_an_expired_mapping_is_no_longer_listed(api, pool, start):
    send_at(start, api, pool)

    assert len(mappings_at(start + timedelta(days=7, hours=23), api, pool)) == 1
    assert mappings_at(start + timedelta(days=8), api, pool) == []


def test_with_a_ttl_of_zero_a_mapping_never_expires(api, account, start):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True, sticky_ttl_days=0)
    send_at(start, api, pool)
    much_later = start + timedelta(days=400)

    body = send_at(much_later, api, pool)

    assert body["selection"]["rule"] == "sticky"
    [mapping] = mappings_at(much_later, api, pool)
    assert mapping["expiresAt"] is None


def test_turning_sticky_off_deletes_the_mappings_and_turning_it_on_starts_empty(api, pool):
    for recipient in (RECIPIENT, "+12125550101", "+12125550102"):
        send(api, pool, recipient)

    api.patch(f"/pools/my/{pool.pk}", {"smsSettings": {"sticky": False}}, format="json")

    assert not StickyMapping.objects.exists()
    assert mapping_counts(pool) == {NEW_YORK: 0, SAN_FRANCISCO: 0}
    body = send(api, pool)
    assert body["selection"]["rule"] == "pool"
    assert not StickyMapping.objects.exists()

    api.patch(f"/pools/my/{pool.pk}", {"smsSettings": {"sticky": True}}, format="json")

    assert mappings(api, pool) == []
    assert send(api, pool)["selection"]["rule"] == "pool"
    assert [m["recipient"] for m in mappings(api, pool)] == [RECIPIENT]
    assert sum(mapping_counts(pool).values()) == 1


def test_removing_a_number_deletes_its_mappings_and_its_recipients_get_a_new_sender(api, pool):
    send(api, pool, RECIPIENT)  # New York
    send(api, pool, "+12125550101")  # San Francisco

    response = api.post(
        f"/pools/my/{pool.pk}/numbers/remove", {"numbers": [NEW_YORK]}, format="json"
    )

    assert response.status_code == 200
    assert [m["recipient"] for m in mappings(api, pool)] == ["+12125550101"]
    body = send(api, pool, RECIPIENT)
    assert (body["from"], body["selection"]["rule"]) == ("14152030001", "pool")
    assert mapping_counts(pool) == {SAN_FRANCISCO: 2}


def test_a_number_removed_and_assigned_again_starts_without_mappings(api, pool):
    send(api, pool, RECIPIENT)
    api.post(f"/pools/my/{pool.pk}/numbers/remove", {"numbers": [NEW_YORK]}, format="json")

    api.post(f"/pools/my/{pool.pk}/numbers", {"numbers": [NEW_YORK]}, format="json")

    assert mappings(api, pool) == []
    assert mapping_counts(pool) == {NEW_YORK: 0, SAN_FRANCISCO: 0}


def test_a_mapped_number_that_can_no_longer_carry_sms_is_replaced(api, pool):
    send(api, pool)
    new_york = PoolNumber.objects.get(number__number=NEW_YORK).number

    response = api.patch(f"/numbers/my/{new_york.pk}", {"capabilities": ["mms"]}, format="json")

    assert response.status_code == 200
    body = send(api, pool)
    assert (body["from"], body["selection"]["rule"]) == ("14152030001", "pool")
    assert "can no longer carry SMS" in body["selection"]["explanation"]
    assert [m["number"] for m in mappings(api, pool)] == [SAN_FRANCISCO]
    assert mapping_counts(pool) == {NEW_YORK: 0, SAN_FRANCISCO: 1}


def test_an_mms_to_a_recipient_mapped_to_an_sms_only_number_moves_the_mapping(api, pool, account):
    send(api, pool)  # New York, SMS only
    mms = number_of(account, "+12122030002", mms_capable=True)
    PoolNumber.objects.create(pool=pool, number=mms)

    body = send(api, pool, mediaUrls=["https://example.com/cat.jpg"])

    assert body["from"] == "12122030002"
    assert [m["number"] for m in mappings(api, pool)] == ["+12122030002"]
    assert send(api, pool)["from"] == "12122030002"


def test_an_unhealthy_mapped_number_is_still_used_with_skip_unhealthy_on(api, account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True, skip_unhealthy=True)
    send(api, pool, RECIPIENT)  # New York
    send(api, pool, "+12125550101")  # San Francisco; New York is now the next choice
    new_york = PoolNumber.objects.get(number__number=NEW_YORK).number

    response = api.patch(f"/numbers/my/{new_york.pk}", {"healthy": False}, format="json")

    assert response.json()["healthy"] is False
    assert send(api, pool, "+12125550102")["from"] == "14152030001"
    body = send(api, pool, RECIPIENT)
    assert (body["from"], body["selection"]["rule"]) == ("12122030001", "sticky")
    assert "unhealthy" in body["selection"]["explanation"]


def test_an_override_can_make_only_mms_sticky(api, account):
    pool = pool_with(account, [NEW_YORK], overrides=[{"channel": "mms", "sticky": True}])
    PoolNumber.objects.create(
        pool=pool, number=number_of(account, "+12122030002", mms_capable=True)
    )

    send(api, pool, "+12125550101")
    body = send(api, pool, mediaUrls=["https://example.com/cat.jpg"])

    assert [m["recipient"] for m in mappings(api, pool)] == [RECIPIENT]
    again = send(api, pool, mediaUrls=["https://example.com/dog.jpg"])
    assert (again["from"], again["selection"]["rule"]) == (body["from"], "sticky")


# Listing


def test_mappings_are_listed_most_recently_used_first_and_paginated(api, pool, start):
    for day, recipient in enumerate(("+12125550100", "+12125550101", "+12125550102")):
        send_at(start + timedelta(days=day), api, pool, recipient)

    with time_machine.travel(start + timedelta(days=3), tick=False):
        body = api.get(f"/pools/my/{pool.pk}/mappings").json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert [m["recipient"] for m in body["results"]] == [
        "+12125550102",
        "+12125550101",
        "+12125550100",
    ]
    assert all(
        set(m) == {"recipient", "number", "createdAt", "lastUsedAt", "expiresAt"}
        for m in body["results"]
    )


def test_mappings_are_filtered_by_recipient_and_by_number(api, pool):
    for recipient in ("+12125550100", "+12125550101", "+12125550102"):
        send(api, pool, recipient)

    by_recipient = mappings(api, pool, recipient="+12125550101")
    by_number = mappings(api, pool, number=NEW_YORK)

    assert [(m["recipient"], m["number"]) for m in by_recipient] == [
        ("+12125550101", SAN_FRANCISCO)
    ]
    assert sorted(m["recipient"] for m in by_number) == ["+12125550100", "+12125550102"]
    assert mappings(api, pool, recipient="+19999999999") == []


def test_only_the_pools_own_mappings_are_listed(api, account, pool):
    other = pool_with(account, ["+12122030009"], sticky=True)
    send(api, pool)
    send(api, other)

    assert [m["number"] for m in mappings(api, pool)] == [NEW_YORK]
    assert [m["number"] for m in mappings(api, other)] == ["+12122030009"]


def test_another_accounts_mappings_are_not_found(api, other_api, pool):
    send(api, pool)

    assert_error(other_api.get(f"/pools/my/{pool.pk}/mappings"), 404, "POOL_NOT_FOUND")


def test_listing_mappings_needs_an_api_key(pool):
    assert_error(APIClient().get(f"/pools/my/{pool.pk}/mappings"), 401, "UNAUTHORIZED")
