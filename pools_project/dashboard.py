"""What the console's index shows an operator: each account's day at a glance.

Reads only. Each figure is one grouped aggregate over all the accounts shown, so the
page runs the same few statements for one account or fifty, however many messages they
sent. Every count links to the list of exactly what it counts, where the list has a
filter for it. One figure stands above the accounts: today's inbound messages to no
known number, most of which belong to no account.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from django.db.models import Count, Model, Q, QuerySet
from django.urls import reverse

from accounts.admin_mixins import in_scope, user_account_id
from accounts.models import Account
from carriers.models import Connection
from messaging.models import Message
from optout.models import OptOut, UnroutedInbound
from virtual_numbers.capacity import utc_today
from virtual_numbers.models import Number

Status = Message.Status
# Canceled messages never went: they are neither delivered nor lost.
DELIVERY_OUTCOMES = [Status.DELIVERED, Status.UNDELIVERED, Status.FAILED]
LOST = {Status.UNDELIVERED, Status.FAILED}
WAITING = [Status.QUEUED, Status.SCHEDULED]


@dataclass(frozen=True)
class Figure:
    """A count and the list of what it counts (None: the list has no such filter).
    `alarm`: a count above 0 wants an operator's eye."""

    label: str
    count: int
    url: str | None = None
    alarm: bool = False


@dataclass(frozen=True)
class AccountDay:
    """One account's block. A section the user may not view is None."""

    account: Account
    day: date
    messages: list[Figure] | None
    delivery_rate: float | None  # percent of the messages that reached a delivery outcome
    queue: list[Figure] | None
    optouts: Figure | None
    numbers: list[Figure] | None
    connections: list[Connection] | None


def accounts_in_scope(user) -> QuerySet[Account]:
    """Every account for a superuser, their own for scoped staff, none for the others."""
    if not in_scope(user):
        return Account.objects.none()
    account_id = user_account_id(user)
    accounts = Account.objects.order_by("name")
    return accounts if account_id is None else accounts.filter(pk=account_id)


def account_days(*, user, viewable: set[type[Model]]) -> list[AccountDay]:
    """The blocks of the accounts `user` sees, with the sections of the models in
    `viewable` (those whose lists the user may open)."""
    accounts = list(accounts_in_scope(user))
    ids = [account.pk for account in accounts]
    day = utc_today()
    since, until = day_bounds(day)
    sent = message_counts(ids, since, until) if Message in viewable else None
    waiting = queue_counts(ids) if Message in viewable else None
    optouts = optout_counts(ids, since, until) if OptOut in viewable else None
    numbers = number_counts(ids, day) if Number in viewable else None
    connections = connections_by_account(ids) if Connection in viewable else None
    return [
        AccountDay(
            account=account,
            day=day,
            messages=None if sent is None else message_figures(account, sent, since, until),
            delivery_rate=None if sent is None else delivery_rate(sent.get(account.pk, {})),
            queue=None if waiting is None else queue_figures(account, waiting),
            optouts=None if optouts is None else optout_figure(account, optouts, since, until),
            numbers=None if numbers is None else number_figures(account, numbers),
            connections=None if connections is None else connections.get(account.pk, []),
        )
        for account in accounts
    ]


def unrouted_figure(*, user, viewable: set[type[Model]]) -> Figure | None:
    """Today's inbound messages to no known number, as the user's list shows them: all
    of them for a superuser (those of the generic webhook belong to no account), those
    that came through the account's connections for its staff. One statement."""
    if UnroutedInbound not in viewable:
        return None
    since, until = day_bounds(utc_today())
    unrouted = UnroutedInbound.objects.filter(received_at__gte=since, received_at__lt=until)
    account_id = user_account_id(user)
    if account_id is not None:
        unrouted = unrouted.filter(account=account_id)
    return Figure(
        "Unrouted inbound today",
        unrouted.count(),
        changelist(UnroutedInbound, **between("received_at", since, until)),
        # A number mistyped in a provider's console, or one people still write to.
        alarm=True,
    )


def day_bounds(day: date) -> tuple[datetime, datetime]:
    since = datetime.combine(day, time.min, tzinfo=UTC)
    return since, since + timedelta(days=1)


# The counts: one statement each, grouped by account.


