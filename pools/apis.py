from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from pools import selectors
from pools.filters import MappingFilter
from pools.models import PoolNumber, StickyMapping
from pools.schema import (
    MappingResourceSerializer,
    PoolNumberResourceSerializer,
    PoolNumbersChangeSerializer,
)
from pools.serializers import (
    MAX_NUMBERS_PER_CALL,
    MappingSerializer,
    PoolCreateSerializer,
    PoolNumbersSerializer,
    PoolSerializer,
    PoolUpdateSerializer,
)
from pools.services import pools as services
from pools_project.errors import ServiceError
from pools_project.schema import (
    LIST,
    NUMBER_IN_ANOTHER_POOL,
    NUMBER_NOT_FOUND,
    POOL_NOT_FOUND,
    TOO_MANY_NUMBERS,
    WITH_BODY,
    errors,
    request_example,
)
from virtual_numbers.serializers import NumberSerializer

NUMBERS_EXAMPLE = request_example("Two numbers", {"numbers": ["+12125550101", "+12125550102"]})


@extend_schema_view(get=extend_schema(responses={200: PoolSerializer, **errors(*LIST)}))
class PoolListCreateApi(generics.ListAPIView):
    serializer_class = PoolSerializer

    def get_queryset(self):
        return selectors.pool_list(account=self.request.user)

    @extend_schema(
        request=PoolCreateSerializer,
        responses={201: PoolSerializer, **errors(*WITH_BODY)},
        examples=[
            request_example(
                "Sticky, by location",
                {"name": "Alerts", "smsSettings": {"sticky": True, "geomatch": True}},
            )
        ],
    )
    def post(self, request):
        serializer = PoolCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        pool = services.pool_create(account=request.user, name=data["name"], **data["settings"])
        pool = selectors.pool_or_404(account=request.user, pool_id=pool.pk)
        return Response(PoolSerializer(pool).data, status=status.HTTP_201_CREATED)


class PoolDetailApi(generics.GenericAPIView):
    serializer_class = PoolSerializer

    @extend_schema(responses={200: PoolSerializer, **errors(POOL_NOT_FOUND)})
    def get(self, request, pool_id):
        pool = selectors.pool_or_404(account=request.user, pool_id=pool_id)
        return Response(PoolSerializer(pool).data)

    @extend_schema(
        request=PoolUpdateSerializer,
        responses={200: PoolSerializer, **errors(*WITH_BODY, POOL_NOT_FOUND)},
        examples=[
            request_example(
                "Mappings for 30 days, the default country back to none",
                {"smsSettings": {"stickyTtlDays": 30, "defaultCountry": None}},
            )
        ],
    )
    def patch(self, request, pool_id):
        """A merge: only the keys sent change; null puts a setting back to its default."""
        pool = selectors.pool_or_404(account=request.user, pool_id=pool_id)
        serializer = PoolUpdateSerializer(data=request.data, context={"pool": pool})
        serializer.is_valid(raise_exception=True)
        services.pool_update_settings(pool=pool, **serializer.validated_data)
        pool = selectors.pool_or_404(account=request.user, pool_id=pool_id)
        return Response(PoolSerializer(pool).data)

    @extend_schema(responses={204: None, **errors(POOL_NOT_FOUND)})
    def delete(self, request, pool_id):
        services.pool_delete(pool=selectors.pool_or_404(account=request.user, pool_id=pool_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PoolNumberSerializer(serializers.Serializer):
    """A pool's number: the number resource, with its live sticky mapping count."""

    def to_representation(self, pool_number):
        return {
            **NumberSerializer(pool_number.number).data,
            "mappingCount": pool_number.live_mapping_count,
            "assignedAt": serializers.DateTimeField().to_representation(pool_number.assigned_at),
        }


def numbers_in_call(request) -> list[str]:
    serializer = PoolNumbersSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    numbers = serializer.validated_data["numbers"]
    if not 1 <= len(numbers) <= MAX_NUMBERS_PER_CALL:
        raise ServiceError(
            "TOO_MANY_NUMBERS",
            f"Send between 1 and {MAX_NUMBERS_PER_CALL} numbers per call, not {len(numbers)}.",
        )
    return numbers


NUMBERS_CHANGE = {
    200: PoolNumbersChangeSerializer,
    **errors(*WITH_BODY, TOO_MANY_NUMBERS, POOL_NOT_FOUND, NUMBER_NOT_FOUND),
}


@extend_schema_view(
    get=extend_schema(
        responses={200: PoolNumberResourceSerializer, **errors(*LIST, POOL_NOT_FOUND)}
    )
)
class PoolNumbersApi(generics.ListAPIView):
    serializer_class = PoolNumberSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no pool
            return PoolNumber.objects.none()
        pool = selectors.pool_or_404(account=self.request.user, pool_id=self.kwargs["pool_id"])
        return selectors.pool_numbers(pool=pool)

    @extend_schema(
        request=PoolNumbersSerializer,
        responses={**NUMBERS_CHANGE, **errors(NUMBER_IN_ANOTHER_POOL)},
        examples=[NUMBERS_EXAMPLE],
    )
    def post(self, request, pool_id):
        """Assign up to 50 numbers, all or none."""
        pool = selectors.pool_or_404(account=request.user, pool_id=pool_id)
        assigned = services.pool_assign_numbers(pool=pool, numbers=numbers_in_call(request))
        return Response(
            {"poolId": str(pool.pk), "numbers": NumberSerializer(assigned, many=True).data}
        )


class PoolNumbersRemoveApi(generics.GenericAPIView):
    serializer_class = PoolNumbersSerializer

    @extend_schema(
        request=PoolNumbersSerializer, responses=NUMBERS_CHANGE, examples=[NUMBERS_EXAMPLE]
    )
    def post(self, request, pool_id):
        """Unassign up to 50 numbers; their sticky mappings are deleted."""
        pool = selectors.pool_or_404(account=request.user, pool_id=pool_id)
        removed = services.pool_remove_numbers(pool=pool, numbers=numbers_in_call(request))
        return Response(
            {"poolId": str(pool.pk), "numbers": NumberSerializer(removed, many=True).data}
        )


@extend_schema_view(
    get=extend_schema(responses={200: MappingResourceSerializer, **errors(*LIST, POOL_NOT_FOUND)})
)
class PoolMappingsApi(generics.ListAPIView):
    serializer_class = MappingSerializer
    filterset_class = MappingFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no pool
            return StickyMapping.objects.none()
        pool = selectors.pool_or_404(account=self.request.user, pool_id=self.kwargs["pool_id"])
        return selectors.pool_mappings(pool=pool)
