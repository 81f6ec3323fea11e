"""POST /pools/my/{poolId}/preview: the decision a send would take now, and why; writes nothing."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from messaging.services.sending import message_send
from pools.models import PoolNumber
from tests.assertions import assert_error
from tests.scenarios import (
    NEW_YORK,
    REFUSAL_CASES,
    RULE_CASES,
    SAN_FRANCISCO,
    number_of,
    pool_with,
    request_body,
    written_state,
)

pytestmark = pytest.mark.django_db


def preview(api, pool, body):
    return api.post(f"/pools/my/{pool.pk}/preview", body, format="json")


@pytest.mark.parametrize("case", RULE_CASES, ids=str)
def test_preview_names_the_sender_and_the_rule_that_chose_it(api, account, case):
    pool = case.pool(account)

    response = preview(api, pool, request_body(case))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"from", "senderType", "rule", "explanation", "optedOut"}
    assert (body["from"], body["senderType"], body["rule"], body["optedOut"]) == (
        case.sender,
        case.sender_type,
        case.rule,
        False,
    )


@pytest.mark.parametrize("case", RULE_CASES, ids=str)
def test_the_explanation_is_one_line_per_step_starting_with_the_recipient(api, account, case):
    pool = case.pool(account)

    explanation = preview(api, pool, request_body(case)).json()["explanation"]

    assert isinstance(explanation, str)
    lines = explanation.split("\n")
    assert len(lines) >= 2
    assert all(line.strip() for line in lines)
    assert lines[0].startswith(f"Recipient {case.to}: country ")


def test_from_is_written_without_the_plus(api, account):
    pool = pool_with(account, [NEW_YORK])

    body = preview(api, pool, {"to": "+12125550100"}).json()

    assert body["from"] == "12122030001"


def test_the_explanation_says_why_a_rule_matched(api, account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], geomatch=True)

    explanation = preview(api, pool, {"to": "+14155550123"}).json()["explanation"]

    assert "Recipient +14155550123: country US, area code 415 (CA)." in explanation
    assert "area code 415 (areaCode)" in explanation


# Writes nothing


@pytest.mark.parametrize("case", RULE_CASES, ids=str)
def test_a_preview_writes_nothing(api, account, case):
    pool = case.pool(account)
    before = written_state(account)

    assert preview(api, pool, request_body(case)).status_code == 200

    assert written_state(account) == before


def test_a_preview_for_a_new_recipient_of_a_sticky_pool_creates_no_mapping(api, account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True)

    first = preview(api, pool, {"to": "+12125550100"}).json()
    again = preview(api, pool, {"to": "+12125550100"}).json()

    assert first["rule"] == again["rule"] == "pool"
    assert written_state(account)["mappings"] == []
    assert list(PoolNumber.objects.values_list("mapping_count", "assignment_count")) == [
        (0, 0),
        (0, 0),
    ]


def test_a_preview_of_an_expired_mapping_shows_the_new_choice_but_keeps_the_mapping(api, account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], sticky=True, sticky_ttl_days=8)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        message_send(pool=pool, to="+12125550100", body="hello")
    before = written_state(account)

    with time_machine.travel(start + timedelta(days=8), tick=False):
        body = preview(api, pool, {"to": "+12125550100"}).json()

    assert body["rule"] == "pool"
    assert "expired" in body["explanation"]
    assert written_state(account) == before


# MMS


def test_a_preview_with_media_picks_only_an_mms_capable_number(api, account):
    pool = pool_with(account, [NEW_YORK])
    PoolNumber.objects.create(
        pool=pool, number=number_of(account, "+12122030002", mms_capable=True)
    )

    body = preview(
        api, pool, {"to": "+12125550100", "mediaUrls": ["https://example.com/cat.jpg"]}
    ).json()

    assert (body["from"], body["rule"]) == ("12122030002", "pool")


# Refusals


@pytest.mark.parametrize("case", REFUSAL_CASES, ids=str)
def test_a_preview_that_would_be_refused_answers_the_refusal(api, account, case):
    pool = case.pool(account)

    response = preview(api, pool, request_body(case))

    assert_error(response, case.status, case.code)


def test_a_refusal_explains_the_steps_that_led_to_it(api, account):
    pool = pool_with(account, [NEW_YORK], geomatch=True, fallback="Reject")

    body = assert_error(preview(api, pool, {"to": "+33612345678"}), 422, "NO_SENDER_AVAILABLE")

    assert body["explanation"].splitlines()[-1].startswith("Fallback Reject")


def test_a_media_preview_without_an_mms_number_is_refused(api, account):
    pool = pool_with(account, [NEW_YORK])

    response = preview(
        api, pool, {"to": "+12125550100", "mediaUrls": ["https://example.com/cat.jpg"]}
    )

    assert_error(response, 422, "NO_SENDER_AVAILABLE")


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "to"),
        ({"to": ""}, "to"),
        ({"to": "+12125550100", "poolStrategy": "Random"}, "poolStrategy"),
        ({"to": "+12125550100", "mediaUrls": ["ftp://example.com/x"]}, "mediaUrls.0"),
    ],
)
def test_a_malformed_preview_is_a_validation_error(api, account, body, field):
    pool = pool_with(account, [NEW_YORK])

    response = assert_error(preview(api, pool, body), 400, "VALIDATION_ERROR")

    assert field in response["errors"]


def test_another_accounts_pool_cannot_be_previewed(api, other_account):
    pool = pool_with(other_account, [NEW_YORK])

    assert_error(preview(api, pool, {"to": "+12125550100"}), 404, "POOL_NOT_FOUND")


def test_a_preview_needs_an_api_key(account):
    pool = pool_with(account, [NEW_YORK])

    response = preview(APIClient(), pool, {"to": "+12125550100"})

    assert_error(response, 401, "UNAUTHORIZED")
