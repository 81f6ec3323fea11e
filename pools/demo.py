"""The demo data the README's first command sets up, so the API and the admin have
something to show: an account and five pools, each named for the rule of selection it
shows, with the setting and the numbers that make that rule visible. The README's
"The demo, rule by rule" sends through each; tests/test_demo_walkthrough.py makes those
sends and checks the rule each explanation names.

Seeding is idempotent: what exists is left as it is (an operator may have changed a
demo pool while trying it), what is missing is created, through the same services as
the API.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.models import Account
from accounts.services import IssuedKey, account_create_with_key
from pools.models import Pool
from pools.services.pools import pool_create
from virtual_numbers.importing import ImportReport, ImportRow, numbers_import

DEMO_ACCOUNT = "demo"


@dataclass(frozen=True)
class DemoPool:
    name: str
    settings: dict
    numbers: tuple[tuple[str, str, str, str], ...]  # number, type, capabilities, country


# North American numbers are from 555-01xx, which the NANP keeps for fiction. The
# European ranges kept for fiction are not valid numbers to `phonenumbers`, so the UK
# one is merely a well-formed mobile; the demo sends through the simulator, never to it.
# None is +1 212 555 0142 or +1 888 555 0142, which the README's walk-through registers,
# nor a number of the earlier demo pools ("Local US", "Global"), which an install seeded
# before keeps: a number is in at most one pool.
DEMO_POOLS = (
    # A recipient gets the number in their area code, then keeps it.
    DemoPool(
        name="US sticky, by area code",
        settings={"sticky": True, "geomatch": True},
        numbers=(
            ("+12125550111", "longcode", "sms", ""),  # New York
            ("+14155550111", "longcode", "sms", ""),  # San Francisco
            ("+13125550111", "longcode", "sms", ""),  # Chicago
            ("+18885550111", "tollfree", "sms|mms", ""),
        ),
    ),
    # A recipient gets their country's number; a country without one, the default's.
    DemoPool(
        name="Per-country senders",
        settings={"geomatch": True, "default_country": "US"},
        numbers=(
            ("+12125550112", "longcode", "sms", ""),  # New York
            ("+447400200111", "longcode", "sms", ""),  # GB mobile
            ("+14165550111", "longcode", "sms", ""),  # Toronto
        ),
    ),
    # Numbers only in the US and every destination allowed: abroad, the name is the sender.
    DemoPool(
        name="Alphanumeric fallback",
        settings={"geomatch": True, "fallback": "CustomFrom", "alphanumeric_sender_id": "NUMPOOLS"},
        numbers=(
            ("+13125550112", "longcode", "sms", ""),  # Chicago
            ("+18885550112", "tollfree", "sms", ""),
        ),
    ),
    # No location rule, so the weights alone pick the type: five long codes, a toll-free.
    DemoPool(
        name="Weighted 5:1, long codes to toll-free",
        settings={"weights": {"longcode": 5, "tollfree": 1}},
        numbers=(
            ("+13125550113", "longcode", "sms", ""),  # Chicago
            ("+13125550114", "longcode", "sms", ""),
            ("+18885550113", "tollfree", "sms", ""),
        ),
    ),
    # The SMS-only number sorts first, so only the channel keeps an MMS from it.
    DemoPool(
        name="MMS from the MMS-capable number",
        settings={},
        numbers=(
            ("+16175550111", "longcode", "sms", ""),  # Boston
            ("+16175550112", "longcode", "sms|mms", ""),
        ),
    ),
)
# In the account but in no pool, to try assigning.
DEMO_UNASSIGNED = (("+16175550119", "longcode", "sms", ""),)


@dataclass(frozen=True)
class DemoSeed:
    account: Account
    pools: list[Pool]
    imports: list[ImportReport]  # one per pool, then the unassigned numbers
    issued: IssuedKey


@transaction.atomic
def demo_seed() -> DemoSeed:
    """Create what is missing of the demo account and issue it a new API key."""
    account, issued = account_create_with_key(name=DEMO_ACCOUNT, key_name="seed_demo")
    pools, imports = [], []
    for demo_pool in DEMO_POOLS:
        pool = _pool_ensure(account, demo_pool)
        pools.append(pool)
        imports.append(numbers_import(account=account, rows=_rows(demo_pool.numbers), pool=pool))
    imports.append(numbers_import(account=account, rows=_rows(DEMO_UNASSIGNED)))
    return DemoSeed(account=account, pools=pools, imports=imports, issued=issued)


def _pool_ensure(account: Account, demo_pool: DemoPool) -> Pool:
    pool = Pool.objects.filter(account=account, name=demo_pool.name).first()
    return pool or pool_create(account=account, name=demo_pool.name, **demo_pool.settings)


def _rows(numbers) -> list[ImportRow]:
    return [ImportRow(line, *row) for line, row in enumerate(numbers, start=1)]


def demo_admin_ensure(*, username: str, password: str):
    """A superuser with this password, created or reset, to log in to the admin with."""
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_active = user.is_staff = user.is_superuser = True
    user.account = None  # superusers see every account
    user.set_password(password)
    user.save()
    return user
