"""The admin's CSV import of numbers (preview, then import) and the per-pool charts page."""

import html
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import Message
from optout.services import optout_record, optout_remove
from pools.models import PoolNumber
from tests.factories import (
    MessageFactory,
    NumberFactory,
    PoolFactory,
    PoolNumberFactory,
    StickyMappingFactory,
    UserFactory,
)
from tests.test_admin import grant_console, logged_in, messages_of, url
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db

IMPORT = url("numbers_number_import")

# Line 2 is the account's already, 3 is new, 4 to 6 are refused for three reasons.
CSV = """number,type,capabilities,country
+12125550100,longcode,sms,
+1 212-555-0101,,sms|mms,
+1212555,longcode,sms,
+12125550102,pager,sms,
+12125550103,longcode,sms,
"""


@pytest.fixture
def superuser_client():
    return logged_in(UserFactory(is_superuser=True, account=None))


@pytest.fixture
def staff_client(account):
    """Staff scoped to `account` ("acme")."""
    return logged_in(grant_console(UserFactory(account=account)))


@pytest.fixture
def registered(account, other_account):
    """The account's +12125550100, and another account's +12125550103."""
    NumberFactory(account=account, number="+12125550100")
    NumberFactory(account=other_account, number="+12125550103")


def csv_file(text=CSV, name="numbers.csv"):
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def preview(client, text=CSV, **data):
    return client.post(IMPORT, {"file": csv_file(text), "preview": "Preview", **data})


def previewed_content(response) -> str:
    """What the browser posts back from the preview's hidden field."""
    match = re.search(r'<textarea name="content" hidden>\n(.*?)</textarea>', response.text, re.S)
    return html.unescape(match.group(1))


def import_previewed(client, response, **data):
    return client.post(
        IMPORT, {"content": previewed_content(response), "import": "Import", **data}, follow=True
    )


# CSV import


def test_the_numbers_list_offers_the_import_to_those_who_may_add_numbers(staff_client, account):
    assert IMPORT in staff_client.get(url("numbers_number_changelist")).text

    viewer = UserFactory(account=account)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_number"))
    client = logged_in(viewer)
    assert IMPORT not in client.get(url("numbers_number_changelist")).text
    assert client.get(IMPORT).status_code == 403


def test_importing_into_a_pool_needs_the_change_permission_too(account):
    pool = PoolFactory(account=account)
    adder = UserFactory(account=account)
    adder.user_permissions.set(Permission.objects.filter(codename__in=["add_number", "view_pool"]))
    client = logged_in(adder)
    assert not client.get(IMPORT).context["form"].fields["pool"].queryset.exists()

    response = preview(client, "number\n+12125550101\n", pool=pool.pk)
    assert "Select a valid choice" in response.context["form"].errors["pool"][0]
    without_pool = preview(client, "number\n+12125550101\n")
    assert without_pool.context["report"].created == ["+12125550101"]


def test_the_preview_reports_every_row_and_writes_nothing(staff_client, registered):
    response = preview(staff_client)

    assert response.status_code == 200
    report = response.context["report"]
    assert report.dry_run
    assert (report.created, report.skipped) == (["+12125550101"], ["+12125550100"])
    assert [(row.line, row.number) for row in report.rejected] == [
        (4, "+1212555"),
        (5, "+12125550102"),
        (6, "+12125550103"),
    ]
    content = response.text
    assert re.search(r'id="import-created">1<', content)
    assert re.search(r'id="import-skipped">1<', content)
    assert re.search(r'id="import-rejected-count">3<', content)
    for row in report.rejected:
        assert f"<td>{row.line}</td><td>{row.number}</td><td>{html.escape(row.reason)}</td>" in (
            content
        )
    assert "not a valid phone number" in report.rejected[0].reason
    assert "Unknown type 'pager'" in report.rejected[1].reason
    assert "already registered" in report.rejected[2].reason
    assert Number.objects.count() == 2  # the two registered before
    assert previewed_content(response) == CSV


def test_importing_the_previewed_file_registers_it_and_reports_the_counts(
    staff_client, account, registered
):
    response = import_previewed(staff_client, preview(staff_client))

    assert response.redirect_chain == [(url("numbers_number_changelist"), 302)]
    assert messages_of(response) == [
        "Imported into acme: 1 created, 1 skipped (already registered), 3 rejected."
    ]
    number = Number.objects.get(number="+12125550101")
    assert (number.account, number.mms_capable) == (account, True)
    assert Number.objects.count() == 3


