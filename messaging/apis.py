from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from carriers.gateways import gateway_for
from carriers.gateways.base import Gateway
from carriers.gateways.webhooks import Headers, WebhookRequest
from carriers.models import Connection
from messaging.carrier_webhooks import carrier_payload
from messaging.filters import MessageFilter
from messaging.idempotency import idempotent_response, request_fingerprint
from messaging.models import Click, Message, StatusEvent
from messaging.schema import (
    ClickResourceSerializer,
    InboundAckSerializer,
    MessageDetailSerializer,
    MessageResourceSerializer,
    StatusAckSerializer,
)
from messaging.selectors import marketing_hold
from messaging.serializers import (
    ClickSerializer,
    MessageSerializer,
    PreviewSerializer,
    SendSerializer,
    StatusReportSerializer,
    message_resource,
    send_validated,
)
from messaging.services.inbound import inbound_action, inbound_event_receive, inbound_receive
from messaging.services.lifecycle import message_report_status, receipt_apply
from messaging.services.replays import carrier_webhook_first_seen
from messaging.services.scheduling import message_cancel
from messaging.services.sending import message_send
from optout.serializers import InboundSerializer
from pools.choices import Channel
from pools.models import Pool
from pools.schema import DecisionResourceSerializer
from pools.selectors import pool_key, pool_or_404
from pools.serializers import DecisionSerializer
from pools.services.selection import sender_preview
from pools_project.api import get_or_404
from pools_project.errors import ServiceError
from pools_project.schema import (
    BODY_TOO_LONG,
    CONNECTION_NOT_FOUND,
    IDEMPOTENCY_KEY_REUSED,
    INVALID_RECIPIENT,
    INVALID_SIGNATURE,
    LIST,
    MESSAGE_NOT_FOUND,
    NOT_CANCELABLE,
    POOL_NOT_FOUND,
    REFUSALS,
    VALIDATION_ERROR,
    WITH_BODY,
    errors,
    request_example,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description="A retried request with the same key returns the first response.",
)
# The carrier webhooks' signature (Standard Webhooks) with CARRIER_WEBHOOK_SECRET.
SIGNATURE_HEADERS = [
    OpenApiParameter(name, location=OpenApiParameter.HEADER, required=True, description=meaning)
    for name, meaning in [
        ("webhook-id", "The delivery's unique id."),
        ("webhook-timestamp", "Unix seconds; at most 5 minutes old."),
        ("webhook-signature", "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`."),
    ]
]
CARRIER_WEBHOOK_ERRORS = errors(VALIDATION_ERROR, INVALID_SIGNATURE, authenticated=False)
# A provider's webhook is answered as that provider expects (SPEC §11).
PROVIDER_WEBHOOK_RESPONSES = {
    (200, "text/xml"): OpenApiTypes.STR,  # Twilio: empty TwiML, so it sends no reply itself
    (200, "application/json"): OpenApiTypes.OBJECT,  # Telnyx: {}
    (200, "text/plain"): OpenApiTypes.STR,  # Vonage: nothing
    **errors(INVALID_SIGNATURE, CONNECTION_NOT_FOUND, authenticated=False),
}


def account_messages(request):
    return Message.objects.filter(account=request.user).select_related("pool")


def message_or_404(request, tracking_id, queryset=None) -> Message:
    return get_or_404(
        queryset if queryset is not None else account_messages(request),
        "MESSAGE_NOT_FOUND",
        "No such message in this account.",
        pk=tracking_id,
    )


class MessageSendApi(generics.GenericAPIView):
    serializer_class = SendSerializer

    @extend_schema(
        request=SendSerializer,
        responses={
            200: MessageResourceSerializer,
            **errors(
                *WITH_BODY,
                INVALID_RECIPIENT,
                POOL_NOT_FOUND,
                *REFUSALS,
                BODY_TOO_LONG,
                IDEMPOTENCY_KEY_REUSED,
            ),
        },
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            request_example("A text", {"to": "+14155550123", "body": "Your code is 1234"}),
            request_example(
                "Short links, a status callback",
                {
                    "to": "+14155550123",
                    "body": "Your order shipped: https://example.com/track/1234",
                    "urlShortener": {"urlValidity": 86400},
                    "callback": {"url": "https://example.com/sms-status", "strategy": "OnChange"},
                },
            ),
        ],
    )
    def post(self, request, pool_id):
        """Send one message through the pool: the pool picks the sender."""
        try:
            data = send_validated(request.data)
        except APIException:
            pool_or_404(account=request.user, pool_id=pool_id)  # a missing pool answers first
            raise
        # A reference: the send reads the pool's settings itself, as committed.
        pool = Pool(pk=pool_key(pool_id), account_id=request.user.pk)

        def send() -> dict:
            message = message_send(
                pool=pool,
                to=data["to"],
                body=data["body"],
                strategy=data["poolStrategy"],
                media_urls=data["mediaUrls"],
                callback=data.get("callback"),
                url_shortener=data.get("urlShortener"),
                transcode=data["transcode"],
                ttl=data.get("ttl"),
                send_at=data.get("sendAt"),
                intent=data["intent"],
            )
            return MessageSerializer(message).data

        key = request.headers.get("Idempotency-Key")
        if key is None:
            return Response(send())
        fingerprint = request_fingerprint(str(pool.pk), request.data)
        body = idempotent_response(
            account=request.user,
            key=key,
            fingerprint=fingerprint,
            produce=lambda: JSONRenderer().render(send()),
        )
        return HttpResponse(body, content_type="application/json")


