"""Management commands: create_account, import_numbers and seed_demo (SPEC §8)."""

import json
import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import Account
from pools.demo import DEMO_POOLS
from pools.models import Pool, PoolNumber
from pools.services.pools import pool_assign_numbers
from tests.factories import PoolFactory
from virtual_numbers.models import Number
from virtual_numbers.services import number_register

pytestmark = pytest.mark.django_db

HEADER = "number,type,capabilities,country\n"


def run(*args, **options) -> str:
    stdout = StringIO()
    call_command(*args, stdout=stdout, stderr=StringIO(), **options)
    return stdout.getvalue()


def bearer(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def csv_file(tmp_path, rows: str, header: str = HEADER) -> str:
    path = tmp_path / "numbers.csv"
    path.write_text(header + rows)
    return str(path)


def import_numbers(path: str, *args: str, account: str = "acme") -> str:
    return run("import_numbers", path, "--account", account, *args)


def numbers_of(account) -> set[str]:
    return set(Number.objects.for_account(account).values_list("number", flat=True))


def pooled_in(pool) -> set[str]:
    return set(PoolNumber.objects.filter(pool=pool).values_list("number__number", flat=True))


# create_account


def test_create_account_prints_one_json_object_with_a_key_that_authenticates():
    output = json.loads(run("create_account", "initech"))

    account = Account.objects.get(name="initech")
    assert {"account", "apiKey", "webhookSecret"} <= set(output)
    assert output["account"] == "initech"
    assert output["accountId"] == str(account.pk)
    assert output["webhookSecret"] == account.webhook_secret
    assert output["webhookSecret"].startswith("whsec_")
    assert bearer(output["apiKey"]).get("/numbers/my").status_code == 200


def test_create_account_reuses_an_existing_account_and_issues_another_key(account):
    first = json.loads(run("create_account", "acme"))
    second = json.loads(run("create_account", "acme"))

    assert Account.objects.filter(name="acme").count() == 1
    assert first["accountId"] == second["accountId"] == str(account.pk)
    assert first["apiKey"] != second["apiKey"]
    assert first["webhookSecret"] == second["webhookSecret"]
    for key in (first["apiKey"], second["apiKey"]):
        assert bearer(key).get("/numbers/my").status_code == 200


def test_create_account_refuses_a_blank_name():
    with pytest.raises(CommandError, match="NAME must be"):
        run("create_account", "  ")
    assert not Account.objects.exists()


# import_numbers


def test_import_creates_skips_and_rejects_rows_with_their_line_and_reason(
    tmp_path, account, other_account
):
    number_register(account=account, number="+12125550100")
    number_register(account=other_account, number="+12125550199")
    path = csv_file(
        tmp_path,
        "+12125550101,longcode,sms|mms,\n"
        "+12125550100,,,\n"
        "+12125550199,,,\n"
        "+1234,,,\n"
        "12345,shortcode,sms,\n"
        "12345,shortcode,sms,US\n"
        "+18885550100,tollfree,sms,\n",
    )

    output = import_numbers(path)

    assert "3 created, 1 skipped, 3 rejected." in output
    assert "line 4 (+12125550199) rejected: +12125550199 is already registered." in output
    assert "line 5 (+1234) rejected: '+1234' is not a valid phone number." in output
    assert "line 6 (12345) rejected: A short code needs the ISO 3166-1" in output
    assert numbers_of(account) == {"+12125550100", "+12125550101", "12345", "+18885550100"}
    assert numbers_of(other_account) == {"+12125550199"}
    created = Number.objects.get(number="+12125550101")
    assert (created.area_code, created.location, created.capabilities) == (
        "212",
        "NY",
        ["sms", "mms"],
    )
    assert Number.objects.get(number="+18885550100").type == Number.Type.TOLLFREE


@pytest.mark.parametrize("capabilities", ["sms|mms", "sms mms", "sms;mms", "MMS | SMS"])
def test_import_reads_capabilities_separated_by_pipe_space_or_semicolon(
    tmp_path, account, capabilities
):
    import_numbers(csv_file(tmp_path, f'+12125550101,,"{capabilities}",\n'))

    assert Number.objects.get(number="+12125550101").capabilities == ["sms", "mms"]


def test_import_defaults_to_an_sms_long_code_when_only_the_number_is_given(tmp_path, account):
    output = import_numbers(csv_file(tmp_path, "+4915112345678\n", header="number\n"))

    assert "1 created, 0 skipped, 0 rejected." in output
    number = Number.objects.get(number="+4915112345678")
    assert (number.type, number.capabilities, number.country) == ("longcode", ["sms"], "DE")


def test_import_rejects_unknown_types_capabilities_and_rows_without_a_number(tmp_path, account):
    path = csv_file(tmp_path, "+12125550101,landline,,\n+12125550102,,fax,\n,longcode,,\n")

    output = import_numbers(path)

    assert "0 created, 0 skipped, 3 rejected." in output
    assert "line 2 (+12125550101) rejected: Unknown type 'landline'" in output
    assert "line 3 (+12125550102) rejected: Unknown capabilities fax" in output
    assert "line 4 rejected: The row has no number." in output
    assert not Number.objects.exists()


def test_importing_the_same_file_again_skips_every_row(tmp_path, account):
    path = csv_file(tmp_path, "+12125550101,,,\n+14155550101,,sms|mms,\n55501,shortcode,,US\n")
    import_numbers(path)

    output = import_numbers(path)

    assert "0 created, 3 skipped, 0 rejected." in output
    assert Number.objects.count() == 3


def test_import_assigns_created_and_skipped_numbers_to_the_pool_named(tmp_path, account):
    pool = PoolFactory(account=account, name="Support")
    number_register(account=account, number="+12125550100")
    path = csv_file(tmp_path, "+12125550100,,,\n+12125550101,,,\n")

    output = import_numbers(path, "--pool", "Support")

    assert "1 created, 1 skipped, 0 rejected; 2 in pool 'Support'." in output
    assert pooled_in(pool) == {"+12125550100", "+12125550101"}


def test_import_finds_the_pool_by_its_id(tmp_path, account):
    pool = PoolFactory(account=account)

    import_numbers(csv_file(tmp_path, "+12125550101,,,\n"), "--pool", str(pool.pk))

    assert pooled_in(pool) == {"+12125550101"}


def test_a_number_in_another_pool_is_rejected_and_the_others_are_assigned(tmp_path, account):
    pool = PoolFactory(account=account, name="Support")
    sales = PoolFactory(account=account, name="Sales")
    number_register(account=account, number="+16175550100")
    pool_assign_numbers(pool=sales, numbers=["+16175550100"])
    path = csv_file(tmp_path, "+12125550101,,,\n+16175550100,,,\n+12125550102,,,\n")

    output = import_numbers(path, "--pool", "Support")

    assert "2 created, 0 skipped, 1 rejected; 2 in pool 'Support'." in output
    assert (
        "line 3 (+16175550100) rejected: +16175550100 is already in pool 'Sales': "
        "remove it from there first." in output
    )
    assert pooled_in(pool) == {"+12125550101", "+12125550102"}
    assert pooled_in(sales) == {"+16175550100"}


def test_import_assigns_files_larger_than_one_assignment_call(tmp_path, account):
    pool = PoolFactory(account=account)
    rows = "".join(f"+1212555{n:04d},,,\n" for n in range(120))

    output = import_numbers(csv_file(tmp_path, rows), "--pool", pool.name)

    assert "120 created, 0 skipped, 0 rejected; 120 in pool" in output
    assert len(pooled_in(pool)) == 120


def test_a_dry_run_reports_what_would_happen_and_writes_nothing(tmp_path, account):
    PoolFactory(account=account, name="Support")
    number_register(account=account, number="+12125550100")
    path = csv_file(tmp_path, "+12125550100,,,\n+12125550101,,,\n+1234,,,\n")

    output = import_numbers(path, "--pool", "Support", "--dry-run")

    assert "Dry run, nothing written: 1 created, 1 skipped, 1 rejected; 2 in pool" in output
    assert numbers_of(account) == {"+12125550100"}
    assert not PoolNumber.objects.exists()


def test_import_reads_a_spreadsheet_export_with_a_byte_order_mark_and_capitals(tmp_path, account):
    path = tmp_path / "export.csv"
    path.write_text("\ufeffNumber,Type\n+12125550101,LongCode\n", encoding="utf-8")

    assert "1 created" in import_numbers(str(path))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--account", "nobody"], "No account named 'nobody'"),
        (["--account", "acme", "--pool", "Nope"], "has no pool with id or name 'Nope'"),
        (
            ["--account", "acme", "--pool", "00000000-0000-0000-0000-000000000000"],
            "has no pool with id or name",
        ),
    ],
)
def test_import_refuses_an_unknown_account_or_pool(tmp_path, account, arguments, message):
    path = csv_file(tmp_path, "+12125550101,,,\n")

    with pytest.raises(CommandError, match=message):
        run("import_numbers", path, *arguments)
    assert not Number.objects.exists()


