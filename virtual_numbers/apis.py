from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response

from pools_project.api import get_or_404
from pools_project.schema import (
    INVALID_NUMBER,
    LIST,
    NUMBER_EXISTS,
    NUMBER_NOT_FOUND,
    WITH_BODY,
    errors,
    request_example,
)
from virtual_numbers import services
from virtual_numbers.filters import NumberFilter
from virtual_numbers.models import Number
from virtual_numbers.serializers import (
    NumberRegisterSerializer,
    NumberSerializer,
    NumberUpdateSerializer,
)


def account_numbers(request):
    return (
        Number.objects.for_account(request.user)
        .select_related("pool_number")
        .with_queue_depth()
        # Spelled out: a query that counts (GROUP BY) does not take the model's ordering.
        .order_by("number", "country")
    )


def number_or_404(request, number_id) -> Number:
    return get_or_404(
        account_numbers(request),
        "NUMBER_NOT_FOUND",
        "No such number in this account.",
        pk=number_id,
    )


@extend_schema_view(get=extend_schema(responses={200: NumberSerializer, **errors(*LIST)}))
class NumberListRegisterApi(generics.ListAPIView):
    serializer_class = NumberSerializer
    filterset_class = NumberFilter

    def get_queryset(self):
        return account_numbers(self.request)

    @extend_schema(
        request=NumberRegisterSerializer,
        responses={201: NumberSerializer, **errors(*WITH_BODY, INVALID_NUMBER, NUMBER_EXISTS)},
        examples=[
            request_example("A long code", {"number": "+12125550199"}),
            request_example(
                "A short code", {"number": "12345", "type": "shortcode", "country": "US"}
            ),
        ],
    )
    def post(self, request):
        serializer = NumberRegisterSerializer(data=request.data, context={"account": request.user})
        serializer.is_valid(raise_exception=True)
        number = services.number_register(account=request.user, **serializer.validated_data)
        return Response(NumberSerializer(number).data, status=status.HTTP_201_CREATED)


class NumberDetailApi(generics.GenericAPIView):
    serializer_class = NumberSerializer

    @extend_schema(responses={200: NumberSerializer, **errors(NUMBER_NOT_FOUND)})
    def get(self, request, number_id):
        return Response(NumberSerializer(number_or_404(request, number_id)).data)

    @extend_schema(
        request=NumberUpdateSerializer,
        responses={200: NumberSerializer, **errors(*WITH_BODY, NUMBER_NOT_FOUND)},
        examples=[
            request_example("Taken out of rotation", {"healthy": False}),
            request_example("Being retired: no new recipients", {"state": "cordoned"}),
            request_example("At most 200 new recipients a day", {"dailyNewRecipients": 200}),
        ],
    )
    def patch(self, request, number_id):
        number = number_or_404(request, number_id)
        serializer = NumberUpdateSerializer(data=request.data, context={"account": request.user})
        serializer.is_valid(raise_exception=True)
        number = services.number_update(number=number, **serializer.validated_data)
        return Response(NumberSerializer(number).data)

    @extend_schema(responses={204: None, **errors(NUMBER_NOT_FOUND)})
    def delete(self, request, number_id):
        services.number_delete(number=number_or_404(request, number_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
