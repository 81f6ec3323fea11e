"""The console's index as the operators' dashboard: each account's day, every figure
linking to the list of exactly what it counts, and the apps in an operator's order."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.groups import operators_group_sync
from messaging.models import Message
from optout.services import optout_record
from tests.factories import (
    AccountFactory,
    ConnectionFactory,
    MessageFactory,
    NumberFactory,
    UserFactory,
)
from tests.test_admin import logged_in

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")
NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
Status = Message.Status


@pytest.fixture
def superuser_client():
    return logged_in(UserFactory(is_superuser=True, account=None))


@pytest.fixture
def staff_client(account):
    """An operator of `account` ("acme"), with the Account operators group's permissions."""
    user = UserFactory(account=account)
    user.groups.add(operators_group_sync())
    return logged_in(user)


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


def days(client) -> dict[str, object]:
    """The blocks of the index, by account name."""
    response = client.get(INDEX)
    assert response.status_code == 200
    return {day.account.name: day for day in response.context["account_days"]}


def counts(figures) -> dict[str, int]:
    return {figure.label: figure.count for figure in figures}


def messages_at(when, time_machine, account, statuses):
    time_machine.move_to(when, tick=False)
    return [MessageFactory(account=account, status=status) for status in statuses]


def listed(client, url) -> list:
    """What the list behind a dashboard link shows: its rows, checked against its count."""
    response = client.get(url)
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert "e" not in response.wsgi_request.GET  # not Django's "invalid lookup" redirect
    assert changelist.result_count == len(changelist.result_list)
    return list(changelist.result_list)


# Messages today


def test_todays_messages_are_counted_by_status_and_yesterdays_are_not(
    staff_client, account, time_machine
):
    messages_at(NOW - timedelta(days=1), time_machine, account, [Status.DELIVERED] * 3)
    # The last second of yesterday (UTC) and the first of today.
    messages_at(datetime(2025, 3, 9, 23, 59, 59, tzinfo=UTC), time_machine, account, ["Sent"])
    messages_at(datetime(2025, 3, 10, tzinfo=UTC), time_machine, account, ["Sent"])
    messages_at(
        NOW,
        time_machine,
        account,
        ["Scheduled", "Queued", "Queued", "Delivered", "Delivered", "Failed", "Canceled"],
    )

    day = days(staff_client)["acme"]

    assert day.day == TODAY
    assert counts(day.messages) == {
        "Scheduled": 1,
        "Queued": 2,
        "Sent": 1,
        "Delivered": 2,
        "Undelivered": 0,
        "Failed": 1,
        "Canceled": 1,
    }


def test_each_status_count_lists_exactly_those_messages(
    staff_client, superuser_client, account, time_machine
):
    yesterday = messages_at(NOW - timedelta(days=1), time_machine, account, ["Delivered"])
    other = messages_at(NOW, time_machine, AccountFactory(), ["Delivered"])
    today = messages_at(NOW, time_machine, account, ["Delivered", "Delivered", "Failed"])

    figures = {figure.label: figure for figure in days(staff_client)["acme"].messages}

    assert sorted(listed(staff_client, figures["Delivered"].url), key=str) == sorted(
        today[:2], key=str
    )
    assert listed(staff_client, figures["Failed"].url) == [today[2]]
    assert listed(staff_client, figures["Sent"].url) == []
    # Even for who sees every account and every day, the link leaves those out.
    everything = listed(superuser_client, figures["Delivered"].url)
    assert yesterday[0] not in everything and other[0] not in everything


def test_a_status_link_chooses_the_lists_own_today_filter(staff_client, account, now):
    MessageFactory(account=account, status=Status.SENT)
    [sent] = [f for f in days(staff_client)["acme"].messages if f.label == "Sent"]

    response = staff_client.get(sent.url)

    [date_filter] = [
        spec for spec in response.context["cl"].filter_specs if spec.title == "created at"
    ]
    [chosen] = [
        choice for choice in date_filter.choices(response.context["cl"]) if choice["selected"]
    ]
    assert chosen["display"] == "Today"


