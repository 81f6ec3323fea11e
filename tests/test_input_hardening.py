"""Bad input is a 400 in the contract's shape, never a 500, and writes nothing (issue 11).

Each case below once answered 500 or was accepted though it could not work: bounds on
the numbers a client sets, JSON nesting, NUL and invalid text, date filters, JSON
booleans, settings that contradict each other, an empty list of numbers.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from standardwebhooks import Webhook

from messaging.services.sending import message_send
from pools.models import Pool
from pools.validators import MAX_STICKY_TTL_DAYS, MAX_WEIGHT
from pools_project.parsers import MAX_JSON_DEPTH, check_json_depth
from tests.assertions import assert_error
from tests.factories import NumberFactory, PoolFactory, ShortLinkFactory, StickyMappingFactory
from tests.scenarios import NEW_YORK, pool_with

pytestmark = pytest.mark.django_db

DOMAIN_APPS = ("pools", "numbers", "messaging", "optout", "carriers")


def database_state() -> dict:
    """Every row of the service's own tables: equal before and after = nothing written."""
    return {
        model._meta.label: sorted(map(repr, model.objects.values()))
        for app in DOMAIN_APPS
        for model in apps.get_app_config(app).get_models()
    }


@pytest.fixture
def unchanged(db):
    """Asserts, after the test, that the database is as it was when the fixture ran."""
    before = database_state()
    yield
    assert database_state() == before


def validation_error(response, *fields: str) -> dict:
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert set(body) <= {"code", "developerMessage", "errors"}
    assert body["errors"]
    for field in fields:
        assert field in body["errors"], body
    return body


def post_raw(client, path: str, raw: str, **kwargs):
    return client.post(path, raw, content_type="application/json", **kwargs)


@pytest.fixture
def pool(account):
    return pool_with(account, [NEW_YORK], sticky=True)


# Bounds: stickyTtlDays, weights


@pytest.fixture
def mapped_pool(pool):
    StickyMappingFactory(pool=pool, pool_number=pool.pool_numbers.get())
    return pool


def test_a_sticky_ttl_beyond_ten_years_is_refused_and_pages_stay_readable(
    api, mapped_pool, unchanged
):
    pool = mapped_pool
    response = api.patch(
        f"/pools/my/{pool.pk}", {"smsSettings": {"stickyTtlDays": 1000000}}, format="json"
    )

    body = validation_error(response, "smsSettings.stickyTtlDays")
    assert str(MAX_STICKY_TTL_DAYS) in body["developerMessage"]
    assert api.get(f"/pools/my/{pool.pk}/mappings").status_code == 200
    assert api.get(f"/pools/my/{pool.pk}/numbers").status_code == 200


def test_a_sticky_ttl_beyond_ten_years_is_refused_on_create(api, unchanged):
    response = api.post(
        "/pools/my", {"name": "p", "smsSettings": {"stickyTtlDays": 3651}}, format="json"
    )

    validation_error(response, "smsSettings.stickyTtlDays")


def test_a_sticky_ttl_of_ten_years_still_shows_its_expiry(api, mapped_pool):
    pool = mapped_pool
    api.patch(f"/pools/my/{pool.pk}", {"smsSettings": {"stickyTtlDays": 3650}}, format="json")

    [mapping] = api.get(f"/pools/my/{pool.pk}/mappings").json()["results"]

    assert mapping["expiresAt"]


def test_the_model_refuses_a_sticky_ttl_beyond_ten_years_for_the_admin(account):
    pool = PoolFactory.build(account=account, sticky_ttl_days=MAX_STICKY_TTL_DAYS + 1)

    with pytest.raises(Exception, match="ten years"):
        pool.full_clean(exclude=["account"])


@pytest.mark.parametrize(
    "weights",
    [
        {"longcode": MAX_WEIGHT + 1},
        {"tollfree": 10**30},
        {"longcode": 0, "tollfree": 0, "shortcode": 0},
    ],
)
def test_weights_out_of_range_or_all_zero_are_refused(api, weights, unchanged):
    response = api.post("/pools/my", {"name": "p", "smsSettings": {"weights": weights}}, "json")

    validation_error(response, "smsSettings.weights")


