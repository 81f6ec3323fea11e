"""The admin console's sender preview on pools, and the read-only message pages."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging.models import Message
from pools.models import PoolNumber, StickyMapping
from tests.factories import (
    ClickFactory,
    MessageFactory,
    PoolFactory,
    PoolNumberFactory,
    ShortLinkFactory,
    StatusEventFactory,
    UserFactory,
)
from tests.test_admin import listed, logged_in, messages_of, run_action, url
from virtual_numbers.models import Number
from virtual_numbers.phone import parse_e164

pytestmark = pytest.mark.django_db

NEW_YORK = "+12122030001"  # area code 212, NY
SAN_FRANCISCO = "+14152030001"  # area code 415, CA
LONDON = "+447400200001"


def grant_console(user):
    """An account's operator: every console permission but users', messages' included."""
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["accounts", "numbers", "pools", "messaging"]
        ).exclude(content_type__model="user")
    )
    return user


@pytest.fixture
def staff_client(account):
    """Staff scoped to `account` ("acme")."""
    return logged_in(grant_console(UserFactory(account=account)))


@pytest.fixture
def superuser_client():
    return logged_in(UserFactory(is_superuser=True, account=None))


def pool_of(account, numbers, **settings):
    """A pool of the account holding `numbers` (E.164), each with the facts its number gives."""
    pool = PoolFactory(account=account, **settings)
    for e164 in numbers:
        facts = parse_e164(e164)
        PoolNumberFactory(
            pool=pool,
            number__number=facts.number,
            number__country=facts.country,
            number__area_code=facts.area_code,
            number__location=facts.location,
        )
    return pool


def preview(client, pools, **data):
    return run_action(
        client, "pools_pool_changelist", "preview_sender", pools, preview="Preview sender", **data
    )


# Sender preview


def test_previewing_asks_for_a_recipient_of_the_selected_pool(staff_client, account):
    pool = pool_of(account, [NEW_YORK], name="alerts")

    page = run_action(staff_client, "pools_pool_changelist", "preview_sender", [pool])

    assert page.templates[0].name == "admin/pools/pool/preview_sender.html"
    assert page.context["pool"] == pool
    assert set(page.context["form"].fields) == {"to", "channel", "strategy", "intent"}
    assert "selection" not in page.context


def test_a_preview_shows_the_sender_rule_and_explanation(staff_client, account):
    pool = pool_of(account, [NEW_YORK, SAN_FRANCISCO], geomatch=True)

    response = preview(staff_client, [pool], to="+14155550123", strategy="Numeric")

    decision = response.context["selection"].decision
    assert (decision.sender, decision.sender_type, decision.rule) == (
        SAN_FRANCISCO,
        "number",
        "areaCode",
    )
    page = response.content.decode()
    assert f"<td>{SAN_FRANCISCO}</td>" in page
    assert "<td>areaCode</td>" in page
    for line in decision.explanation:
        assert f"<li>{line}</li>" in page
    assert "<li>Recipient +14155550123: country US, area code 415 (CA).</li>" in page


def test_a_preview_with_mms_picks_an_mms_capable_number(staff_client, account):
    pool = pool_of(account, [NEW_YORK, "+12122030002"])
    Number.objects.filter(number="+12122030002").update(mms_capable=True)

    response = preview(staff_client, [pool], to="+12125550100", channel="mms", strategy="Numeric")

    assert response.context["selection"].decision.sender == "+12122030002"


def test_a_refused_preview_shows_the_code_and_the_steps(staff_client, account):
    pool = pool_of(account, [NEW_YORK], allowed_countries=["US"])

    response = preview(staff_client, [pool], to=LONDON, strategy="Numeric")

    assert response.context["refusal"].code == "COUNTRY_NOT_ALLOWED"
    assert "selection" not in response.context
    page = response.content.decode()
    assert "COUNTRY_NOT_ALLOWED" in page
    assert response.context["explanation"]
    for line in response.context["explanation"]:
        assert f"<li>{line}</li>" in page


def test_an_invalid_recipient_is_a_refusal_too(staff_client, account):
    pool = pool_of(account, [NEW_YORK])

    response = preview(staff_client, [pool], to="+1555", strategy="Numeric")

    assert response.context["refusal"].code == "INVALID_RECIPIENT"


def test_a_preview_writes_nothing(staff_client, account):
    pool = pool_of(account, [NEW_YORK, SAN_FRANCISCO], sticky=True)

    response = preview(staff_client, [pool], to="+12125550100", strategy="Numeric")

    assert response.context["selection"].decision.rule == "pool"
    assert not StickyMapping.objects.exists()
    assert not Message.objects.exists()
    assert set(PoolNumber.objects.values_list("mapping_count", "assignment_count")) == {(0, 0)}
    assert set(Number.objects.values_list("messages_sent", "last_used_at")) == {(0, None)}


