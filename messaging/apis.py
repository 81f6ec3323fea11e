from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response

from messaging import services
from messaging.serializers import MessageSerializer, SendSerializer
from pools.apis import pool_or_404


class MessageSendApi(generics.GenericAPIView):
    serializer_class = SendSerializer

    @extend_schema(request=SendSerializer, responses=MessageSerializer)
    def post(self, request, pool_id):
        """Send one message through the pool: the pool picks the sender."""
        pool = pool_or_404(request, pool_id)
        serializer = SendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message = services.message_send(
            pool=pool,
            to=data["to"],
            body=data["body"],
            strategy=data["poolStrategy"],
            media_urls=data["mediaUrls"],
        )
        return Response(MessageSerializer(message).data)
