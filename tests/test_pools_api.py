"""The pools API: create, list, read, merge-update and delete pools; their settings."""

import string
import uuid
from datetime import timedelta

import phonenumbers
import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from pools import validators
from pools.models import DEFAULT_HELP_REPLY, Pool, PoolNumber, StickyMapping
from tests.assertions import assert_error
from tests.factories import NumberFactory, PoolFactory, PoolNumberFactory, StickyMappingFactory
from virtual_numbers.choices import NumberType

pytestmark = pytest.mark.django_db

DEFAULT_SETTINGS = {
    "sticky": False,
    "stickyTtlDays": 8,
    "geomatch": False,
    "defaultCountry": None,
    "priorityCountries": [],
    "allowedCountries": [],
    "alphanumericSenderId": None,
    "alphanumericSenderIds": {},
    "fallback": "Pool",
    "weights": {"longcode": 1, "tollfree": 1, "shortcode": 1},
    "skipUnhealthy": False,
    "optOutScope": "pool",
    "transcode": False,
    "inboundSMSCallbackUrl": None,
    "callback": None,
    "overrides": [],
    "maxQueueSeconds": None,
    "quietHours": None,
}


def create(api, name="marketing", **settings):
    return api.post("/pools/my", {"name": name, "smsSettings": settings}, format="json")


def patch(api, pool, body):
    return api.patch(f"/pools/my/{pool.pk}", body, format="json")


def patch_settings(api, pool, **settings):
    return patch(api, pool, {"smsSettings": settings})


def without_replies(settings: dict) -> dict:
    return {
        k: v for k, v in settings.items() if k not in ("helpReply", "optOutReply", "optInReply")
    }


def settings_of(response) -> dict:
    assert response.status_code in (200, 201), response.json()
    return response.json()["smsSettings"]


# Creating


def test_a_pool_created_with_a_name_only_has_the_default_settings(api, account):
    response = create(api)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"poolId", "name", "createdAt", "numberCount", "smsSettings"}
    assert (body["name"], body["numberCount"]) == ("marketing", 0)
    assert without_replies(body["smsSettings"]) == DEFAULT_SETTINGS
    assert body["smsSettings"]["helpReply"] == DEFAULT_HELP_REPLY
    assert Pool.objects.get(pk=body["poolId"]).account == account


def test_the_default_opt_out_reply_says_how_to_resubscribe(api):
    assert "START" in settings_of(create(api))["optOutReply"]


def test_a_pool_is_created_with_the_settings_given(api):
    settings = {
        "sticky": True,
        "stickyTtlDays": 0,
        "geomatch": True,
        "defaultCountry": "US",
        "priorityCountries": ["CA", "GB"],
        "allowedCountries": ["US", "CA", "GB"],
        "alphanumericSenderId": "ACME",
        "alphanumericSenderIds": {"FR": "ACME FR"},
        "fallback": "CustomFrom",
        "weights": {"longcode": 5, "tollfree": 1, "shortcode": 0},
        "skipUnhealthy": True,
        "optOutScope": "number",
        "transcode": True,
        "inboundSMSCallbackUrl": "https://example.com/inbound",
        "callback": {"url": "http://example.com/status", "strategy": "OnCompletion"},
        "helpReply": "ACME: help at acme.example.",
        "optOutReply": "ACME: unsubscribed. Reply START to resubscribe.",
        "optInReply": "ACME: welcome back.",
        "overrides": [{"country": "CA", "geomatch": False}, {"channel": "mms", "sticky": False}],
        "maxQueueSeconds": 30,
        "quietHours": {"start": "21:00", "end": "09:00"},
    }

    assert settings_of(create(api, **settings)) == settings


def test_a_pools_settings_as_read_create_an_identical_pool(api, account):
    source = PoolFactory(
        account=account,
        sticky=True,
        priority_countries=["GB"],
        callback_url="https://example.com/cb",
        overrides=[{"channel": "mms", "sticky": False}],
    )
    settings = api.get(f"/pools/my/{source.pk}").json()["smsSettings"]

    assert settings_of(create(api, name="copy", **settings)) == settings


