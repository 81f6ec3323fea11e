import uuid
from datetime import date

from django.db import models
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from accounts.models import Account
from virtual_numbers.choices import NumberState, NumberType


class NumberQuerySet(models.QuerySet):
    def for_account(self, account):
        return self.filter(account=account)

    def healthy(self):
        # An operator's override wins over the health computed from delivery reports.
        return self.filter(
            Q(health_override=True) | Q(health_override__isnull=True, computed_healthy=True)
        )

    def unhealthy(self):
        return self.exclude(pk__in=self.healthy().values("pk"))

    def assigned(self):
        return self.filter(pool_number__isnull=False)

    def unassigned(self):
        return self.filter(pool_number__isnull=True)

    def cordoned(self):
        return self.filter(state=NumberState.CORDONED)

    def at_daily_cap(self, day: date):
        """Those that took their daily cap of new recipients on `day` (UTC): the rule
        selection applies in SQL (`virtual_numbers.capacity`)."""
        return self.filter(
            daily_new_recipients__isnull=False,
            new_recipients_on=day,
            new_recipients_today__gte=F("daily_new_recipients"),
        )

    def with_queue_depth(self):
        """`queue_depth`: messages waiting for the number (Queued, not yet handed over)."""
        message = self.model._meta.get_field("messages").related_model
        waiting = (
            message.objects.filter(number=OuterRef("pk"), status="Queued")
            .order_by()
            .values("number")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return self.annotate(queue_depth=Coalesce(Subquery(waiting), 0))


class Number(models.Model):
    """A sender the account owns: an E.164 long code or toll-free number, or a short code."""

    Type = NumberType
    State = NumberState

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="numbers")
    number = models.CharField(
        max_length=16,
        help_text="E.164 with its + for long codes and toll-free numbers; digits for short codes.",
    )
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.LONGCODE)
    sms_capable = models.BooleanField("SMS", default=True)
    mms_capable = models.BooleanField("MMS", default=False)
    country = models.CharField(
        max_length=2,
        help_text="ISO 3166-1 alpha-2. Derived from the number for E.164; given for short codes.",
    )
    area_code = models.CharField(max_length=3, blank=True, help_text="NANP numbers: the NPA.")
    location = models.CharField(
        max_length=40, blank=True, help_text="NANP numbers: the area code's state or province."
    )
    computed_healthy = models.BooleanField(
        default=True, help_text="Health as computed from the number's recent delivery reports."
    )
    health_override = models.BooleanField(
        null=True,
        blank=True,
        help_text="An operator's override of the computed health; empty to follow the reports.",
    )
    connection = models.ForeignKey(
        "carriers.Connection",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="numbers",
        help_text="Where its messages leave: the connection it was bought at. Empty: the "
        "account's default connection (a simulator if it has none).",
    )
    parts_per_second = models.FloatField(
        null=True,
        blank=True,
        help_text="Its send rate in message parts per second. Empty: the type's default "
        "(1 for a long code, 3 toll-free, 100 for a short code).",
    )
    state = models.CharField(
        max_length=10,
        choices=State.choices,
        default=State.ACTIVE,
        help_text="Cordoned: it takes no new recipients, but keeps serving its sticky mappings "
        "until they expire (a number being retired, or one carriers have started to filter).",
    )
    daily_new_recipients = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The new recipients it may take per UTC day (in a pool without sticky, every "
        "message is one). Empty: no limit. Switchboard's default is 200.",
    )
    # The daily cap's counter: the new recipients it took on `new_recipients_on` (a UTC
    # day). The send that records a new assignment counts it, and starts again on a new day.
    new_recipients_today = models.PositiveIntegerField(default=0, editable=False)
    new_recipients_on = models.DateField(null=True, editable=False)
    # Pacing: when (epoch seconds) its next part may leave; a send reserves its slot here.
    next_slot_at = models.FloatField(default=0, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    messages_sent = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = NumberQuerySet.as_manager()

    class Meta:
        ordering = ["number"]
        indexes = [
            # Selection's location tiers (pools.services.selection.SqlPoolNumbers): the
            # pool's numbers in an area code (or its overlay), in a region, in a country.
            models.Index(fields=["area_code"], name="numbers_number_area_code"),
            models.Index(fields=["country", "location"], name="numbers_number_region"),
        ]
        constraints = [
            # Global, not per account: an inbound message must map to one owner. A
            # short code's digits are only unique within its country.
            models.UniqueConstraint(
                fields=["number", "country"],
                name="numbers_number_unique",
                violation_error_message="This number is already registered.",
            ),
            models.CheckConstraint(
                condition=Q(type__in=NumberType.values),
                name="numbers_number_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(type="shortcode") ^ Q(number__startswith="+"),
                name="numbers_number_e164_unless_shortcode",
                violation_error_message="Short codes are digits; other numbers are E.164.",
            ),
            models.CheckConstraint(
                condition=Q(sms_capable=True) | Q(mms_capable=True),
                name="numbers_number_has_capability",
                violation_error_message="A number must carry SMS, MMS or both.",
            ),
            models.CheckConstraint(
                condition=Q(parts_per_second__isnull=True) | Q(parts_per_second__gt=0),
                name="numbers_number_rate_positive",
            ),
            models.CheckConstraint(
                condition=Q(state__in=NumberState.values),
                name="numbers_number_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(daily_new_recipients__isnull=True) | Q(daily_new_recipients__gt=0),
                name="numbers_number_daily_cap_positive",
                violation_error_message="A daily cap of new recipients is at least 1.",
            ),
        ]

    def __str__(self):
        return (
            self.number if self.type != self.Type.SHORTCODE else f"{self.number} ({self.country})"
        )

    @property
    def healthy(self) -> bool:
        if self.health_override is not None:
            return self.health_override
        return self.computed_healthy

    @property
    def rate(self) -> float:
        """Parts per second: its own, or its type's default (the rates Twilio publishes)."""
        return self.parts_per_second or DEFAULT_PARTS_PER_SECOND[self.type]

    def new_recipients_on_day(self, day: date) -> int:
        """The new recipients it took on `day` (UTC)."""
        return self.new_recipients_today if self.new_recipients_on == day else 0

    @property
    def capabilities(self) -> list[str]:
        return [name for name, on in (("sms", self.sms_capable), ("mms", self.mms_capable)) if on]


DEFAULT_PARTS_PER_SECOND = {
    Number.Type.LONGCODE: 1.0,
    Number.Type.TOLLFREE: 3.0,
    Number.Type.SHORTCODE: 100.0,
}
