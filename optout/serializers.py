from rest_framework import serializers

from optout.models import OptOut
from pools_project.schema import E164Field, SenderNumberField


class OptOutSerializer(serializers.ModelSerializer):
    number = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = OptOut
        fields = ["recipient", "number", "createdAt", "source"]

    def get_number(self, optout) -> str | None:
        return optout.number or None  # null: every number of the account (STOPALL)


class InboundSerializer(serializers.Serializer):
    """A carrier's inbound message. Carriers may send more fields: they are ignored."""

    messageId = serializers.CharField(max_length=100)
    to = SenderNumberField(max_length=16, help_text="The account's number written to.")
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)
    receivedAt = serializers.DateTimeField(required=False)

    def get_fields(self):
        # `from` is a Python keyword, so it cannot be a class attribute.
        return {**super().get_fields(), "from": E164Field(max_length=32)}