def test_the_delivery_rate_is_delivered_over_the_messages_that_reached_an_outcome(
    staff_client, account, now
):
    for status in ["Delivered", "Delivered", "Delivered", "Undelivered", "Failed"]:
        MessageFactory(account=account, status=status)
    # Neither counts: a canceled message never went, a sent one has no outcome yet.
    MessageFactory(account=account, status=Status.CANCELED)
    MessageFactory(account=account, status=Status.SENT)

    response = staff_client.get(INDEX)

    [day] = response.context["account_days"]
    assert day.delivery_rate == 60
    assert ">60%<" in response.content.decode()


def test_without_an_outcome_today_the_delivery_rate_is_a_dash(staff_client, account, now):
    MessageFactory(account=account, status=Status.SENT)
    MessageFactory(account=account, status=Status.CANCELED)

    response = staff_client.get(INDEX)

    assert response.context["account_days"][0].delivery_rate is None
    assert ">—<" in response.content.decode()


# Scope


def test_a_scoped_operator_sees_only_their_account(staff_client, account, other_account, now):
    MessageFactory(account=other_account, status=Status.FAILED)
    ConnectionFactory(account=other_account, name="globex-smpp")

    response = staff_client.get(INDEX)

    assert [day.account for day in response.context["account_days"]] == [account]
    assert "globex" not in response.content.decode()


def test_a_superuser_sees_a_block_for_each_account(superuser_client, account, other_account, now):
    MessageFactory(account=account, status=Status.FAILED)
    MessageFactory.create_batch(2, account=other_account, status=Status.FAILED)

    blocks = days(superuser_client)

    assert list(blocks) == ["acme", "globex"]
    assert counts(blocks["acme"].messages)["Failed"] == 1
    assert counts(blocks["globex"].messages)["Failed"] == 2
    page = superuser_client.get(INDEX).content.decode()
    assert f'id="account-{account.pk}"' in page and f'id="account-{other_account.pk}"' in page


def test_staff_tied_to_no_account_get_no_dashboard(account, now):
    user = UserFactory(account=None)
    user.groups.add(operators_group_sync())
    assert logged_in(user).get(INDEX).context["account_days"] == []


def test_a_section_shows_only_to_who_may_open_its_list(account, now):
    user = UserFactory(account=account)
    user.user_permissions.set(
        operators_group_sync().permissions.filter(content_type__app_label="numbers")
    )

    [day] = logged_in(user).get(INDEX).context["account_days"]

    assert day.numbers is not None
    assert (day.messages, day.queue, day.optouts, day.connections) == (None, None, None, None)


# Queue, opt-outs, numbers, connections


def test_the_queue_counts_what_waits_now_whenever_it_was_sent(staff_client, account, time_machine):
    waiting = messages_at(NOW - timedelta(days=3), time_machine, account, ["Queued", "Scheduled"])
    waiting += messages_at(NOW, time_machine, account, ["Queued", "Delivered"])

    figures = {figure.label: figure for figure in days(staff_client)["acme"].queue}

    assert counts(figures.values()) == {"Queued": 2, "Scheduled": 1}
    assert sorted(listed(staff_client, figures["Queued"].url), key=str) == sorted(
        [waiting[0], waiting[2]], key=str
    )
    assert listed(staff_client, figures["Scheduled"].url) == [waiting[1]]


def test_todays_optouts_are_counted_and_listed(staff_client, account, other_account, time_machine):
    time_machine.move_to(NOW - timedelta(days=1), tick=False)
    optout_record(account=account, recipient="+14155550100")
    time_machine.move_to(NOW, tick=False)
    optout_record(account=account, recipient="+14155550101")
    optout_record(account=account, recipient="+14155550102", number="+12122030001")
    optout_record(account=other_account, recipient="+14155550103")

    optouts = days(staff_client)["acme"].optouts

    assert optouts.count == 2
    assert sorted(optout.recipient for optout in listed(staff_client, optouts.url)) == [
        "+14155550101",
        "+14155550102",
    ]