def test_a_preview_needs_exactly_one_pool(staff_client, account):
    pools = [pool_of(account, [NEW_YORK]), pool_of(account, [SAN_FRANCISCO])]

    response = preview(staff_client, pools, to="+12125550100", strategy="Numeric")

    assert "Select exactly one pool to preview its sender." in messages_of(response)
    assert response.templates[0].name == "admin/change_list.html"


def test_scoped_staff_cannot_preview_another_accounts_pool(staff_client, other_account):
    theirs = pool_of(other_account, [NEW_YORK])

    response = preview(staff_client, [theirs], to="+12125550100", strategy="Numeric")

    assert "Select exactly one pool to preview its sender." in messages_of(response)
    assert "selection" not in response.context


# Messages


def test_the_message_list_shows_the_selection_at_a_glance(staff_client, account):
    message = MessageFactory(
        account=account,
        pool__name="alerts",
        status="Undelivered",
        detailed_status="Opted-out",
        rule="areaCode",
    )

    response = staff_client.get(url("messaging_message_changelist"))

    assert listed(response) == [message]
    page = response.content.decode()
    for shown in [str(message.id), message.to, message.sender, "alerts", "Opted-out", "areaCode"]:
        assert shown in page


def test_messages_are_searchable_by_recipient_sender_and_tracking_id(staff_client, account):
    message = MessageFactory(account=account, to="+14155550100", sender="+12122030009")
    MessageFactory(account=account, to="+14155550199")
    changelist = url("messaging_message_changelist")

    for term in ["+14155550100", "+12122030009", str(message.id)]:
        assert listed(staff_client.get(changelist, {"q": term})) == [message], term


def test_messages_filter_by_status_rule_and_pool(staff_client, account):
    sticky = MessageFactory(account=account, rule="sticky", status="Delivered")
    other = MessageFactory(account=account, rule="pool")
    changelist = url("messaging_message_changelist")

    assert listed(staff_client.get(changelist, {"rule": "sticky"})) == [sticky]
    assert listed(staff_client.get(changelist, {"status__exact": "Delivered"})) == [sticky]
    assert listed(staff_client.get(changelist, {"pool": other.pool.pk})) == [other]


def test_the_message_list_queries_do_not_grow_with_messages(staff_client, account):
    changelist = url("messaging_message_changelist")
    MessageFactory(account=account)
    with CaptureQueriesContext(connection) as one:
        staff_client.get(changelist)
    MessageFactory.create_batch(4, account=account)
    with CaptureQueriesContext(connection) as five:
        staff_client.get(changelist)
    assert len(five) == len(one)


