from django.urls import path

from optout import apis

urlpatterns = [
    path("my", apis.OptOutListApi.as_view(), name="optout-list"),
]