def test_import_does_not_use_another_accounts_pool(tmp_path, account, other_account):
    PoolFactory(account=other_account, name="Theirs")

    with pytest.raises(CommandError, match="has no pool with id or name 'Theirs'"):
        import_numbers(csv_file(tmp_path, "+12125550101,,,\n"), "--pool", "Theirs")


def test_import_refuses_a_missing_file(tmp_path, account):
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.csv: No such file"):
        import_numbers(str(tmp_path / "missing.csv"))


def test_import_refuses_a_file_without_a_number_column(tmp_path, account):
    path = csv_file(tmp_path, "+12125550101,longcode\n", header="phone,type\n")

    with pytest.raises(CommandError, match="needs a header row with a 'number' column"):
        import_numbers(path)


# seed_demo


def demo_state() -> dict:
    """Everything seed_demo writes but API keys, by natural keys."""
    return {
        "accounts": sorted(Account.objects.values_list("name", flat=True)),
        "pools": sorted(Pool.objects.values_list("account__name", "name")),
        "numbers": sorted(
            Number.objects.values_list(
                "account__name", "number", "type", "country", "pool_number__pool__name"
            )
        ),
        "admins": sorted(get_user_model().objects.values_list("username", "is_superuser")),
    }


def printed(label: str, output: str) -> str:
    return re.search(rf"{label}: (\S+)", output).group(1)


