"""The admin console's keywords, opt-outs, opt-out changes and inbound messages."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from optout.models import InboundMessage, Keyword, OptOut, OptOutEvent
from optout.services import optout_record, optout_remove
from tests.factories import MessageFactory, PoolFactory, UserFactory
from tests.test_admin import listed, logged_in, messages_of, run_action, url

pytestmark = pytest.mark.django_db

RECIPIENT = "+14155550123"
NEW_YORK = "+12122030001"


def grant_console(user):
    """An account's operator: every console permission but users', opt-outs' included."""
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["accounts", "numbers", "pools", "messaging", "optout"]
        ).exclude(content_type__model="user")
    )
    return user


@pytest.fixture
def operator(account):
    """Staff scoped to `account` ("acme")."""
    return grant_console(UserFactory(account=account, username="olivia"))


@pytest.fixture
def staff_client(operator):
    return logged_in(operator)


@pytest.fixture
def superuser_client():
    return logged_in(UserFactory(is_superuser=True, account=None))


def inbound(account, body="hello", **fields):
    return InboundMessage.objects.create(
        account=account,
        carrier_message_id=f"carrier-{InboundMessage.objects.count()}",
        sender=fields.pop("sender", RECIPIENT),
        to=fields.pop("to", NEW_YORK),
        body=body,
        received_at=timezone.now(),
        **fields,
    )


def form_errors(response) -> dict:
    assert response.status_code == 200
    return response.context["adminform"].form.errors


# Tenant scoping


def test_scoped_staff_list_only_their_accounts_opt_out_records(
    staff_client, account, other_account
):
    optout_record(account=account, recipient=RECIPIENT, number=NEW_YORK)
    optout_record(account=other_account, recipient="+14155550199", number=NEW_YORK)
    ours = inbound(account, body="STOP")
    inbound(other_account, body="STOP")

    keywords = staff_client.get(url("optout_keyword_changelist"))
    assert {k.account for k in listed(keywords)} == {account}
    assert len(listed(keywords)) == Keyword.objects.filter(account=account).count()
    assert "account" not in keywords.context["cl"].list_display
    assert [o.recipient for o in listed(staff_client.get(url("optout_optout_changelist")))] == [
        RECIPIENT
    ]
    events = listed(staff_client.get(url("optout_optoutevent_changelist")))
    assert [e.recipient for e in events] == [RECIPIENT]
    assert listed(staff_client.get(url("optout_inboundmessage_changelist"))) == [ours]


def test_scoped_staff_cannot_open_another_accounts_opt_out_records(staff_client, other_account):
    optout_record(account=other_account, recipient=RECIPIENT, number=NEW_YORK)
    pages = [
        url("optout_keyword_change", Keyword.objects.filter(account=other_account).first().pk),
        url("optout_optout_change", OptOut.objects.get().pk),
        url("optout_optout_delete", OptOut.objects.get().pk),
        url("optout_optoutevent_change", OptOutEvent.objects.get().pk),
        url("optout_inboundmessage_change", inbound(other_account).pk),
    ]
    for page in pages:
        response = staff_client.get(page, follow=True)
        assert response.redirect_chain == [(url("index"), 302)], page
        assert "Perhaps it was deleted?" in messages_of(response)[0]


def test_superusers_see_every_accounts_opt_outs(superuser_client, account, other_account):
    optout_record(account=account, recipient=RECIPIENT, number=NEW_YORK)
    optout_record(account=other_account, recipient=RECIPIENT, number=NEW_YORK)

    response = superuser_client.get(url("optout_optout_changelist"))

    assert {o.account for o in listed(response)} == {account, other_account}
    assert "account" in response.context["cl"].list_display


# Keywords


def add_keyword(client, **data):
    return client.post(url("optout_keyword_add"), {"action": "optout", "country": "", **data})


def test_adding_a_keyword_normalises_its_word_and_country(staff_client, account):
    response = add_keyword(staff_client, word="  stop   all ", account_wide="on", country="ca")

    assert response.status_code == 302
    keyword = Keyword.objects.get(account=account, country="CA")
    assert (keyword.word, keyword.action, keyword.account_wide) == ("STOP ALL", "optout", True)


def test_a_keyword_the_account_already_has_is_a_form_error(staff_client, account):
    before = Keyword.objects.count()

    response = add_keyword(staff_client, word=" stop ")

    assert "already has this keyword" in str(form_errors(response))
    assert Keyword.objects.count() == before


