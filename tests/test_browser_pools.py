"""A pool's page and the CSV import in a real browser (Chromium, 1366x768): settings
configured without JSON, the sender previewed in place, a file with a bad row imported."""

import os

import pytest
from playwright.sync_api import expect

from pools.models import Pool
from tests.factories import PoolFactory
from tests.scenarios import NEW_YORK, SAN_FRANCISCO, pool_with
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db(transaction=True)


def screenshot(page, name: str) -> None:
    """Saved only when SCREENSHOTS names a directory: to look at the page, not to test it."""
    directory = os.environ.get("SCREENSHOTS")
    if directory:
        os.makedirs(directory, exist_ok=True)
        page.screenshot(path=os.path.join(directory, name), full_page=True)


def open_pool(page, pool):
    page.goto(f"/admin/pools/pool/{pool.pk}/change/")


def weights(page):
    return page.locator(".field-weights")


def test_an_operator_configures_a_pool_without_typing_json(operator, account):
    pool = pool_with(account, [NEW_YORK], name="alerts")
    open_pool(operator, pool)

    priority = operator.locator(".field-priority_countries tbody tr")
    for country in ("US", "CA", "GB"):
        operator.get_by_role("button", name="Add a country").click()
        priority.last.get_by_label("Country").select_option(country)
    priority.nth(1).get_by_role("button", name="Move up").click()  # Canada first
    expect(priority.nth(0).get_by_label("Country")).to_have_value("CA")
    weights(operator).get_by_label("Toll-free").fill("5")
    operator.get_by_role("button", name="Add a sender ID").click()
    sender_ids = operator.locator(".field-alphanumeric_sender_ids tbody tr")
    sender_ids.last.get_by_label("Country").select_option("FR")
    sender_ids.last.get_by_label("Sender ID").fill("ACME FR")
    operator.get_by_role("button", name="Add an override").click()
    overrides = operator.locator(".field-overrides tbody tr")
    overrides.last.get_by_label("Country").select_option("CA")
    overrides.last.get_by_label("Geomatch").select_option("yes")
    screenshot(operator, "pool_change_page.png")
    operator.get_by_role("button", name="Save and continue editing").click()

    expect(operator.locator(".messagelist .success")).to_be_visible()
    pool.refresh_from_db()
    assert pool.priority_countries == ["CA", "US", "GB"]
    assert pool.weights == {"longcode": 1, "tollfree": 5, "shortcode": 1}
    assert pool.alphanumeric_sender_ids == {"FR": "ACME FR"}
    assert pool.overrides == [{"country": "CA", "geomatch": True}]
    screenshot(operator, "pool_change_page_saved.png")


def test_a_bad_setting_is_shown_next_to_its_field(operator, account):
    pool = PoolFactory(account=account, name="alerts")
    open_pool(operator, pool)

    weights(operator).get_by_label("Long code").fill("0")
    weights(operator).get_by_label("Toll-free").fill("0")
    weights(operator).get_by_label("Short code").fill("0")
    operator.get_by_role("button", name="Save and continue editing").click()

    expect(operator.locator(".field-weights .errorlist")).to_contain_text("All weights are 0")
    operator.locator(".field-weights").scroll_into_view_if_needed()
    screenshot(operator, "pool_error.png")
    assert Pool.objects.get(pk=pool.pk).weights == {"longcode": 1, "tollfree": 1, "shortcode": 1}


def test_an_operator_previews_a_sender_on_the_pools_page(operator, account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], name="alerts", geomatch=True)
    open_pool(operator, pool)
    # An unsaved change, which the preview leaves as it is.
    weights(operator).get_by_label("Toll-free").fill("3")

    preview = operator.locator("#pool-preview")
    preview.get_by_label("Recipient").fill("+14155550123")
    preview.get_by_role("button", name="Preview").click()

    decision = preview.locator("#preview-decision")
    expect(decision).to_contain_text(SAN_FRANCISCO)
    expect(decision).to_contain_text("areaCode")
    expect(preview.locator("#preview-explanation li").first).to_have_text(
        "Recipient +14155550123: country US, area code 415 (CA)."
    )
    expect(weights(operator).get_by_label("Toll-free")).to_have_value("3")
    screenshot(operator, "pool_preview.png")

    preview.get_by_label("Recipient").fill("+447400200001")
    preview.get_by_label("Intent").select_option("marketing")
    preview.get_by_role("button", name="Preview").click()
    expect(preview.locator("#preview-send-at")).to_have_text("now")


CSV = """number,type,capabilities,country
+12125550100,longcode,sms,
+12125550101,,sms|mms,
+1212555,longcode,sms,
"""


def test_an_operator_imports_a_csv_with_a_bad_row(operator, account, tmp_path):
    pool = pool_with(account, [NEW_YORK], name="alerts")
    csv_path = tmp_path / "numbers.csv"
    csv_path.write_text(CSV)

    operator.goto("/admin/numbers/number/")
    operator.get_by_role("link", name="Import CSV").click()
    operator.get_by_label("CSV file").set_input_files(csv_path)
    operator.get_by_label("Account").select_option(label="acme")
    operator.get_by_label("Pool").select_option(label="alerts (acme)")
    operator.get_by_role("button", name="Preview").click()

    expect(operator.locator("#import-created")).to_have_text("2")
    expect(operator.locator("#import-rejected-count")).to_have_text("1")
    expect(operator.locator("#import-pooled")).to_have_text("3")  # its number and the two new
    rejected = operator.locator("#import-rejected tbody tr")
    expect(rejected).to_have_count(1)
    expect(rejected.first).to_contain_text("+1212555")
    expect(rejected.first).to_contain_text("not a valid phone number")
    screenshot(operator, "import_preview.png")
    assert not Number.objects.filter(number="+12125550100").exists()

    operator.get_by_role("button", name="Import").click()

    expect(operator.locator(".messagelist")).to_contain_text(
        "2 created, 0 skipped (already registered), 1 rejected; 3 now in pool “alerts”."
    )
    created = Number.objects.filter(number__in=["+12125550100", "+12125550101"])
    assert {(n.number, n.type, n.mms_capable) for n in created} == {
        ("+12125550100", "longcode", False),
        ("+12125550101", "longcode", True),
    }
    assert set(pool.pool_numbers.values_list("number__number", flat=True)) == {
        NEW_YORK,
        "+12125550100",
        "+12125550101",
    }
