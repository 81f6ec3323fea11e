from rest_framework import serializers

from carriers.kinds import KINDS
from carriers.models import Connection
from carriers.services import MAX_MESSAGES_PER_SECOND, MAX_WINDOW
from pools_project.api import JsonIntegerField, RateField, StrictBooleanField, StrictInputMixin


def kinds_described(required_by_kind: dict[str, dict[str, bool]]) -> str:
    """What each kind takes, for the schema: "smpp: host*, port*, …" (* required)."""

    def listed(names: dict[str, bool]) -> str:
        return ", ".join(name + "*" * required for name, required in names.items()) or "-"

    kinds = "; ".join(f"{kind}: {listed(names)}" for kind, names in required_by_kind.items())
    return f"By kind (* required): {kinds}."


SETTINGS_BY_KIND = kinds_described(
    {kind: {name: s.required for name, s in spec.settings.items()} for kind, spec in KINDS.items()}
)
SECRETS_BY_KIND = kinds_described({kind: spec.secrets for kind, spec in KINDS.items()})


class LimitsSerializer(StrictInputMixin, serializers.Serializer):
    messagesPerSecond = RateField(
        source="messages_per_second",
        required=False,
        allow_null=True,
        max_value=MAX_MESSAGES_PER_SECOND,
        help_text="Message parts per second for all its numbers together; null: no cap.",
    )
    window = JsonIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_WINDOW,
        help_text="SMPP: submits in flight without an answer.",
    )


class StateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(source="state_status", choices=Connection.Status.choices)
    detail = serializers.CharField(source="state_detail", allow_null=True)
    checkedAt = serializers.DateTimeField(source="state_checked_at", allow_null=True)

    def to_representation(self, connection):
        data = super().to_representation(connection)
        data["detail"] = data["detail"] or None  # never checked
        return data


class WebhookUrlsSerializer(serializers.Serializer):
    inbound = serializers.URLField()
    status = serializers.URLField()


class ConnectionSerializer(serializers.ModelSerializer):
    connectionId = serializers.UUIDField(source="id")
    settings = serializers.SerializerMethodField(help_text=SETTINGS_BY_KIND)
    secretsSet = serializers.ListField(
        source="secrets_set",
        child=serializers.CharField(),
        help_text="The names of the secrets that are set; their values are never shown.",
    )
    limits = LimitsSerializer(source="*")
    state = StateSerializer(source="*", help_text="What the last attempt or check found.")
    webhookUrls = WebhookUrlsSerializer(
        source="webhook_urls", help_text="To paste into the provider's console."
    )
    isDefault = serializers.BooleanField(source="is_default")
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Connection
        fields = [
            "connectionId",
            "name",
            "kind",
            "settings",
            "secretsSet",
            "limits",
            "state",
            "webhookUrls",
            "isDefault",
            "createdAt",
        ]
        read_only_fields = fields

    def get_settings(self, connection) -> dict:
        return {**KINDS[connection.kind].defaults(), **connection.settings}


def settings_field(how: str, **kwargs):
    return serializers.DictField(help_text=f"{how} {SETTINGS_BY_KIND}", **kwargs)


def secrets_field(how: str, **kwargs):
    help_text = f"Write-only: never returned. {how} {SECRETS_BY_KIND}"
    return serializers.DictField(help_text=help_text, **kwargs)


class ConnectionCreateSerializer(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=Connection.Kind.choices)
    settings = settings_field("A setting left out takes its default.", default=dict)
    secrets = secrets_field("Each secret the kind requires must be given.", default=dict)
    limits = LimitsSerializer(source="*", required=False)
    isDefault = StrictBooleanField(
        source="is_default",
        default=False,
        help_text="The numbers that name no connection send through it (and no longer "
        "through the previous default).",
    )


class ConnectionUpdateSerializer(StrictInputMixin, serializers.Serializer):
    """A merge: only what is sent changes."""

    name = serializers.CharField(max_length=100, required=False)
    kind = serializers.ChoiceField(
        choices=Connection.Kind.choices, required=False, help_text="Cannot change."
    )
    settings = settings_field(
        "Merged key by key: null puts a setting back to its default.", required=False
    )
    secrets = secrets_field("The keys sent are set; null removes one.", required=False)
    limits = LimitsSerializer(source="*", required=False)
    isDefault = StrictBooleanField(source="is_default", required=False)


class CheckResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Connection.Status.choices)
    detail = serializers.CharField()
