from django.urls import path

from messaging import apis

urlpatterns = [
    path("my", apis.MessageListApi.as_view(), name="message-list"),
    path("my/<str:tracking_id>", apis.MessageDetailApi.as_view(), name="message-detail"),
    path("my/<str:tracking_id>/cancel", apis.MessageCancelApi.as_view(), name="message-cancel"),
    path("my/<str:tracking_id>/clicks", apis.MessageClicksApi.as_view(), name="message-clicks"),
]
