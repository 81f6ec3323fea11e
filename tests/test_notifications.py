"""Notifications to the account's URLs (SPEC §5): strategies, signatures, retries, SSRF.

They go over a real socket to a local HTTP server, and their signatures are checked
with the standardwebhooks library on the bytes that arrived.
"""

import socket
import threading

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from carriers.gateways.base import Accepted, Gateway
from messaging.models import DeliveryAttempt, Message, Notification
from messaging.services import notifications
from messaging.services.inbound import inbound_receive
from messaging.services.lifecycle import message_report_status
from messaging.services.notifications import (
    UnsafeUrl,
    backoff,
    check_public,
    notification_deliver,
    notification_record,
    notification_retry_now,
)
from messaging.tasks import deliver_notification
from optout.services import optout_record
from tests.scenarios import NEW_YORK, pool_with
from tests.webhook_receiver import closed_port_url, running_receiver

pytestmark = pytest.mark.django_db

RECIPIENT = "+12125550100"


class HoldingGateway(Gateway):
    """Takes the message and reports nothing: it stays Sent until a report arrives."""

    def send(self, outbound):
        return Accepted((f"held-{outbound.tracking_id}",))


@pytest.fixture
def receiver(settings):
    """A local receiver, and the setting that lets notifications reach loopback."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    with running_receiver() as server:
        yield server


@pytest.fixture
def pool(account):
    return pool_with(account, [NEW_YORK])


@pytest.fixture
def run_after_commit(django_capture_on_commit_callbacks):
    """Runs the work a block leaves for after commit (dispatch, deliveries) as it ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def send(api, pool, url, strategy="OnChange", to=RECIPIENT, **extra) -> dict:
    response = api.post(
        f"/pools/my/{pool.pk}/sms",
        {"to": to, "body": "Hello", "callback": {"url": url, "strategy": strategy}, **extra},
        format="json",
    )
    assert response.status_code == 200, response.json()
    return response.json()


def statuses(requests) -> list[str]:
    return [request.json["status"] for request in requests]


def recorded(account, url, payload=None) -> Notification:
    """A status notification stored (and its first attempt left for after commit)."""
    return notification_record(
        account=account, kind=Notification.Kind.STATUS, url=url, payload=payload or {"n": 1}
    )


def make_due(notification: Notification) -> None:
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())


def attempts_of(notification: Notification) -> list[tuple[int | None, str]]:
    return list(notification.attempts_made.values_list("status_code", "error"))


# Strategies


def test_on_change_posts_every_status_the_message_takes(api, pool, receiver, run_after_commit):
    with run_after_commit():
        sent = send(api, pool, receiver.url, "OnChange")

    assert statuses(receiver.requests) == ["Queued", "Sent", "Delivered"]
    for request, seen in zip(receiver.requests, [1, 2, 3], strict=True):
        body = request.json
        assert body["trackingId"] == sent["trackingId"]
        assert len(body["statusHistory"]) == seen  # the message as it stood then
    # The last is the message as GET /sms/my/{trackingId} shows it now.
    assert receiver.requests[-1].json == api.get(f"/sms/my/{sent['trackingId']}").json()
    assert set(Notification.objects.values_list("state", "attempts")) == {("delivered", 1)}


def test_each_status_is_posted_as_the_api_shows_the_message_at_that_status(
    api, pool, receiver, settings, django_capture_on_commit_callbacks
):
    settings.SMS_GATEWAY_BACKEND = "tests.test_notifications.HoldingGateway"
    with django_capture_on_commit_callbacks() as after_send:
        sent = send(
            api,
            pool,
            receiver.url,
            body="Offer: https://example.com/offer",
            urlShortener={"urlValidity": 3600},
        )
    resource = f"/sms/my/{sent['trackingId']}"
    # The send leaves two jobs for after commit: post Queued, hand over to the gateway.
    post_queued, dispatch = after_send

    post_queued()
    assert receiver.requests[-1].json == api.get(resource).json()
    assert receiver.requests[-1].json["urlShortener"]["urls"] != []

    with django_capture_on_commit_callbacks(execute=True):
        dispatch()
    assert receiver.requests[-1].json == api.get(resource).json()

    message = Message.objects.get(pk=sent["trackingId"])
    with django_capture_on_commit_callbacks(execute=True):
        message_report_status(message=message, status=Message.Status.DELIVERED)
    assert receiver.requests[-1].json == api.get(resource).json()
    assert statuses(receiver.requests) == ["Queued", "Sent", "Delivered"]


