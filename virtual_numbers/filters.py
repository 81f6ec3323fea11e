import django_filters
from django import forms

from virtual_numbers.models import Number


class StrictBooleanField(forms.Field):
    """`true` or `false`; anything else is refused rather than read as "no filter"."""

    VALUES = {"true": True, "false": False}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.VALUES[str(value).lower()]
        except KeyError:
            raise forms.ValidationError("Enter true or false.", code="invalid") from None


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class NumberFilter(django_filters.FilterSet):
    country = django_filters.CharFilter()
    type = django_filters.ChoiceFilter(choices=Number.Type.choices)
    poolId = django_filters.UUIDFilter(field_name="pool_number__pool_id")
    assigned = StrictBooleanFilter(field_name="pool_number", lookup_expr="isnull", exclude=True)
    healthy = StrictBooleanFilter(method="filter_healthy")
    state = django_filters.ChoiceFilter(choices=Number.State.choices)
    # The numbers that name the connection (those that name none show connectionId null).
    connectionId = django_filters.UUIDFilter(field_name="connection_id")

    class Meta:
        model = Number
        fields = []

    def filter_healthy(self, queryset, name, value):
        return queryset.healthy() if value else queryset.unhealthy()
