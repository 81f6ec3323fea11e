"""Notifications in the admin console: read-only, tenant-scoped, every attempt visible,
and "Retry now" for the ones that failed (SPEC §5, §7)."""

import pytest
from django.contrib.auth.models import Permission

from messaging.models import DeliveryAttempt, Notification
from tests.factories import MessageFactory, UserFactory
from tests.test_admin import listed, logged_in, messages_of, run_action, url
from tests.test_admin_messaging import grant_console
from tests.webhook_receiver import running_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(account):
    """Staff scoped to `account` ("acme"), with the messaging permissions."""
    return logged_in(grant_console(UserFactory(account=account)))


@pytest.fixture
def viewer_client(account):
    """Staff of `account` who may look at notifications but not change them."""
    user = UserFactory(account=account)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_notification", "view_message"])
    )
    return logged_in(user)


@pytest.fixture
def superuser_client():
    return logged_in(UserFactory(is_superuser=True, account=None))


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    with running_receiver() as server:
        yield server


def notification_of(account, url="https://hooks.example.com/sms", answers=(), **fields):
    """A notification of the account, with one attempt per answer (a status code or an error)."""
    notification = Notification.objects.create(
        account=account,
        kind=fields.pop("kind", Notification.Kind.STATUS),
        url=url,
        payload=fields.pop("payload", {"status": "Delivered"}),
        attempts=len(answers),
        **fields,
    )
    for answer in answers:
        DeliveryAttempt.objects.create(
            notification=notification,
            status_code=answer if isinstance(answer, int) else None,
            error=answer if isinstance(answer, str) else "",
            duration_ms=120,
        )
    return notification


def retry(client, notifications):
    return run_action(client, "messaging_notification_changelist", "retry_now", notifications)


# The list


def test_the_list_shows_when_what_it_carries_where_and_how_it_went(staff_client, account):
    notification_of(account, answers=[500, 200], state="delivered")

    response = staff_client.get(url("messaging_notification_changelist"))

    assert response.context["cl"].list_display[1:] == [
        "created",
        "kind",
        "carries",
        "url_excerpt",
        "state",
        "attempts",
        "next_attempt",
    ]
    page = response.content.decode()
    assert "Message status" in page
    assert '<td class="field-carries">Delivered</td>' in page
    assert "https://hooks.example.com/sms" in page


def test_notifications_filter_by_kind_and_state(staff_client, account):
    failed = notification_of(account, answers=[500], state="failed")
    click = notification_of(account, kind="click", state="delivered", answers=[200])
    changelist = url("messaging_notification_changelist")

    assert listed(staff_client.get(changelist, {"state__exact": "failed"})) == [failed]
    assert listed(staff_client.get(changelist, {"kind__exact": "click"})) == [click]


def test_notifications_are_searchable_by_url(staff_client, account):
    wanted = notification_of(account, url="https://crm.example.com/hooks")
    notification_of(account, url="https://other.example.com/hooks")

    response = staff_client.get(url("messaging_notification_changelist"), {"q": "crm.example"})

    assert listed(response) == [wanted]


# One notification


