"""Number capacity (SPEC §14) end to end: daily caps of new recipients and cordoned
numbers, through the send API, the selection service's writes, the admin and the
pool's charts page. The rules themselves are tested in tests/test_selection_core.py."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import time_machine
from django.db import IntegrityError, transaction

from messaging.models import Message
from messaging.services.sending import message_send
from pools.models import PoolNumber, StickyMapping
from pools.services import selection as sender
from tests.assertions import assert_error
from tests.factories import (
    NumberFactory,
    PoolNumberFactory,
    StickyMappingFactory,
    UserFactory,
)
from tests.scenarios import pool_with
from tests.test_admin import (
    form_data,
    grant_console,
    listed,
    logged_in,
    messages_of,
    run_action,
    url,
)
from virtual_numbers.models import Number

pytestmark = pytest.mark.django_db

CAPPED = "+12122030001"
OTHER = "+12122030002"
NIGHT = datetime(2026, 3, 9, 23, 59, 30, tzinfo=UTC)  # 30 s before the next UTC day


def recipient(i: int) -> str:
    return f"+1646555{i:04d}"


def send(api, pool, to: str):
    return api.post(f"/pools/my/{pool.pk}/sms", {"to": to, "body": "hi"}, format="json")


def sent_from(api, pool, to: str) -> str:
    response = send(api, pool, to)
    assert response.status_code == 200, response.json()
    return "+" + response.json()["from"]


def number(e164: str) -> Number:
    return Number.objects.get(number=e164)


def cap(e164: str, daily_new_recipients: int) -> None:
    Number.objects.filter(number=e164).update(daily_new_recipients=daily_new_recipients)


def taken_today(api, e164: str) -> int:
    return api.get(f"/numbers/my/{number(e164).pk}").json()["newRecipientsToday"]


# Daily caps through the send API


def test_a_cap_reached_in_a_burst_takes_exactly_the_cap_and_the_rest_go_elsewhere(api, account):
    pool = pool_with(account, [CAPPED, OTHER], sticky=True)
    cap(CAPPED, 3)

    senders = [sent_from(api, pool, recipient(i)) for i in range(8)]

    assert Counter(senders) == {CAPPED: 3, OTHER: 5}
    assert senders[:6] == [CAPPED, OTHER] * 3  # fewest mappings first, until the cap
    assert (taken_today(api, CAPPED), taken_today(api, OTHER)) == (3, 5)
    last = Message.objects.filter(sender=OTHER).latest("created_at")
    assert "Capacity: 1 number(s) of the pool left out (1 at its daily cap" in last.explanation


def test_a_capped_number_keeps_serving_its_mapped_recipients(api, account):
    pool = pool_with(account, [CAPPED, OTHER], sticky=True)
    cap(CAPPED, 1)
    assert sent_from(api, pool, recipient(0)) == CAPPED

    for _ in range(3):
        assert sent_from(api, pool, recipient(0)) == CAPPED  # sticky hits are no new recipients
    assert sent_from(api, pool, recipient(1)) == OTHER

    assert taken_today(api, CAPPED) == 1
    assert number(CAPPED).messages_sent == 4


def test_when_every_number_is_at_its_cap_a_new_recipient_is_refused(api, account):
    pool = pool_with(account, [CAPPED], sticky=True)
    cap(CAPPED, 2)
    sent_from(api, pool, recipient(0))
    sent_from(api, pool, recipient(1))

    body = assert_error(send(api, pool, recipient(2)), 422, "NO_SENDER_AVAILABLE")

    assert "Capacity: no number of the pool takes a new recipient now." in body["explanation"]
    assert StickyMapping.objects.count() == Message.objects.count() == 2
    assert sent_from(api, pool, recipient(1)) == CAPPED  # still its mapped recipient's


def test_when_every_number_is_at_its_cap_the_alphanumeric_sender_is_the_last_resort(api, account):
    london = "+447400200001"
    pool = pool_with(account, [london], alphanumeric_sender_id="ACME")
    cap(london, 1)

    assert sent_from(api, pool, "+447400900001") == london
    response = send(api, pool, "+447400900002")

    assert response.json()["from"] == "ACME"
    assert response.json()["selection"]["rule"] == "alphanumeric"


def test_without_sticky_every_message_is_a_new_recipient_against_the_cap(api, account):
    pool = pool_with(account, [CAPPED, OTHER])
    cap(CAPPED, 2)

    senders = [sent_from(api, pool, recipient(0)) for _ in range(6)]

    assert Counter(senders) == {CAPPED: 2, OTHER: 4}


def test_the_cap_starts_again_on_the_next_utc_day(api, account):
    pool = pool_with(account, [CAPPED], sticky=True)
    cap(CAPPED, 1)
    with time_machine.travel(NIGHT, tick=False):
        sent_from(api, pool, recipient(0))
        assert_error(send(api, pool, recipient(1)), 422, "NO_SENDER_AVAILABLE")

    with time_machine.travel(NIGHT + timedelta(minutes=1), tick=False):
        assert taken_today(api, CAPPED) == 0
        assert sent_from(api, pool, recipient(1)) == CAPPED
        assert taken_today(api, CAPPED) == 1
        assert_error(send(api, pool, recipient(2)), 422, "NO_SENDER_AVAILABLE")

    capped = number(CAPPED)
    assert (capped.new_recipients_today, capped.new_recipients_on) == (
        1,
        NIGHT.date() + timedelta(days=1),
    )


def test_a_preview_counts_no_new_recipient(api, account):
    pool = pool_with(account, [CAPPED], sticky=True)
    cap(CAPPED, 1)

    for _ in range(3):
        sender.sender_preview(pool=pool, to=recipient(0))

    assert taken_today(api, CAPPED) == 0


def test_a_number_that_fills_up_after_it_was_chosen_leaves_no_half_written_mapping(
    account, monkeypatch
):
    """Another send took the chosen number's last place between the choice and the
    writes: what was written for it is undone, and the send decides again."""
    pool = pool_with(account, [CAPPED, OTHER], sticky=True)
    cap(CAPPED, 1)
    real_decide = sender._decide
    decisions = []

    def another_send_fills_the_number_meanwhile(*args, **kwargs):
        # The other send commits after the first choice; a choice made again (in a
        # transaction made again) finds what it committed.
        other_send = partial(
            Number.objects.filter(number=CAPPED).update,
            new_recipients_today=1,
            new_recipients_on=NIGHT.date(),
        )
        if decisions:
            other_send()
        decisions.append(real_decide(*args, **kwargs))
        if len(decisions) == 1:
            other_send()
        return decisions[-1]

    monkeypatch.setattr(sender, "_decide", another_send_fills_the_number_meanwhile)

    with time_machine.travel(NIGHT, tick=False):
        message = message_send(pool=pool, to=recipient(0), body="hi")

    assert message.sender == OTHER
    assert "left out (1 at its daily cap" in message.explanation
    assert StickyMapping.objects.get().pool_number.number.number == OTHER
    assert set(
        PoolNumber.objects.values_list("number__number", "mapping_count", "assignment_count")
    ) == {(CAPPED, 0, 0), (OTHER, 1, 1)}
    assert (number(CAPPED).messages_sent, number(CAPPED).last_used_at) == (0, None)


# Cordoned numbers through the API


def test_a_cordoned_number_keeps_its_sticky_recipients_and_takes_no_new_one(api, account):
    pool = pool_with(account, [CAPPED, OTHER], sticky=True)
    assert sent_from(api, pool, recipient(0)) == CAPPED

    patched = api.patch(f"/numbers/my/{number(CAPPED).pk}", {"state": "cordoned"}, format="json")
    assert patched.json()["state"] == "cordoned"

    assert [sent_from(api, pool, recipient(i)) for i in (1, 2, 0)] == [OTHER, OTHER, CAPPED]
    mapped = Message.objects.filter(to=recipient(0)).latest("created_at")
    assert "cordoned: it takes no new recipients, but keeps its mapped ones" in mapped.explanation
    new = Message.objects.get(to=recipient(2))
    assert "Capacity: 1 number(s) of the pool left out (1 cordoned)." in new.explanation


def test_a_pool_of_cordoned_numbers_refuses_new_recipients(api, account):
    pool = pool_with(account, [CAPPED], sticky=True)
    Number.objects.update(state=Number.State.CORDONED)

    assert_error(send(api, pool, recipient(0)), 422, "NO_SENDER_AVAILABLE")


@pytest.mark.parametrize(
    "fields", [{"daily_new_recipients": 0}, {"state": "retired"}], ids=["cap 0", "state"]
)
def test_the_database_refuses_a_cap_below_1_and_an_unknown_state(account, fields):
    number = NumberFactory(account=account)

    with pytest.raises(IntegrityError), transaction.atomic():
        Number.objects.filter(pk=number.pk).update(**fields)


# The admin


@pytest.fixture
def staff_client(account):
    return logged_in(grant_console(UserFactory(account=account)))


def test_cordoning_and_activating_numbers_from_the_list(staff_client, account, other_account):
    ours = [NumberFactory(account=account), NumberFactory(account=account)]
    theirs = NumberFactory(account=other_account)
    changelist = "numbers_number_changelist"

    cordoned = run_action(staff_client, changelist, "cordon", [*ours, theirs])

    assert "2 number(s) cordoned" in messages_of(cordoned)[0]
    assert set(Number.objects.cordoned()) == set(ours)  # another account's is out of reach
    activated = run_action(staff_client, changelist, "activate", ours[:1])
    assert "1 number(s) activated" in messages_of(activated)[0]
    assert set(Number.objects.cordoned()) == {ours[1]}


def test_the_number_list_shows_and_filters_the_state(staff_client, account):
    active = NumberFactory(account=account)
    cordoned = NumberFactory(account=account, state=Number.State.CORDONED)
    changelist = url("numbers_number_changelist")

    assert listed(staff_client.get(changelist, {"state__exact": "cordoned"})) == [cordoned]
    assert listed(staff_client.get(changelist, {"state__exact": "active"})) == [active]
    assert "Cordoned" in staff_client.get(changelist).text


def test_the_number_form_sets_the_daily_cap_and_the_state(staff_client, account):
    number = NumberFactory(account=account)
    page = staff_client.get(url("numbers_number_change", number.pk))

    response = staff_client.post(
        url("numbers_number_change", number.pk),
        form_data(page, daily_new_recipients="200", state="cordoned"),
    )

    assert response.status_code == 302
    number.refresh_from_db()
    assert (number.daily_new_recipients, number.state) == (200, Number.State.CORDONED)
    assert "New recipients today (UTC)" in page.text


def add_number(client, **data):
    return client.post(
        url("numbers_number_add"),
        {"number": "+12125550142", "type": "longcode", "sms_capable": "on", **data},
    )


@pytest.mark.parametrize("cap", ["0", "-5", "2.5", "86400001"])
def test_the_number_form_refuses_a_cap_that_is_not_a_whole_number_from_1(staff_client, cap):
    response = add_number(staff_client, daily_new_recipients=cap)

    assert response.status_code == 200
    assert "daily_new_recipients" in response.context["adminform"].form.errors
    assert not Number.objects.exists()


def test_a_number_added_in_the_admin_takes_its_cap_and_state(staff_client, account):
    response = add_number(staff_client, daily_new_recipients="50", state="cordoned")

    assert response.status_code == 302
    added = Number.objects.get()
    assert (added.daily_new_recipients, added.state) == (50, Number.State.CORDONED)


# The pool's charts page


def test_the_charts_page_shows_the_numbers_at_their_cap_today_and_the_cordoned_ones(
    staff_client, account
):
    pool = pool_with(account, [CAPPED, OTHER, "+12122030003", "+12122030004"])
    today = datetime.now(UTC).date()
    Number.objects.filter(number=CAPPED).update(
        daily_new_recipients=2, new_recipients_today=2, new_recipients_on=today
    )
    # At its cap yesterday, not today; under its cap today.
    Number.objects.filter(number=OTHER).update(
        daily_new_recipients=2, new_recipients_today=2, new_recipients_on=today - timedelta(1)
    )
    Number.objects.filter(number="+12122030003").update(
        daily_new_recipients=5, new_recipients_today=4, new_recipients_on=today
    )
    Number.objects.filter(number="+12122030004").update(state=Number.State.CORDONED)
    StickyMappingFactory(pool_number=PoolNumberFactory(pool__account=account))  # another pool

    response = staff_client.get(url("pools_pool_charts", pool.pk))

    capacity = response.context["capacity"]
    assert [n.number for n in capacity.at_cap] == [CAPPED]
    assert [n.number for n in capacity.cordoned] == ["+12122030004"]
    content = response.text
    assert "1 number at its daily cap of new recipients today" in content
    assert "1 cordoned" in content
    assert f'<th scope="row">{CAPPED}</th><td>2</td><td>2</td>' in content
    assert '<th scope="row">+12122030004</th>' in content