def test_an_import_into_a_pool_previews_and_assigns_its_numbers(staff_client, account):
    pool = PoolFactory(account=account, name="marketing")
    taken = PoolNumberFactory(pool__account=account, pool__name="support").number
    text = f"number\n+12125550101\n{taken.number}\n"

    page = preview(staff_client, text, pool=pool.pk)
    report = page.context["report"]
    assert (report.pooled, [row.number for row in report.rejected]) == (1, [taken.number])
    assert html.escape("already in pool 'support'") in page.text
    assert not PoolNumber.objects.filter(pool=pool).exists()

    response = import_previewed(staff_client, page, pool=pool.pk)
    assert messages_of(response) == [
        "Imported into acme: 1 created, 0 skipped (already registered), 1 rejected; "
        "1 now in pool “marketing”."
    ]
    assert list(Number.objects.filter(pool_number__pool=pool)) == [
        Number.objects.get(number="+12125550101")
    ]


@pytest.mark.parametrize(
    ("upload", "error"),
    [
        (csv_file("phone,type\n+12125550101,longcode\n"), "a header row with a 'number' column"),
        (csv_file("number,type\n"), "a header row but no numbers"),
        (SimpleUploadedFile("numbers.csv", "number\n+1212555010\xe9\n".encode("latin-1")), "UTF-8"),
        (None, "Choose a CSV file."),
    ],
)
def test_a_file_that_is_not_a_numbers_csv_is_a_form_error(staff_client, upload, error):
    response = staff_client.post(
        IMPORT, {"preview": "Preview", **({"file": upload} if upload else {})}
    )
    assert response.status_code == 200
    assert response.context["report"] is None
    assert error in response.context["form"].errors["file"][0]
    assert not Number.objects.exists()


def test_a_file_over_the_row_limit_is_refused(staff_client, monkeypatch):
    monkeypatch.setattr("virtual_numbers.admin.IMPORT_MAX_ROWS", 2)
    response = preview(staff_client, "number\n+12125550101\n+12125550102\n+12125550103\n")
    assert "more than 2: import it in parts" in response.context["form"].errors["file"][0]


def test_scoped_staff_import_into_their_account_whatever_is_posted(
    staff_client, account, other_account
):
    ours = PoolFactory(account=account)
    PoolFactory(account=other_account)
    page = staff_client.get(IMPORT)
    assert re.search(r'<input type="hidden" name="account"', page.text)
    assert list(page.context["form"].fields["pool"].queryset) == [ours]

    response = import_previewed(
        staff_client, preview(staff_client, "number\n+12125550101\n"), account=other_account.pk
    )
    assert "Imported into acme: 1 created" in messages_of(response)[0]
    assert Number.objects.get().account == account


def test_scoped_staff_cannot_import_into_another_accounts_pool(
    staff_client, account, other_account
):
    theirs = PoolFactory(account=other_account)
    response = preview(staff_client, "number\n+12125550101\n", pool=theirs.pk)
    assert "Select a valid choice" in response.context["form"].errors["pool"][0]
    assert response.context["report"] is None


def test_superusers_choose_the_account_and_one_of_its_pools(
    superuser_client, account, other_account
):
    theirs = PoolFactory(account=other_account, name="theirs")
    refused = preview(
        superuser_client, "number\n+12125550101\n", account=account.pk, pool=theirs.pk
    )
    assert "“theirs” is not a pool of acme" in refused.context["form"].errors["pool"][0]

    page = preview(superuser_client, "number\n+12125550101\n", account=other_account.pk)
    import_previewed(superuser_client, page, account=other_account.pk)
    assert Number.objects.get().account == other_account


# Charts

NOW = datetime(2025, 3, 15, 12, tzinfo=UTC)


@pytest.fixture
def busy_pool(account, other_account, time_machine):
    """A pool of two numbers with mappings, messages and opt-outs, some of them too old."""
    pool = PoolFactory(account=account, sticky=True, sticky_ttl_days=30)
    first, second = (
        PoolNumberFactory(pool=pool, number__number=number)
        for number in ("+12125550001", "+12125550002")
    )
    outside = NumberFactory(account=account, number="+12125550009")
    time_machine.move_to(NOW - timedelta(days=40), tick=False)
    StickyMappingFactory(pool_number=second)  # expired by now
    MessageFactory(account=account, pool=pool, status=Message.Status.DELIVERED)
    optout_record(account=account, recipient="+14155550100", number=first.number.number)

    time_machine.move_to(NOW - timedelta(days=3), tick=False)
    StickyMappingFactory.create_batch(3, pool_number=first)
    MessageFactory(account=account, pool=pool, status=Message.Status.SENT)
    optout_record(account=account, recipient="+14155550101", number=first.number.number)

    time_machine.move_to(NOW, tick=False)
    StickyMappingFactory(pool_number=second)
    MessageFactory.create_batch(2, account=account, pool=pool, status=Message.Status.DELIVERED)
    MessageFactory(account=account, pool=pool, status=Message.Status.FAILED)
    MessageFactory(account=account, status=Message.Status.DELIVERED)  # another pool's
    optout_record(account=account, recipient="+14155550102", number=second.number.number)
    optout_record(account=account, recipient="+14155550103")  # every number
    optout_record(account=account, recipient="+14155550104", number=outside.number)
    optout_record(account=other_account, recipient="+14155550105", number=first.number.number)
    optout_remove(account=account, recipient="+14155550102", numbers=[second.number.number])
    return pool


