"""The "Account operators" group: what staff tied to an account need in the console.

Scoping (accounts.admin_mixins) narrows what staff see to their account; this group
grants the model permissions to act there, so setting up an operator is: staff,
an account, this group.
"""

from django.contrib.auth.models import Group, Permission

OPERATORS = "Account operators"
CONSOLE_APPS = ["accounts", "carriers", "numbers", "pools", "messaging", "optout"]


def operators_group_sync(**kwargs) -> Group:
    """Create the group or bring it up to date with every console permission but
    users' (admin users are the superusers' to manage). Runs after every migrate."""
    group, _ = Group.objects.get_or_create(name=OPERATORS)
    group.permissions.set(
        Permission.objects.filter(content_type__app_label__in=CONSOLE_APPS).exclude(
            content_type__model="user"
        )
    )
    return group
