import django_filters

from optout.models import OptOut
from pools_project.api import PhoneNumberFilter


class OptOutFilter(django_filters.FilterSet):
    recipient = PhoneNumberFilter()
    number = PhoneNumberFilter()

    class Meta:
        model = OptOut
        fields = []
