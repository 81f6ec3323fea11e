from carriers.models import Connection


def account_default_connection_id(*, account_id):
    """Where the account's numbers that name no connection send; None: the built-in simulator."""
    return (
        Connection.objects.filter(account_id=account_id, is_default=True)
        .values_list("pk", flat=True)
        .first()
    )


def connection_list(*, account):
    return Connection.objects.filter(account=account).order_by("name", "pk")