def test_the_same_word_may_be_added_for_one_country(staff_client, account):
    response = add_keyword(staff_client, word="stop", country="FR")

    assert response.status_code == 302
    assert set(
        Keyword.objects.filter(account=account, word="STOP").values_list("country", flat=True)
    ) == {"", "FR"}


def test_only_an_opt_out_keyword_may_stop_every_number(staff_client, account):
    response = add_keyword(staff_client, word="aide", action="help", account_wide="on")

    assert form_errors(response)["account_wide"] == [
        "Only an opt-out keyword can stop every number of the account."
    ]
    assert not Keyword.objects.filter(word="AIDE").exists()


def test_changing_a_help_keyword_to_stop_every_number_is_a_form_error(staff_client, account):
    keyword = Keyword.objects.get(account=account, word="HELP")

    response = staff_client.post(
        url("optout_keyword_change", keyword.pk),
        {"word": "help", "action": "help", "account_wide": "on", "country": ""},
    )

    assert "account_wide" in form_errors(response)
    keyword.refresh_from_db()
    assert keyword.account_wide is False


def test_an_unknown_keyword_country_is_a_form_error(staff_client):
    response = add_keyword(staff_client, word="arret", country="XX")

    assert "not an ISO 3166-1 alpha-2" in form_errors(response)["country"][0]


def test_editing_a_keyword_renormalises_it(staff_client, account):
    keyword = Keyword.objects.get(account=account, word="QUIT")

    response = staff_client.post(
        url("optout_keyword_change", keyword.pk),
        {"word": "quit  now!", "action": "optout", "country": ""},
    )

    assert response.status_code == 302
    keyword.refresh_from_db()
    assert keyword.word == "QUIT NOW!"


def test_a_keyword_added_by_scoped_staff_is_theirs_whatever_is_posted(
    staff_client, account, other_account
):
    add_keyword(staff_client, word="arret", country="CA", account=other_account.pk)

    assert Keyword.objects.get(word="ARRET").account == account


