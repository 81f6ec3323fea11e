from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from messaging.carriers import carrier_payload
from optout.filters import OptOutFilter
from optout.inbound import inbound_receive
from optout.selectors import optout_list
from optout.serializers import InboundSerializer, OptOutSerializer


class OptOutListApi(generics.ListAPIView):
    serializer_class = OptOutSerializer
    filterset_class = OptOutFilter

    def get_queryset(self):
        return optout_list(account=self.request.user)


class InboundWebhookApi(generics.GenericAPIView):
    """Carriers' inbound messages, signed per Standard Webhooks with the carrier secret."""

    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = InboundSerializer

    @extend_schema(
        request=InboundSerializer,
        responses=inline_serializer(
            "InboundAck", {"action": serializers.CharField(allow_null=True)}
        ),
    )
    def post(self, request):
        serializer = InboundSerializer(data=carrier_payload(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = inbound_receive(
            message_id=data["messageId"],
            sender=data["from"],
            to=data["to"],
            body=data["body"],
            received_at=data.get("receivedAt"),
        )
        return Response({"action": result.action})