@pytest.mark.parametrize("to, final", [(RECIPIENT, "Delivered"), ("+12125550999", "Undelivered")])
def test_on_completion_posts_once_at_the_final_status(
    api, pool, receiver, run_after_commit, to, final
):
    with run_after_commit():
        sent = send(api, pool, receiver.url, "OnCompletion", to=to)

    assert statuses(receiver.requests) == [final]
    assert receiver.requests[0].json == api.get(f"/sms/my/{sent['trackingId']}").json()
    assert Notification.objects.count() == 1


def test_on_completion_posts_nothing_while_the_message_is_on_its_way(
    api, pool, receiver, settings, run_after_commit
):
    settings.SMS_GATEWAY_BACKEND = "tests.test_notifications.HoldingGateway"
    with run_after_commit():
        sent = send(api, pool, receiver.url, "OnCompletion")

    assert Message.objects.get(pk=sent["trackingId"]).status == "Sent"
    assert receiver.requests == []
    assert not Notification.objects.exists()


@pytest.mark.parametrize("strategy", ["OnCompletion", "OnChange"])
def test_an_opted_out_message_completes_at_once_with_one_notification(
    api, account, pool, receiver, run_after_commit, strategy
):
    optout_record(account=account, recipient=RECIPIENT, number=NEW_YORK)

    with run_after_commit():
        sent = send(api, pool, receiver.url, strategy)

    assert (sent["status"], sent["detailedStatus"]) == ("Undelivered", "Opted-out")
    [request] = receiver.requests
    assert (request.json["status"], request.json["detailedStatus"]) == ("Undelivered", "Opted-out")
    assert request.json == api.get(f"/sms/my/{sent['trackingId']}").json()


def test_the_pools_callback_is_used_when_the_send_names_none(
    api, account, receiver, run_after_commit
):
    pool = pool_with(
        account, [NEW_YORK], callback_url=receiver.url, callback_strategy="OnCompletion"
    )

    with run_after_commit():
        response = api.post(
            f"/pools/my/{pool.pk}/sms", {"to": RECIPIENT, "body": "Hi"}, format="json"
        )

    assert statuses(receiver.requests) == ["Delivered"]
    assert receiver.requests[0].json["trackingId"] == response.json()["trackingId"]


def test_a_message_without_a_callback_notifies_nothing(api, pool, run_after_commit):
    with run_after_commit():
        api.post(f"/pools/my/{pool.pk}/sms", {"to": RECIPIENT, "body": "Hi"}, format="json")

    assert not Notification.objects.exists()


# Signatures


def test_every_notification_is_signed_with_the_accounts_secret(
    api, account, other_account, pool, receiver, run_after_commit
):
    with run_after_commit():
        send(api, pool, receiver.url)

    assert len(receiver.requests) == 3
    for request in receiver.requests:
        assert request.verified(account.webhook_secret) == request.json
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.headers["Content-Type"] == "application/json"
        with pytest.raises(WebhookVerificationError):
            request.verified(other_account.webhook_secret)
    assert len({request.headers["webhook-id"] for request in receiver.requests}) == 3


def test_a_body_changed_on_the_way_fails_verification(account, receiver, run_after_commit):
    with run_after_commit():
        recorded(account, receiver.url, {"status": "Delivered"})

    [request] = receiver.requests
    tampered = request.body.replace(b"Delivered", b"Failed")
    with pytest.raises(WebhookVerificationError):
        Webhook(account.webhook_secret).verify(tampered, request.headers)


# Retries


