import django_filters

from virtual_numbers.models import Number


class NumberFilter(django_filters.FilterSet):
    country = django_filters.CharFilter()
    type = django_filters.ChoiceFilter(choices=Number.Type.choices)
    poolId = django_filters.UUIDFilter(field_name="pool_number__pool_id")
    assigned = django_filters.BooleanFilter(
        field_name="pool_number", lookup_expr="isnull", exclude=True
    )
    healthy = django_filters.BooleanFilter(method="filter_healthy")

    class Meta:
        model = Number
        fields = []

    def filter_healthy(self, queryset, name, value):
        return queryset.healthy() if value else queryset.unhealthy()
