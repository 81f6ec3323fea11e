from rest_framework import serializers

from messaging.models import Message
from pools.serializers import PoolSettingsSerializer
from pools.validators import validate_http_url
from pools_project.api import django_validator

MAX_MEDIA_URLS = 10


class PreviewSerializer(serializers.Serializer):
    """Who a message to `to` would come from: the part of a send that selection reads."""

    to = serializers.CharField()
    poolStrategy = serializers.ChoiceField(
        choices=Message.Strategy.values, default=Message.Strategy.NUMERIC
    )
    mediaUrls = serializers.ListField(
        child=serializers.CharField(validators=[django_validator(validate_http_url)]),
        required=False,
        default=list,
        max_length=MAX_MEDIA_URLS,
    )


class SendSerializer(PreviewSerializer):
    body = serializers.CharField(trim_whitespace=False)


def sender_for_api(sender: str) -> str:
    """`from` is written without the `+` (Routee)."""
    return sender.removeprefix("+")


class MessageSerializer(serializers.Serializer):
    """A message as the send endpoint answers it (SPEC §6)."""

    def to_representation(self, message: Message) -> dict:
        pool = message.pool
        return {
            "trackingId": str(message.id),
            "status": message.status,
            "detailedStatus": message.detailed_status or None,
            "createdAt": serializers.DateTimeField().to_representation(message.created_at),
            "poolId": str(pool.id) if pool else None,
            "poolName": pool.name if pool else None,
            "poolStrategy": message.strategy,
            "smsSettings": PoolSettingsSerializer(pool).data if pool else None,
            "to": message.to,
            "from": sender_for_api(message.sender) or None,
            "body": message.body,
            "mediaUrls": message.media_urls,
            "selection": {"rule": message.rule, "explanation": message.explanation},
        }
