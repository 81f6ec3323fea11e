"""The pool's page in the console: its settings without JSON, judged by the API's rules;
the sender preview in place; and the pool's count in the CSV import's preview."""

import re
from collections import defaultdict
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Permission

from pools.models import Pool
from pools.services.pools import SETTINGS_FIELDS
from tests.factories import NumberFactory, PoolFactory, PoolNumberFactory, UserFactory
from tests.scenarios import LONDON, NEW_YORK, SAN_FRANCISCO, pool_with
from tests.test_admin import grant_console, logged_in, messages_of, url
from tests.test_admin_import_charts import csv_file, import_previewed
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db

CONFIGURED = {
    "default_country": "US",
    "priority_countries": ["GB", "US"],
    "allowed_countries": ["US", "CA", "GB"],
    "weights": {"longcode": 5, "tollfree": 1, "shortcode": 0},
    "alphanumeric_sender_id": "ACME",
    "alphanumeric_sender_ids": {"FR": "ACME FR", "DE": "ACME"},
    "overrides": [
        {"country": "CA", "geomatch": False},
        {"channel": "mms", "sticky": True, "weights": {"tollfree": 0}},
        {"country": "US", "channel": "sms", "skipUnhealthy": True},
    ],
}


@pytest.fixture
def staff_client(account):
    """Staff scoped to `account` ("acme")."""
    return logged_in(grant_console(UserFactory(account=account)))


def settings_of(pool: Pool) -> dict:
    pool.refresh_from_db()
    return {name: getattr(pool, name) for name in SETTINGS_FIELDS}


class PostedFields(HTMLParser):
    """What a browser posts from the pool's change form: each control's name and value,
    in page order; a <template> (rows not added yet) posts nothing."""

    def __init__(self):
        super().__init__()
        self.fields = defaultdict(list)
        self.in_form = False
        self.templates = 0
        self.select = self.textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.in_form = attrs.get("id") == "pool_form"
        elif tag == "template":
            self.templates += 1
        if not self.in_form or self.templates or "disabled" in attrs:
            return
        if tag == "input" and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") not in ("checkbox", "radio"):
                self.fields[attrs["name"]].append(attrs.get("value", ""))
            elif "checked" in attrs:
                self.fields[attrs["name"]].append(attrs.get("value", "on"))
        elif tag == "select":
            self.select = (attrs["name"], "multiple" in attrs, [], [])
        elif tag == "option" and self.select:
            _, _, options, chosen = self.select
            options.append(attrs["value"])
            if "selected" in attrs:
                chosen.append(attrs["value"])
        elif tag == "textarea":
            self.textarea = (attrs["name"], [])

    def handle_data(self, data):
        if self.textarea:
            self.textarea[1].append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        elif tag == "template":
            self.templates -= 1
        elif tag == "select" and self.select:
            name, multiple, options, chosen = self.select
            self.fields[name] += chosen if multiple or chosen else options[:1]
            self.select = None
        elif tag == "textarea" and self.textarea:
            name, text = self.textarea
            self.fields[name].append("".join(text).removeprefix("\n"))
            self.textarea = None


def posted_back(response) -> dict[str, list[str]]:
    assert response.status_code == 200
    parser = PostedFields()
    parser.feed(response.content.decode())
    return parser.fields


def changed(data: dict, changes: dict) -> dict:
    """The posted form with `changes`; a `<field>-<column>` is typed into the blank row at
    the end of that field's rows."""
    for name, value in changes.items():
        if "-" in name:
            data[name][-1] = value
        else:
            data[name] = value
    return data


def save(client, pool, data):
    return client.post(url("pools_pool_change", pool.pk), data)


def form_errors(response) -> dict:
    assert response.status_code == 200, "the form was saved"
    return response.context["adminform"].form.errors


# Each widget round-trips


