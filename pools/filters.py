import django_filters

from pools.models import StickyMapping
from pools_project.api import PhoneNumberFilter


class MappingFilter(django_filters.FilterSet):
    recipient = PhoneNumberFilter()
    number = PhoneNumberFilter(field_name="pool_number__number__number")

    class Meta:
        model = StickyMapping
        fields = []
