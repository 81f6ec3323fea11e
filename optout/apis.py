from rest_framework import generics

from optout.filters import OptOutFilter
from optout.selectors import optout_list
from optout.serializers import OptOutSerializer


class OptOutListApi(generics.ListAPIView):
    serializer_class = OptOutSerializer
    filterset_class = OptOutFilter

    def get_queryset(self):
        return optout_list(account=self.request.user)
