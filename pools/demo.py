"""The demo data the README's first command sets up, so the API and the admin have
something to show: an account, two pools with different settings, and numbers in
several countries and US area codes.

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
# European ranges kept for fiction are not valid numbers to `phonenumbers`, so those
# are merely well-formed mobiles; the demo sends through the simulator, never to them.
# None is +1 212 555 0142 or +1 888 555 0142: the README's walk-through registers those.
DEMO_POOLS = (
    DemoPool(
        name="Local US",
        settings={"sticky": True, "geomatch": True, "default_country": "US"},
        numbers=(
            ("+12125550101", "longcode", "sms|mms", ""),  # New York
            ("+12125550102", "longcode", "sms", ""),
            ("+16465550101", "longcode", "sms|mms", ""),  # New York overlay of 212
            ("+14155550101", "longcode", "sms", ""),  # San Francisco
            ("+12135550101", "longcode", "sms", ""),  # Los Angeles
            ("+13235550101", "longcode", "sms", ""),  # Los Angeles overlay of 213
            ("+13125550101", "longcode", "sms", ""),  # Chicago
            ("+16175550101", "longcode", "sms|mms", ""),  # Boston
        ),
    ),
    DemoPool(
        name="Global",
        settings={
            "priority_countries": ["US", "GB"],
            "alphanumeric_sender_id": "DEMO",
            "weights": {"longcode": 5, "tollfree": 1},
        },
        numbers=(
            ("+14165550101", "longcode", "sms", ""),  # Toronto
            ("+447400123456", "longcode", "sms", ""),  # GB mobile
            ("+33612345678", "longcode", "sms", ""),  # FR mobile
            ("+4915112345678", "longcode", "sms", ""),  # DE mobile
            ("+18885550101", "tollfree", "sms|mms", ""),
            ("55501", "shortcode", "sms|mms", "US"),
        ),
    ),
)
# In the account but in no pool, to try assigning.
DEMO_UNASSIGNED = (("+16175550102", "longcode", "sms", ""),)


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
