import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from accounts.models import Account
from pools import validators
from pools.choices import Fallback, OptOutScope
from pools.decision import DEFAULTS
from virtual_numbers.models import Number

DEFAULT_WEIGHTS = DEFAULTS.weights
DEFAULT_HELP_REPLY = "Reply STOP to unsubscribe. Msg&data rates may apply."
DEFAULT_OPT_OUT_REPLY = "You have been unsubscribed and will receive no more messages from us. Reply START to resubscribe."
QUIET_HOURS_WINDOW = "Quiet hours need a start and a different end, or neither."
DEFAULT_OPT_IN_REPLY = "You have been resubscribed. Reply STOP to unsubscribe, HELP for help."


def default_weights():
    return dict(DEFAULT_WEIGHTS)


class Pool(models.Model):
    """A named group of the account's numbers and the rules that pick one per message.

    Fields follow the pool settings flow (SPEC §1): stickiness, location, fallback,
    type weights and health, then opt-out, replies and notifications.
    """

    Fallback = Fallback
    OptOutScope = OptOutScope

    class CallbackStrategy(models.TextChoices):
        ON_CHANGE = "OnChange", "OnChange: every status change"
        ON_COMPLETION = "OnCompletion", "OnCompletion: the final status only"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="pools")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    sticky = models.BooleanField(
        default=DEFAULTS.sticky,
        help_text="Reuse the recipient's previous sender. Turning it off deletes the pool's "
        "mappings at once; turning it on again starts empty.",
    )
    sticky_ttl_days = models.PositiveIntegerField(
        "sticky TTL (days)",
        default=DEFAULTS.sticky_ttl_days,
        help_text="A mapping unused this many days expires; every use resets the timer. 0 = never.",
    )
    geomatch = models.BooleanField(
        default=DEFAULTS.geomatch,
        help_text="Prefer senders located where the recipient is: same area code, overlay, "
        "state or province (North America), then same country.",
    )
    default_country = models.CharField(
        max_length=2,
        blank=True,
        validators=[validators.validate_country],
        help_text="ISO 3166-1 alpha-2. Its numbers are used when nothing in the recipient's "
        "country fits.",
    )
    priority_countries = models.JSONField(
        default=list,
        blank=True,
        validators=[validators.validate_country_list],
        help_text='Ordered ISO codes preferred over other countries, e.g. ["US", "GB"].',
    )
    allowed_countries = models.JSONField(
        default=list,
        blank=True,
        validators=[validators.validate_country_list],
        help_text="Destinations the pool may send to; others are refused. Empty: all.",
    )
    fallback = models.CharField(
        max_length=10,
        choices=Fallback.choices,
        default=DEFAULTS.fallback,
        help_text="When no number fits the location rules.",
    )
    weights = models.JSONField(
        default=default_weights,
        validators=[validators.validate_weights],
        help_text="Share of new assignments per number type, e.g. "
        '{"longcode": 5, "tollfree": 1, "shortcode": 1}. 0 = use that type only when no '
        "other type fits.",
    )
    skip_unhealthy = models.BooleanField(
        default=DEFAULTS.skip_unhealthy,
        help_text="Leave unhealthy numbers out of new assignments (never overrides a mapping).",
    )
    overrides = models.JSONField(
        default=list,
        blank=True,
        validators=[validators.validate_overrides],
        help_text="Per-destination-country and/or per-channel changes to sticky, geomatch, "
        'skipUnhealthy and weights, e.g. [{"country": "CA", "geomatch": false}, '
        '{"channel": "mms", "sticky": true}]. The most specific match wins, key by key.',
    )
    alphanumeric_sender_id = models.CharField(
        "alphanumeric sender ID",
        max_length=11,
        blank=True,
        validators=[validators.validate_alphanumeric_sender],
        help_text="1 to 11 letters, digits or spaces. Used with the Alphanumeric strategy and "
        "as the CustomFrom fallback.",
    )
    alphanumeric_sender_ids = models.JSONField(
        "per-country alphanumeric sender IDs",
        default=dict,
        blank=True,
        validators=[validators.validate_alphanumeric_sender_map],
        help_text='Country → sender ID, used before the pool\'s own, e.g. {"FR": "ACME FR"}.',
    )
    opt_out_scope = models.CharField(
        max_length=6,
        choices=OptOutScope.choices,
        default=DEFAULTS.opt_out_scope,
        help_text="What a recipient's STOP blocks.",
    )
    help_reply = models.TextField(default=DEFAULT_HELP_REPLY)
    opt_out_reply = models.TextField(
        default=DEFAULT_OPT_OUT_REPLY,
        help_text="Sent once on STOP: name the brand and say how to resubscribe.",
    )
    opt_in_reply = models.TextField(default=DEFAULT_OPT_IN_REPLY)
    transcode = models.BooleanField(
        default=False,
        help_text="Replace Unicode characters that have a GSM-7 look-alike so the message "
        "stays GSM-7.",
    )
    inbound_sms_callback_url = models.URLField(
        "inbound SMS callback URL",
        blank=True,
        validators=[validators.validate_http_url],
        help_text="Where inbound messages to the pool's numbers are forwarded.",
    )
    callback_url = models.URLField(
        "status callback URL",
        blank=True,
        validators=[validators.validate_http_url],
        help_text="Where status notifications for the pool's messages are posted.",
    )
    callback_strategy = models.CharField(
        max_length=12,
        choices=CallbackStrategy.choices,
        default=CallbackStrategy.ON_CHANGE,
    )
    max_queue_seconds = models.PositiveIntegerField(
        "max queue (seconds)",
        null=True,
        blank=True,
        help_text="A new recipient is not given a number whose backlog would make the message "
        "wait longer than this, while another number of the same location tier can take it "
        "sooner. Empty: off.",
    )

    quiet_hours_start = models.TimeField(
        "quiet hours from",
        null=True,
        blank=True,
        help_text="The pool sends no marketing from this time of the recipient's day…",
    )
    quiet_hours_end = models.TimeField(
        "quiet hours until",
        null=True,
        blank=True,
        help_text="…until this one (e.g. 21:00 until 09:00, across midnight). Both empty: "
        "only the law's hours hold marketing (SPEC §13).",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"],
                name="pools_pool_unique_name_per_account",
                violation_error_message="The account already has a pool of this name.",
            ),
            models.CheckConstraint(
                condition=Q(fallback__in=Fallback.values),
                name="pools_pool_fallback_valid",
            ),
            models.CheckConstraint(
                condition=Q(opt_out_scope__in=OptOutScope.values),
                name="pools_pool_opt_out_scope_valid",
            ),
            models.CheckConstraint(
                condition=Q(callback_strategy__in=["OnChange", "OnCompletion"]),
                name="pools_pool_callback_strategy_valid",
            ),
            models.CheckConstraint(
                condition=Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | (
                    Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False)
                    & ~Q(quiet_hours_start=models.F("quiet_hours_end"))
                ),
                name="pools_pool_quiet_hours_window",
                violation_error_message=QUIET_HOURS_WINDOW,
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        # A validator on the field would be a migration; clean() covers the admin too,
        # where a TTL of a million days was saved and then broke every page showing
        # expiry dates (OverflowError).
        try:
            validators.validate_sticky_ttl_days(self.sticky_ttl_days)
        except ValidationError as exc:
            raise ValidationError({"sticky_ttl_days": exc.messages}) from exc
        start, end = self.quiet_hours_start, self.quiet_hours_end
        if (start is None) != (end is None) or (start is not None and start == end):
            raise ValidationError({"quiet_hours_end": [QUIET_HOURS_WINDOW]})


