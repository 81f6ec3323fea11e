import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from accounts.models import Account


class Connection(models.Model):
    """One of the account's accounts at a carrier or provider (SPEC §11): how its numbers'
    messages leave, and where that provider's receipts and replies come back."""

    class Kind(models.TextChoices):
        SIMULATOR = "simulator", "Simulator"
        SMPP = "smpp", "SMPP"
        TWILIO = "twilio", "Twilio"
        TELNYX = "telnyx", "Telnyx"
        VONAGE = "vonage", "Vonage"

    class Status(models.TextChoices):
        UP = "up"
        DOWN = "down"
        UNKNOWN = "unknown"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=9, choices=Kind.choices)
    settings = models.JSONField(default=dict, blank=True, help_text="The kind's plain settings.")
    # Write-only: accepted and stored, never returned by the API nor shown in the admin.
    secrets = models.JSONField(default=dict, blank=True, editable=False)
    messages_per_second = models.FloatField(
        null=True,
        blank=True,
        help_text="Parts per second for all the connection's numbers together; empty: no cap.",
    )
    window = models.PositiveSmallIntegerField(
        default=10, help_text="SMPP: submits in flight without an answer."
    )
    is_default = models.BooleanField(
        default=False, help_text="Used by the account's numbers that name no connection."
    )
    state_status = models.CharField(
        "state", max_length=7, choices=Status.choices, default=Status.UNKNOWN
    )
    state_detail = models.CharField(max_length=500, blank=True)
    state_checked_at = models.DateTimeField(null=True, blank=True)
    # Pacing of the connection cap: when (epoch seconds) its next part may leave.
    next_slot_at = models.FloatField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"],
                name="carriers_connection_unique_name_per_account",
                violation_error_message="The account already has a connection of this name.",
            ),
            # At most one default per account: the numbers that name none go there.
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(is_default=True),
                name="carriers_connection_one_default",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["simulator", "smpp", "twilio", "telnyx", "vonage"]),
                name="carriers_connection_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(messages_per_second__isnull=True) | Q(messages_per_second__gt=0),
                name="carriers_connection_rate_positive",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def webhook_urls(self) -> dict[str, str]:
        base = settings.PUBLIC_BASE_URL
        return {
            "inbound": base + reverse("connection-webhook-inbound", args=[self.pk]),
            "status": base + reverse("connection-webhook-status", args=[self.pk]),
        }

    @property
    def secrets_set(self) -> list[str]:
        return sorted(name for name, value in self.secrets.items() if value)
