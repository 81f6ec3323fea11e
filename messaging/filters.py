import django_filters

from messaging.models import Message
from pools_project.api import BoundedIsoDateTimeFilter, PhoneNumberFilter


class MessageFilter(django_filters.FilterSet):
    poolId = django_filters.UUIDFilter(field_name="pool_id")
    to = PhoneNumberFilter()
    status = django_filters.ChoiceFilter(choices=Message.Status.choices)
    createdAfter = BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdBefore = BoundedIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    providerMessageId = django_filters.CharFilter(field_name="provider_message_id")

    class Meta:
        model = Message
        fields = []


# `from` is a Python keyword, so it cannot be declared as a class attribute.
MessageFilter.base_filters["from"] = PhoneNumberFilter(field_name="sender")