def test_the_settings_are_pickers_numbers_and_rows_not_json(staff_client, account):
    pool = PoolFactory(account=account, **CONFIGURED)

    data = posted_back(staff_client.get(url("pools_pool_change", pool.pk)))

    assert data["priority_countries"] == ["GB", "US", ""]  # in order, and a blank to add one
    assert sorted(data["allowed_countries"]) == ["CA", "GB", "US"]
    assert data["weights"] == ["5", "1", "0"]  # long code, toll-free, short code
    *sender_ids, blank = zip(
        data["alphanumeric_sender_ids-country"],
        data["alphanumeric_sender_ids-sender_id"],
        strict=True,
    )
    assert dict(sender_ids) == {"FR": "ACME FR", "DE": "ACME"}  # in PostgreSQL's key order
    assert blank == ("", "")
    assert data["overrides-country"] == ["CA", "", "US", ""]
    assert data["overrides-channel"] == ["", "mms", "sms", ""]
    assert data["overrides-geomatch"] == ["no", "", "", ""]
    assert data["overrides-sticky"] == ["", "yes", "", ""]
    assert data["overrides-weight_tollfree"] == ["", "0", "", ""]
    page = staff_client.get(url("pools_pool_change", pool.pk)).content.decode()
    assert re.findall(r'<textarea name="([^"]+)"', page) == [
        "help_reply",
        "opt_out_reply",
        "opt_in_reply",
    ]


def test_posting_the_form_back_unchanged_changes_no_setting(staff_client, account):
    pool = PoolFactory(account=account, **CONFIGURED)
    before = settings_of(pool)

    page = staff_client.get(url("pools_pool_change", pool.pk))
    response = save(staff_client, pool, posted_back(page))

    assert response.status_code == 302
    assert settings_of(pool) == before


def test_a_new_pools_form_starts_from_the_models_defaults(staff_client, account):
    data = posted_back(staff_client.get(url("pools_pool_add")))
    data["name"] = ["alerts"]

    assert staff_client.post(url("pools_pool_add"), data).status_code == 302

    pool = Pool.objects.get(name="alerts")
    assert settings_of(pool) == settings_of(PoolFactory(account=account))


def test_the_changed_settings_are_saved_as_the_api_would_store_them(staff_client, api, account):
    pool = PoolFactory(account=account, **CONFIGURED)
    data = posted_back(staff_client.get(url("pools_pool_change", pool.pk)))
    data["priority_countries"] = ["US", "GB", "FR"]  # reordered, and one more
    data["allowed_countries"] = ["US"]
    data["weights"] = ["5", "2", "0"]
    data["default_country"] = ["GB"]
    changed(
        data,
        {"alphanumeric_sender_ids-country": "GB", "alphanumeric_sender_ids-sender_id": "ACME UK"},
    )
    changed(
        data,
        {"overrides-country": "MX", "overrides-geomatch": "yes", "overrides-weight_shortcode": "3"},
    )

    assert save(staff_client, pool, data).status_code == 302

    through_api = PoolFactory(account=account)
    settings = {
        "defaultCountry": "GB",
        "priorityCountries": ["US", "GB", "FR"],
        "allowedCountries": ["US"],
        "weights": {"longcode": 5, "tollfree": 2, "shortcode": 0},
        "alphanumericSenderId": "ACME",
        "alphanumericSenderIds": {"FR": "ACME FR", "DE": "ACME", "GB": "ACME UK"},
        "overrides": [
            *CONFIGURED["overrides"],
            {"country": "MX", "geomatch": True, "weights": {"shortcode": 3}},
        ],
    }
    response = api.patch(f"/pools/my/{through_api.pk}", {"smsSettings": settings}, format="json")
    assert response.status_code == 200, response.json()
    assert settings_of(pool) == settings_of(through_api)


EMPTIED = {
    "priority_countries": [],
    "allowed_countries": [],
    "alphanumeric_sender_ids": {},
    "overrides": [],
}


def test_removing_every_row_and_country_empties_the_settings(staff_client, account):
    pool = PoolFactory(account=account, **CONFIGURED)
    data = posted_back(staff_client.get(url("pools_pool_change", pool.pk)))
    for name in list(data):
        if name.startswith(tuple(EMPTIED)):
            del data[name]  # every row removed, every country unchosen: nothing is posted

    assert save(staff_client, pool, data).status_code == 302

    settings = settings_of(pool)
    assert {name: settings[name] for name in EMPTIED} == EMPTIED


def test_a_row_left_blank_is_no_row(staff_client, account):
    pool = PoolFactory(account=account, **CONFIGURED)
    data = posted_back(staff_client.get(url("pools_pool_change", pool.pk)))
    changed(data, {"alphanumeric_sender_ids-sender_id": "   "})

    assert save(staff_client, pool, data).status_code == 302
    assert settings_of(pool)["alphanumeric_sender_ids"] == CONFIGURED["alphanumeric_sender_ids"]