def test_quiet_hours_are_a_window_of_the_day_that_may_wrap_midnight(api, account):
    created = create(api, quietHours={"start": "12:00", "end": "13:30"})
    pool = Pool.objects.get(pk=created.json()["poolId"])

    assert settings_of(created)["quietHours"] == {"start": "12:00", "end": "13:30"}
    moved = patch_settings(api, pool, quietHours={"end": "14:00"})  # merged key by key
    assert settings_of(moved)["quietHours"] == {"start": "12:00", "end": "14:00"}
    cleared = patch_settings(api, pool, quietHours=None)
    assert settings_of(cleared)["quietHours"] is None


@pytest.mark.parametrize(
    "window",
    [
        {"start": "21:00"},
        {"start": "25:00", "end": "08:00"},
        {"start": "9pm", "end": "8am"},
        {"start": "21:00", "end": "21:00"},
        {"start": "21:00", "end": "08:00", "zone": "UTC"},
        "21:00-08:00",
    ],
)
def test_quiet_hours_that_are_no_window_are_refused(api, window):
    response = create(api, quietHours=window)

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert any(field.startswith("smsSettings.quietHours") for field in body["errors"]), body
    assert not Pool.objects.exists()


def test_weights_given_in_part_keep_the_default_for_the_other_types(api):
    weights = settings_of(create(api, weights={"tollfree": 3}))["weights"]

    assert weights == {"longcode": 1, "tollfree": 3, "shortcode": 1}


def test_a_callback_without_strategy_notifies_on_every_change(api):
    callback = settings_of(create(api, callback={"url": "https://example.com/cb"}))["callback"]

    assert callback == {"url": "https://example.com/cb", "strategy": "OnChange"}


def test_a_second_pool_of_the_same_name_is_refused(api):
    create(api, name="alerts")

    body = assert_error(create(api, name="alerts"), 400, "VALIDATION_ERROR")

    assert "name" in body["errors"]
    assert Pool.objects.count() == 1


def test_two_accounts_may_each_have_a_pool_of_the_same_name(api, other_api):
    assert create(api, name="alerts").status_code == 201
    assert create(other_api, name="alerts").status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "p", "smsSettings": "sticky"}, "smsSettings"),
        ({"name": "p", "color": "blue"}, "color"),
    ],
)
def test_a_malformed_pool_is_refused_and_nothing_is_created(api, body, field):
    response = api.post("/pools/my", body, format="json")

    assert field in assert_error(response, 400, "VALIDATION_ERROR")["errors"]
    assert not Pool.objects.exists()


# Validation of every setting

INVALID_SETTINGS = [
    ("sticky", "sometimes"),
    ("stickyTtlDays", -1),
    ("stickyTtlDays", "eight"),
    ("stickyTtlDays", 3651),
    ("sticky", "yes"),
    ("sticky", 1),
    ("geomatch", [True]),
    ("defaultCountry", "us"),
    ("defaultCountry", "XX"),
    ("defaultCountry", "USA"),
    ("priorityCountries", ["US", "gb"]),
    ("priorityCountries", ["US", "US"]),
    ("priorityCountries", "US"),
    ("allowedCountries", ["ZZ"]),
    ("allowedCountries", {"US": True}),
    ("alphanumericSenderId", "ACME-CORP"),
    ("alphanumericSenderId", "ACMECORPORATE"),
    ("alphanumericSenderId", "   "),
    ("alphanumericSenderId", "ÄCME"),
    ("alphanumericSenderIds", {"fr": "ACME"}),
    ("alphanumericSenderIds", {"FR": "ACME_FR"}),
    ("alphanumericSenderIds", ["FR", "ACME"]),
    ("fallback", "Retry"),
    ("fallback", "pool"),
    ("weights", {"longcode": -1}),
    ("weights", {"landline": 1}),
    ("weights", {"longcode": 1.5}),
    ("weights", {"longcode": True}),
    ("weights", {"longcode": "2"}),
    ("weights", [1, 1, 1]),
    ("weights", {"longcode": 1001}),
    ("weights", {"longcode": 0, "tollfree": 0, "shortcode": 0}),
    ("fallback", "CustomFrom"),
    ("skipUnhealthy", "maybe"),
    ("optOutScope", "account"),
    ("optOutScope", "Pool"),
    ("transcode", {}),
    ("inboundSMSCallbackUrl", "ftp://example.com/inbound"),
    ("inboundSMSCallbackUrl", "example.com/inbound"),
    ("callback", {"url": "ftp://example.com/status"}),
    ("callback", {"url": "https://example.com/status", "strategy": "OnFailure"}),
    ("callback", {"strategy": "OnChange"}),
    ("callback", {"url": "https://example.com/status", "secret": "x"}),
    ("callback", "https://example.com/status"),
    ("helpReply", ""),
    ("helpReply", "x" * 1601),
    ("overrides", {"country": "CA", "geomatch": False}),
    ("overrides", ["geomatch"]),
    ("overrides", [{"geomatch": False}]),
    ("overrides", [{"country": "ca", "geomatch": False}]),
    ("overrides", [{"channel": "voice", "geomatch": False}]),
    ("overrides", [{"country": "CA"}]),
    ("overrides", [{"country": "CA", "fallback": "Reject"}]),
    ("overrides", [{"country": "CA", "sticky": "yes"}]),
    ("overrides", [{"country": "CA", "weights": {"tollfree": -2}}]),
    ("overrides", [{"country": "CA", "sticky": True}, {"country": "CA", "geomatch": True}]),
]


