from django.urls import path

from carriers import apis

urlpatterns = [
    path("my", apis.ConnectionListCreateApi.as_view(), name="connection-list"),
    path("my/<str:connection_id>", apis.ConnectionDetailApi.as_view(), name="connection-detail"),
    path(
        "my/<str:connection_id>/check",
        apis.ConnectionCheckApi.as_view(),
        name="connection-check",
    ),
]