def test_numbers_unhealthy_cordoned_and_at_their_cap(staff_client, account, now):
    unhealthy = [
        NumberFactory(account=account, computed_healthy=False),
        NumberFactory(account=account, health_override=False),
    ]
    NumberFactory(account=account, computed_healthy=False, health_override=True)  # overridden
    cordoned = NumberFactory(account=account, state="cordoned")
    cap = {"daily_new_recipients": 5, "new_recipients_on": TODAY}
    capped = NumberFactory(account=account, new_recipients_today=5, **cap)
    NumberFactory(account=account, new_recipients_today=4, **cap)  # one to go
    NumberFactory(  # at its cap yesterday: a new day starts again
        account=account,
        daily_new_recipients=5,
        new_recipients_today=5,
        new_recipients_on=date(2025, 3, 9),
    )
    NumberFactory(account=AccountFactory(), computed_healthy=False)

    figures = {figure.label: figure for figure in days(staff_client)["acme"].numbers}

    assert counts(figures.values()) == {"Unhealthy": 2, "Cordoned": 1, "At their daily cap": 1}
    assert sorted(listed(staff_client, figures["Unhealthy"].url), key=str) == sorted(
        unhealthy, key=str
    )
    assert listed(staff_client, figures["Cordoned"].url) == [cordoned]
    assert listed(staff_client, figures["At their daily cap"].url) == [capped]


def test_connections_show_their_state_and_link_to_their_page(staff_client, account, now):
    down = ConnectionFactory(
        account=account, name="aggregator", state_status="down", state_detail="bind refused"
    )
    up = ConnectionFactory(account=account, name="twilio", kind="twilio", state_status="up")

    response = staff_client.get(INDEX)

    assert response.context["account_days"][0].connections == [down, up]
    page = response.content.decode()
    for each in (down, up):
        change = reverse("admin:carriers_connection_change", args=[each.pk])
        assert f'href="{change}"' in page
        assert staff_client.get(change).status_code == 200
    assert "bind refused" in page
    assert 'class="state state-down"' in page and 'class="state state-up"' in page


def test_an_account_without_connections_says_where_messages_go(staff_client, account, now):
    assert "built-in simulator" in staff_client.get(INDEX).content.decode()


# The page


def statements(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(INDEX).status_code == 200
    return len(queries)


def busy_account(name: str):
    account = AccountFactory(name=name)
    for status in Status:
        MessageFactory.create_batch(2, account=account, status=status)
    NumberFactory.create_batch(2, account=account, computed_healthy=False)
    ConnectionFactory.create_batch(2, account=account)
    for n in range(2):
        optout_record(account=account, recipient=f"+1415555010{n}")
    return account


# Session, user, accounts, messages today, the queue, opt-outs, numbers, connections,
# today's unrouted inbound and the recent actions: 10; an operator's permissions (their
# own and their groups') add 2.
MAX_STATEMENTS = 12


def test_the_index_runs_the_same_statements_for_one_account_or_three(superuser_client, now):
    first = busy_account("first")
    one = statements(superuser_client)
    busy_account("second")
    busy_account("third")
    MessageFactory.create_batch(20, account=first, status=Status.DELIVERED)
    assert len(days(superuser_client)) == 3

    assert statements(superuser_client) == one <= MAX_STATEMENTS


def test_an_operators_index_runs_a_bounded_number_of_statements(staff_client, account, now):
    MessageFactory.create_batch(5, account=account, status=Status.DELIVERED)
    NumberFactory.create_batch(3, account=account)
    ConnectionFactory(account=account)
    assert statements(staff_client) <= MAX_STATEMENTS


def test_the_apps_come_in_an_operators_order_with_auth_last(superuser_client):
    apps = [app["app_label"] for app in superuser_client.get(INDEX).context["app_list"]]

    assert apps[:5] == ["pools", "numbers", "messaging", "optout", "carriers"]
    assert apps[-1] == "auth"
    assert apps.index("accounts") > apps.index("carriers")


def test_the_sidebar_lists_the_apps_in_the_same_order(superuser_client):
    page = superuser_client.get(reverse("admin:numbers_number_changelist"))
    assert [app["app_label"] for app in page.context["available_apps"]] == [
        app["app_label"] for app in superuser_client.get(INDEX).context["app_list"]
    ]


def test_view_site_leads_to_the_landing_page(superuser_client):
    response = superuser_client.get(INDEX)
    assert response.context["site_url"] == "/"
    assert '<a href="/">View site</a>' in response.content.decode()
