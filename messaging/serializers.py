from datetime import datetime, timedelta

from django.utils import timezone
from rest_framework import serializers

from messaging.models import Message
from pools.serializers import CallbackSerializer, PoolSettingsSerializer
from pools.validators import validate_http_url
from pools_project.api import (
    Rfc3339DateTimeField,
    StrictBooleanField,
    StrictInputMixin,
    django_validator,
)
from pools_project.schema import E164Field

MAX_MEDIA_URLS = 10
MAX_TTL = 7 * 24 * 3600
MAX_SCHEDULE_AHEAD = timedelta(days=35)
# A sendAt this far in the past is "now" sent from a clock a little behind ours.
SEND_AT_CLOCK_SKEW = timedelta(minutes=1)

timestamp = serializers.DateTimeField().to_representation


class PreviewSerializer(StrictInputMixin, serializers.Serializer):
    """Who a message to `to` would come from: the part of a send that selection reads."""

    to = E164Field()
    poolStrategy = serializers.ChoiceField(
        choices=Message.Strategy.values, default=Message.Strategy.NUMERIC
    )
    mediaUrls = serializers.ListField(
        child=serializers.CharField(validators=[django_validator(validate_http_url)]),
        required=False,
        default=list,
        max_length=MAX_MEDIA_URLS,
    )
    sendAt = Rfc3339DateTimeField(required=False)
    intent = serializers.ChoiceField(
        choices=Message.Intent.values, default=Message.Intent.TRANSACTIONAL
    )

    def validate_sendAt(self, send_at: datetime) -> datetime:
        now = timezone.now()
        if send_at < now - SEND_AT_CLOCK_SKEW:
            raise serializers.ValidationError("Must not be in the past.")
        if send_at > now + MAX_SCHEDULE_AHEAD:
            latest = now + MAX_SCHEDULE_AHEAD
            raise serializers.ValidationError(
                f"At most {MAX_SCHEDULE_AHEAD.days} days ahead (until {latest:%Y-%m-%dT%H:%M:%SZ})."
            )
        return send_at


class UrlShortenerSerializer(StrictInputMixin, serializers.Serializer):
    urlValidity = serializers.IntegerField(required=False, min_value=1, max_value=365 * 24 * 3600)


class SendSerializer(PreviewSerializer):
    body = serializers.CharField(trim_whitespace=False)
    callback = CallbackSerializer(required=False)
    urlShortener = UrlShortenerSerializer(required=False)
    transcode = StrictBooleanField(required=False, allow_null=True, default=None)
    ttl = serializers.IntegerField(required=False, min_value=1, max_value=MAX_TTL)

    def validate_callback(self, callback: dict) -> dict:
        # The pool's callback is checked against its column by the model; this one
        # goes straight into the message's.
        limit = Message._meta.get_field("callback_url").max_length
        if len(callback["url"]) > limit:
            raise serializers.ValidationError({"url": [f"At most {limit} characters."]})
        return callback


_SEND = SendSerializer()


def send_validated(data) -> dict:
    """A send's input as `SendSerializer(data=data).validated_data`, read by one instance
    for every send: building a serializer copies all its fields, which cost several
    times reading a valid input. Input it refuses is read again by a serializer of its
    own, which raises DRF's own error for it."""
    try:
        return _SEND.run_validation(data)
    except serializers.ValidationError:
        serializer = SendSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def sender_for_api(sender: str) -> str | None:
    """`from` is written without the `+` (Routee)."""
    return sender.removeprefix("+") or None


# One instance for every message: building a serializer copies all its fields, and a
# pool's settings are read the same way for each message.
POOL_SETTINGS = PoolSettingsSerializer()


class MessageSerializer(serializers.Serializer):
    """A message as the send endpoint and GET /sms/my answer it (SPEC §6)."""

    def __init__(self, *args, history: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.history = history

    def to_representation(self, message: Message) -> dict:
        pool = message.pool
        data = {
            "trackingId": str(message.id),
            "status": message.status,
            "detailedStatus": message.detailed_status or None,
            "errorCode": message.error_code or None,
            "providerMessageId": message.provider_message_id or None,
            "createdAt": timestamp(message.created_at),
            "updatedAt": timestamp(message.updated_at),
            "poolId": str(pool.id) if pool else None,
            "poolName": pool.name if pool else None,
            "poolStrategy": message.strategy,
            "smsSettings": POOL_SETTINGS.to_representation(pool) if pool else None,
            "to": message.to,
            "from": sender_for_api(message.sender),
            "body": message.body,
            "channel": message.channel,
            "mediaUrls": message.media_urls,
            "bodyAnalysis": message.body_analysis,
            "callback": (
                {"url": message.callback_url, "strategy": message.callback_strategy}
                if message.callback_url
                else None
            ),
            "ttl": message.ttl,
            "intent": message.intent,
            "selection": {"rule": message.rule, "explanation": message.explanation},
        }
        if message.send_at is not None:
            data["sendAt"] = timestamp(message.send_at)
        if message.url_validity is not None:
            data["urlShortener"] = {
                "urlValidity": message.url_validity,
                "urls": [
                    {"longUrl": link.long_url, "shortUrl": link.short_url}
                    for link in message.short_links.all()
                ],
            }
        if self.history:
            data["statusHistory"] = [
                {
                    "status": event.status,
                    "detailedStatus": event.detailed_status or None,
                    "errorCode": event.error_code or None,
                    "date": timestamp(event.created_at),
                }
                for event in message.status_events.all()
            ]
        return data


class ClickSerializer(serializers.Serializer):
    """A click, in the shape of Routee's click notification."""

    def to_representation(self, click) -> dict:
        link = click.link
        return {
            "shortUrl": link.short_url,
            "longUrl": link.long_url,
            "tags": {"to": link.message.to, "trackingId": str(link.message_id)},
            "timestamp": timestamp(click.created_at),
            "dateTime": timezone.localtime(click.created_at).isoformat(),
            "ip": click.ip,
            "country": click.country or None,
            "city": click.city or None,
            "referrer": click.referrer or "UNKNOWN",
            "device": click.device,
            "browser": click.browser,
            "lag": click.lag,
        }


class StatusReportSerializer(StrictInputMixin, serializers.Serializer):
    """A carrier's delivery report."""

    trackingId = serializers.UUIDField()
    # What a carrier can say: not our own states before the hand-over, nor a cancel.
    status = serializers.ChoiceField(
        choices=[
            Message.Status.SENT,
            Message.Status.DELIVERED,
            Message.Status.UNDELIVERED,
            Message.Status.FAILED,
        ]
    )
    detailedStatus = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=40
    )
    errorCode = serializers.CharField(required=False, default="", allow_blank=True, max_length=40)


def message_resource(message: Message) -> dict:
    """The message as GET /sms/my/{trackingId} returns it: also a status callback's payload."""
    return MessageSerializer(message, history=True).data
