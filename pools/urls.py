from django.urls import path

from messaging.apis import MessageSendApi, SenderPreviewApi
from pools import apis

urlpatterns = [
    path("my", apis.PoolListCreateApi.as_view(), name="pool-list"),
    path("my/<str:pool_id>", apis.PoolDetailApi.as_view(), name="pool-detail"),
    path("my/<str:pool_id>/numbers", apis.PoolNumbersApi.as_view(), name="pool-numbers"),
    path(
        "my/<str:pool_id>/numbers/remove",
        apis.PoolNumbersRemoveApi.as_view(),
        name="pool-numbers-remove",
    ),
    path("my/<str:pool_id>/sms", MessageSendApi.as_view(), name="pool-send"),
    path("my/<str:pool_id>/preview", SenderPreviewApi.as_view(), name="pool-preview"),
    path("my/<str:pool_id>/mappings", apis.PoolMappingsApi.as_view(), name="pool-mappings"),
]
