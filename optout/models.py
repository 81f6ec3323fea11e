from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Account
from carriers.models import Connection
from messaging.models import Message
from pools.models import Pool
from virtual_numbers.models import Number


class Keyword(models.Model):
    """A word that, as a whole inbound message, opts the sender out, in, or asks for help."""

    class Action(models.TextChoices):
        OPTOUT = "optout", "Opt-out"
        OPTIN = "optin", "Opt-in"
        HELP = "help", "Help"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="keywords")
    word = models.CharField(
        max_length=40,
        help_text="Matched as the whole message, ignoring case and trailing punctuation.",
    )
    action = models.CharField(max_length=6, choices=Action.choices)
    account_wide = models.BooleanField(
        default=False,
        help_text="Opt-out only: stop every number of the account (STOPALL), not just the one written to.",
    )
    country = models.CharField(
        max_length=2,
        blank=True,
        help_text="Only for senders in this country (e.g. ARRET for Canada); empty: everyone.",
    )

    class Meta:
        ordering = ["action", "word"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "word", "country"], name="optout_keyword_unique_per_account"
            ),
            models.CheckConstraint(
                condition=Q(action__in=["optout", "optin", "help"]),
                name="optout_keyword_action_valid",
            ),
            models.CheckConstraint(
                condition=Q(action="optout") | Q(account_wide=False),
                name="optout_keyword_account_wide_is_optout",
            ),
        ]

    def __str__(self):
        return f"{self.word} ({self.get_action_display()})"

    def clean(self):
        self.word = " ".join(self.word.split()).upper()
        self.country = self.country.upper()


class OptOut(models.Model):
    """A recipient asked a number (or, with `number` empty, every number) to stop.

    By E.164 strings, not foreign keys: the opt-out outlives the number's deletion and
    holds again if the number is registered anew.
    """

    class Source(models.TextChoices):
        KEYWORD = "keyword", "Keyword"
        ADMIN = "admin", "Admin"
        CARRIER = "carrier", "Carrier"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="optouts")
    recipient = models.CharField(max_length=16)
    number = models.CharField(
        max_length=16, blank=True, help_text="The sender it applies to; empty: every number."
    )
    source = models.CharField(max_length=7, choices=Source.choices, default=Source.KEYWORD)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "opt-out"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "recipient", "number"], name="optout_optout_unique"
            ),
        ]

    def __str__(self):
        return f"{self.recipient} ✕ {self.number or 'all numbers'}"


class OptOutEvent(models.Model):
    """The audit trail: who or what added or removed an opt-out, and when."""

    class Change(models.TextChoices):
        ADDED = "added"
        REMOVED = "removed"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    recipient = models.CharField(max_length=16)
    number = models.CharField(max_length=16, blank=True)
    change = models.CharField(max_length=7, choices=Change.choices)
    source = models.CharField(max_length=7, choices=OptOut.Source.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    keyword = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "opt-out change"
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.recipient} {self.change} {self.number or 'all numbers'}"


class InboundMessage(models.Model):
    """A message a person wrote to one of the account's numbers."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="inbound_messages")
    carrier_message_id = models.CharField(
        max_length=100,
        unique=True,
        help_text="A carrier's retry of the same message is processed once.",
    )
    sender = models.CharField("from", max_length=16)
    to = models.CharField(max_length=16)
    number = models.ForeignKey(Number, on_delete=models.SET_NULL, null=True, related_name="+")
    pool = models.ForeignKey(Pool, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField(blank=True)
    received_at = models.DateTimeField()
    action = models.CharField(max_length=6, blank=True, choices=Keyword.Action.choices)
    auto_reply = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.sender} → {self.to}: {self.body[:30]}"


class UnroutedInbound(models.Model):
    """A message written to a number the service does not know (or, through a
    connection, to one its account does not own). The carrier is told all is well, so it
    does not retry; the message is kept here, so a number mistyped in a provider's
    console is found."""

    account = models.ForeignKey(
        Account,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The account of the connection it came through; empty when it came to "
        "the carriers' generic webhook, which belongs to no account.",
    )
    connection = models.ForeignKey(
        Connection,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The connection that brought it (its webhook, or its SMPP bind); empty: "
        "the generic webhook.",
    )
    carrier_message_id = models.CharField(
        max_length=100,
        unique=True,
        help_text="A carrier's retry of the same message is recorded once.",
    )
    sender = models.CharField("from", max_length=16)
    to = models.CharField(max_length=32, help_text="As the carrier wrote it.")
    body = models.TextField(blank=True)
    received_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "unrouted inbound message"
        verbose_name_plural = "unrouted inbound"
        ordering = ["-received_at"]
        indexes = [
            # The dashboard's "Unrouted inbound today" and the list's date filter.
            models.Index(fields=["received_at"], name="optout_unrouted_received"),
        ]

    def __str__(self):
        return f"{self.sender} → {self.to}: {self.body[:30]}"
