from django.db.models import QuerySet

from accounts.models import Account
from optout.models import OptOut


def recipient_optouts(*, account_id, recipient: str) -> tuple[frozenset[str], bool]:
    """(the numbers the recipient opted out of, whether of every number: STOPALL)."""
    numbers = frozenset(
        OptOut.objects.filter(account_id=account_id, recipient=recipient).values_list(
            "number", flat=True
        )
    )
    return numbers - {""}, "" in numbers


def optout_list(*, account: Account) -> QuerySet[OptOut]:
    return OptOut.objects.filter(account=account).order_by("-created_at", "-pk")