class PoolNumber(models.Model):
    """The assignment of a number to a pool. A number has at most one."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="pool_numbers")
    # One-to-one is the invariant itself: the database's unique index on the number
    # means two concurrent assignments of one number cannot both commit, whatever
    # path (API, admin, command) they take.
    number = models.OneToOneField(
        Number,
        on_delete=models.CASCADE,
        related_name="pool_number",
        error_messages={"unique": "This number is already in a pool."},
    )
    assigned_at = models.DateTimeField(auto_now_add=True)
    # Counters that distribution reads, so no selection scans the mappings table:
    # kept by the selection service in the same transaction as the mapping it writes.
    mapping_count = models.PositiveIntegerField(
        default=0,
        help_text="Sticky mappings to this number in the pool, expired ones until purged.",
    )
    assignment_count = models.PositiveBigIntegerField(
        default=0,
        help_text="New assignments (new mappings, or sends with sticky off) it has taken.",
    )

    class Meta:
        verbose_name = "pool number"

    def __str__(self):
        return f"{self.number} in {self.pool}"


class StickyMapping(models.Model):
    """(pool, recipient) → the number that recipient hears from."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="mappings")
    # Through the assignment: unassigning a number deletes the mappings to it.
    pool_number = models.ForeignKey(PoolNumber, on_delete=models.CASCADE, related_name="mappings")
    recipient = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pool", "recipient"], name="pools_stickymapping_one_per_recipient"
            ),
        ]
        indexes = [
            # purge_sticky_mappings: the mappings unused since a cutoff, oldest first.
            models.Index(fields=["last_used_at"], name="pools_mapping_last_used"),
        ]

    def __str__(self):
        return f"{self.recipient} → {self.pool_number.number}"
