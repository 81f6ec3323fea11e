from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from messaging.apis import (
    ConnectionInboundWebhookApi,
    ConnectionStatusWebhookApi,
    InboundWebhookApi,
    StatusWebhookApi,
)
from messaging.views import short_link_redirect
from pools_project.bare import BareApi
from pools_project.views import health, landing

# The schema and its docs are public: no key needed, and a stale key does not lock them.
PUBLIC = {"authentication_classes": [], "permission_classes": [AllowAny]}

urlpatterns = [
    path("", landing, name="landing"),
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(**PUBLIC), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", **PUBLIC), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", **PUBLIC), name="api-redoc"),
    path("numbers/", include("virtual_numbers.urls")),
    path("pools/", include("pools.urls")),
    path("sms/", include("messaging.urls")),
    path("optouts/", include("optout.urls")),
    path("connections/", include("carriers.urls")),
    path("webhooks/status", StatusWebhookApi.as_view(), name="webhook-status"),
    path("webhooks/inbound", InboundWebhookApi.as_view(), name="webhook-inbound"),
    path(
        "webhooks/connections/<str:connection_id>/inbound",
        ConnectionInboundWebhookApi.as_view(),
        name="connection-webhook-inbound",
    ),
    path(
        "webhooks/connections/<str:connection_id>/status",
        ConnectionStatusWebhookApi.as_view(),
        name="connection-webhook-status",
    ),
    path("s/<str:code>", short_link_redirect, name="short-link"),
]

if settings.BENCHMARK_BARE_ENDPOINT:
    urlpatterns.append(path("benchmark/bare", BareApi.as_view(), name="benchmark-bare"))