def test_a_message_page_shows_why_and_what_became_of_it(staff_client, account):
    message = MessageFactory(
        account=account,
        rule="areaCode",
        explanation="Recipient +14155550123: country US, area code 415 (CA).\n"
        "Tier area code 415 (areaCode): 1 number.",
        body_analysis={"characters": 17, "unicode": False, "parts": 1},
    )
    for status in ["Queued", "Sent", "Delivered"]:
        StatusEventFactory(message=message, status=status)
    link = ShortLinkFactory(message=message, code="abc123")
    ClickFactory(link=link, city="Boston", lag=95)
    ClickFactory(link=link)

    response = staff_client.get(url("messaging_message_change", message.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<li>Recipient +14155550123: country US, area code 415 (CA).</li>" in page
    assert "<li>Tier area code 415 (areaCode): 1 number.</li>" in page
    assert "<li>17 characters in GSM-7: 1 part(s).</li>" in page
    [history, links] = response.context["inline_admin_formsets"]
    assert [form.original.status for form in history] == ["Queued", "Sent", "Delivered"]
    assert [(form.original.code, form.original.click_count) for form in links] == [("abc123", 2)]
    assert "Boston" in page
    assert "<td>95</td>" in page


def test_a_message_page_says_in_words_what_forced_ucs2_and_what_was_sent(staff_client, account):
    message = MessageFactory(
        account=account,
        body_analysis={
            "characters": 12,
            "unicode": True,
            "parts": 1,
            "unsupportedGSMCharacters": ["\u2019"],
            "transcode": {"message": "it's a deal", "parts": 1},
        },
    )

    page = staff_client.get(url("messaging_message_change", message.pk)).content.decode()

    assert "12 characters in UCS-2 (Unicode): 1 part(s)." in page
    assert "UCS-2 because GSM-7 has no “\u2019” (U+2019)." in page
    assert "Transcoded to GSM-7 in 1 part(s); sent as: it&#x27;s a deal" in page


def test_a_message_page_says_what_the_pool_would_decide_now(staff_client, account):
    pool = pool_of(account, [NEW_YORK, SAN_FRANCISCO], geomatch=True)
    message = MessageFactory(account=account, pool=pool, to="+14155550123", sender=NEW_YORK)

    page = staff_client.get(url("messaging_message_change", message.pk)).content.decode()

    assert f"{SAN_FRANCISCO}, rule areaCode (another sender)" in page
    assert "area code 415" in page


def test_the_message_list_fits_a_laptop_screen_with_what_operators_read(staff_client, account):
    long = "Your order #1234 has shipped and will arrive on Thursday between 9 and 5"
    message = MessageFactory(
        account=account, body=long, status="Undelivered", detailed_status="Opted-out"
    )

    response = staff_client.get(url("messaging_message_changelist"))

    page = response.content.decode()
    assert f'title="{message.pk}">{str(message.pk)[:8]}…' in page
    assert "Your order #1234 has shipped and will a…" in page  # 40 characters
    assert "Undelivered (Opted-out)" in page
    assert response.context["cl"].list_display == [
        "action_checkbox",
        "tracking_id",
        "to",
        "sender_listed",
        "pool",
        "status_shown",
        "body_excerpt",
        "created",
    ]


def test_messages_are_read_only(staff_client, account):
    message = MessageFactory(account=account)

    changelist = staff_client.get(url("messaging_message_changelist"))
    assert not changelist.context["has_add_permission"]
    assert staff_client.get(url("messaging_message_add")).status_code == 403
    assert staff_client.get(url("messaging_message_delete", message.pk)).status_code == 403
    response = staff_client.post(url("messaging_message_change", message.pk), {"to": "+1"})
    assert response.status_code == 403
    assert Message.objects.get().to == message.to


def test_scoped_staff_cannot_see_another_accounts_messages(staff_client, account, other_account):
    ours = MessageFactory(account=account)
    theirs = MessageFactory(account=other_account, pool__name="their pool")

    response = staff_client.get(url("messaging_message_changelist"))
    assert listed(response) == [ours]
    assert "their pool" not in response.content.decode()  # nor in the pool filter

    response = staff_client.get(url("messaging_message_change", theirs.pk), follow=True)
    assert response.redirect_chain == [(url("index"), 302)]
    assert "Perhaps it was deleted?" in messages_of(response)[0]


def test_superusers_see_every_accounts_messages(superuser_client, account, other_account):
    messages = [MessageFactory(account=account), MessageFactory(account=other_account)]

    response = superuser_client.get(url("messaging_message_changelist"))

    assert set(listed(response)) == set(messages)
    assert "account" in response.context["cl"].list_display


# Cancel


def cancel(client, messages):
    return run_action(client, "messaging_message_changelist", "cancel", messages)


def test_cancel_stops_scheduled_messages_and_says_which_could_not_be(staff_client, account):
    waiting = MessageFactory(account=account, status=Message.Status.SCHEDULED)
    delivered = MessageFactory(account=account, status=Message.Status.DELIVERED)

    response = cancel(staff_client, [waiting, delivered])

    assert messages_of(response) == [
        "Canceled 1 message(s).",
        f"{delivered.pk}: The message is Delivered; only a Scheduled message, or a Queued "
        "one not yet handed to a carrier, can be canceled.",
    ]
    assert Message.objects.get(pk=waiting.pk).status == "Canceled"
    assert Message.objects.get(pk=delivered.pk).status == "Delivered"


def test_scoped_staff_cannot_cancel_another_accounts_message(staff_client, other_account):
    theirs = MessageFactory(account=other_account, status=Message.Status.SCHEDULED)

    cancel(staff_client, [theirs])

    assert Message.objects.get(pk=theirs.pk).status == "Scheduled"


def test_cancel_needs_the_change_permission(account):
    user = UserFactory(account=account)
    user.user_permissions.set(Permission.objects.filter(codename="view_message"))
    waiting = MessageFactory(account=account, status=Message.Status.SCHEDULED)

    cancel(logged_in(user), [waiting])

    assert Message.objects.get(pk=waiting.pk).status == "Scheduled"


def test_a_scheduled_message_page_shows_when_it_goes_and_why(staff_client, account):
    message = MessageFactory(
        account=account,
        status=Message.Status.SCHEDULED,
        intent=Message.Intent.MARKETING,
        send_at="2026-12-02T13:00:00Z",
    )

    page = staff_client.get(url("messaging_message_change", message.pk)).content.decode()

    assert "Send at" in page and "Dec. 2, 2026" in page
    assert "marketing" in page.lower()
