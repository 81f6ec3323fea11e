import django_filters

from pools.models import StickyMapping


class MappingFilter(django_filters.FilterSet):
    recipient = django_filters.CharFilter()
    number = django_filters.CharFilter(field_name="pool_number__number__number")

    class Meta:
        model = StickyMapping
        fields = []
