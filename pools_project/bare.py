"""A bare DRF endpoint, the yardstick of `manage.py benchmark` (SPEC §15).

What every API request costs before any of the service's own work: the middleware,
DRF's dispatch, content negotiation and a JSON answer, under the same settings and
WSGI server as the send endpoint. No key, no database. Routed only when
BENCHMARK_BARE_ENDPOINT is on, which the benchmark's servers alone set.
"""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class BareApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def post(self, request):
        return Response({"ok": True})