def in_pool(pool: Pool, field: str) -> set:
    return set(Number.objects.filter(pool_number__pool=pool).values_list(field, flat=True))


def test_seed_demo_creates_a_pool_for_each_rule_it_shows_with_its_numbers():
    run("seed_demo")

    demo = Account.objects.get(name="demo")
    pools = {pool.name: pool for pool in Pool.objects.filter(account=demo)}
    assert set(pools) == {
        "US sticky, by area code",
        "Per-country senders",
        "Alphanumeric fallback",
        "Weighted 5:1, long codes to toll-free",
        "MMS from the MMS-capable number",
    }
    sticky = pools["US sticky, by area code"]
    assert (sticky.sticky, sticky.geomatch) == (True, True)
    assert in_pool(sticky, "area_code") == {"212", "415", "312", "888"}
    by_country = pools["Per-country senders"]
    assert (by_country.geomatch, by_country.default_country) == (True, "US")
    assert in_pool(by_country, "country") == {"US", "GB", "CA"}
    fallback = pools["Alphanumeric fallback"]
    assert (fallback.fallback, fallback.alphanumeric_sender_id) == ("CustomFrom", "NUMPOOLS")
    assert (fallback.geomatch, fallback.allowed_countries) == (True, [])
    assert in_pool(fallback, "country") == {"US"}
    weighted = pools["Weighted 5:1, long codes to toll-free"]
    assert (weighted.weights["longcode"], weighted.weights["tollfree"]) == (5, 1)
    assert in_pool(weighted, "type") == {"longcode", "tollfree"}
    assert in_pool(pools["MMS from the MMS-capable number"], "mms_capable") == {True, False}
    assert Number.objects.for_account(demo).unassigned().exists()


def test_running_seed_demo_again_changes_no_data():
    run("seed_demo")
    before = demo_state()

    output = run("seed_demo")

    assert demo_state() == before
    assert "0 numbers added this run" in output


def test_seed_demo_prints_a_new_api_key_for_the_demo_account_each_run():
    keys = [printed("API key", run("seed_demo")) for _ in range(2)]

    assert keys[0] != keys[1]
    for key in keys:
        response = bearer(key).get("/pools/my")
        assert response.status_code == 200
        assert {pool["name"] for pool in response.json()["results"]} == {
            pool.name for pool in DEMO_POOLS
        }


def test_seed_demo_sets_the_admin_login_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_USER", "operator")
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "correct horse battery")

    output = run("seed_demo")
    run("seed_demo")

    user = get_user_model().objects.get()
    assert (user.username, user.is_staff, user.is_superuser) == ("operator", True, True)
    assert user.check_password("correct horse battery")
    assert "Admin: /admin/" in output
    assert printed("username", output) == "operator"


def test_seed_demo_without_a_password_sets_and_prints_a_new_random_one(monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_USER", raising=False)
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)

    first = printed("password", run("seed_demo"))
    second = printed("password", run("seed_demo"))

    user = get_user_model().objects.get(username="admin")
    assert first != second
    assert user.check_password(second)
    assert not user.check_password(first)
