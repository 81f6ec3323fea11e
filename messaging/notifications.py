"""Notifications to the account's URLs, recorded in the transaction that causes them."""

from accounts.models import Account
from messaging.models import Message, Notification


def notification_record(
    *, account: Account, kind: str, url: str, payload: dict, message: Message | None = None
) -> Notification:
    return Notification.objects.create(
        account=account, kind=kind, url=url, payload=payload, message=message
    )