def test_a_notification_page_shows_its_payload_and_every_attempt(staff_client, account):
    message = MessageFactory(account=account)
    notification = notification_of(
        account,
        answers=["ConnectionError: refused", 503, 200],
        state="delivered",
        message=message,
        payload={"trackingId": str(message.pk), "status": "Delivered"},
    )

    response = staff_client.get(url("messaging_notification_change", notification.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "&quot;status&quot;: &quot;Delivered&quot;" in page  # pretty JSON, escaped
    assert url("messaging_message_change", message.pk) in page
    [attempts] = response.context["inline_admin_formsets"]
    assert [
        (form.original.status_code, form.original.error, form.original.duration_ms)
        for form in attempts
    ] == [(None, "ConnectionError: refused", 120), (503, "", 120), (200, "", 120)]


def test_notifications_are_read_only(staff_client, account):
    notification = notification_of(account, answers=[500], state="failed")

    changelist = staff_client.get(url("messaging_notification_changelist"))
    assert not changelist.context["has_add_permission"]
    assert staff_client.get(url("messaging_notification_add")).status_code == 403
    delete = url("messaging_notification_delete", notification.pk)
    assert staff_client.get(delete).status_code == 403
    response = staff_client.post(
        url("messaging_notification_change", notification.pk), {"url": "https://evil.example/"}
    )
    assert response.status_code == 403
    assert Notification.objects.get().url == "https://hooks.example.com/sms"


# Tenancy


def test_scoped_staff_see_only_their_accounts_notifications(staff_client, account, other_account):
    ours = notification_of(account)
    theirs = notification_of(other_account)

    assert listed(staff_client.get(url("messaging_notification_changelist"))) == [ours]
    response = staff_client.get(url("messaging_notification_change", theirs.pk), follow=True)
    assert response.redirect_chain == [(url("index"), 302)]


def test_superusers_see_every_accounts_notifications(superuser_client, account, other_account):
    notifications = [notification_of(account), notification_of(other_account)]

    response = superuser_client.get(url("messaging_notification_changelist"))

    assert set(listed(response)) == set(notifications)
    assert "account" in response.context["cl"].list_display


# Retry now


def test_retry_now_delivers_a_failed_notification(
    staff_client, account, receiver, django_capture_on_commit_callbacks
):
    notification = notification_of(account, url=receiver.url, answers=[500] * 3, state="failed")

    with django_capture_on_commit_callbacks(execute=True):
        response = retry(staff_client, [notification])

    assert messages_of(response) == ["Retrying 1 notification(s) now."]
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == ("delivered", 4)
    assert notification.attempts_made.last().status_code == 200
    [request] = receiver.requests
    assert request.verified(account.webhook_secret) == {"status": "Delivered"}


def test_retry_now_does_not_send_a_delivered_notification_again(
    staff_client, account, receiver, django_capture_on_commit_callbacks
):
    delivered = notification_of(account, url=receiver.url, answers=[200], state="delivered")

    with django_capture_on_commit_callbacks(execute=True):
        response = retry(staff_client, [delivered])

    assert messages_of(response) == [
        "Retrying 0 notification(s) now.",
        "1 already delivered, not sent again.",
    ]
    assert receiver.requests == []


def test_retry_now_needs_the_change_permission(
    viewer_client, account, receiver, django_capture_on_commit_callbacks
):
    failed = notification_of(account, url=receiver.url, answers=[500], state="failed")

    changelist = viewer_client.get(url("messaging_notification_changelist"))
    assert changelist.status_code == 200
    assert changelist.context["action_form"] is None  # "Retry now" was its only action
    with django_capture_on_commit_callbacks(execute=True):
        retry(viewer_client, [failed])

    assert receiver.requests == []
    assert Notification.objects.get().state == "failed"


def test_scoped_staff_cannot_retry_another_accounts_notification(
    staff_client, other_account, receiver, django_capture_on_commit_callbacks
):
    theirs = notification_of(other_account, url=receiver.url, answers=[500], state="failed")

    with django_capture_on_commit_callbacks(execute=True):
        retry(staff_client, [theirs])

    assert receiver.requests == []
    assert Notification.objects.get().state == "failed"


# On the message's page


def test_a_message_page_lists_its_callback_attempts(staff_client, account):
    message = MessageFactory(account=account)
    failing = notification_of(
        account,
        url="https://crm.example.com/status",
        answers=[500, "ReadTimeout: read timed out"],
        message=message,
    )
    notification_of(account, kind="click", answers=[], message=message)

    response = staff_client.get(url("messaging_message_change", message.pk))

    page = response.content.decode()
    assert "Callbacks" in page
    assert '<td rowspan="2" class="carries">Delivered</td>' in page  # the status it carries
    assert url("messaging_notification_change", failing.pk) in page
    assert "<td>500</td>" in page
    assert "ReadTimeout: read timed out" in page
    assert "No attempt yet." in page  # the click, not tried yet


def test_a_message_without_callbacks_says_so(staff_client, account):
    message = MessageFactory(account=account)

    response = staff_client.get(url("messaging_message_change", message.pk))

    assert "No callbacks." in response.content.decode()