def test_all_weights_zero_says_why(api, unchanged):
    response = api.post(
        "/pools/my",
        {"name": "p", "smsSettings": {"weights": {"longcode": 0, "tollfree": 0, "shortcode": 0}}},
        format="json",
    )

    [message] = validation_error(response)["errors"]["smsSettings.weights"]
    assert "at least one type needs a weight above 0" in message


def test_a_patch_leaving_every_weight_at_zero_is_refused(api, account):
    pool = PoolFactory(account=account, weights={"longcode": 1, "tollfree": 0, "shortcode": 0})

    response = api.patch(
        f"/pools/my/{pool.pk}", {"smsSettings": {"weights": {"longcode": 0}}}, format="json"
    )

    validation_error(response, "smsSettings.weights")
    pool.refresh_from_db()
    assert pool.weights["longcode"] == 1


@pytest.mark.parametrize(
    "overrides",
    [
        [{"country": "CA", "weights": {"longcode": MAX_WEIGHT + 1}}],
        [{"country": "CA", "weights": {"longcode": 0, "tollfree": 0, "shortcode": 0}}],
        # Each alone leaves a type above 0; together, for CA/mms, none.
        [
            {"channel": "mms", "weights": {"longcode": 0, "tollfree": 0}},
            {"country": "CA", "weights": {"shortcode": 0}},
        ],
    ],
)
def test_override_weights_out_of_range_or_all_zero_are_refused(api, overrides, unchanged):
    response = api.post(
        "/pools/my", {"name": "p", "smsSettings": {"overrides": overrides}}, format="json"
    )

    validation_error(response, "smsSettings.overrides")


def test_override_weights_that_leave_a_type_above_zero_are_accepted(api):
    overrides = [{"country": "CA", "weights": {"longcode": 0, "tollfree": 0}}]

    response = api.post(
        "/pools/my", {"name": "p", "smsSettings": {"overrides": overrides}}, format="json"
    )

    assert response.status_code == 201, response.json()


# JSON nested too deep


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_object(depth: int, **fields) -> str:
    """A JSON object with `fields` and a value nested `depth` levels under `x`."""
    return json.dumps(fields)[:-1] + ', "x": ' + nested(depth) + "}"


@pytest.mark.parametrize("path", ["/pools/my", "sms"])
def test_json_nested_a_thousand_deep_is_refused(api, pool, path, unchanged):
    path = f"/pools/my/{pool.pk}/sms" if path == "sms" else path

    response = post_raw(api, path, deep_object(1000, to="+12125550100", body="Hi", name="p"))

    body = validation_error(response)
    assert "nested deeper" in body["developerMessage"]


def signed_headers(raw: str, secret: str) -> dict:
    msg_id = f"msg_{uuid.uuid4().hex}"
    at = datetime.now(tz=UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, raw),
    }


@pytest.mark.parametrize("path", ["/webhooks/status", "/webhooks/inbound"])
def test_a_signed_carrier_webhook_nested_a_thousand_deep_is_refused(
    client, settings, pool, path, unchanged
):
    raw = deep_object(1000, messageId="m1", to=NEW_YORK, body="STOP")
    headers = signed_headers(raw, settings.CARRIER_WEBHOOK_SECRET)

    response = post_raw(client, path, raw, headers=headers)

    assert "nested deeper" in validation_error(response)["developerMessage"]


@pytest.mark.parametrize("path", ["/webhooks/status", "/webhooks/inbound"])
def test_an_unsigned_deep_carrier_webhook_is_refused_for_its_signature_first(
    client, path, unchanged
):
    response = post_raw(client, path, nested(1000))

    assert_error(response, 401, "INVALID_SIGNATURE")


def test_the_depth_limit_counts_brackets_outside_strings_only():
    check_json_depth(nested(MAX_JSON_DEPTH).encode())
    check_json_depth(json.dumps({"text": "[" * 1000, "quote": '"[[[[', "slash": "\\"}).encode())
    with pytest.raises(Exception, match="nested deeper"):
        check_json_depth(nested(MAX_JSON_DEPTH + 1).encode())


def test_an_unterminated_string_is_a_parse_error_not_a_crash(api, unchanged):
    response = post_raw(api, "/pools/my", '{"name": "' + '\\"' * 10000)

    assert_error(response, 400, "VALIDATION_ERROR")


# NUL and invalid text


def test_a_short_link_code_with_a_nul_is_not_found(client, unchanged):
    response = client.get("/s/%00")

    assert_error(response, 404, "LINK_NOT_FOUND")