class SenderPreviewApi(generics.GenericAPIView):
    serializer_class = PreviewSerializer

    @extend_schema(
        request=PreviewSerializer,
        responses={
            200: DecisionResourceSerializer,
            **errors(*WITH_BODY, INVALID_RECIPIENT, POOL_NOT_FOUND, *REFUSALS),
        },
        examples=[
            request_example("A recipient", {"to": "+14155550123"}),
            request_example(
                "When a marketing message would go", {"to": "+13055550123", "intent": "marketing"}
            ),
        ],
    )
    def post(self, request, pool_id):
        """The sender a message to `to` would get now, and why; for a marketing message,
        also when quiet hours would let it go. Writes nothing."""
        pool = pool_or_404(account=request.user, pool_id=pool_id)
        serializer = PreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        chosen = sender_preview(
            pool=pool,
            to=data["to"],
            channel=Channel.of(data["mediaUrls"]),
            strategy=data["poolStrategy"],
        )
        preview = DecisionSerializer(chosen.decision).data
        if data["intent"] == Message.Intent.MARKETING and not chosen.decision.opted_out:
            plan = marketing_hold(
                pool=pool,
                to=chosen.recipient,
                requested=max(data.get("sendAt") or timezone.now(), timezone.now()),
                deadline=None,
            )
            preview["explanation"] = "\n".join([preview["explanation"], *plan.explanation])
            preview["sendAt"] = serializers.DateTimeField().to_representation(plan.send_at)
        return Response(preview)


@extend_schema_view(get=extend_schema(responses={200: MessageResourceSerializer, **errors(*LIST)}))
class MessageListApi(generics.ListAPIView):
    serializer_class = MessageSerializer
    filterset_class = MessageFilter

    def get_queryset(self):
        return (
            account_messages(self.request)
            .prefetch_related("short_links")
            .order_by("-created_at", "-pk")
        )


class MessageDetailApi(generics.GenericAPIView):
    serializer_class = MessageSerializer

    @extend_schema(responses={200: MessageDetailSerializer, **errors(MESSAGE_NOT_FOUND)})
    def get(self, request, tracking_id):
        queryset = account_messages(request).prefetch_related(
            "short_links",
            Prefetch("status_events", StatusEvent.objects.order_by("created_at", "pk")),
        )
        message = message_or_404(request, tracking_id, queryset)
        return Response(MessageSerializer(message, history=True).data)


class MessageCancelApi(generics.GenericAPIView):
    serializer_class = MessageSerializer

    @extend_schema(
        request=None,
        responses={200: MessageDetailSerializer, **errors(MESSAGE_NOT_FOUND, NOT_CANCELABLE)},
    )
    def post(self, request, tracking_id):
        """Cancel a Scheduled message, or a Queued one not yet handed to a carrier."""
        message = message_cancel(account=request.user, message_id=tracking_id)
        return Response(message_resource(message))


@extend_schema_view(
    get=extend_schema(responses={200: ClickResourceSerializer, **errors(*LIST, MESSAGE_NOT_FOUND)})
)
class MessageClicksApi(generics.ListAPIView):
    serializer_class = ClickSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no message
            return Click.objects.none()
        message = message_or_404(self.request, self.kwargs["tracking_id"])
        return (
            Click.objects.filter(link__message=message)
            .select_related("link__message")
            .order_by("created_at", "pk")
        )


