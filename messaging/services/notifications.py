"""Notifications to the account's URLs: status changes, forwarded inbound messages, clicks.

Each is stored in the transaction that causes it, so nothing is lost if a process dies,
then delivered by a background task: signed per Standard Webhooks with the account's
secret, with a timeout, retried with exponential backoff and jitter on errors and
non-2xx answers up to a bound, every attempt recorded.
"""

import ipaddress
import json
import random
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks import Webhook

from accounts.models import Account
from messaging import queue
from messaging.models import DeliveryAttempt, Message, Notification
from messaging.serializers import message_resource


def notification_record(
    *, account: Account, kind: str, url: str, payload: dict, message: Message | None = None
) -> Notification:
    notification = Notification.objects.create(
        account=account, kind=kind, url=url, payload=payload, message=message
    )
    queue.enqueue_after_commit(queue.DELIVER_NOTIFICATION, str(notification.pk))
    return notification


def message_notify_status(*, message: Message) -> None:
    """OnChange: every status the message takes, its first included. OnCompletion:
    exactly one, at the final status (which never changes again)."""
    if not message.callback_url:
        return
    if message.callback_strategy == "OnCompletion" and not message.is_final:
        return
    notification_record(
        account=message.account,
        kind=Notification.Kind.STATUS,
        url=message.callback_url,
        payload=message_resource(message),
        message=message,
    )


class UnsafeUrl(Exception):
    pass


def check_public(url: str) -> None:
    """Refuse URLs that resolve to loopback, private, link-local or other non-public
    addresses (no server-side request forgery), unless WEBHOOK_ALLOW_PRIVATE_URLS."""
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise OSError(f"cannot resolve {parts.hostname}: {exc}") from exc
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global:
            raise UnsafeUrl(f"refused: {parts.hostname} resolves to a non-public address {address}")


def signed_headers(notification: Notification, body: str) -> dict[str, str]:
    now = timezone.now()
    msg_id = f"msg_{notification.pk.hex}"  # the same on every retry, for receivers to dedupe
    return {
        "Content-Type": "application/json",
        "User-Agent": "NumberPools-Webhooks/1.0",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(notification.account.webhook_secret).sign(msg_id, now, body),
    }


def backoff(attempts: int) -> float:
    """Seconds before the next try: exponential, capped, with ±50% jitter so that a
    receiver coming back up is not hit by every retry at once."""
    base = min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1), 6 * 3600)
    return base * random.uniform(0.5, 1.5)


def _claim(notification_id) -> bool:
    """Take the next attempt, or find it is not due / someone else has it.

    A conditional update, so two workers (or a task run twice) cannot both deliver:
    the winner pushes next_attempt_at past the attempt's timeout as a lease.
    """
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3)
    claimed = (
        Notification.objects.filter(pk=notification_id, state=Notification.State.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(attempts=F("attempts") + 1, next_attempt_at=lease)
    )
    return claimed == 1


def notification_deliver(*, notification_id) -> float | None:
    """One attempt. Returns the seconds until the next one, or None when there is none."""
    if not _claim(notification_id):
        return None
    notification = Notification.objects.select_related("account").get(pk=notification_id)
    body = json.dumps(notification.payload, separators=(",", ":"))
    started = time.monotonic()
    status_code, error = None, ""
    permanent = False
    try:
        check_public(notification.url)
        response = requests.post(
            notification.url,
            data=body.encode(),
            headers=signed_headers(notification, body),
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
        status_code = response.status_code
    except UnsafeUrl as exc:
        error, permanent = str(exc), True
    except (requests.RequestException, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    attempt = DeliveryAttempt.objects.create(
        notification=notification,
        status_code=status_code,
        error=error[:2000],
        duration_ms=round((time.monotonic() - started) * 1000),
    )
    return _settle(notification, attempt, permanent)


def _settle(notification: Notification, attempt: DeliveryAttempt, permanent: bool) -> float | None:
    now = timezone.now()
    if attempt.succeeded:
        state, next_at, delay = Notification.State.DELIVERED, None, None
    elif permanent or notification.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        state, next_at, delay = Notification.State.FAILED, None, None
    else:
        delay = backoff(notification.attempts)
        state, next_at = Notification.State.PENDING, now + timedelta(seconds=delay)
    Notification.objects.filter(pk=notification.pk).update(
        state=state,
        next_attempt_at=next_at,
        delivered_at=now if state == Notification.State.DELIVERED else None,
    )
    return delay


def notification_retry_now(*, notification: Notification) -> None:
    """An operator's "retry now": one more attempt at once, even after giving up."""
    with transaction.atomic():
        Notification.objects.filter(pk=notification.pk).exclude(
            state=Notification.State.DELIVERED
        ).update(state=Notification.State.PENDING, next_attempt_at=None)
        queue.enqueue_after_commit(queue.DELIVER_NOTIFICATION, str(notification.pk))


def notifications_due(*, now=None):
    """Pending notifications whose next attempt is due, for the retry sweep."""
    now = now or timezone.now()
    return Notification.objects.filter(state=Notification.State.PENDING).filter(
        Q(next_attempt_at__lte=now)
        | Q(next_attempt_at__isnull=True, created_at__lte=now - timedelta(minutes=1))
    )
