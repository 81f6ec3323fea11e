from django.urls import path

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
]