@pytest.mark.parametrize(("key", "value"), INVALID_SETTINGS)
def test_an_invalid_setting_is_refused_on_create_naming_it(api, key, value):
    body = assert_error(create(api, **{key: value}), 400, "VALIDATION_ERROR")

    assert any(field.startswith(f"smsSettings.{key}") for field in body["errors"]), body
    assert not Pool.objects.exists()


@pytest.mark.parametrize(("key", "value"), INVALID_SETTINGS)
def test_an_invalid_setting_is_refused_on_update_and_nothing_changes(api, account, key, value):
    pool = PoolFactory(account=account, name="before", sticky=True)

    response = patch(api, pool, {"name": "after", "smsSettings": {key: value}})

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert any(field.startswith(f"smsSettings.{key}") for field in body["errors"]), body
    pool.refresh_from_db()
    assert (pool.name, pool.sticky) == ("before", True)


@pytest.mark.parametrize(("key", "value"), [("stickiness", True), ("sticky_ttl_days", 3)])
def test_an_unknown_setting_is_refused_not_ignored(api, key, value):
    body = assert_error(create(api, **{key: value}), 400, "VALIDATION_ERROR")

    assert f"smsSettings.{key}" in body["errors"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stickyTtlDays", 0),
        ("alphanumericSenderId", "A"),
        ("alphanumericSenderId", "ACME Corp 1"),
        ("stickyTtlDays", validators.MAX_STICKY_TTL_DAYS),
        ("weights", {"longcode": 0, "tollfree": 0, "shortcode": validators.MAX_WEIGHT}),
        ("inboundSMSCallbackUrl", "http://example.com/in"),
        ("overrides", [{"country": "US", "channel": "mms", "weights": {"shortcode": 2}}]),
        ("fallback", "Reject"),
        ("optOutScope", "pool"),
        ("callback", {"url": "https://example.com/cb", "strategy": "OnChange"}),
    ],
)
def test_a_valid_boundary_setting_is_accepted(api, key, value):
    settings = settings_of(create(api, **{key: value}))

    assert settings[key] == value


# The validators behind these settings, over many inputs

SENDER_ALPHABET = string.ascii_letters + string.digits + " "


def accepted(validate, value) -> bool:
    try:
        validate(value)
    except ValidationError:
        return False
    return True


@given(st.text(alphabet=SENDER_ALPHABET, min_size=1, max_size=11).filter(str.strip))
def test_every_short_id_of_letters_digits_and_spaces_is_a_sender_id(sender):
    assert accepted(validators.validate_alphanumeric_sender, sender)


@given(st.text(alphabet=SENDER_ALPHABET, min_size=12))
def test_no_sender_id_is_longer_than_eleven_characters(sender):
    assert not accepted(validators.validate_alphanumeric_sender, sender)


@given(
    st.text(alphabet=SENDER_ALPHABET, max_size=5),
    st.characters(exclude_characters=SENDER_ALPHABET),
    st.text(alphabet=SENDER_ALPHABET, max_size=5),
)
def test_a_sender_id_with_any_other_character_is_refused(before, other, after):
    assert not accepted(validators.validate_alphanumeric_sender, before + other + after)


@given(st.integers(min_value=0, max_value=11))
def test_a_sender_id_of_spaces_only_is_refused(length):
    assert not accepted(validators.validate_alphanumeric_sender, " " * length)


