"""A carrier webhook replayed byte for byte within its signature's window is processed
once (issue 11): the second copy is answered as the first was, and changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging import apis
from messaging.models import Message, ReceivedWebhook
from messaging.services.lifecycle import message_report_status
from messaging.services.replays import received_webhooks_forget
from messaging.services.sending import message_send
from optout.models import InboundMessage
from tests.scenarios import NEW_YORK, pool_with
from tests.test_status_webhook import signed

pytestmark = pytest.mark.django_db


def post(client, path, payload, settings):
    body, headers = signed(payload, settings.CARRIER_WEBHOOK_SECRET)
    return lambda: client.post(path, body, content_type="application/json", headers=headers)


@pytest.fixture
def calls(monkeypatch):
    """How often each webhook really applied something."""
    counted = {"status": 0, "inbound": 0}
    report, receive = apis.message_report_status, apis.inbound_receive

    def counting_report(**kwargs):
        counted["status"] += 1
        return report(**kwargs)

    def counting_receive(**kwargs):
        counted["inbound"] += 1
        return receive(**kwargs)

    monkeypatch.setattr(apis, "message_report_status", counting_report)
    monkeypatch.setattr(apis, "inbound_receive", counting_receive)
    return counted


def test_a_replayed_status_report_is_answered_and_applied_once(client, account, settings, calls):
    message = message_send(pool=pool_with(account, [NEW_YORK]), to="+12125550100", body="Hi")
    message_report_status(message=message, status="Sent")
    send = post(
        client, "/webhooks/status", {"trackingId": str(message.pk), "status": "Delivered"}, settings
    )

    first, replay = send(), send()

    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json() == first.json() == {"trackingId": str(message.pk), "status": "Delivered"}
    assert calls["status"] == 1
    assert Message.objects.get(pk=message.pk).status_events.count() == 3


def test_a_replayed_inbound_message_is_answered_with_its_first_action_and_handled_once(
    client, account, settings, calls
):
    pool_with(account, [NEW_YORK])
    payload = {"messageId": "carrier-1", "from": "+12125550100", "to": NEW_YORK, "body": "STOP"}
    send = post(client, "/webhooks/inbound", payload, settings)

    first, replay = send(), send()

    assert first.json() == replay.json() == {"action": "optout"}
    assert calls["inbound"] == 1
    assert InboundMessage.objects.count() == 1


def test_a_webhook_that_failed_can_be_retried_with_the_same_id(client, account, settings):
    """The id is only remembered with what it did: a carrier's retry after our error goes."""
    send = post(
        client, "/webhooks/status", {"trackingId": "0" * 32, "status": "Delivered"}, settings
    )

    assert send().status_code == 404
    assert not ReceivedWebhook.objects.exists()


def test_ids_past_the_signature_window_are_forgotten(client, account, settings):
    ReceivedWebhook.objects.create(webhook_id="msg_old")
    ReceivedWebhook.objects.filter(webhook_id="msg_old").update(
        received_at=timezone.now() - timedelta(minutes=11)
    )
    ReceivedWebhook.objects.create(webhook_id="msg_recent")

    assert received_webhooks_forget() == 1
    assert list(ReceivedWebhook.objects.values_list("webhook_id", flat=True)) == ["msg_recent"]
