"""The shapes the pools' views answer, for the OpenAPI schema only: the serializers
that build these by hand (a decision, a mapping, a pool's number) declare no fields."""

from rest_framework import serializers

from pools_project.schema import E164Field, SenderNumberField
from virtual_numbers.serializers import NumberSerializer


class DecisionResourceSerializer(serializers.Serializer):
    """The sender a message would get now, and why (nothing is written)."""

    senderType = serializers.ChoiceField(choices=["number", "alphanumeric"])
    rule = serializers.CharField(help_text="The selection rule that decided.")
    explanation = serializers.CharField(help_text="Why, one step a line.")
    optedOut = serializers.BooleanField(help_text="The recipient opted out: nothing is sent.")
    sendAt = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Marketing only: when it would go, after quiet hours; null when it could "
        "not go before its ttl ran out.",
    )

    def get_fields(self):
        # `from` is a Python keyword, so it cannot be a class attribute.
        sender = serializers.CharField(
            allow_null=True,
            help_text="The sender without its `+`, or the alphanumeric sender ID.",
        )
        return {"from": sender, **super().get_fields()}


class MappingResourceSerializer(serializers.Serializer):
    """A sticky mapping: the pool's number a recipient keeps getting messages from."""

    recipient = E164Field()
    number = SenderNumberField()
    createdAt = serializers.DateTimeField()
    lastUsedAt = serializers.DateTimeField()
    expiresAt = serializers.DateTimeField(
        allow_null=True, help_text="Null when the pool's mappings never expire (TTL 0)."
    )


class PoolNumberResourceSerializer(NumberSerializer):
    """A pool's number: the number resource, with its live sticky mapping count."""

    mappingCount = serializers.IntegerField(help_text="Its sticky mappings not yet expired.")
    assignedAt = serializers.DateTimeField()

    class Meta(NumberSerializer.Meta):
        fields = [*NumberSerializer.Meta.fields, "mappingCount", "assignedAt"]
        read_only_fields = fields


class PoolNumbersChangeSerializer(serializers.Serializer):
    """The numbers an assignment or a removal changed."""

    poolId = serializers.UUIDField()
    numbers = NumberSerializer(many=True)