def charts_url(pool):
    return url("pools_pool_charts", pool.pk)


def table_row(header, *cells) -> str:
    """A row of the tables under the charts, as the page writes it."""
    return f'<th scope="row">{header}</th>' + "".join(f"<td>{cell}</td>" for cell in cells)


def test_the_pool_page_links_to_its_charts(staff_client, account):
    pool = PoolFactory(account=account)
    assert charts_url(pool) in staff_client.get(url("pools_pool_change", pool.pk)).text


def test_the_charts_show_the_pools_mappings_messages_and_optouts(staff_client, busy_pool):
    response = staff_client.get(charts_url(busy_pool))

    assert response.status_code == 200
    load = response.context["load_chart"]
    assert [(bar.label, bar.value, bar.width) for bar in load.bars] == [
        ("+12125550001", 3, load.bar_max),
        ("+12125550002", 1, load.bar_max // 3),
    ]
    message_chart = response.context["message_chart"]
    # Scheduled, Queued, Sent, Delivered, Undelivered, Failed, Canceled.
    assert message_chart.series_totals == [0, 0, 1, 2, 0, 1, 0]
    assert [column.counts for column in message_chart.columns[-4:]] == [
        [0, 0, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 2, 0, 1, 0],
    ]
    optout_chart = response.context["optout_chart"]
    assert optout_chart.columns[-4].counts == [1, 0]  # 3 days ago, the pool's first number
    assert optout_chart.columns[-1].counts == [1, 1]  # today, its second number and STOPALL

    content = response.text
    assert "4 live mappings over 2 numbers: from 1 to 3 per number" in content
    assert table_row("+12125550001", 3) in content
    assert table_row("Sat 15 Mar 2025", 0, 0, 0, 2, 0, 1, 0, 3) in content  # and the total
    assert table_row("All 30 days", 0, 0, 1, 2, 0, 1, 0, 4) in content
    assert table_row("All 30 days", 2, 1, 3) in content  # the opt-outs
    assert "<title>Sat 15 Mar: 2 Delivered</title>" in content
    charts = re.findall(r'<svg class="pool-chart".*?</svg>', content, re.S)
    assert len(charts) == 3
    for chart in charts:
        ET.fromstring(chart)  # well-formed, so the browser draws it


def test_an_idle_pool_has_empty_charts(staff_client, account):
    pool = PoolFactory(account=account)
    content = staff_client.get(charts_url(pool)).text
    assert "The pool has no numbers yet." in content
    assert "No messages in these days." in content
    assert "No opt-outs in these days." in content


def test_scoped_staff_cannot_open_another_accounts_pool_charts(staff_client, other_account):
    theirs = PoolFactory(account=other_account)
    response = staff_client.get(charts_url(theirs), follow=True)
    assert response.redirect_chain == [(url("index"), 302)]
    assert "Perhaps it was deleted?" in messages_of(response)[0]


def test_the_charts_page_queries_do_not_grow_with_the_messages(staff_client, account, time_machine):
    today = timezone.now()
    pool = PoolFactory(account=account)
    assignment = PoolNumberFactory(pool=pool)
    StickyMappingFactory(pool_number=assignment)
    MessageFactory(account=account, pool=pool)
    with CaptureQueriesContext(connection) as one_message:
        staff_client.get(charts_url(pool))

    for days_ago, status in enumerate(Message.Status.values * 4):
        time_machine.move_to(today - timedelta(days=days_ago), tick=False)
        MessageFactory(account=account, pool=pool, status=status)
        StickyMappingFactory(pool_number=PoolNumberFactory(pool=pool))
        optout_record(account=account, recipient=f"+1415555{days_ago:04d}")
    time_machine.move_to(today, tick=False)
    with CaptureQueriesContext(connection) as many_messages:
        response = staff_client.get(charts_url(pool))
    assert response.context["message_chart"].total > 15
    assert len(many_messages) == len(one_message)
