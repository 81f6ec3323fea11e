from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics

from optout.filters import OptOutFilter
from optout.selectors import optout_list
from optout.serializers import OptOutSerializer
from pools_project.schema import LIST, errors


@extend_schema_view(get=extend_schema(responses={200: OptOutSerializer, **errors(*LIST)}))
class OptOutListApi(generics.ListAPIView):
    serializer_class = OptOutSerializer
    filterset_class = OptOutFilter

    def get_queryset(self):
        return optout_list(account=self.request.user)
