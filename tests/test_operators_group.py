import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.groups import OPERATORS
from tests.factories import NumberFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_migrate_leaves_an_operators_group_with_the_console_but_not_users():
    codenames = set(
        Group.objects.get(name=OPERATORS).permissions.values_list("codename", flat=True)
    )

    assert {"view_number", "change_pool", "view_message", "add_optout", "view_notification"} <= (
        codenames
    )
    assert not {"view_user", "change_user"} & codenames


def test_staff_in_the_group_work_on_their_own_account_only(account, other_account):
    operator = UserFactory(account=account)
    operator.groups.add(Group.objects.get(name=OPERATORS))
    ours, theirs = NumberFactory(account=account), NumberFactory(account=other_account)
    client = Client()
    client.force_login(operator)

    page = client.get("/admin/numbers/number/")

    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [ours]
    assert client.get(f"/admin/numbers/number/{theirs.pk}/change/").status_code == 302
