import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Account
from pools import choices
from pools.models import Pool
from virtual_numbers.models import Number

AUTO_REPLY_RULE = "autoReply"  # the rule of an auto-reply to a keyword: no selection chose it


class Message(models.Model):
    """One outbound message: what was sent, from which sender, why, and where it stands."""

    class Status(models.TextChoices):
        SCHEDULED = "Scheduled"
        QUEUED = "Queued"
        SENT = "Sent"
        DELIVERED = "Delivered"
        UNDELIVERED = "Undelivered"
        FAILED = "Failed"
        CANCELED = "Canceled"

    class Intent(models.TextChoices):
        TRANSACTIONAL = "transactional"
        MARKETING = "marketing"

    Channel = choices.Channel
    Strategy = choices.Strategy

    OPTED_OUT = "Opted-out"
    QUIET_HOURS = "Quiet hours"  # a marketing message whose ttl ran out before it could go

    id = models.UUIDField("tracking ID", primary_key=True, default=uuid.uuid4, editable=False)
    # The account's, number's and connection's keys have no index of their own: an index
    # in Meta leads with each. Every send writes each index of this table twice or more.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    pool = models.ForeignKey(
        Pool, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    to = models.CharField(max_length=16)
    sender = models.CharField(
        max_length=16, blank=True, help_text="E.164, short code or alphanumeric sender ID."
    )
    number = models.ForeignKey(
        Number,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,
        help_text="The pool number that sent it, when the sender is a number.",
    )
    body = models.TextField()
    channel = models.CharField(max_length=3, choices=Channel.choices, default=Channel.SMS)
    strategy = models.CharField(max_length=12, choices=Strategy.choices, default=Strategy.NUMERIC)
    media_urls = models.JSONField(default=list, blank=True)
    intent = models.CharField(
        max_length=13,
        choices=Intent.choices,
        default=Intent.TRANSACTIONAL,
        help_text="Marketing messages are held to the hours the recipient may receive them.",
    )
    send_at = models.DateTimeField(
        "send at",
        null=True,
        blank=True,
        help_text="When it was or is scheduled to go: asked for (sendAt) or set by quiet hours.",
    )
    status = models.CharField(max_length=11, choices=Status.choices, default=Status.QUEUED)
    detailed_status = models.CharField(max_length=40, blank=True)
    body_analysis = models.JSONField(default=dict, help_text="bodyAnalysis as the API shows it.")
    callback_url = models.URLField(blank=True, help_text="Status notifications go here.")
    callback_strategy = models.CharField(max_length=12, blank=True)
    url_validity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds its short links live; empty: none requested."
    )
    ttl = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Seconds it may wait to go, from its sendAt or else from the request.",
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="From its ttl: still waiting then, it fails."
    )
    connection = models.ForeignKey(
        "carriers.Connection",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,
        help_text="Where it leaves; empty: the built-in simulator.",
    )
    dispatch_at = models.DateTimeField(
        null=True, blank=True, help_text="Its turn at its sender's rate: not handed over before."
    )
    lease_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A dispatcher is handing it over; past this, another may take it again.",
    )
    handover_attempts = models.PositiveSmallIntegerField(default=0)
    provider_message_id = models.CharField(
        max_length=100, blank=True, help_text="The id its connection's provider or SMSC gave it."
    )
    error_code = models.CharField(max_length=40, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    rule = models.CharField(max_length=20, help_text="The selection rule that chose the sender.")
    explanation = models.TextField(help_text="Why this sender: one line per step that mattered.")
    # When the message was made, not written: a send dates it, its links' validity and
    # its ttl from one moment, before its row is written with its first event.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # GET /sms/my lists an account's messages, newest first.
            models.Index(fields=["account", "-created_at"], name="messaging_account_created"),
            # Health: a number's most recent final statuses.
            models.Index(fields=["number", "-updated_at"], name="messaging_number_recent"),
            # The ttl sweep: queued messages past their expiry.
            models.Index(fields=["status", "expires_at"], name="messaging_status_expiry"),
            # Dispatch: a connection's queued messages whose turn has come, in turn order.
            models.Index(
                fields=["connection", "status", "dispatch_at"], name="messaging_dispatch_due"
            ),
            # Throttling pushes back a number's waiting messages; queueDepth counts them.
            models.Index(fields=["number", "status", "dispatch_at"], name="messaging_number_queue"),
            # The schedule runner: Scheduled messages whose time has come.
            models.Index(fields=["status", "send_at"], name="messaging_scheduled_due"),
            # Quiet hours: a recipient's recent marketing messages (Florida's 3 in 24 h).
            models.Index(
                fields=["account", "to", "created_at"],
                condition=models.Q(intent="marketing"),
                name="messaging_marketing_recent",
            ),
            # GET /sms/my?providerMessageId=…
            models.Index(fields=["account", "provider_message_id"], name="messaging_provider_id"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "Scheduled",
                        "Queued",
                        "Sent",
                        "Delivered",
                        "Undelivered",
                        "Failed",
                        "Canceled",
                    ]
                ),
                name="messaging_message_status_valid",
            ),
        ]

    FINAL_STATUSES = frozenset(
        {Status.DELIVERED, Status.UNDELIVERED, Status.FAILED, Status.CANCELED}
    )

    def __str__(self):
        return f"{self.id} to {self.to}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES


