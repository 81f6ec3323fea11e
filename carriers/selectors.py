from django.db.models import Case, Count, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce

from carriers.models import Connection
from virtual_numbers.models import Number


def account_default_connection_id(*, account_id):
    """Where the account's numbers that name no connection send; None: the built-in simulator."""
    return (
        Connection.objects.filter(account_id=account_id, is_default=True)
        .values_list("pk", flat=True)
        .first()
    )


def connection_list(*, account):
    return Connection.objects.filter(account=account).order_by("name", "pk")


# A connection's numbers are those whose messages leave through it: the numbers that name
# it and, for the account's default, those that name none. The two functions below count
# the same rows, one for a connection, one for a list of them.


def connection_numbers(*, connection: Connection):
    numbers = Q(connection=connection)
    if connection.is_default:
        numbers |= Q(connection__isnull=True)
    return Number.objects.filter(numbers, account_id=connection.account_id)


def with_number_count(queryset):
    """The connections, each with `number_count`."""
    naming_none = (
        Number.objects.filter(account=OuterRef("account"), connection__isnull=True)
        .order_by()
        .values("account")
        .annotate(count=Count("pk"))
        .values("count")
    )
    through_default = Case(
        When(is_default=True, then=Coalesce(Subquery(naming_none), 0)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return queryset.annotate(number_count=Count("numbers", distinct=True) + through_default)