@given(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
def test_country_codes_are_accepted_in_upper_case_only(country):
    assert accepted(validators.validate_country, country)
    assert not accepted(validators.validate_country, country.lower())


@given(
    st.dictionaries(
        st.sampled_from(NumberType.values),
        st.integers(min_value=0, max_value=validators.MAX_WEIGHT),
    ).filter(lambda weights: not validators.all_zero(weights))
)
def test_any_weights_in_range_with_one_above_zero_are_accepted(weights):
    assert accepted(validators.validate_weights, weights)


@given(
    st.dictionaries(st.sampled_from(NumberType.values), st.integers(min_value=0)),
    st.sampled_from(NumberType.values),
    st.integers(max_value=-1),
)
def test_a_negative_weight_is_refused(weights, number_type, negative):
    assert not accepted(validators.validate_weights, weights | {number_type: negative})


# Reading and listing


def test_the_pool_list_is_paginated_and_counts_each_pools_numbers(api, account, other_account):
    busy = PoolFactory(account=account, name="a-busy")
    PoolNumberFactory.create_batch(3, pool=busy)
    PoolFactory(account=account, name="b-empty")
    PoolFactory(account=other_account, name="a-foreign")

    body = api.get("/pools/my?pageSize=1").json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2
    assert [(p["name"], p["numberCount"]) for p in body["results"]] == [("a-busy", 3)]
    second = api.get(body["next"]).json()
    assert [(p["name"], p["numberCount"]) for p in second["results"]] == [("b-empty", 0)]


def test_reading_a_pool(api, account):
    pool = PoolFactory(account=account, name="alerts", geomatch=True)

    body = api.get(f"/pools/my/{pool.pk}").json()

    assert (body["poolId"], body["name"]) == (str(pool.pk), "alerts")
    assert body["smsSettings"]["geomatch"] is True


# Merge-updating


def test_patching_a_setting_changes_only_that_setting(api, account):
    pool = PoolFactory(account=account, sticky=True, geomatch=True, default_country="US")

    settings = settings_of(patch_settings(api, pool, fallback="Reject"))

    assert without_replies(settings) == DEFAULT_SETTINGS | {
        "sticky": True,
        "geomatch": True,
        "defaultCountry": "US",
        "fallback": "Reject",
    }


def test_patching_weights_merges_them_type_by_type(api, account):
    pool = PoolFactory(account=account, weights={"longcode": 5, "tollfree": 2, "shortcode": 1})

    settings = settings_of(patch_settings(api, pool, weights={"tollfree": 0}))

    assert settings["weights"] == {"longcode": 5, "tollfree": 0, "shortcode": 1}


def test_a_null_weight_goes_back_to_its_default(api, account):
    pool = PoolFactory(account=account, weights={"longcode": 5, "tollfree": 2, "shortcode": 1})

    settings = settings_of(patch_settings(api, pool, weights={"longcode": None}))

    assert settings["weights"] == {"longcode": 1, "tollfree": 2, "shortcode": 1}


def test_patching_per_country_sender_ids_merges_them_and_null_removes_one(api, account):
    pool = PoolFactory(account=account, alphanumeric_sender_ids={"FR": "ACME FR", "DE": "ACME DE"})

    settings = settings_of(
        patch_settings(api, pool, alphanumericSenderIds={"DE": None, "GB": "ACME UK"})
    )

    assert settings["alphanumericSenderIds"] == {"FR": "ACME FR", "GB": "ACME UK"}


def test_patching_the_callback_strategy_keeps_its_url(api, account):
    pool = PoolFactory(account=account, callback_url="https://example.com/cb")

    settings = settings_of(patch_settings(api, pool, callback={"strategy": "OnCompletion"}))

    assert settings["callback"] == {"url": "https://example.com/cb", "strategy": "OnCompletion"}


def test_patching_a_list_setting_replaces_the_list(api, account):
    pool = PoolFactory(account=account, priority_countries=["US", "CA"])

    settings = settings_of(patch_settings(api, pool, priorityCountries=["GB"]))

    assert settings["priorityCountries"] == ["GB"]


@pytest.mark.parametrize(
    ("key", "field", "value"),
    [
        ("stickyTtlDays", "sticky_ttl_days", 30),
        ("geomatch", "geomatch", True),
        ("defaultCountry", "default_country", "GB"),
        ("priorityCountries", "priority_countries", ["GB"]),
        ("alphanumericSenderId", "alphanumeric_sender_id", "ACME"),
        ("fallback", "fallback", "Reject"),
        ("weights", "weights", {"longcode": 9, "tollfree": 9, "shortcode": 9}),
        ("optOutScope", "opt_out_scope", "number"),
        ("inboundSMSCallbackUrl", "inbound_sms_callback_url", "https://example.com/in"),
        ("callback", "callback_url", "https://example.com/cb"),
        ("helpReply", "help_reply", "Custom help"),
        ("overrides", "overrides", [{"country": "CA", "geomatch": True}]),
    ],
)
def test_a_null_setting_goes_back_to_its_default(api, account, key, field, value):
    pool = PoolFactory(account=account, **{field: value})

    settings = settings_of(patch_settings(api, pool, **{key: None}))

    assert settings[key] == ({**DEFAULT_SETTINGS, "helpReply": DEFAULT_HELP_REPLY})[key]


def test_renaming_a_pool_keeps_its_settings(api, account):
    pool = PoolFactory(account=account, name="old", sticky=True)

    body = patch(api, pool, {"name": "new"}).json()

    assert body["name"] == "new"
    assert body["smsSettings"]["sticky"] is True
    pool.refresh_from_db()
    assert pool.name == "new"


def test_renaming_a_pool_to_another_pools_name_is_refused(api, account):
    PoolFactory(account=account, name="taken")
    pool = PoolFactory(account=account, name="mine")

    assert (
        "name"
        in assert_error(patch(api, pool, {"name": "taken"}), 400, "VALIDATION_ERROR")["errors"]
    )
    pool.refresh_from_db()
    assert pool.name == "mine"


def test_an_unknown_top_level_key_in_a_patch_is_refused(api, account):
    pool = PoolFactory(account=account)

    body = assert_error(patch(api, pool, {"sticky": True}), 400, "VALIDATION_ERROR")

    assert "sticky" in body["errors"]
    pool.refresh_from_db()
    assert pool.sticky is False


@pytest.fixture
def sticky_pool(account):
    """A sticky pool with two numbers and a mapping to each; another pool with one mapping."""
    pool = PoolFactory(account=account, sticky=True)
    first, second = PoolNumberFactory.create_batch(2, pool=pool)
    StickyMappingFactory(pool_number=first, recipient="+447700900001")
    StickyMappingFactory(pool_number=second, recipient="+447700900002")
    other = PoolNumberFactory(pool__account=account, pool__sticky=True)
    StickyMappingFactory(pool_number=other, recipient="+447700900001")
    return pool


@pytest.mark.parametrize("sticky", [False, None])
def test_turning_sticky_off_deletes_the_pools_mappings_only(api, sticky_pool, sticky):
    settings = settings_of(patch_settings(api, sticky_pool, sticky=sticky))

    assert settings["sticky"] is False
    assert not StickyMapping.objects.filter(pool=sticky_pool).exists()
    assert StickyMapping.objects.count() == 1


def test_changing_another_setting_of_a_sticky_pool_keeps_its_mappings(api, sticky_pool):
    patch_settings(api, sticky_pool, geomatch=True, stickyTtlDays=30)

    assert StickyMapping.objects.filter(pool=sticky_pool).count() == 2


def test_a_refused_patch_keeps_the_mappings(api, sticky_pool):
    response = patch_settings(api, sticky_pool, sticky=False, fallback="Retry")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert StickyMapping.objects.filter(pool=sticky_pool).count() == 2


# Deleting


def test_deleting_a_pool_leaves_its_numbers_in_the_account_unassigned(api, sticky_pool, account):
    numbers = [pn.number for pn in sticky_pool.pool_numbers.all()]

    response = api.delete(f"/pools/my/{sticky_pool.pk}")

    assert response.status_code == 204
    assert not Pool.objects.filter(pk=sticky_pool.pk).exists()
    assert not StickyMapping.objects.filter(pool_id=sticky_pool.pk).exists()
    for number in numbers:
        body = api.get(f"/numbers/my/{number.pk}").json()
        assert body["poolId"] is None
    assert_error(api.get(f"/pools/my/{sticky_pool.pk}"), 404, "POOL_NOT_FOUND")


# The pool's numbers and their mappings


def test_a_pools_numbers_are_listed_with_their_mapping_counts(api, account):
    pool = PoolFactory(account=account, sticky=True)
    busy = PoolNumberFactory(pool=pool, number__number="+12125550100")
    PoolNumberFactory(pool=pool, number__number="+12125550101")
    StickyMappingFactory(pool_number=busy, recipient="+447700900001")
    StickyMappingFactory(pool_number=busy, recipient="+447700900002")
    NumberFactory(account=account, number="+12125550102")  # not in the pool

    body = api.get(f"/pools/my/{pool.pk}/numbers").json()

    assert set(body) == {"count", "next", "previous", "results"}
    assert [(n["number"], n["mappingCount"], n["poolId"]) for n in body["results"]] == [
        ("+12125550100", 2, str(pool.pk)),
        ("+12125550101", 0, str(pool.pk)),
    ]


def test_mappings_unused_for_the_sticky_ttl_are_not_counted(api, account):
    pool = PoolFactory(account=account, sticky=True, sticky_ttl_days=8)
    pool_number = PoolNumberFactory(pool=pool)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        StickyMappingFactory(pool_number=pool_number, recipient="+447700900001")
    with time_machine.travel(start + timedelta(days=5), tick=False):
        StickyMappingFactory(pool_number=pool_number, recipient="+447700900002")

    def mapping_count_after(days):
        with time_machine.travel(start + timedelta(days=days), tick=False):
            return api.get(f"/pools/my/{pool.pk}/numbers").json()["results"][0]["mappingCount"]

    assert mapping_count_after(7) == 2
    assert mapping_count_after(9) == 1
    assert mapping_count_after(14) == 0


def test_with_a_sticky_ttl_of_zero_mappings_never_expire(api, account):
    pool = PoolFactory(account=account, sticky=True, sticky_ttl_days=0)
    pool_number = PoolNumberFactory(pool=pool)
    StickyMappingFactory(
        pool_number=pool_number,
        recipient="+447700900001",
        last_used_at=timezone.now() - timedelta(days=999),
    )

    body = api.get(f"/pools/my/{pool.pk}/numbers").json()

    assert body["results"][0]["mappingCount"] == 1


def test_a_pools_numbers_list_takes_a_page_size(api, account):
    pool = PoolFactory(account=account)
    PoolNumberFactory.create_batch(3, pool=pool)

    body = api.get(f"/pools/my/{pool.pk}/numbers?pageSize=2").json()

    assert (body["count"], len(body["results"])) == (3, 2)


# Tenants and unknown pools


def pool_endpoints(pool_id):
    return [
        ("get", f"/pools/my/{pool_id}", None),
        ("patch", f"/pools/my/{pool_id}", {"name": "stolen"}),
        ("delete", f"/pools/my/{pool_id}", None),
        ("get", f"/pools/my/{pool_id}/numbers", None),
        ("post", f"/pools/my/{pool_id}/numbers", {"numbers": ["+12125550100"]}),
        ("post", f"/pools/my/{pool_id}/numbers/remove", {"numbers": ["+12125550100"]}),
    ]


@pytest.mark.parametrize("index", range(len(pool_endpoints(None))))
def test_another_accounts_pool_is_not_found_and_untouched(api, account, other_account, index):
    foreign = PoolFactory(account=other_account, name="theirs")
    PoolNumberFactory(pool=foreign, number__number="+12125550100")
    method, path, body = pool_endpoints(foreign.pk)[index]

    response = getattr(api, method)(path, body, format="json")

    assert_error(response, 404, "POOL_NOT_FOUND")
    foreign.refresh_from_db()
    assert foreign.name == "theirs"
    assert PoolNumber.objects.get().pool == foreign


@pytest.mark.parametrize("pool_id", [uuid.uuid4(), "not-a-uuid"])
@pytest.mark.parametrize("index", range(len(pool_endpoints(None))))
def test_an_unknown_pool_is_not_found(api, pool_id, index):
    method, path, body = pool_endpoints(pool_id)[index]

    assert_error(getattr(api, method)(path, body, format="json"), 404, "POOL_NOT_FOUND")


def test_another_accounts_pools_are_not_listed(api, other_account):
    PoolFactory(account=other_account)

    assert api.get("/pools/my").json()["count"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/pools/my"), ("post", "/pools/my")]
    + [(method, path) for method, path, _ in pool_endpoints(uuid.uuid4())],
)
def test_every_pools_endpoint_needs_an_api_key(api, account, method, path):
    response = getattr(APIClient(), method)(path, {"name": "x"}, format="json")

    assert_error(response, 401, "UNAUTHORIZED")
    assert not Pool.objects.exists()
