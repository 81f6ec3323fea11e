from rest_framework import serializers

from pools_project.api import StrictInputMixin
from virtual_numbers.models import Number
from virtual_numbers.services import CAPABILITIES


class NumberSerializer(serializers.ModelSerializer):
    areaCode = serializers.CharField(source="area_code", allow_null=True)
    location = serializers.CharField(allow_null=True)
    capabilities = serializers.ListField(child=serializers.CharField())
    poolId = serializers.SerializerMethodField()
    healthy = serializers.BooleanField()
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(source="last_used_at")

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
            "createdAt",
            "lastUsedAt",
        ]
        read_only_fields = fields

    def get_poolId(self, number) -> str | None:
        pool_number = getattr(number, "pool_number", None)
        return str(pool_number.pool_id) if pool_number else None

    def to_representation(self, number):
        data = super().to_representation(number)
        for key in ("areaCode", "location"):
            data[key] = data[key] or None
        return data


def capabilities_field(**kwargs):
    return serializers.ListField(
        child=serializers.ChoiceField(choices=CAPABILITIES), min_length=1, **kwargs
    )


class NumberRegisterSerializer(StrictInputMixin, serializers.Serializer):
    number = serializers.CharField()
    type = serializers.ChoiceField(choices=Number.Type.choices, default=Number.Type.LONGCODE)
    capabilities = capabilities_field(default=["sms"])
    country = serializers.CharField(required=False, default="", max_length=2)


class NumberUpdateSerializer(StrictInputMixin, serializers.Serializer):
    type = serializers.ChoiceField(choices=Number.Type.choices, required=False)
    capabilities = capabilities_field(required=False)
    healthy = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="An operator's override of the computed health; null follows delivery reports.",
    )
