from rest_framework import serializers

from carriers.selectors import connection_list
from pools_project.api import JsonIntegerField, RateField, StrictBooleanField, StrictInputMixin
from pools_project.schema import SenderNumberField
from virtual_numbers.capacity import utc_today
from virtual_numbers.models import Number
from virtual_numbers.services import (
    CAPABILITIES,
    MAX_DAILY_NEW_RECIPIENTS,
    MAX_PARTS_PER_SECOND,
)

STATE_HELP = (
    "`cordoned`: it takes no new recipients, but keeps serving its sticky mappings until "
    "they expire (a number being retired, or one carriers have started to filter)."
)
DAILY_NEW_RECIPIENTS_HELP = (
    "The new recipients it may take per UTC day (in a pool without sticky, every message "
    "is one); null: no limit. Switchboard's default is 200."
)


class NumberSerializer(serializers.ModelSerializer):
    number = SenderNumberField(help_text="E.164, or a short code's digits.")
    areaCode = serializers.CharField(source="area_code", allow_null=True)
    location = serializers.CharField(allow_null=True)
    capabilities = serializers.ListField(child=serializers.CharField())
    poolId = serializers.SerializerMethodField()
    healthy = serializers.BooleanField()
    connectionId = serializers.UUIDField(
        source="connection_id",
        allow_null=True,
        help_text="Where its messages leave; null: the account's default connection.",
    )
    partsPerSecond = serializers.FloatField(
        source="rate", help_text="Its send rate: its own, or its type's default."
    )
    queueDepth = serializers.SerializerMethodField(help_text="Messages waiting for it.")
    state = serializers.ChoiceField(choices=Number.State.choices, help_text=STATE_HELP)
    dailyNewRecipients = serializers.IntegerField(
        source="daily_new_recipients", allow_null=True, help_text=DAILY_NEW_RECIPIENTS_HELP
    )
    newRecipientsToday = serializers.SerializerMethodField(
        help_text="The new recipients it took today (UTC), against `dailyNewRecipients`."
    )
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(
        source="last_used_at", allow_null=True, help_text="Null until it first sends."
    )

    class Meta:
        model = Number
        fields = [
            "id",
            "number",
            "country",
            "areaCode",
            "location",
            "type",
            "capabilities",
            "poolId",
            "healthy",
            "connectionId",
            "partsPerSecond",
            "queueDepth",
            "state",
            "dailyNewRecipients",
            "newRecipientsToday",
            "createdAt",
            "lastUsedAt",
        ]
        read_only_fields = fields

    def get_poolId(self, number) -> str | None:
        pool_number = getattr(number, "pool_number", None)
        return str(pool_number.pool_id) if pool_number else None

    def get_queueDepth(self, number) -> int:
        # The numbers API annotates its querysets; a number read elsewhere counts its own.
        if hasattr(number, "queue_depth"):
            return number.queue_depth
        return (
            Number.objects.with_queue_depth()
            .values_list("queue_depth", flat=True)
            .get(pk=number.pk)
        )

    def get_newRecipientsToday(self, number) -> int:
        return number.new_recipients_on_day(utc_today())

    def to_representation(self, number):
        data = super().to_representation(number)
        for key in ("areaCode", "location"):
            data[key] = data[key] or None
        return data


class AccountConnectionField(serializers.PrimaryKeyRelatedField):
    """The id of one of the connections of `context["account"]`, or null for its default."""

    default_error_messages = {"does_not_exist": "No connection {pk_value} in this account."}

    def __init__(self, **kwargs):
        super().__init__(
            source="connection",
            allow_null=True,
            required=False,
            pk_field=serializers.UUIDField(),
            help_text="One of the account's connections; null: the account's default.",
            **kwargs,
        )

    def get_queryset(self):
        return connection_list(account=self.context["account"])


def parts_per_second_field():
    return RateField(
        source="parts_per_second",
        required=False,
        allow_null=True,
        max_value=MAX_PARTS_PER_SECOND,
        help_text="Message parts per second (a number above 0); null: the type's default "
        "(1 for a long code, 3 toll-free, 100 for a short code).",
    )


def daily_new_recipients_field():
    return JsonIntegerField(
        source="daily_new_recipients",
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_DAILY_NEW_RECIPIENTS,
        help_text=DAILY_NEW_RECIPIENTS_HELP,
    )


def capabilities_field(**kwargs):
    return serializers.ListField(
        child=serializers.ChoiceField(choices=CAPABILITIES), min_length=1, **kwargs
    )


class NumberRegisterSerializer(StrictInputMixin, serializers.Serializer):
    number = SenderNumberField(help_text="E.164, or a short code's digits (`country` required).")
    type = serializers.ChoiceField(choices=Number.Type.choices, default=Number.Type.LONGCODE)
    capabilities = capabilities_field(default=["sms"])
    country = serializers.CharField(required=False, default="", max_length=2)
    connectionId = AccountConnectionField()
    partsPerSecond = parts_per_second_field()
    dailyNewRecipients = daily_new_recipients_field()
    state = serializers.ChoiceField(
        choices=Number.State.choices, default=Number.State.ACTIVE, help_text=STATE_HELP
    )


class NumberUpdateSerializer(StrictInputMixin, serializers.Serializer):
    type = serializers.ChoiceField(choices=Number.Type.choices, required=False)
    capabilities = capabilities_field(required=False)
    healthy = StrictBooleanField(
        required=False,
        allow_null=True,
        help_text="An operator's override of the computed health; null follows delivery reports.",
    )
    connectionId = AccountConnectionField()
    partsPerSecond = parts_per_second_field()
    dailyNewRecipients = daily_new_recipients_field()
    state = serializers.ChoiceField(
        choices=Number.State.choices, required=False, help_text=STATE_HELP
    )
