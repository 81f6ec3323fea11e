"""The admin console: tenant scoping, API keys, numbers and their bulk actions, pools."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKey, hash_api_key
from accounts.services import api_key_create
from messaging.models import Message
from pools.models import Pool, PoolNumber, StickyMapping
from tests.factories import (
    AccountFactory,
    NumberFactory,
    PoolFactory,
    PoolNumberFactory,
    StickyMappingFactory,
    UserFactory,
)
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"admin:{name}", args=args)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def grant_console(user):
    """What an account's operator gets through a group: every console permission but users'."""
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["accounts", "numbers", "pools"]
        ).exclude(content_type__model="user")
    )
    return user


@pytest.fixture
def superuser_client():
    return logged_in(UserFactory(is_superuser=True, account=None))


@pytest.fixture
def staff_client(account):
    """Staff scoped to `account` ("acme")."""
    return logged_in(grant_console(UserFactory(account=account)))


def listed(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def run_action(client, changelist, action, objects, **data):
    return client.post(
        url(changelist),
        {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], **data},
        follow=True,
    )


def form_data(response, **changes) -> dict:
    """What a browser posts back from an admin change form, with `changes` made."""
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for bound in [
            *formset.management_form,
            *(f for form in formset for f in form.hidden_fields()),
        ]:
            data[bound.html_name] = bound.value()
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


# Tenant scoping


def test_scoped_staff_list_only_their_accounts_objects(staff_client, account, other_account):
    ours = PoolNumberFactory(pool__account=account)
    theirs = PoolNumberFactory(pool__account=other_account)
    api_key_create(account=account, name="ours")
    api_key_create(account=other_account, name="theirs")
    StickyMappingFactory(pool_number=ours)
    StickyMappingFactory(pool_number=theirs)

    numbers = staff_client.get(url("numbers_number_changelist"))
    assert listed(numbers) == [ours.number]
    assert "account" not in numbers.context["cl"].list_display  # they have only theirs
    assert listed(staff_client.get(url("pools_pool_changelist"))) == [ours.pool]
    assert [k.name for k in listed(staff_client.get(url("accounts_apikey_changelist")))] == ["ours"]
    assert listed(staff_client.get(url("accounts_account_changelist"))) == [account]
    mappings = listed(staff_client.get(url("pools_stickymapping_changelist")))
    assert [m.pool for m in mappings] == [ours.pool]


def test_scoped_staff_cannot_open_another_accounts_objects(staff_client, other_account):
    theirs = PoolNumberFactory(pool__account=other_account)
    key = api_key_create(account=other_account).api_key
    mapping = StickyMappingFactory(pool_number=theirs)
    pages = [
        url("numbers_number_change", theirs.number.pk),
        url("numbers_number_delete", theirs.number.pk),
        url("pools_pool_change", theirs.pool.pk),
        url("accounts_apikey_change", key.pk),
        url("accounts_account_change", other_account.pk),
        url("pools_stickymapping_change", mapping.pk),
    ]
    for page in pages:
        response = staff_client.get(page, follow=True)
        # The admin answers a missing object by going back to the index.
        assert response.redirect_chain == [(url("index"), 302)], page
        assert "Perhaps it was deleted?" in messages_of(response)[0]


def test_scoped_staff_never_see_account_choices_but_theirs(staff_client, account, other_account):
    response = staff_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "numbers", "model_name": "number", "field_name": "account", "term": ""},
    )
    assert [r["text"] for r in response.json()["results"]] == ["acme"]
    add_form = staff_client.get(url("pools_pool_add")).content.decode()
    assert re.search(r'<input type="hidden" name="account"', add_form)
    assert "globex" not in add_form


def test_a_pool_added_by_scoped_staff_is_theirs_whatever_is_posted(
    staff_client, account, other_account
):
    page = staff_client.get(url("pools_pool_add"))
    response = staff_client.post(
        url("pools_pool_add"), form_data(page, name="alerts", account=other_account.pk)
    )
    assert response.status_code == 302
    assert Pool.objects.get(name="alerts").account == account


def test_a_pool_name_is_unique_within_the_account_in_the_admin_too(staff_client, account):
    PoolFactory(account=account, name="alerts")
    page = staff_client.get(url("pools_pool_add"))
    response = staff_client.post(url("pools_pool_add"), form_data(page, name="alerts"))
    assert response.status_code == 200
    assert "already has a pool of this name" in str(response.context["adminform"].form.errors)
    assert Pool.objects.filter(name="alerts").count() == 1


def test_staff_tied_to_no_account_see_nothing(account):
    NumberFactory(account=account)
    client = logged_in(grant_console(UserFactory(account=None)))
    assert client.get(url("index")).context["app_list"] == []
    assert client.get(url("numbers_number_changelist")).status_code == 403


def test_superusers_see_every_account(superuser_client, account, other_account):
    numbers = [NumberFactory(account=account), NumberFactory(account=other_account)]
    assert sorted(listed(superuser_client.get(url("numbers_number_changelist"))), key=str) == (
        sorted(numbers, key=str)
    )


def test_the_console_is_branded(superuser_client):
    content = superuser_client.get(url("index")).content.decode()
    assert "<title>Pools, numbers and API keys | Number Pools</title>" in content


# API keys


def test_a_new_api_key_is_shown_once_and_only_its_hash_is_stored(staff_client, account):
    response = staff_client.post(url("accounts_apikey_add"), {"name": "backend"}, follow=True)
    [shown] = [m for m in messages_of(response) if "copy it now" in m]
    raw_key = re.search(r"np_\S+", shown).group()
    key = ApiKey.objects.get(name="backend")
    assert (key.account, key.key_hash, key.prefix) == (account, hash_api_key(raw_key), raw_key[:10])

    for page in (url("accounts_apikey_changelist"), url("accounts_apikey_change", key.pk)):
        content = staff_client.get(page).content.decode()
        assert raw_key not in content
        assert key.key_hash not in content


def test_revoking_keys_from_the_list(staff_client, account):
    keys = [api_key_create(account=account).api_key for _ in range(2)]
    response = run_action(staff_client, "accounts_apikey_changelist", "revoke", keys[:1])
    assert "Revoked 1 API key(s)." in messages_of(response)
    assert [k.is_active for k in ApiKey.objects.order_by("created_at")] == [False, True]


# Numbers


def add_number(client, **data):
    return client.post(url("numbers_number_add"), {"type": "longcode", "sms_capable": "on", **data})


def test_adding_a_number_registers_it_through_the_service(staff_client, account):
    response = add_number(staff_client, number="+1 212-555-0142")
    assert response.status_code == 302
    number = Number.objects.get()
    assert (number.account, number.number, number.country, number.area_code, number.location) == (
        account,
        "+12125550142",
        "US",
        "212",
        "NY",
    )


def test_adding_an_invalid_number_shows_the_reason(staff_client):
    response = add_number(staff_client, number="+1212555")
    assert response.status_code == 200
    assert "is not a valid phone number" in response.context["adminform"].form.errors["number"][0]
    assert not Number.objects.exists()


def test_adding_a_registered_number_is_refused(staff_client, other_account):
    NumberFactory(account=other_account, number="+12125550142")
    response = add_number(staff_client, number="+12125550142")
    assert "already registered" in str(response.context["adminform"].form.errors)
    assert Number.objects.count() == 1


def test_an_operator_overrides_a_numbers_health(staff_client, account):
    number = NumberFactory(account=account, computed_healthy=True)
    page = staff_client.get(url("numbers_number_change", number.pk))
    response = staff_client.post(
        url("numbers_number_change", number.pk), form_data(page, health_override="false")
    )
    assert response.status_code == 302
    number.refresh_from_db()
    assert (number.health_override, number.healthy) == (False, False)


def test_the_health_filter_honours_the_operators_override(staff_client, account):
    sick = NumberFactory(account=account, computed_healthy=False)
    overridden = NumberFactory(account=account, computed_healthy=False, health_override=True)
    marked = NumberFactory(account=account, computed_healthy=True, health_override=False)
    changelist = url("numbers_number_changelist")
    assert set(listed(staff_client.get(changelist, {"health": "healthy"}))) == {overridden}
    assert set(listed(staff_client.get(changelist, {"health": "unhealthy"}))) == {sick, marked}


def test_numbers_filter_by_assignment_and_pool(staff_client, account):
    assigned = PoolNumberFactory(pool__account=account)
    free = NumberFactory(account=account)
    changelist = url("numbers_number_changelist")
    assert listed(staff_client.get(changelist, {"assigned": "yes"})) == [assigned.number]
    assert listed(staff_client.get(changelist, {"assigned": "no"})) == [free]
    # One pool only: the filter still applies (the pool page links here).
    assert listed(staff_client.get(changelist, {"pool": assigned.pool.pk})) == [assigned.number]
    empty = PoolFactory(account=account)
    assert listed(staff_client.get(changelist, {"pool": empty.pk})) == []


def test_assigning_numbers_asks_for_a_pool_of_their_account(staff_client, account, other_account):
    numbers = NumberFactory.create_batch(2, account=account)
    pool = PoolFactory(account=account, name="marketing")
    PoolFactory(account=other_account, name="their pool")

    page = run_action(staff_client, "numbers_number_changelist", "assign_to_pool", numbers)
    assert page.templates[0].name == "admin/numbers/number/assign_to_pool.html"
    assert list(page.context["form"].fields["pool"].queryset) == [pool]

    response = run_action(
        staff_client,
        "numbers_number_changelist",
        "assign_to_pool",
        numbers,
        apply="Assign to pool",
        pool=pool.pk,
    )
    assert "2 number(s) now in pool “marketing”." in messages_of(response)
    assert set(Number.objects.filter(pool_number__pool=pool)) == set(numbers)


def test_assigning_refuses_numbers_in_another_pool_and_assigns_none(staff_client, account):
    free = NumberFactory(account=account)
    taken = PoolNumberFactory(pool__account=account, pool__name="support")
    pool = PoolFactory(account=account, name="marketing")
    response = run_action(
        staff_client,
        "numbers_number_changelist",
        "assign_to_pool",
        [free, taken.number],
        apply="Assign to pool",
        pool=pool.pk,
    )
    [message] = messages_of(response)
    assert "Already in another pool" in message
    assert taken.number.number in message
    assert not PoolNumber.objects.filter(pool=pool).exists()
    assert PoolNumber.objects.get(number=taken.number).pool == taken.pool


def test_numbers_of_two_accounts_cannot_go_to_one_pool(superuser_client, account, other_account):
    numbers = [NumberFactory(account=account), NumberFactory(account=other_account)]
    PoolFactory(account=account)
    response = run_action(superuser_client, "numbers_number_changelist", "assign_to_pool", numbers)
    assert "Select numbers of one account" in messages_of(response)[0]
    assert not PoolNumber.objects.exists()


def test_a_pool_of_another_account_cannot_be_posted(staff_client, account, other_account):
    number = NumberFactory(account=account)
    PoolFactory(account=account)
    theirs = PoolFactory(account=other_account)
    response = run_action(
        staff_client,
        "numbers_number_changelist",
        "assign_to_pool",
        [number],
        apply="Assign to pool",
        pool=theirs.pk,
    )
    assert "pool" in response.context["form"].errors
    assert not PoolNumber.objects.exists()


def test_removing_numbers_from_their_pools(staff_client, account):
    first = PoolNumberFactory(pool__account=account, pool__name="a")
    second = PoolNumberFactory(pool__account=account, pool__name="b")
    kept = PoolNumberFactory(pool=first.pool)
    StickyMappingFactory(pool_number=first)
    response = run_action(
        staff_client, "numbers_number_changelist", "remove_from_pool", [first.number, second.number]
    )
    assert "Removed 2 number(s) from “a”, “b”." in messages_of(response)
    assert list(PoolNumber.objects.all()) == [kept]
    assert not StickyMapping.objects.exists()


# Pools


def test_the_pool_list_shows_number_and_mapping_counts(staff_client, account):
    def pool_with(numbers, mappings):
        pool = PoolFactory(account=account)
        assignments = PoolNumberFactory.create_batch(numbers, pool=pool)
        for _ in range(mappings):
            StickyMappingFactory(pool_number=assignments[0])
        return pool

    pool_with(3, 2)
    with CaptureQueriesContext(connection) as one_pool:
        staff_client.get(url("pools_pool_changelist"))
    pools = [pool_with(1, 0), pool_with(0, 0), pool_with(2, 5)]

    with CaptureQueriesContext(connection) as four_pools:
        rows = listed(staff_client.get(url("pools_pool_changelist")))
    assert len(four_pools) == len(one_pool)  # counted in the list's query, not per pool
    counts = {pool.pk: (pool.number_count, pool.live_mapping_count) for pool in rows}
    assert [counts[pool.pk] for pool in pools] == [(1, 0), (0, 0), (2, 5)]


def test_the_pool_page_shows_its_numbers_with_live_mappings(staff_client, account):
    pool = PoolFactory(account=account, sticky=True, sticky_ttl_days=8)
    assignment = PoolNumberFactory(pool=pool)
    StickyMappingFactory(pool_number=assignment)
    StickyMappingFactory(pool_number=assignment, last_used_at=timezone.now() - timedelta(days=9))

    response = staff_client.get(url("pools_pool_change", pool.pk))
    [inline] = response.context["inline_admin_formsets"]
    [row] = list(inline)
    assert row.original.live_mapping_count == 1
    content = response.content.decode()
    assert f"/admin/numbers/number/?pool={pool.pk}" in content
    assert assignment.number.number in content


def test_the_pool_list_its_page_charts_and_the_api_count_the_same_mappings_after_a_ttl(
    staff_client, api, account
):
    """Live mappings everywhere, each pool by its own TTL; not the selection service's
    counter, which keeps expired mappings until they are purged."""
    start = timezone.now()
    pool = PoolFactory(account=account, sticky=True, sticky_ttl_days=8)
    forever = PoolFactory(account=account, sticky=True, sticky_ttl_days=0)
    first, second = PoolNumberFactory.create_batch(2, pool=pool)
    with time_machine.travel(start, tick=False):
        StickyMappingFactory(pool_number=first)
        StickyMappingFactory(pool_number=second)
        StickyMappingFactory(pool_number__pool=forever)
    with time_machine.travel(start + timedelta(days=5), tick=False):
        StickyMappingFactory(pool_number=first)
    for assignment in PoolNumber.objects.all():
        assignment.mapping_count = assignment.mappings.count()
        assignment.save(update_fields=["mapping_count"])

    def shown_after(days) -> dict:
        with time_machine.travel(start + timedelta(days=days), tick=False):
            pools = listed(staff_client.get(url("pools_pool_changelist")))
            page = staff_client.get(url("pools_pool_change", pool.pk))
            [inline] = page.context["inline_admin_formsets"]
            charts = staff_client.get(url("pools_pool_charts", pool.pk))
            numbers = api.get(f"/pools/my/{pool.pk}/numbers").json()["results"]
        listed_counts = {listed_pool.pk: listed_pool.live_mapping_count for listed_pool in pools}
        return {
            "pool list": listed_counts[pool.pk],
            "pool page": sum(row.original.live_mapping_count for row in inline),
            "charts": charts.context["load_chart"].total,
            "API": sum(number["mappingCount"] for number in numbers),
            "pool list, TTL 0": listed_counts[forever.pk],
        }

    def everywhere(count, never_expiring=1):
        return {"pool list": count, "pool page": count, "charts": count, "API": count} | {
            "pool list, TTL 0": never_expiring
        }

    assert shown_after(7) == everywhere(3)
    assert shown_after(9) == everywhere(1)
    assert shown_after(13) == everywhere(0)


def test_saving_the_pool_form_updates_its_settings(staff_client, account):
    pool = PoolFactory(account=account, sticky=True)
    PoolNumberFactory(pool=pool)
    page = staff_client.get(url("pools_pool_change", pool.pk))
    response = staff_client.post(
        url("pools_pool_change", pool.pk),
        form_data(
            page,
            geomatch="on",
            default_country="GB",
            priority_countries=["US", "CA"],
            weights=["5", "1", "1"],  # long code, toll-free, short code
        ),
    )
    assert response.status_code == 302
    pool.refresh_from_db()
    assert (pool.geomatch, pool.default_country, pool.priority_countries, pool.sticky) == (
        True,
        "GB",
        ["US", "CA"],
        True,
    )
    assert pool.weights == {"longcode": 5, "tollfree": 1, "shortcode": 1}


def test_turning_sticky_off_in_the_form_deletes_the_mappings(staff_client, account):
    pool = PoolFactory(account=account, sticky=True)
    StickyMappingFactory.create_batch(2, pool_number=PoolNumberFactory(pool=pool))
    page = staff_client.get(url("pools_pool_change", pool.pk))
    response = staff_client.post(url("pools_pool_change", pool.pk), form_data(page, sticky=False))
    assert response.status_code == 302
    assert not Pool.objects.get(pk=pool.pk).sticky
    assert not StickyMapping.objects.exists()


def test_an_invalid_setting_is_a_form_error(staff_client, account):
    pool = PoolFactory(account=account)
    page = staff_client.get(url("pools_pool_change", pool.pk))
    response = staff_client.post(
        url("pools_pool_change", pool.pk), form_data(page, allowed_countries=["XX"])
    )
    assert response.status_code == 200
    assert "not an ISO 3166-1" in str(response.context["adminform"].form.errors)


def test_clearing_a_pools_sticky_mappings(staff_client, account):
    pool = PoolFactory(account=account, sticky=True)
    other = PoolFactory(account=account, sticky=True)
    StickyMappingFactory.create_batch(3, pool_number=PoolNumberFactory(pool=pool))
    kept = StickyMappingFactory(pool_number=PoolNumberFactory(pool=other))
    response = run_action(staff_client, "pools_pool_changelist", "clear_mappings", [pool])
    assert "Cleared 3 sticky mapping(s) from 1 pool(s)." in messages_of(response)
    assert list(StickyMapping.objects.all()) == [kept]


def test_sticky_mappings_are_searchable_by_recipient_and_number(staff_client, account):
    mapping = StickyMappingFactory(pool_number__pool__account=account, recipient="+14155550100")
    StickyMappingFactory(pool_number__pool__account=account, recipient="+14155550199")
    changelist = url("pools_stickymapping_changelist")
    assert listed(staff_client.get(changelist, {"q": "+14155550100"})) == [mapping]
    number = mapping.pool_number.number.number
    assert listed(staff_client.get(changelist, {"q": number})) == [mapping]


def test_the_login_page_opens_for_a_visitor_and_the_console_sends_them_there(client):
    assert client.get("/admin/login/").status_code == 200
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.postgres
def test_an_account_with_more_messages_than_one_statement_takes_is_refused_not_a_500(
    superuser_client,
):
    """Messages are history, never deleted in the console, so neither is their account;
    with more of them than PostgreSQL takes parameters in one statement (65,535), the
    lookup of what the delete would take used to fail on the way."""
    doomed = AccountFactory(name="doomed")
    Message.objects.bulk_create(
        Message(account=doomed, to="+12125550100", sender="+12125550199", body="hi")
        for _ in range(2**16)
    )

    refused = superuser_client.post(url("accounts_account_delete", doomed.pk), {"post": "yes"})

    assert refused.status_code == 403
    assert Message.objects.filter(account=doomed).count() == 2**16