def per_account(queryset: QuerySet, **counts: Count) -> dict[int, dict[str, int]]:
    rows = queryset.order_by().values("account").annotate(**counts)
    return {row.pop("account"): row for row in rows}


def by_status(statuses) -> dict[str, Count]:
    return {status.lower(): Count("pk", filter=Q(status=status)) for status in statuses}


def message_counts(ids, since: datetime, until: datetime) -> dict[int, dict[str, int]]:
    """Messages created in [since, until), by status."""
    today = Message.objects.filter(account__in=ids, created_at__gte=since, created_at__lt=until)
    return per_account(today, **by_status(Status))


def queue_counts(ids) -> dict[int, dict[str, int]]:
    """Messages waiting now, whenever they were created."""
    waiting = Message.objects.filter(account__in=ids, status__in=WAITING)
    return per_account(waiting, **by_status(WAITING))


def optout_counts(ids, since: datetime, until: datetime) -> dict[int, dict[str, int]]:
    optouts = OptOut.objects.filter(account__in=ids, created_at__gte=since, created_at__lt=until)
    return per_account(optouts, optouts=Count("pk"))


def number_counts(ids, day: date) -> dict[int, dict[str, int]]:
    # Through the queryset's own filters, so "unhealthy" and "at its cap" mean here
    # what they mean to the number list and to selection.
    numbers = Number.objects.filter(account__in=ids)
    return per_account(
        numbers,
        unhealthy=Count("pk", filter=Q(pk__in=numbers.unhealthy().values("pk"))),
        cordoned=Count("pk", filter=Q(pk__in=numbers.cordoned().values("pk"))),
        at_cap=Count("pk", filter=Q(pk__in=numbers.at_daily_cap(day).values("pk"))),
    )


def connections_by_account(ids) -> dict[int, list[Connection]]:
    grouped: dict[int, list[Connection]] = {}
    for connection in Connection.objects.filter(account__in=ids).order_by("name"):
        grouped.setdefault(connection.account_id, []).append(connection)
    return grouped


def delivery_rate(counts: dict[str, int]) -> float | None:
    outcomes = sum(counts.get(status.lower(), 0) for status in DELIVERY_OUTCOMES)
    if not outcomes:
        return None
    return 100 * counts[Status.DELIVERED.lower()] / outcomes


# The figures, each with its list.


def changelist(model: type[Model], **filters) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(filters)}"


def between(field: str, since: datetime, until: datetime) -> dict[str, str]:
    # The very parameters of the list's own "Today" date filter, which then shows as chosen.
    return {f"{field}__gte": str(since), f"{field}__lt": str(until)}


def message_figures(account, counts, since, until) -> list[Figure]:
    mine = counts.get(account.pk, {})
    return [
        Figure(
            status.label,
            mine.get(status.lower(), 0),
            changelist(
                Message,
                status__exact=status,
                account__id__exact=account.pk,
                **between("created_at", since, until),
            ),
            alarm=status in LOST,
        )
        for status in Status
    ]


def queue_figures(account, counts) -> list[Figure]:
    mine = counts.get(account.pk, {})
    return [
        Figure(
            status.label,
            mine.get(status.lower(), 0),
            changelist(Message, status__exact=status, account__id__exact=account.pk),
        )
        for status in WAITING
    ]


def optout_figure(account, counts, since, until) -> Figure:
    return Figure(
        "Opt-outs",
        counts.get(account.pk, {}).get("optouts", 0),
        changelist(OptOut, account__id__exact=account.pk, **between("created_at", since, until)),
    )


def number_figures(account, counts) -> list[Figure]:
    mine = counts.get(account.pk, {})
    return [
        Figure(
            "Unhealthy",
            mine.get("unhealthy", 0),
            changelist(Number, health="unhealthy", account__id__exact=account.pk),
            alarm=True,
        ),
        Figure(
            "Cordoned",
            mine.get("cordoned", 0),
            changelist(Number, state__exact=Number.State.CORDONED, account__id__exact=account.pk),
        ),
        Figure(
            "At their daily cap",
            mine.get("at_cap", 0),
            changelist(Number, capacity="at_cap", account__id__exact=account.pk),
            alarm=True,
        ),
    ]
