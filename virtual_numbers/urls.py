from django.urls import path

from virtual_numbers import apis

urlpatterns = [
    path("my", apis.NumberListRegisterApi.as_view(), name="number-list"),
    path("my/<str:number_id>", apis.NumberDetailApi.as_view(), name="number-detail"),
]
