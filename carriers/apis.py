from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response

from carriers import selectors, services
from carriers.models import Connection
from carriers.serializers import (
    CheckResultSerializer,
    ConnectionCreateSerializer,
    ConnectionSerializer,
    ConnectionUpdateSerializer,
)
from pools_project.api import get_or_404
from pools_project.schema import (
    CONNECTION_IN_USE,
    CONNECTION_NOT_FOUND,
    LIST,
    WITH_BODY,
    errors,
    request_example,
)


def connection_or_404(request, connection_id) -> Connection:
    return get_or_404(
        selectors.connection_list(account=request.user),
        "CONNECTION_NOT_FOUND",
        "No such connection in this account.",
        pk=connection_id,
    )


@extend_schema_view(get=extend_schema(responses={200: ConnectionSerializer, **errors(*LIST)}))
class ConnectionListCreateApi(generics.ListAPIView):
    serializer_class = ConnectionSerializer

    def get_queryset(self):
        return selectors.connection_list(account=self.request.user)

    @extend_schema(
        request=ConnectionCreateSerializer,
        responses={201: ConnectionSerializer, **errors(*WITH_BODY)},
        examples=[
            request_example(
                "Twilio",
                {
                    "name": "Twilio US",
                    "kind": "twilio",
                    "settings": {"accountSid": "AC0123456789abcdef0123456789abcdef"},
                    "secrets": {"authToken": "your-auth-token"},
                    "limits": {"messagesPerSecond": 10},
                },
            ),
            request_example("The simulator", {"name": "Simulator", "kind": "simulator"}),
        ],
    )
    def post(self, request):
        serializer = ConnectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connection = services.connection_create(account=request.user, **serializer.validated_data)
        return Response(ConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)


class ConnectionDetailApi(generics.GenericAPIView):
    serializer_class = ConnectionSerializer

    @extend_schema(responses={200: ConnectionSerializer, **errors(CONNECTION_NOT_FOUND)})
    def get(self, request, connection_id):
        return Response(ConnectionSerializer(connection_or_404(request, connection_id)).data)

    @extend_schema(
        request=ConnectionUpdateSerializer,
        responses={200: ConnectionSerializer, **errors(*WITH_BODY, CONNECTION_NOT_FOUND)},
        examples=[request_example("Slower", {"limits": {"messagesPerSecond": 5}})],
    )
    def patch(self, request, connection_id):
        """A merge: only what is sent changes; `kind` cannot."""
        connection = connection_or_404(request, connection_id)
        serializer = ConnectionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connection = services.connection_update(connection=connection, **serializer.validated_data)
        return Response(ConnectionSerializer(connection).data)

    @extend_schema(responses={204: None, **errors(CONNECTION_NOT_FOUND, CONNECTION_IN_USE)})
    def delete(self, request, connection_id):
        services.connection_delete(connection=connection_or_404(request, connection_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectionCheckApi(generics.GenericAPIView):
    serializer_class = CheckResultSerializer

    @extend_schema(
        request=None, responses={200: CheckResultSerializer, **errors(CONNECTION_NOT_FOUND)}
    )
    def post(self, request, connection_id):
        """Try the connection's credentials now; what it finds becomes its state."""
        connection = connection_or_404(request, connection_id)
        result = services.connection_check(connection=connection)
        return Response(CheckResultSerializer(result).data)