# Each bad input is refused with the API's message, and nothing is saved


BAD_SETTINGS = [
    # (what the form posts, the same setting sent to the API, the field with the error)
    ({"priority_countries": ["XX"]}, {"priorityCountries": ["XX"]}, "priority_countries"),
    (
        {"priority_countries": ["US", "US"]},
        {"priorityCountries": ["US", "US"]},
        "priority_countries",
    ),
    ({"allowed_countries": ["XX"]}, {"allowedCountries": ["XX"]}, "allowed_countries"),
    ({"default_country": ["XX"]}, {"defaultCountry": "XX"}, "default_country"),
    (
        {"weights": ["-1", "1", "1"]},
        {"weights": {"longcode": -1, "tollfree": 1, "shortcode": 1}},
        "weights",
    ),
    ({"weights": ["", "1", "1"]}, {"weights": {"longcode": None}}, "weights"),
    (
        {"weights": ["0", "0", "0"]},
        {"weights": {"longcode": 0, "tollfree": 0, "shortcode": 0}},
        "weights",
    ),
    (
        {
            "alphanumeric_sender_ids-country": "FR",
            "alphanumeric_sender_ids-sender_id": "ACME FRANCE1",
        },
        {"alphanumericSenderIds": {"FR": "ACME FRANCE1"}},
        "alphanumeric_sender_ids",
    ),
    (
        {"alphanumeric_sender_ids-country": "XX", "alphanumeric_sender_ids-sender_id": "ACME"},
        {"alphanumericSenderIds": {"XX": "ACME"}},
        "alphanumeric_sender_ids",
    ),
    (
        {"overrides-country": "CA"},
        {"overrides": [{"country": "CA"}]},
        "overrides",
    ),
    (
        {"overrides-sticky": "yes"},
        {"overrides": [{"sticky": True}]},
        "overrides",
    ),
    (
        {"overrides-country": "XX", "overrides-sticky": "yes"},
        {"overrides": [{"country": "XX", "sticky": True}]},
        "overrides",
    ),
    (
        {"overrides-channel": "fax", "overrides-sticky": "yes"},
        {"overrides": [{"channel": "fax", "sticky": True}]},
        "overrides",
    ),
    (
        {"overrides-country": "CA", "overrides-sticky": "maybe"},
        {"overrides": [{"country": "CA", "sticky": "maybe"}]},
        "overrides",
    ),
    (
        {"overrides-country": "CA", "overrides-weight_tollfree": "-2"},
        {"overrides": [{"country": "CA", "weights": {"tollfree": -2}}]},
        "overrides",
    ),
    (
        {"overrides-country": "CA", "overrides-weight_tollfree": "1.5"},
        {"overrides": [{"country": "CA", "weights": {"tollfree": "1.5"}}]},
        "overrides",
    ),
]


@pytest.mark.parametrize(("posted", "settings", "field"), BAD_SETTINGS)
def test_a_bad_setting_is_refused_with_the_apis_message_and_nothing_saved(
    staff_client, api, account, posted, settings, field
):
    pool = PoolFactory(account=account, sticky=True)
    before = settings_of(pool)
    data = posted_back(staff_client.get(url("pools_pool_change", pool.pk)))
    data["sticky"] = []  # a change that must not be saved either

    response = save(staff_client, pool, changed(data, posted))

    # A new pool: a PATCH would merge (a null weight there means the default).
    answer = api.post(
        "/pools/my", {"name": "through the API", "smsSettings": settings}, format="json"
    )
    [(key, api_messages)] = answer.json()["errors"].items()
    assert key.startswith("smsSettings.")
    assert form_errors(response) == {field: api_messages}
    assert settings_of(pool) == before


def test_a_sender_id_of_eleven_characters_is_saved(staff_client, account):
    pool = PoolFactory(account=account)
    data = posted_back(staff_client.get(url("pools_pool_change", pool.pk)))
    changed(
        data,
        {
            "alphanumeric_sender_ids-country": "FR",
            "alphanumeric_sender_ids-sender_id": "ACME FRANCE",
        },
    )

    assert save(staff_client, pool, data).status_code == 302
    assert settings_of(pool)["alphanumeric_sender_ids"] == {"FR": "ACME FRANCE"}