class StatusWebhookApi(generics.GenericAPIView):
    """Carriers' delivery reports, signed per Standard Webhooks with the carrier secret."""

    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = StatusReportSerializer

    @extend_schema(
        request=StatusReportSerializer,
        parameters=SIGNATURE_HEADERS,
        responses={
            200: StatusAckSerializer,
            **CARRIER_WEBHOOK_ERRORS,
            **errors(MESSAGE_NOT_FOUND, authenticated=False),
        },
    )
    def post(self, request):
        serializer = StatusReportSerializer(data=carrier_payload(request))
        serializer.is_valid(raise_exception=True)
        report = serializer.validated_data
        message = message_or_404(request, report["trackingId"], Message.objects.all())
        with transaction.atomic():  # a replay of this webhook-id changes nothing
            if carrier_webhook_first_seen(webhook_id=request.headers["webhook-id"]):
                message_report_status(
                    message=message,
                    status=report["status"],
                    detailed_status=report["detailedStatus"],
                    error_code=report["errorCode"],
                )
        message.refresh_from_db(fields=["status"])
        return Response({"trackingId": str(message.pk), "status": message.status})


class InboundWebhookApi(generics.GenericAPIView):
    """Carriers' inbound messages, signed per Standard Webhooks with the carrier secret."""

    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = InboundSerializer

    @extend_schema(
        request=InboundSerializer,
        parameters=SIGNATURE_HEADERS,
        responses={200: InboundAckSerializer, **CARRIER_WEBHOOK_ERRORS},
    )
    def post(self, request):
        serializer = InboundSerializer(data=carrier_payload(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():  # a replay of this webhook-id changes nothing
            if not carrier_webhook_first_seen(webhook_id=request.headers["webhook-id"]):
                return Response({"action": inbound_action(message_id=data["messageId"])})
            result = inbound_receive(
                message_id=data["messageId"],
                sender=data["from"],
                to=data["to"],
                body=data["body"],
                received_at=data.get("receivedAt"),
            )
        return Response({"action": result.action})


class ConnectionWebhookApi(generics.GenericAPIView):
    """A provider's own webhooks for one connection (SPEC §11): in its format, verified
    with its signature scheme against the connection's secrets. Kinds that call none
    (the simulator; SMPP, whose receipts come over the bind) have no such endpoint."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = []  # the adapter reads the raw body: signatures cover its bytes
    metadata_class = None  # OPTIONS: nothing to describe (DRF would ask for a serializer)

    def webhook(self, request, connection_id) -> tuple[Connection, Gateway, WebhookRequest]:
        connection = get_or_404(
            Connection.objects.exclude(kind__in=[Connection.Kind.SIMULATOR, Connection.Kind.SMPP]),
            "CONNECTION_NOT_FOUND",
            "No connection here takes provider webhooks.",
            pk=connection_id,
        )
        gateway = gateway_for(connection)
        webhook = webhook_request(request)
        if not gateway.verify(webhook):
            raise ServiceError(
                "INVALID_SIGNATURE",
                f"The request is not signed as {connection.get_kind_display()} signs it.",
                status=401,
            )
        return connection, gateway, webhook


def webhook_request(request) -> WebhookRequest:
    """The request as the provider made it, on the URL it called (PUBLIC_BASE_URL)."""
    django_request = request._request
    form = django_request.GET if django_request.method == "GET" else django_request.POST
    return WebhookRequest(
        url=settings.PUBLIC_BASE_URL + django_request.get_full_path(),
        method=django_request.method,
        headers=Headers(django_request.headers),
        body=django_request.body,
        now=timezone.now(),
        form={key: form.get(key) for key in form},
    )


class ConnectionInboundWebhookApi(ConnectionWebhookApi):
    @extend_schema(request=None, responses=PROVIDER_WEBHOOK_RESPONSES)
    def post(self, request, connection_id):
        """Messages people wrote to the connection's numbers, in the provider's format."""
        connection, gateway, webhook = self.webhook(request, connection_id)
        for inbound in gateway.parse_inbound(webhook):
            inbound_event_receive(
                inbound=inbound, account_id=connection.account_id, connection_id=connection.pk
            )
        body, content_type = gateway.inbound_answer()
        return HttpResponse(body, content_type=content_type)

    get = post  # Vonage calls with GET unless told otherwise


class ConnectionStatusWebhookApi(ConnectionWebhookApi):
    @extend_schema(
        request=None,
        responses={**PROVIDER_WEBHOOK_RESPONSES, **errors(MESSAGE_NOT_FOUND, authenticated=False)},
    )
    def post(self, request, connection_id):
        """Delivery reports for the connection's messages, in the provider's format.

        A report for an id the connection has not given (yet: a provider may report
        before its answer to the send is recorded) is answered 404, so the provider
        tries again, and changes nothing."""
        connection, gateway, webhook = self.webhook(request, connection_id)
        applied = [
            receipt_apply(connection_id=connection.pk, receipt=receipt)
            for receipt in gateway.parse_status(webhook)
        ]
        if None in applied:
            raise ServiceError(
                "MESSAGE_NOT_FOUND", "No message of this connection has that id.", status=404
            )
        body, content_type = gateway.inbound_answer()
        return HttpResponse(body, content_type=content_type)

    get = post