def test_deleting_a_keyword(staff_client, account):
    keyword = Keyword.objects.get(account=account, word="INFO")

    response = staff_client.post(url("optout_keyword_delete", keyword.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Keyword.objects.filter(pk=keyword.pk).exists()


def test_keywords_filter_by_action_and_country_and_search_by_word(staff_client, account):
    add_keyword(staff_client, word="arret", country="CA")
    changelist = url("optout_keyword_changelist")

    helps = listed(staff_client.get(changelist, {"action__exact": "help"}))
    assert sorted(k.word for k in helps) == ["HELP", "INFO"]
    assert [k.word for k in listed(staff_client.get(changelist, {"country": "CA"}))] == ["ARRET"]
    general = listed(staff_client.get(changelist, {"country": "general"}))
    assert "ARRET" not in {k.word for k in general}
    assert len(general) == Keyword.objects.filter(account=account, country="").count()
    found = listed(staff_client.get(changelist, {"q": "stop"}))
    assert sorted(k.word for k in found) == ["STOP", "STOP ALL", "STOPALL", "UNSTOP"]


# Opt-outs


def add_optout(client, **data):
    return client.post(url("optout_optout_add"), {"number": "", **data})


def test_adding_an_opt_out_records_it_and_audits_who(staff_client, operator, account):
    response = add_optout(staff_client, recipient="+1 415-555-0123", number="+1 (212) 203-0001")

    assert response.status_code == 302
    optout = OptOut.objects.get()
    assert (optout.account, optout.recipient, optout.number, optout.source) == (
        account,
        RECIPIENT,
        NEW_YORK,
        "admin",
    )
    event = OptOutEvent.objects.get()
    assert (event.account, event.recipient, event.number) == (account, RECIPIENT, NEW_YORK)
    assert (event.change, event.source, event.user, event.keyword) == (
        "added",
        "admin",
        operator,
        "",
    )


def test_an_opt_out_without_a_number_stops_every_number(staff_client):
    add_optout(staff_client, recipient=RECIPIENT)

    assert OptOut.objects.get().number == ""
    assert OptOutEvent.objects.get().number == ""
    page = staff_client.get(url("optout_optout_changelist")).content.decode()
    assert "all numbers" in page


def test_an_opt_out_of_a_short_code(staff_client):
    response = add_optout(staff_client, recipient=RECIPIENT, number="72345")

    assert response.status_code == 302
    assert OptOut.objects.get().number == "72345"


@pytest.mark.parametrize(
    ("field", "recipient", "number", "reason"),
    [
        ("recipient", "+1415555", "", "is not a valid phone number"),
        ("recipient", "4155550123", "", "is not an E.164 number"),
        ("number", RECIPIENT, "12125550142", "a short code's digits"),
        ("number", RECIPIENT, "+1212203", "is not a valid phone number"),
    ],
)
def test_an_invalid_recipient_or_number_is_a_form_error(
    staff_client, field, recipient, number, reason
):
    response = add_optout(staff_client, recipient=recipient, number=number)

    assert reason in form_errors(response)[field][0]
    assert not OptOut.objects.exists()
    assert not OptOutEvent.objects.exists()


def test_an_opt_out_already_recorded_is_a_form_error(staff_client, account):
    optout_record(account=account, recipient=RECIPIENT, number=NEW_YORK)

    response = add_optout(staff_client, recipient=RECIPIENT, number=NEW_YORK)

    assert "already opted out of this number" in str(form_errors(response))
    assert OptOutEvent.objects.count() == 1


def test_an_opt_out_added_by_scoped_staff_is_theirs_whatever_is_posted(
    staff_client, account, other_account
):
    add_optout(staff_client, recipient=RECIPIENT, account=other_account.pk)

    assert OptOut.objects.get().account == account
    assert OptOutEvent.objects.get().account == account


def test_superusers_choose_the_account_of_an_opt_out(superuser_client, other_account):
    response = add_optout(superuser_client, recipient=RECIPIENT, account=other_account.pk)

    assert response.status_code == 302
    assert OptOut.objects.get().account == other_account


def test_an_opt_out_is_shown_but_never_changed(staff_client, account):
    optout_record(account=account, recipient=RECIPIENT, number=NEW_YORK)
    optout = OptOut.objects.get()

    page = staff_client.get(url("optout_optout_change", optout.pk))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert "?q=%2B14155550123" in page.content.decode()  # its changes, one click away

    response = staff_client.post(
        url("optout_optout_change", optout.pk), {"recipient": "+14155550199", "number": ""}
    )
    assert response.status_code == 403
    assert OptOut.objects.get().recipient == RECIPIENT


def test_deleting_an_opt_out_audits_the_removal(staff_client, operator, account):
    optout_record(account=account, recipient=RECIPIENT, number=NEW_YORK)
    optout = OptOut.objects.get()

    response = staff_client.post(url("optout_optout_delete", optout.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not OptOut.objects.exists()
    removal = OptOutEvent.objects.get(change="removed")
    assert (removal.account, removal.recipient, removal.number) == (account, RECIPIENT, NEW_YORK)
    assert (removal.source, removal.user) == ("admin", operator)


def test_deleting_opt_outs_in_bulk_audits_each_removal(staff_client, operator, account):
    optout_record(account=account, recipient=RECIPIENT, number=NEW_YORK)
    optout_record(account=account, recipient=RECIPIENT)
    optout_record(account=account, recipient="+14155550199", number=NEW_YORK)
    kept = OptOut.objects.get(recipient="+14155550199")

    response = run_action(
        staff_client,
        "optout_optout_changelist",
        "delete_selected",
        OptOut.objects.filter(recipient=RECIPIENT),
        post="yes",
    )

    assert response.status_code == 200
    assert list(OptOut.objects.all()) == [kept]
    removals = OptOutEvent.objects.filter(change="removed")
    assert sorted(removals.values_list("recipient", "number")) == [
        (RECIPIENT, ""),
        (RECIPIENT, NEW_YORK),
    ]
    assert {(e.source, e.user) for e in removals} == {("admin", operator)}


def test_opt_outs_are_searchable_and_filter_by_source(staff_client, account):
    optout_record(account=account, recipient=RECIPIENT, number=NEW_YORK)
    optout_record(account=account, recipient="+14155550199", number="72345", source="admin")
    changelist = url("optout_optout_changelist")

    assert [o.number for o in listed(staff_client.get(changelist, {"q": RECIPIENT}))] == [NEW_YORK]
    assert [o.recipient for o in listed(staff_client.get(changelist, {"q": "72345"}))] == [
        "+14155550199"
    ]
    by_admin = listed(staff_client.get(changelist, {"source__exact": "admin"}))
    assert [o.number for o in by_admin] == ["72345"]


# Opt-out changes


def test_opt_out_changes_show_who_and_which_keyword(staff_client, operator, account):
    optout_record(account=account, recipient=RECIPIENT, number=NEW_YORK, keyword="STOP")
    optout_remove(
        account=account, recipient=RECIPIENT, numbers=[NEW_YORK], source="admin", user=operator
    )

    response = staff_client.get(url("optout_optoutevent_changelist"))

    assert [(e.change, e.source, e.keyword, e.user) for e in listed(response)] == [
        ("removed", "admin", "", operator),
        ("added", "keyword", "STOP", None),
    ]
    page = response.content.decode()
    assert "olivia" in page
    assert "STOP" in page


def test_opt_out_changes_are_searchable_and_filter_by_change_and_source(
    staff_client, operator, account
):
    optout_record(account=account, recipient=RECIPIENT, number=NEW_YORK, keyword="STOP")
    optout_record(account=account, recipient="+14155550199", source="admin", user=operator)
    optout_remove(account=account, recipient=RECIPIENT, numbers=[NEW_YORK], keyword="START")
    changelist = url("optout_optoutevent_changelist")

    def shown(**query):
        return sorted((e.recipient, e.change) for e in listed(staff_client.get(changelist, query)))

    assert shown(q=RECIPIENT) == [(RECIPIENT, "added"), (RECIPIENT, "removed")]
    assert shown(q=NEW_YORK) == [(RECIPIENT, "added"), (RECIPIENT, "removed")]
    assert shown(change__exact="removed") == [(RECIPIENT, "removed")]
    assert shown(source__exact="admin") == [("+14155550199", "added")]


# Inbound messages


def test_the_inbound_list_shows_the_message_and_links_its_auto_reply(staff_client, account):
    pool = PoolFactory(account=account, name="alerts")
    reply = MessageFactory(account=account, pool=pool, body="You are unsubscribed from Acme.")
    stop = inbound(account, body="STOP", pool=pool, action="optout", auto_reply=reply)

    response = staff_client.get(url("optout_inboundmessage_changelist"))

    assert listed(response) == [stop]
    page = response.content.decode()
    for shown in [RECIPIENT, NEW_YORK, "alerts", "Opt-out", "You are unsubscribed from Acme."]:
        assert shown in page
    assert f'href="{url("messaging_message_change", reply.pk)}"' in page


def test_inbound_messages_are_searchable_by_from_to_and_body(staff_client, account):
    first = inbound(account, body="Is the store open?")
    second = inbound(account, body="STOP", sender="+14155550199", to="+12122030002")
    changelist = url("optout_inboundmessage_changelist")

    for term, found in [
        ("store open", first),
        ("+14155550199", second),
        ("+12122030002", second),
        (RECIPIENT, first),
    ]:
        assert listed(staff_client.get(changelist, {"q": term})) == [found], term


def test_inbound_messages_filter_by_keyword_action(staff_client, account):
    stop = inbound(account, body="STOP", action="optout")
    chat = inbound(account, body="thanks")
    changelist = url("optout_inboundmessage_changelist")

    assert listed(staff_client.get(changelist, {"action": "optout"})) == [stop]
    assert listed(staff_client.get(changelist, {"action": "none"})) == [chat]


# Read-only pages


@pytest.mark.parametrize("model", ["optoutevent", "inboundmessage"])
def test_the_audit_and_inbound_messages_cannot_be_added_changed_or_deleted(
    staff_client, account, model
):
    optout_record(account=account, recipient=RECIPIENT)
    obj = OptOutEvent.objects.get() if model == "optoutevent" else inbound(account)

    assert staff_client.get(url(f"optout_{model}_add")).status_code == 403
    page = staff_client.get(url(f"optout_{model}_change", obj.pk))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert staff_client.post(url(f"optout_{model}_change", obj.pk), {}).status_code == 403
    assert (
        staff_client.post(url(f"optout_{model}_delete", obj.pk), {"post": "yes"}).status_code == 403
    )
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_every_opt_out_page_opens_for_superusers(superuser_client, account):
    optout_record(account=account, recipient=RECIPIENT, number=NEW_YORK, keyword="STOP")
    message = inbound(account, pool=PoolFactory(account=account), auto_reply=MessageFactory())
    pages = [
        url("optout_keyword_changelist"),
        url("optout_keyword_add"),
        url("optout_keyword_change", Keyword.objects.filter(account=account).first().pk),
        url("optout_optout_changelist"),
        url("optout_optout_add"),
        url("optout_optout_change", OptOut.objects.get().pk),
        url("optout_optoutevent_changelist"),
        url("optout_optoutevent_change", OptOutEvent.objects.get().pk),
        url("optout_inboundmessage_changelist"),
        url("optout_inboundmessage_change", message.pk),
    ]
    for page in pages:
        assert superuser_client.get(page).status_code == 200, page