def test_one_overrides_scope_twice_is_refused_as_by_the_api(staff_client, api, account):
    pool = PoolFactory(account=account, overrides=[{"country": "CA", "sticky": True}])
    data = posted_back(staff_client.get(url("pools_pool_change", pool.pk)))
    changed(data, {"overrides-country": "CA", "overrides-geomatch": "yes"})

    errors = form_errors(save(staff_client, pool, data))

    answer = api.patch(
        f"/pools/my/{pool.pk}",
        {
            "smsSettings": {
                "overrides": [
                    {"country": "CA", "sticky": True},
                    {"country": "CA", "geomatch": True},
                ]
            }
        },
        format="json",
    )
    assert errors == {"overrides": answer.json()["errors"]["smsSettings.overrides"]}
    assert "Two overrides share the scope CA/*." in errors["overrides"][0]


@pytest.mark.parametrize(
    ("posted", "settings", "field"),
    [
        ({"fallback": ["CustomFrom"]}, {"fallback": "CustomFrom"}, "fallback"),
        (
            {
                "weights": ["1", "0", "0"],
                "overrides-country": "US",
                "overrides-weight_longcode": "0",
            },
            {
                "weights": {"longcode": 1, "tollfree": 0, "shortcode": 0},
                "overrides": [{"country": "US", "weights": {"longcode": 0}}],
            },
            "overrides",
        ),
    ],
)
def test_settings_that_cannot_work_together_are_refused_as_by_the_api(
    staff_client, api, account, posted, settings, field
):
    pool = PoolFactory(account=account)
    data = posted_back(staff_client.get(url("pools_pool_change", pool.pk)))

    errors = form_errors(save(staff_client, pool, changed(data, posted)))

    answer = api.patch(f"/pools/my/{pool.pk}", {"smsSettings": settings}, format="json")
    assert errors == {field: answer.json()["errors"][f"smsSettings.{field}"]}


def test_a_country_given_two_sender_ids_is_refused(staff_client, account):
    pool = PoolFactory(account=account, alphanumeric_sender_ids={"FR": "ACME FR"})
    data = posted_back(staff_client.get(url("pools_pool_change", pool.pk)))
    changed(
        data,
        {"alphanumeric_sender_ids-country": "FR", "alphanumeric_sender_ids-sender_id": "OTHER"},
    )

    assert form_errors(save(staff_client, pool, data)) == {
        "alphanumeric_sender_ids": ["A country is listed twice."]
    }
    assert settings_of(pool)["alphanumeric_sender_ids"] == {"FR": "ACME FR"}


def test_the_error_shows_next_to_its_field(staff_client, account):
    pool = PoolFactory(account=account)
    data = posted_back(staff_client.get(url("pools_pool_change", pool.pk)))
    changed(
        data,
        {
            "alphanumeric_sender_ids-country": "FR",
            "alphanumeric_sender_ids-sender_id": "ACME FRANCE1",
        },
    )

    page = save(staff_client, pool, data).content.decode()

    row = page[page.index('class="form-row errors field-alphanumeric_sender_ids"') :]
    assert "is not an alphanumeric sender ID" in row[: row.index("</table>")]
    assert 'value="ACME FRANCE1"' in row  # what was typed stays, to be corrected


# Tenant scoping


def test_scoped_staff_cannot_edit_or_preview_another_accounts_pool(
    staff_client, other_account, monkeypatch
):
    theirs = PoolFactory(account=other_account, priority_countries=["US"])
    monkeypatch.setattr("pools.admin.sender_preview", pytest.fail)
    change = url("pools_pool_change", theirs.pk)

    previewed = staff_client.get(change, {"preview-to": "+12125550100"}, follow=True)
    saved = staff_client.post(change, {"priority_countries": ["GB"]}, follow=True)

    for response in (previewed, saved):
        assert response.redirect_chain == [(url("index"), 302)]
        assert "Perhaps it was deleted?" in messages_of(response)[0]
    assert settings_of(theirs)["priority_countries"] == ["US"]


# The preview on the pool's page


def preview_on_page(client, pool, to, **fields):
    query = {f"preview-{name}": value for name, value in {"to": to, **fields}.items()}
    return client.get(url("pools_pool_change", pool.pk), query)


def preview_section(response) -> str:
    page = response.content.decode()
    start = page.index('id="pool-preview"')
    return page[start : page.index("</section>", start)]


