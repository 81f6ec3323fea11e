from django.db import connection
from django.db.models import QuerySet

from accounts.models import Account
from optout.models import OptOut
from pools.choices import OptOutScope
from pools.decision import opted_out_of
from pools.models import Pool, PoolNumber
from pools_project.db import db_value
from virtual_numbers.models import Number


def optout_list(*, account: Account) -> QuerySet[OptOut]:
    return OptOut.objects.filter(account=account).order_by("-created_at", "-pk")


def numbers_in_scope(*, number: str, pool) -> set[str]:
    """The senders a STOP to `number` covers: the whole pool with scope `pool` (SPEC §1)."""
    if pool is None or pool.opt_out_scope == Pool.OptOutScope.NUMBER:
        return {number}
    return set(Number.objects.filter(pool_number__pool=pool).values_list("number", flat=True)) | {
        number
    }


def of_pool_sql(pool_id: str) -> str:
    """Whether the opt-out `o` in a statement is of a number of the pool `pool_id` (a
    column, or a parameter's %s): one SQL for the send's reading and the dispatch's."""
    return (
        f"EXISTS (SELECT 1 FROM {PoolNumber._meta.db_table} pn "
        f"JOIN {Number._meta.db_table} n ON n.id = pn.number_id "
        f"WHERE pn.pool_id = {pool_id} AND n.number = o.number)"
    )


def any_optout_sql(account_id: str, recipient: str) -> str:
    """Whether the recipient `recipient` has any opt-out in the account `account_id`
    (columns, or parameters' %s): without one, no number's question needs asking."""
    return (
        f"EXISTS (SELECT 1 FROM {OptOut._meta.db_table} o "
        f"WHERE o.account_id = {account_id} AND o.recipient = {recipient})"
    )


def recipient_stopped(*, account_id, recipient: str, number: str, pool) -> bool:
    """Has the recipient opted out of hearing from `number` (in `pool`)? STOPALL included.
    One statement: the recipient's opt-outs, each marked if it is of a number of the pool;
    the scope rule is the selection core's."""
    in_pool, params = "1 = 0", []
    if pool is not None:
        in_pool = of_pool_sql("%s")
        params.append(db_value(PoolNumber, "pool", pool.pk))
    with connection.cursor() as cursor:
        # Every dispatch runs this: in SQL as written, not built by the ORM.
        cursor.execute(
            f"SELECT o.number, {in_pool} FROM {OptOut._meta.db_table} o "
            "WHERE o.account_id = %s AND o.recipient = %s",
            [*params, db_value(OptOut, "account", account_id), recipient],
        )
        rows = cursor.fetchall()
    opted_out = frozenset(stopped for stopped, _ in rows)
    return "" in opted_out or opted_out_of(
        scope=pool.opt_out_scope if pool is not None else OptOutScope.NUMBER,
        sender=number,
        opted_out=opted_out,
        opted_out_pool_numbers=frozenset(stopped for stopped, of_pool in rows if of_pool),
    )