@pytest.mark.parametrize("code", ["%00abc", "abc%00", "%C3%A9t%C3%A9", "a-b", "x" * 17])
def test_a_code_outside_the_short_link_alphabet_is_not_found(client, code, unchanged):
    assert_error(client.get(f"/s/{code}"), 404, "LINK_NOT_FOUND")


def test_a_well_formed_short_link_code_still_redirects(client):
    link = ShortLinkFactory()

    assert client.get(f"/s/{link.code}").status_code == 302


BAD_TEXT = [
    ('{"name": "a\\u0000b"}', "name"),
    ('{"name": "\\ud800"}', "name"),
    ('{"name": "p", "smsSettings": {"helpReply": "help\\u0000"}}', "smsSettings.helpReply"),
    ('{"name": "p", "smsSettings": {"alphanumericSenderIds": {"FR": "\\udfff"}}}', None),
    ('{"name": "p", "smsSettings": {"priorityCountries": ["US", "\\u0000"]}}', None),
    ('{"name": "p", "smsSettings": {"weights": {"long\\u0000code": 1}}}', None),
]


@pytest.mark.parametrize(("raw", "field"), BAD_TEXT)
def test_nul_or_a_lone_surrogate_in_a_body_is_refused_naming_where(api, raw, field, unchanged):
    body = validation_error(post_raw(api, "/pools/my", raw))

    assert field is None or field in body["errors"]
    assert any("NUL" in m or "surrogate" in m for ms in body["errors"].values() for m in ms)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"to": "+12125550100", "body": "Hi \\u0000"}', "body"),
        ('{"to": "+12125550100", "body": "Hi \\ud83d"}', "body"),
        ('{"to": "+12125550100", "body": "Hi", "mediaUrls": ["https://x.example/\\u0000"]}', None),
    ],
)
def test_nul_or_a_lone_surrogate_in_a_send_is_refused(api, pool, raw, field, unchanged):
    body = validation_error(post_raw(api, f"/pools/my/{pool.pk}/sms", raw))

    assert field is None or field in body["errors"]


def test_nul_in_a_signed_carrier_webhook_is_refused(client, settings, pool, unchanged):
    raw = json.dumps({"messageId": "m1", "from": "+12125550100", "to": NEW_YORK, "body": "\0"})
    headers = signed_headers(raw, settings.CARRIER_WEBHOOK_SECRET)

    validation_error(post_raw(client, "/webhooks/inbound", raw, headers=headers), "body")


@pytest.mark.parametrize(
    "path",
    [
        "/sms/my?to=%00",
        "/sms/my?from=%00",
        "/sms/my?providerMessageId=a%00",
        "/sms/my?poolId=%00",
        "/sms/my?status=%00",
        "/numbers/my?country=%00",
        "/optouts/my?recipient=%00",
        "/optouts/my?number=%2B1%00",
        "mappings?recipient=%00",
    ],
)
def test_nul_in_a_filter_is_refused(api, pool, path, unchanged):
    if path.startswith("mappings"):
        path = f"/pools/my/{pool.pk}/{path}"

    validation_error(api.get(path))


# Date filters


@pytest.mark.parametrize(
    "value",
    [
        "0518-11-22T07:04:33.6%2B21:24",  # found by the fuzzer: an offset PostgreSQL refuses
        "2025-01-01T00:00:00-15:00",
        "0001-01-01T00:00:00%2B01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after 9999 in UTC
        "2025-13-01T00:00:00Z",
        "yesterday",
        "%00",
    ],
)
@pytest.mark.parametrize("name", ["createdAfter", "createdBefore"])
def test_an_unparseable_or_out_of_range_date_filter_is_refused(api, name, value, unchanged):
    validation_error(api.get(f"/sms/my?{name}={value}"), name)


def test_a_date_filter_with_a_real_offset_filters_in_utc(api, account):
    message = message_send(pool=pool_with(account, [NEW_YORK]), to="+12125550100", body="Hi")
    at = message.created_at.astimezone(UTC)
    after = (at - timedelta(minutes=1)).replace(tzinfo=None).isoformat() + "%2B14:00"
    before = (at + timedelta(minutes=1)).replace(tzinfo=None).isoformat() + "-12:00"
    # As written those are 14 hours earlier and 12 hours later than `at`.

    assert api.get(f"/sms/my?createdAfter={after}").json()["count"] == 1
    assert api.get(f"/sms/my?createdBefore={before}").json()["count"] == 1
    assert api.get("/sms/my?createdAfter=0001-01-01T00:00:00Z").json()["count"] == 1


