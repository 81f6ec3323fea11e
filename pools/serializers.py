from datetime import timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pools import validators
from pools.models import QUIET_HOURS_WINDOW, Pool
from pools_project.api import StrictBooleanField, StrictInputMixin, django_validator
from pools_project.schema import SenderNumberField

MAX_NUMBERS_PER_CALL = 50


class OptionalStringField(serializers.CharField):
    """A setting stored as "" when unset, shown and accepted as null."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, allow_blank=True, required=False, **kwargs)

    def to_representation(self, value):
        return value or None

    def validate_empty_values(self, data):
        if data is None or data == "":
            return True, ""
        return super().validate_empty_values(data)


class CallbackSerializer(StrictInputMixin, serializers.Serializer):
    url = serializers.CharField(validators=[django_validator(validators.validate_http_url)])
    strategy = serializers.ChoiceField(
        choices=Pool.CallbackStrategy.values, default=Pool.CallbackStrategy.ON_CHANGE
    )


@extend_schema_field(CallbackSerializer(allow_null=True))
class CallbackField(serializers.Field):
    """`{url, strategy}` or null, stored as two columns of the pool."""

    def __init__(self, **kwargs):
        super().__init__(source="*", required=False, allow_null=True, **kwargs)

    def to_representation(self, pool):
        if not pool.callback_url:
            return None
        return {"url": pool.callback_url, "strategy": pool.callback_strategy}

    def validate_empty_values(self, data):
        if data is None:
            return True, {"callback_url": "", "callback_strategy": Pool.CallbackStrategy.ON_CHANGE}
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        callback = CallbackSerializer(data=data)
        callback.is_valid(raise_exception=True)
        return {
            "callback_url": callback.validated_data["url"],
            "callback_strategy": callback.validated_data["strategy"],
        }


class QuietHoursSerializer(StrictInputMixin, serializers.Serializer):
    start = serializers.TimeField(format="%H:%M", input_formats=["%H:%M"])
    end = serializers.TimeField(format="%H:%M", input_formats=["%H:%M"])

    def validate(self, attrs: dict) -> dict:
        if attrs["start"] == attrs["end"]:
            raise serializers.ValidationError({"end": [QUIET_HOURS_WINDOW]})
        return attrs


@extend_schema_field(QuietHoursSerializer(allow_null=True))
class QuietHoursField(serializers.Field):
    """`{start, end}` ("HH:MM", the recipient's local time; may wrap midnight) or null:
    when the pool sends no marketing. Stored as two columns of the pool."""

    def __init__(self, **kwargs):
        super().__init__(source="*", required=False, allow_null=True, **kwargs)

    def to_representation(self, pool):
        if pool.quiet_hours_start is None:
            return None
        return QuietHoursSerializer(
            {"start": pool.quiet_hours_start, "end": pool.quiet_hours_end}
        ).data

    def validate_empty_values(self, data):
        if data is None:
            return True, {"quiet_hours_start": None, "quiet_hours_end": None}
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        window = QuietHoursSerializer(data=data)
        window.is_valid(raise_exception=True)
        return {
            "quiet_hours_start": window.validated_data["start"],
            "quiet_hours_end": window.validated_data["end"],
        }


def json_setting(validate, **kwargs):
    return serializers.JSONField(required=False, validators=[django_validator(validate)], **kwargs)


class PoolSettingsSerializer(StrictInputMixin, serializers.Serializer):
    """`smsSettings`: the pool's settings under the names of the API (SPEC §1)."""

    sticky = StrictBooleanField(required=False)
    stickyTtlDays = serializers.IntegerField(
        source="sticky_ttl_days",
        required=False,
        min_value=0,
        max_value=validators.MAX_STICKY_TTL_DAYS,
        error_messages={"max_value": validators.STICKY_TTL_TOO_LONG},
    )
    geomatch = StrictBooleanField(required=False)
    defaultCountry = OptionalStringField(
        source="default_country", validators=[django_validator(validators.validate_country)]
    )
    priorityCountries = json_setting(validators.validate_country_list, source="priority_countries")
    allowedCountries = json_setting(validators.validate_country_list, source="allowed_countries")
    alphanumericSenderId = OptionalStringField(
        source="alphanumeric_sender_id",
        trim_whitespace=False,
        validators=[django_validator(validators.validate_alphanumeric_sender)],
    )
    alphanumericSenderIds = json_setting(
        validators.validate_alphanumeric_sender_map, source="alphanumeric_sender_ids"
    )
    fallback = serializers.ChoiceField(choices=Pool.Fallback.values, required=False)
    weights = json_setting(validators.validate_weights)
    skipUnhealthy = StrictBooleanField(source="skip_unhealthy", required=False)
    optOutScope = serializers.ChoiceField(
        source="opt_out_scope", choices=Pool.OptOutScope.values, required=False
    )
    transcode = StrictBooleanField(required=False)
    inboundSMSCallbackUrl = OptionalStringField(
        source="inbound_sms_callback_url",
        validators=[django_validator(validators.validate_http_url)],
    )
    callback = CallbackField()
    helpReply = serializers.CharField(source="help_reply", required=False, max_length=1600)
    optOutReply = serializers.CharField(source="opt_out_reply", required=False, max_length=1600)
    optInReply = serializers.CharField(source="opt_in_reply", required=False, max_length=1600)
    overrides = json_setting(validators.validate_overrides)
    maxQueueSeconds = serializers.IntegerField(
        source="max_queue_seconds", required=False, allow_null=True, min_value=0, max_value=86400
    )
    quietHours = QuietHoursField()

    def validate(self, attrs: dict) -> dict:
        """Settings that cannot work together. On a PATCH, PoolUpdateSerializer passes the
        merged settings, so this sees the state the pool would be left in."""
        checks = {
            "fallback": lambda: validators.validate_fallback_sender(
                fallback=attrs.get("fallback", Pool.Fallback.POOL),
                sender_id=attrs.get("alphanumeric_sender_id", ""),
                sender_ids=attrs.get("alphanumeric_sender_ids", {}),
            ),
            "overrides": lambda: validators.validate_override_weights(
                weights=attrs.get("weights", {}), overrides=attrs.get("overrides", [])
            ),
        }
        errors = {}
        for field, check in checks.items():
            try:
                check()
            except DjangoValidationError as exc:
                errors[field] = exc.messages
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class PoolSerializer(serializers.ModelSerializer):
    poolId = serializers.UUIDField(source="id")
    createdAt = serializers.DateTimeField(source="created_at")
    numberCount = serializers.IntegerField(source="number_count")
    smsSettings = PoolSettingsSerializer(source="*")

    class Meta:
        model = Pool
        fields = ["poolId", "name", "createdAt", "numberCount", "smsSettings"]
        read_only_fields = fields


def validated_settings(data: dict) -> dict:
    """`smsSettings` as the pool's fields, validated together."""
    serializer = PoolSettingsSerializer(data=data)
    if not serializer.is_valid():
        raise serializers.ValidationError(serializer.errors)
    return serializer.validated_data


def merge_patch(target, patch):
    """JSON Merge Patch (RFC 7386): objects merge key by key, null removes a key."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class PoolCreateSerializer(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    smsSettings = serializers.DictField(required=False, default=dict, source="settings")

    def validate_smsSettings(self, settings: dict) -> dict:
        return validated_settings(settings)


class PoolUpdateSerializer(StrictInputMixin, serializers.Serializer):
    """A PATCH of the pool in the context ("pool"): `smsSettings` is merged into its
    settings and validated as the pool would be left, since settings depend on each other."""

    name = serializers.CharField(max_length=100, required=False)
    smsSettings = serializers.DictField(required=False, source="settings")

    def validate_smsSettings(self, patch: dict) -> dict:
        current = PoolSettingsSerializer(self.context["pool"]).data
        return validated_settings(merge_patch(current, patch))


class PoolNumbersSerializer(StrictInputMixin, serializers.Serializer):
    # An empty list is a malformed call (VALIDATION_ERROR); more than 50 is the documented
    # TOO_MANY_NUMBERS, which the view answers.
    numbers = serializers.ListField(
        child=SenderNumberField(),
        allow_empty=False,
        error_messages={"empty": "Give at least one number."},
    )


class DecisionSerializer(serializers.Serializer):
    """A selection decision, as preview shows it."""

    def to_representation(self, decision):
        return {
            "from": decision.sender.removeprefix("+") or None,
            "senderType": decision.sender_type,
            "rule": decision.rule,
            "explanation": "\n".join(decision.explanation),
            "optedOut": decision.opted_out,
        }


class MappingSerializer(serializers.Serializer):
    def to_representation(self, mapping):
        ttl = mapping.pool.sticky_ttl_days
        timestamp = serializers.DateTimeField().to_representation
        return {
            "recipient": mapping.recipient,
            "number": mapping.pool_number.number.number,
            "createdAt": timestamp(mapping.created_at),
            "lastUsedAt": timestamp(mapping.last_used_at),
            "expiresAt": timestamp(mapping.last_used_at + timedelta(days=ttl)) if ttl else None,
        }