def test_a_recipient_in_the_pools_area_code_gets_that_number_and_the_reasons(staff_client, account):
    pool = pool_with(account, [NEW_YORK, SAN_FRANCISCO], geomatch=True)

    response = preview_on_page(staff_client, pool, "+14155550123")

    decision = response.context["selection"].decision
    assert (decision.sender, decision.rule) == (SAN_FRANCISCO, "areaCode")
    section = preview_section(response)
    assert f"<td>{SAN_FRANCISCO}</td>" in section
    assert "<td>areaCode</td>" in section
    assert decision.explanation
    for line in decision.explanation:
        assert f"<li>{line}</li>" in section
    assert "<li>Recipient +14155550123: country US, area code 415 (CA).</li>" in section
    # The settings form is still there, as saved.
    assert response.context["adminform"].form.instance == pool


def test_a_view_only_operator_can_preview_too(account):
    viewer = UserFactory(account=account)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_pool"))
    pool = pool_with(account, [NEW_YORK])

    response = preview_on_page(logged_in(viewer), pool, "+12125550100")

    assert response.context["selection"].decision.sender == NEW_YORK


def test_a_refused_preview_shows_its_message_and_steps(staff_client, account):
    pool = pool_with(account, [NEW_YORK], allowed_countries=["US"])

    response = preview_on_page(staff_client, pool, LONDON)

    refusal = response.context["refusal"]
    section = preview_section(response)
    assert f"COUNTRY_NOT_ALLOWED: {refusal.message}" in section
    assert response.context["explanation"]
    for line in response.context["explanation"]:
        assert f"<li>{line}</li>" in section


def test_an_unfinished_preview_asks_again(staff_client, account):
    pool = pool_with(account, [NEW_YORK])

    response = preview_on_page(staff_client, pool, "")

    assert "This field is required." in preview_section(response)
    assert "selection" not in response.context


def test_marketing_at_night_shows_when_it_would_go(staff_client, account, time_machine):
    time_machine.move_to(datetime(2026, 1, 15, 8, 0, tzinfo=UTC), tick=False)  # 03:00 in New York
    pool = pool_with(account, [NEW_YORK])

    response = preview_on_page(staff_client, pool, "+12125550100", intent="marketing")

    plan = response.context["marketing"]
    assert plan.send_at == datetime(2026, 1, 15, 13, 0, tzinfo=UTC)  # 08:00 in New York
    section = preview_section(response)
    assert "at 2026-01-15 13:00 UTC (held by quiet hours)" in section
    assert plan.explanation
    for line in plan.explanation:
        assert f"<li>{line}</li>" in section


def test_transactional_messages_are_not_held(staff_client, account, time_machine):
    time_machine.move_to(datetime(2026, 1, 15, 8, 0, tzinfo=UTC), tick=False)
    pool = pool_with(account, [NEW_YORK])

    response = preview_on_page(staff_client, pool, "+12125550100", intent="transactional")

    assert "marketing" not in response.context
    assert "Marketing goes" not in preview_section(response)


# The CSV import's count of the pool


def test_the_import_preview_counts_the_pools_numbers_and_the_files_new_ones(staff_client, account):
    pool = PoolFactory(account=account, name="marketing")
    held = PoolNumberFactory.create_batch(2, pool=pool)
    PoolNumberFactory(pool__account=account)  # another pool's: not counted
    # One number the pool holds, two new ones (one of them twice), a bad row.
    text = (
        f"number\n{held[0].number.number}\n+12125550201\n+12125550202\n+12125550202\nnot a number\n"
    )

    page = staff_client.post(
        url("numbers_number_import"),
        {"file": csv_file(text), "preview": "Preview", "pool": pool.pk},
    )

    assert page.context["pool_size"] == 4
    assert 'id="import-pooled">4<' in page.text
    assert not Number.objects.filter(number="+12125550201").exists()

    response = import_previewed(staff_client, page, pool=pool.pk)
    assert "; 4 now in pool “marketing”." in messages_of(response)[0]
    assert pool.pool_numbers.count() == 4


def test_an_import_without_a_pool_counts_no_pool(staff_client, account):
    NumberFactory(account=account)
    page = staff_client.post(
        url("numbers_number_import"), {"file": csv_file("number\n+12125550201\n"), "preview": "P"}
    )
    assert page.context["pool_size"] is None
    assert "import-pooled" not in page.text
