import base64
import hashlib
import secrets
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models

API_KEY_PREFIX = "np_"


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def hash_api_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast digest is enough: there is
    # nothing to brute-force, and the lookup stays one indexed equality.
    return hashlib.sha256(raw_key.encode()).hexdigest()


class Account(models.Model):
    """A tenant: everything else belongs to exactly one account."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    webhook_secret = models.CharField(
        max_length=100,
        default=new_webhook_secret,
        help_text="Signs the notifications sent to this account's URLs (Standard Webhooks).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    # An authenticated API request's `request.user` is the account (see
    # accounts.authentication); DRF's permission checks ask for this flag.
    is_authenticated = True


class User(AbstractUser):
    """An admin user. Staff tied to an account see and change only its objects."""

    account = models.ForeignKey(
        Account,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="users",
        help_text="Staff tied to an account see only that account in the admin. "
        "Leave empty for superusers.",
    )


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A bearer key for the REST API. Only its hash is stored: the key is shown once."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(
        max_length=12, help_text="The key's first characters, to tell keys apart."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
