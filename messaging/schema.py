"""The shapes messaging's views answer, for the OpenAPI schema only.

`MessageSerializer` and `ClickSerializer` build their JSON by hand (one dict, in the
contract's order); these declare the same fields so the schema — and a client generated
from it — knows every field, its type and whether it can be null. The fuzz test
(tests/test_api_fuzz.py) checks real answers against them.
"""

from rest_framework import serializers

from messaging.models import Message
from optout.models import Keyword
from pools.models import Pool
from pools.serializers import PoolSettingsSerializer
from pools_project.schema import E164Field


class SegmentAnalysisSerializer(serializers.Serializer):
    message = serializers.CharField()
    parts = serializers.IntegerField()


class BodyAnalysisSerializer(serializers.Serializer):
    characters = serializers.IntegerField()
    parts = serializers.IntegerField(help_text="SMS parts the body takes.")
    unicode = serializers.BooleanField(help_text="The body needs UCS-2.")
    unsupportedGSMCharacters = serializers.ListField(child=serializers.CharField())
    transcode = SegmentAnalysisSerializer(
        required=False, help_text="Only when transcoding to GSM-7 was asked for and possible."
    )


class MessageCallbackSerializer(serializers.Serializer):
    url = serializers.URLField()
    strategy = serializers.ChoiceField(choices=Pool.CallbackStrategy.choices)


class ShortUrlSerializer(serializers.Serializer):
    longUrl = serializers.CharField()
    shortUrl = serializers.URLField()


class UrlShortenerResultSerializer(serializers.Serializer):
    urlValidity = serializers.IntegerField(help_text="Seconds a short link stays valid.")
    urls = ShortUrlSerializer(many=True)


class SelectionSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="The selection rule that chose the sender.")
    explanation = serializers.CharField(help_text="Why, one step a line.")


class StatusEventSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Message.Status.choices)
    detailedStatus = serializers.CharField(allow_null=True)
    errorCode = serializers.CharField(allow_null=True)
    date = serializers.DateTimeField()


class MessageResourceSerializer(serializers.Serializer):
    """A message (SPEC §6): what a send answers and /sms/my lists."""

    trackingId = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Message.Status.choices)
    detailedStatus = serializers.CharField(allow_null=True, help_text="e.g. `Opted-out`.")
    errorCode = serializers.CharField(allow_null=True, help_text="The provider's error code.")
    providerMessageId = serializers.CharField(
        allow_null=True, help_text="The provider's id for it; null before hand-over."
    )
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    poolId = serializers.UUIDField(allow_null=True, help_text="Null once the pool is deleted.")
    poolName = serializers.CharField(allow_null=True)
    poolStrategy = serializers.ChoiceField(choices=Message.Strategy.values)
    smsSettings = PoolSettingsSerializer(allow_null=True)
    to = E164Field()
    # `from` is a Python keyword: declared in get_fields.
    body = serializers.CharField()
    channel = serializers.ChoiceField(choices=Message.Channel.choices)
    mediaUrls = serializers.ListField(child=serializers.CharField())
    bodyAnalysis = BodyAnalysisSerializer()
    callback = MessageCallbackSerializer(allow_null=True)
    ttl = serializers.IntegerField(
        allow_null=True, help_text="Seconds it may wait to go, from its sendAt or its request."
    )
    intent = serializers.ChoiceField(
        choices=Message.Intent.values, help_text="Marketing is held to lawful hours (SPEC §13)."
    )
    selection = SelectionSerializer()
    sendAt = serializers.DateTimeField(
        required=False,
        help_text="Only when it is or was scheduled: asked for, or set by quiet hours.",
    )
    urlShortener = UrlShortenerResultSerializer(
        required=False, help_text="Only when the send asked for short links."
    )

    def get_fields(self):
        sender = serializers.CharField(
            allow_null=True,
            help_text="The sender without its `+` (e.g. `12125550100`), or the alphanumeric "
            "sender ID; null when no sender was chosen.",
        )
        return {**super().get_fields(), "from": sender}


class MessageDetailSerializer(MessageResourceSerializer):
    statusHistory = StatusEventSerializer(many=True, help_text="Oldest first.")


class ClickTagsSerializer(serializers.Serializer):
    to = E164Field()
    trackingId = serializers.UUIDField()


class ClickResourceSerializer(serializers.Serializer):
    """A click on a message's short link, in the shape of Routee's click notification."""

    shortUrl = serializers.URLField()
    longUrl = serializers.CharField()
    tags = ClickTagsSerializer()
    timestamp = serializers.DateTimeField()
    dateTime = serializers.DateTimeField(help_text="The same moment in the server's time zone.")
    ip = serializers.IPAddressField(allow_null=True)
    country = serializers.CharField(allow_null=True)
    city = serializers.CharField(allow_null=True)
    referrer = serializers.CharField(help_text="`UNKNOWN` when the browser sent none.")
    device = serializers.CharField()
    browser = serializers.CharField()
    lag = serializers.IntegerField(help_text="Seconds between sending and the click.")


class StatusAckSerializer(serializers.Serializer):
    trackingId = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Message.Status.choices)


class InboundAckSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=Keyword.Action.choices,
        allow_null=True,
        help_text="What the message's keyword did; null when it was none.",
    )