def test_a_refused_notification_is_retried_until_the_receiver_accepts_it(
    account, receiver, settings, run_after_commit, time_machine
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30  # the retries stay within the signatures' tolerance
    receiver.answer(500, 503, 200)
    with run_after_commit():
        notification = recorded(account, receiver.url)
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == ("pending", 1)

    deliver_notification(str(notification.pk))  # not due yet: nothing is posted
    assert len(receiver.requests) == 1

    for _ in range(2):
        time_machine.move_to(Notification.objects.get(pk=notification.pk).next_attempt_at)
        deliver_notification(str(notification.pk))

    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == ("delivered", 3)
    assert notification.next_attempt_at is None
    assert notification.delivered_at is not None
    assert attempts_of(notification) == [(500, ""), (503, ""), (200, "")]
    assert all(
        isinstance(ms, int) and ms >= 0
        for ms in notification.attempts_made.values_list("duration_ms", flat=True)
    )
    # One id for every try, so the receiver can tell a retry from a new notification.
    assert len({request.headers["webhook-id"] for request in receiver.requests}) == 1
    for request in receiver.requests:
        assert request.verified(account.webhook_secret) == {"n": 1}


def test_a_notification_is_given_up_after_the_maximum_attempts(
    account, receiver, settings, run_after_commit
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answer(500)
    with run_after_commit():
        notification = recorded(account, receiver.url)

    for _ in range(2):
        make_due(notification)
        deliver_notification(str(notification.pk))

    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == ("failed", 3)
    assert notification.next_attempt_at is None
    assert attempts_of(notification) == [(500, "")] * 3
    deliver_notification(str(notification.pk))  # a stray task after giving up
    assert len(receiver.requests) == 3


def test_the_next_attempt_waits_the_backoff(account, receiver, settings, run_after_commit):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 40
    receiver.answer(500)
    before = timezone.now()
    with run_after_commit():
        notification = recorded(account, receiver.url)

    notification.refresh_from_db()
    wait = (notification.next_attempt_at - before).total_seconds()
    assert 20 <= wait <= 61  # 40 s ± 50 %, and the attempt's own second


def test_the_backoff_doubles_with_each_attempt_within_its_jitter(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    for attempts in range(1, 8):
        base = 30 * 2 ** (attempts - 1)
        waits = [backoff(attempts) for _ in range(50)]
        assert all(0.5 * base <= wait <= 1.5 * base for wait in waits)
        assert len(set(waits)) > 1  # jitter: retries do not arrive all at once


@pytest.mark.parametrize("jitter, factor", [("low", 0.5), ("high", 1.5)])
def test_the_backoff_jitter_is_half_the_wait_either_way(settings, monkeypatch, jitter, factor):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    monkeypatch.setattr(
        notifications.random, "uniform", lambda low, high: low if jitter == "low" else high
    )

    assert [backoff(n) for n in (1, 2, 3, 4)] == [w * factor for w in (30, 60, 120, 240)]
    assert backoff(30) == 6 * 3600 * factor  # capped at six hours


def test_a_connection_error_is_recorded_and_retried(account, settings, run_after_commit):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    with run_after_commit():
        notification = recorded(account, closed_port_url())

    notification.refresh_from_db()
    [(status_code, error)] = attempts_of(notification)
    assert status_code is None
    assert error.startswith("ConnectionError")
    assert notification.state == "pending"
    assert notification.next_attempt_at > timezone.now()


def test_a_receiver_that_does_not_answer_in_time_is_a_timeout(
    account, receiver, settings, run_after_commit
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.answer(200, delay=1.5)
    with run_after_commit():
        notification = recorded(account, receiver.url)

    notification.refresh_from_db()
    [attempt] = notification.attempts_made.all()
    assert attempt.status_code is None
    assert "Timeout" in attempt.error
    assert 300 <= attempt.duration_ms < 1500
    assert notification.state == "pending"


# No duplicates


def test_a_task_run_again_after_delivery_posts_nothing_more(account, receiver, run_after_commit):
    with run_after_commit():
        notification = recorded(account, receiver.url)

    deliver_notification(str(notification.pk))
    deliver_notification(str(notification.pk))

    assert len(receiver.requests) == 1
    assert DeliveryAttempt.objects.count() == 1


def test_a_notification_being_delivered_cannot_be_claimed_again(account):
    notification = Notification.objects.create(
        account=account, kind="status", url="https://hooks.example.com/", payload={}
    )

    assert notifications._claim(notification.pk) is True
    assert notifications._claim(notification.pk) is False  # leased to the first
    assert Notification.objects.get(pk=notification.pk).attempts == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_one_notification_post_it_once(account, receiver):
    receiver.answer(200, delay=0.3)
    notification = Notification.objects.create(
        account=account, kind="status", url=receiver.url, payload={"n": 1}
    )
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait(timeout=10)
            notification_deliver(notification_id=notification.pk)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(receiver.requests) == 1
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == ("delivered", 1)


# Retry now


def test_retry_now_gives_a_failed_notification_another_attempt(
    account, receiver, settings, run_after_commit
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.answer(500, 200)
    with run_after_commit():
        notification = recorded(account, receiver.url)
    assert Notification.objects.get(pk=notification.pk).state == "failed"

    with run_after_commit():
        notification_retry_now(notification=notification)

    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == ("delivered", 2)
    assert attempts_of(notification) == [(500, ""), (200, "")]


def test_retry_now_does_not_post_a_delivered_notification_again(
    account, receiver, run_after_commit
):
    with run_after_commit():
        notification = recorded(account, receiver.url)

    with run_after_commit():
        notification_retry_now(notification=notification)

    assert len(receiver.requests) == 1
    assert Notification.objects.get(pk=notification.pk).state == "delivered"


# No server-side request forgery


@pytest.fixture
def no_requests(monkeypatch):
    """Fails the test if a notification is posted anywhere."""
    posted = []
    monkeypatch.setattr(notifications.requests, "post", lambda *a, **kw: posted.append(a))
    return posted


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hooks",
        "http://192.168.1.20:8080/hooks",
        "http://[::1]/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://0.0.0.0/hooks",
    ],
)
def test_a_url_to_a_private_address_is_refused_without_a_request(
    account, settings, no_requests, run_after_commit, url
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with run_after_commit():
        notification = recorded(account, url)

    assert no_requests == []
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == ("failed", 1)
    [(status_code, error)] = attempts_of(notification)
    assert status_code is None
    assert error.startswith("refused:")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_even_with_a_server_listening(
    account, receiver, settings, run_after_commit, host
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with run_after_commit():
        notification = recorded(account, receiver.url.replace("127.0.0.1", host))

    assert receiver.requests == []
    notification.refresh_from_db()
    assert notification.state == "failed"
    assert "non-public address" in notification.attempts_made.get().error


def fake_dns(monkeypatch, *addresses):
    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses
        ]

    monkeypatch.setattr(notifications.socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34/hooks", "https://[2606:4700:4700::1111]/hooks"]
)
def test_a_public_address_passes_the_check(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    check_public(url)


def test_a_name_resolving_to_public_addresses_passes(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    fake_dns(monkeypatch, "93.184.216.34", "93.184.216.35")

    check_public("https://hooks.example.com/sms")


def test_a_name_with_any_private_address_is_refused(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    fake_dns(monkeypatch, "93.184.216.34", "10.1.2.3")

    with pytest.raises(UnsafeUrl):
        check_public("https://hooks.example.com/sms")


def test_private_addresses_are_allowed_by_the_setting(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True

    check_public("http://127.0.0.1:8000/hooks")


def test_an_unresolvable_name_is_an_error_that_is_retried(
    account, settings, monkeypatch, no_requests, run_after_commit
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    def unresolvable(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(notifications.socket, "getaddrinfo", unresolvable)
    with run_after_commit():
        notification = recorded(account, "https://hooks.invalid/sms")

    notification.refresh_from_db()
    assert no_requests == []
    assert notification.state == "pending"
    assert "cannot resolve hooks.invalid" in notification.attempts_made.get().error


# Inbound messages and clicks


def test_an_inbound_message_is_forwarded_signed(account, receiver, run_after_commit):
    pool = pool_with(account, [NEW_YORK], inbound_sms_callback_url=receiver.url)

    with run_after_commit():
        inbound_receive(message_id="carrier-1", sender=RECIPIENT, to=NEW_YORK, body="Hi there")

    [request] = receiver.requests
    forwarded = request.verified(account.webhook_secret)
    assert forwarded["messageId"] == "carrier-1"
    assert (forwarded["from"], forwarded["to"], forwarded["body"]) == (
        RECIPIENT,
        NEW_YORK,
        "Hi there",
    )
    assert forwarded["poolId"] == str(pool.pk)
    assert Notification.objects.get().kind == "inbound"


def test_a_click_is_posted_signed_as_the_clicks_api_shows_it(
    api, account, pool, receiver, client, run_after_commit
):
    with run_after_commit():
        sent = send(
            api,
            pool,
            receiver.url,
            "OnCompletion",
            body="Offer: https://example.com/offer",
            urlShortener={"urlValidity": 3600},
        )
    code = sent["urlShortener"]["urls"][0]["shortUrl"].rsplit("/", 1)[1]

    with run_after_commit():
        assert client.get(f"/s/{code}", REMOTE_ADDR="203.0.113.7").status_code == 302

    [completion, click] = receiver.requests
    assert completion.json["status"] == "Delivered"
    posted = click.verified(account.webhook_secret)
    assert [posted] == api.get(f"/sms/my/{sent['trackingId']}/clicks").json()["results"]
    assert Notification.objects.filter(kind="click").count() == 1