class MessagePart(models.Model):
    """A part as its provider knows it: delivery receipts name it by `provider_id`."""

    # No index of their own: `messaging_part_unique` leads with the message, the provider
    # id's index with the connection.
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="parts", db_index=False
    )
    index = models.PositiveSmallIntegerField()
    # Kept when its connection is deleted: the message's history stays whole.
    connection = models.ForeignKey(
        "carriers.Connection",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        db_index=False,
    )
    provider_id = models.CharField(max_length=100)
    status = models.CharField(max_length=11, choices=Message.Status.choices, default="Sent")
    detailed_status = models.CharField(max_length=40, blank=True)
    error_code = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["message", "index"]
        constraints = [
            models.UniqueConstraint(fields=["message", "index"], name="messaging_part_unique"),
        ]
        indexes = [
            # A receipt: the part its connection's provider calls `provider_id`.
            models.Index(fields=["connection", "provider_id"], name="messaging_part_provider_id"),
        ]

    def __str__(self):
        return f"{self.message_id} part {self.index + 1}: {self.provider_id}"


class StatusEvent(models.Model):
    """One status a message took, in order: its status history."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="status_events")
    status = models.CharField(max_length=11, choices=Message.Status.choices)
    detailed_status = models.CharField(max_length=40, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.message_id}: {self.status}"


def short_url(code: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/s/{code}"


class ShortLink(models.Model):
    """A URL of a message body, replaced by /s/<code> on the service's own host."""

    code = models.CharField(max_length=16, unique=True)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="short_links")
    long_url = models.URLField(max_length=2000)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.code

    @property
    def short_url(self) -> str:
        return short_url(self.code)


class Click(models.Model):
    link = models.ForeignKey(ShortLink, on_delete=models.CASCADE, related_name="clicks")
    ip = models.GenericIPAddressField(null=True, blank=True)
    referrer = models.CharField(max_length=2000, blank=True)
    user_agent = models.CharField(max_length=1000, blank=True)
    device = models.CharField(max_length=20, blank=True)
    browser = models.CharField(max_length=40, blank=True)
    lag = models.PositiveIntegerField(help_text="Seconds between sending and the click.")
    country = models.CharField(max_length=2, blank=True)
    city = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.link.code} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class IdempotencyKey(models.Model):
    """A send request's Idempotency-Key and the first answer to it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    # The rendered JSON, as text: a JSON column (jsonb) would give the keys back in
    # another order, and a replay must answer the first response byte for byte.
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Two concurrent requests with one key: the second insert waits for the
            # first transaction and then fails, so it answers with the first's response.
            models.UniqueConstraint(
                fields=["account", "key"], name="messaging_idempotency_key_unique"
            ),
        ]

    def __str__(self):
        return self.key


class ReceivedWebhook(models.Model):
    """A carrier webhook's `webhook-id`, kept while its signature could still be replayed."""

    webhook_id = models.CharField(max_length=255, unique=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return self.webhook_id


class Notification(models.Model):
    """An HTTP notification to one of the account's URLs: stored before it is sent, so a
    restart loses nothing; delivered (signed, retried) by the background workers."""

    class Kind(models.TextChoices):
        STATUS = "status", "Message status"
        INBOUND = "inbound", "Inbound message"
        CLICK = "click", "Short-link click"

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed", "Failed (gave up)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="notifications")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    kind = models.CharField(max_length=7, choices=Kind.choices)
    url = models.URLField(max_length=2000)
    payload = models.JSONField()
    state = models.CharField(max_length=9, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The retry sweep: pending notifications whose next attempt is due.
            models.Index(fields=["state", "next_attempt_at"], name="messaging_notification_due"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.url}"


class DeliveryAttempt(models.Model):
    """One try at delivering a notification: when, the answer, how long it took."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempts_made"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.status_code or self.error[:40]} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
