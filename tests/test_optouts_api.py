"""GET /optouts/my: the account's opt-outs (SPEC §6)."""

import pytest
from django.utils.dateparse import parse_datetime

from optout.models import OptOut, OptOutEvent
from optout.services import ACCOUNT_WIDE, optout_record, optout_remove
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

A, B = "+12122030001", "+12122030002"
PERSON, OTHER_PERSON = "+12125550100", "+12125550111"


def listed(api, **filters) -> list[tuple[str, str | None]]:
    response = api.get("/optouts/my", filters)
    assert response.status_code == 200, response.json()
    return sorted((row["recipient"], row["number"]) for row in response.json()["results"])


def test_an_opt_out_has_the_contracts_shape(api, account):
    optout_record(account=account, recipient=PERSON, number=A)

    response = api.get("/optouts/my")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    [row] = body["results"]
    assert set(row) == {"recipient", "number", "createdAt", "source"}
    assert (row["recipient"], row["number"], row["source"]) == (PERSON, A, "keyword")
    assert parse_datetime(row["createdAt"]) == OptOut.objects.get().created_at


def test_an_account_wide_opt_out_has_no_number(api, account):
    optout_record(account=account, recipient=PERSON, number=ACCOUNT_WIDE)

    assert listed(api) == [(PERSON, None)]


def test_an_opt_out_made_by_an_operator_says_so(api, account):
    optout_record(account=account, recipient=PERSON, number=A, source="admin")

    assert api.get("/optouts/my").json()["results"][0]["source"] == "admin"


def test_the_newest_opt_out_comes_first(api, account):
    for number in (A, B, ACCOUNT_WIDE):
        optout_record(account=account, recipient=PERSON, number=number)

    results = api.get("/optouts/my").json()["results"]

    assert [row["number"] for row in results] == [None, B, A]


@pytest.mark.parametrize("written", [PERSON, PERSON[1:], PERSON.replace("+", " ")])
def test_the_list_filters_by_recipient(api, account, written):
    optout_record(account=account, recipient=PERSON, number=A)
    optout_record(account=account, recipient=OTHER_PERSON, number=A)

    assert listed(api, recipient=written) == [(PERSON, A)]


def test_the_list_filters_by_number(api, account):
    optout_record(account=account, recipient=PERSON, number=A)
    optout_record(account=account, recipient=PERSON, number=B)
    optout_record(account=account, recipient=OTHER_PERSON, number=ACCOUNT_WIDE)

    assert listed(api, number=B[1:]) == [(PERSON, B)]


def test_another_accounts_opt_outs_are_invisible(api, other_api, account, other_account):
    optout_record(account=account, recipient=PERSON, number=A)
    optout_record(account=other_account, recipient=OTHER_PERSON, number=B)

    assert listed(api) == [(PERSON, A)]
    assert listed(other_api) == [(OTHER_PERSON, B)]
    assert listed(other_api, recipient=PERSON) == []


def test_the_list_needs_an_api_key(client, account):
    optout_record(account=account, recipient=PERSON, number=A)

    assert client.get("/optouts/my").status_code == 401


# The audit trail behind it


def test_recording_and_removing_opt_outs_leaves_an_audit_trail(account):
    operator = UserFactory(account=account)
    optout_record(account=account, recipient=PERSON, number=A, keyword="STOP")
    optout_record(account=account, recipient=PERSON, number=A, keyword="STOP")  # repeated
    optout_record(
        account=account, recipient=PERSON, number=ACCOUNT_WIDE, source="admin", user=operator
    )

    removed = optout_remove(
        account=account, recipient=PERSON, numbers=[A, ACCOUNT_WIDE], source="admin", user=operator
    )

    assert removed == 2
    assert not OptOut.objects.exists()
    events = OptOutEvent.objects.order_by("pk").values_list(
        "recipient", "number", "change", "source", "user", "keyword"
    )
    assert list(events[:2]) == [
        (PERSON, A, "added", "keyword", None, "STOP"),
        (PERSON, "", "added", "admin", operator.pk, ""),
    ]
    assert sorted(events[2:]) == [
        (PERSON, "", "removed", "admin", operator.pk, ""),
        (PERSON, A, "removed", "admin", operator.pk, ""),
    ]


def test_removing_an_opt_out_that_does_not_exist_records_nothing(account):
    assert optout_remove(account=account, recipient=PERSON, numbers=[A]) == 0
    assert not OptOutEvent.objects.exists()
