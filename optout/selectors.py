from django.db.models import QuerySet

from accounts.models import Account
from optout.models import OptOut
from pools.models import Pool
from virtual_numbers.models import Number


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


def numbers_in_scope(*, number: str, pool) -> set[str]:
    """The senders a STOP to `number` covers: the whole pool with scope `pool` (SPEC §1)."""
    if pool is None or pool.opt_out_scope == Pool.OptOutScope.NUMBER:
        return {number}
    return set(Number.objects.filter(pool_number__pool=pool).values_list("number", flat=True)) | {
        number
    }


def recipient_stopped(*, account_id, recipient: str, number: str, pool) -> bool:
    """Has the recipient opted out of hearing from `number` (in `pool`)? STOPALL included."""
    numbers, everywhere = recipient_optouts(account_id=account_id, recipient=recipient)
    return everywhere or bool(numbers & numbers_in_scope(number=number, pool=pool))
