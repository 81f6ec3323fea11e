"""Keyword matching (SPEC §3): the whole message, trimmed, trailing punctuation dropped,
compared with Unicode case-folding; country keywords on top of the general ones."""

import pytest

from optout.defaults import default_keywords
from optout.models import Keyword
from optout.services import keyword_match, keywords_seed_defaults, normalise
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def matched(account, body: str, country: str = "US") -> tuple | None:
    keyword = keyword_match(account=account, body=body, country=country)
    return keyword and (keyword.word, keyword.action, keyword.account_wide)


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        "Stop",
        " Stop! ",
        "STOP.",
        "stop?!",
        "STOP …",
        "\tstop\n",
        "\u017ftop",  # the long s case-folds to s
    ],
)
def test_stop_matches_in_any_case_with_spaces_and_trailing_punctuation(account, body):
    assert matched(account, body) == ("STOP", "optout", False)


@pytest.mark.parametrize("body", ["STOPALL", "stopall", "stop all", "Stop  All", " STOP ALL! "])
def test_stop_all_matches_as_the_account_wide_opt_out(account, body):
    word, action, account_wide = matched(account, body)

    assert (action, account_wide) == ("optout", True)
    assert word in {"STOPALL", "STOP ALL"}


@pytest.mark.parametrize(
    ("body", "word", "action"),
    [
        ("start", "START", "optin"),
        ("Unstop.", "UNSTOP", "optin"),
        (" yes! ", "YES", "optin"),
        ("help", "HELP", "help"),
        ("Info?", "INFO", "help"),
        ("opt out", "OPT OUT", "optout"),
        ("Unsubscribe", "UNSUBSCRIBE", "optout"),
    ],
)
def test_opt_in_help_and_multi_word_keywords_match(account, body, word, action):
    assert matched(account, body) == (word, action, False)


@pytest.mark.parametrize(
    "body",
    [
        "please stop",
        "STOPPING",
        "stop now",
        "!stop",  # only trailing punctuation is dropped
        "st op",
        "stop all now",
        "\uff33\uff34\uff2f\uff30",  # full-width STOP: case-folding does not fold width
        "",
        "   ",
        "?!",
    ],
)
def test_a_message_that_is_not_exactly_a_keyword_matches_nothing(account, body):
    assert matched(account, body) is None


def test_normalise_collapses_inner_spaces_and_strips_punctuation_before_spaces():
    assert normalise("  Stop \t All !! ") == "stop all"


def test_a_country_keyword_applies_to_senders_of_that_country_only(account):
    Keyword.objects.create(account=account, word="ARRET", action="optout", country="CA")

    assert matched(account, "Arret", country="CA") == ("ARRET", "optout", False)
    assert matched(account, "Arret", country="US") is None


def test_a_countrys_keywords_come_in_addition_to_the_general_ones(account):
    Keyword.objects.create(account=account, word="ARRÊT", action="optout", country="CA")

    assert matched(account, "arrêt!", country="CA") == ("ARRÊT", "optout", False)
    assert matched(account, "stop", country="CA") == ("STOP", "optout", False)


def test_a_country_keyword_wins_over_a_general_one_of_the_same_word(account):
    Keyword.objects.create(account=account, word="INFO", action="optin", country="CA")

    assert matched(account, "info", country="CA") == ("INFO", "optin", False)
    assert matched(account, "info", country="US") == ("INFO", "help", False)


def test_a_keyword_of_one_account_does_not_match_for_another(account, other_account):
    Keyword.objects.create(account=account, word="HALT", action="optout")

    assert matched(account, "halt") == ("HALT", "optout", False)
    assert matched(other_account, "halt") is None


def test_a_keyword_removed_from_an_account_no_longer_matches(account, other_account):
    Keyword.objects.filter(account=account, word="END").delete()

    assert matched(account, "end") is None
    assert matched(other_account, "end") == ("END", "optout", False)


def test_a_new_account_starts_with_the_default_keywords():
    account = AccountFactory()

    seeded = set(
        Keyword.objects.filter(account=account).values_list(
            "word", "action", "account_wide", "country"
        )
    )
    assert seeded == {(k["word"], k["action"], k["account_wide"], "") for k in default_keywords()}
    assert {"STOP", "STOPALL", "STOP ALL", "REVOKE", "OPT OUT"} <= {w for w, *_ in seeded}


def test_seeding_the_defaults_again_adds_nothing(account):
    before = Keyword.objects.filter(account=account).count()

    keywords_seed_defaults(account=account)

    assert Keyword.objects.filter(account=account).count() == before == len(default_keywords())