# JSON booleans only


@pytest.mark.parametrize("key", ["sticky", "geomatch", "skipUnhealthy", "transcode"])
@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "0", None])
def test_a_boolean_setting_takes_a_json_boolean_only(api, key, value, unchanged):
    response = api.post("/pools/my", {"name": "p", "smsSettings": {key: value}}, format="json")

    validation_error(response, f"smsSettings.{key}")


@pytest.mark.parametrize("value", ["yes", "true", 1])
def test_send_transcode_takes_a_json_boolean_only(api, pool, value, unchanged):
    response = api.post(
        f"/pools/my/{pool.pk}/sms",
        {"to": "+12125550100", "body": "Hi", "transcode": value},
        format="json",
    )

    validation_error(response, "transcode")


@pytest.mark.parametrize("value", ["yes", "false", 0])
def test_a_numbers_healthy_override_takes_a_json_boolean_or_null_only(api, account, value):
    number = NumberFactory(account=account)

    response = api.patch(f"/numbers/my/{number.pk}", {"healthy": value}, format="json")

    validation_error(response, "healthy")
    number.refresh_from_db()
    assert number.health_override is None


def test_json_booleans_are_still_accepted(api):
    settings = {"sticky": True, "geomatch": False, "skipUnhealthy": True, "transcode": False}

    response = api.post("/pools/my", {"name": "p", "smsSettings": settings}, format="json")

    assert response.status_code == 201
    assert {k: response.json()["smsSettings"][k] for k in settings} == settings


# Settings that cannot work together


def test_custom_from_without_any_alphanumeric_sender_is_refused_saying_why(api, unchanged):
    response = api.post(
        "/pools/my", {"name": "p", "smsSettings": {"fallback": "CustomFrom"}}, format="json"
    )

    [message] = validation_error(response, "smsSettings.fallback")["errors"]["smsSettings.fallback"]
    assert "alphanumericSenderId" in message


@pytest.mark.parametrize(
    "sender", [{"alphanumericSenderId": "ACME"}, {"alphanumericSenderIds": {"FR": "ACME FR"}}]
)
def test_custom_from_with_an_alphanumeric_sender_somewhere_is_accepted(api, sender):
    response = api.post(
        "/pools/my",
        {"name": "p", "smsSettings": {"fallback": "CustomFrom", **sender}},
        format="json",
    )

    assert response.status_code == 201, response.json()


def test_a_patch_to_custom_from_on_a_pool_without_a_sender_is_refused(api, account):
    pool = PoolFactory(account=account)

    response = api.patch(
        f"/pools/my/{pool.pk}", {"smsSettings": {"fallback": "CustomFrom"}}, format="json"
    )

    validation_error(response, "smsSettings.fallback")
    pool.refresh_from_db()
    assert pool.fallback == Pool.Fallback.POOL


def test_a_patch_removing_the_last_sender_of_a_custom_from_pool_is_refused(api, account):
    pool = PoolFactory(account=account, fallback="CustomFrom", alphanumeric_sender_id="ACME")

    response = api.patch(
        f"/pools/my/{pool.pk}", {"smsSettings": {"alphanumericSenderId": None}}, format="json"
    )

    validation_error(response, "smsSettings.fallback")
    pool.refresh_from_db()
    assert pool.alphanumeric_sender_id == "ACME"


# An empty list of numbers


@pytest.mark.parametrize("path", ["numbers", "numbers/remove"])
def test_an_empty_list_of_numbers_is_a_validation_error(api, pool, path, unchanged):
    response = api.post(f"/pools/my/{pool.pk}/{path}", {"numbers": []}, format="json")

    validation_error(response, "numbers")


def test_more_than_fifty_numbers_stays_too_many_numbers(api, pool, unchanged):
    numbers = [f"+1212555{i:04d}" for i in range(51)]

    response = api.post(f"/pools/my/{pool.pk}/numbers", {"numbers": numbers}, format="json")

    assert_error(response, 400, "TOO_MANY_NUMBERS")
