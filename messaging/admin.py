"""Messages in the console: browsable and searchable, never edited.

The send service writes a message, the lifecycle its statuses and the link
redirect its clicks; here operators read why a recipient got a sender and what
became of the message.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_permission_codename
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.admin_mixins import ACCOUNT_FILTER, ReadOnlyAdmin, ReadOnlyInline, in_scope
from messaging.models import Click, DeliveryAttempt, Message, Notification, ShortLink, StatusEvent
from messaging.services.notifications import notification_retry_now
from messaging.services.scheduling import message_cancel
from pools.admin import PoolFilter
from pools_project.errors import ServiceError

MESSAGE_FIELDSETS = [
    (None, {"fields": ["id", "account", "pool", "to", "sender", "number", "created_at"]}),
    (
        "Status",
        {
            "fields": [
                "status",
                "detailed_status",
                "error_code",
                "send_at",
                "sent_at",
                "updated_at",
            ]
        },
    ),
    (
        "Sender selection",
        {
            "fields": ["strategy", "rule", "selection_explanation"],
            "description": "Why the recipient got this sender: the rule that chose it "
            "and one line per step that mattered.",
        },
    ),
    (
        "Content",
        {
            "fields": [
                "channel",
                "intent",
                "body",
                "media_urls",
                "pretty_body_analysis",
                "url_validity",
            ]
        },
    ),
    (
        "Delivery",
        {
            "fields": [
                "ttl",
                "expires_at",
                "connection",
                "provider_message_id",
                "dispatch_at",
                "callback_url",
                "callback_strategy",
            ]
        },
    ),
]


def may_change(model_admin, request) -> bool:
    """The rows stay read-only, but an action that moves one on (a cancel, another try)
    takes the model's change permission."""
    codename = get_permission_codename("change", model_admin.opts)
    return in_scope(request.user) and request.user.has_perm(
        f"{model_admin.opts.app_label}.{codename}"
    )


def lines_html(lines):
    return format_html(
        "<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((line,) for line in lines))
    )


class StatusEventInline(ReadOnlyInline):
    model = StatusEvent
    verbose_name = "status"
    verbose_name_plural = "status history"
    fields = readonly_fields = ["status", "detailed_status", "error_code", "created_at"]


class ShortLinkInline(ReadOnlyInline):
    """The body's short links; their clicks are listed below the inlines."""

    model = ShortLink
    fields = readonly_fields = ["short_url", "long_url", "clicks", "expires_at", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(click_count=Count("clicks"))

    @admin.display(description="clicks")
    def clicks(self, link):
        return link.click_count


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    """Read-only: messages are written by the send service and its lifecycle only."""

    list_display = [
        "id",
        "to",
        "sender",
        "pool",
        "status",
        "detailed_status",
        "rule",
        "created_at",
        "account",
    ]
    list_filter = [
        "status",
        "channel",
        "intent",
        "rule",
        PoolFilter,
        "created_at",
        ACCOUNT_FILTER,
    ]
    list_select_related = ["pool", "account"]
    search_fields = ["to", "sender", "id"]
    date_hierarchy = "created_at"
    fieldsets = MESSAGE_FIELDSETS
    readonly_fields = flatten_fieldsets(MESSAGE_FIELDSETS)
    inlines = [StatusEventInline, ShortLinkInline]
    actions = ["cancel"]

    def has_cancel_permission(self, request):
        return may_change(self, request)

    @admin.action(description="Cancel selected messages", permissions=["cancel"])
    def cancel(self, request, queryset):
        canceled, refused = 0, []
        for message in queryset.select_related("account"):
            try:
                message_cancel(account=message.account, message_id=message.pk)
            except ServiceError as error:
                refused.append(f"{message.pk}: {error.message}")
            else:
                canceled += 1
        self.message_user(request, f"Canceled {canceled} message(s).")
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Clicks belong to the links, and inlines do not nest: the template lists them.
        context["clicks"] = Click.objects.filter(link__message=obj).select_related("link")
        context["notifications"] = Notification.objects.filter(message=obj).prefetch_related(
            "attempts_made"
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="explanation")
    def selection_explanation(self, message):
        return lines_html(message.explanation.splitlines())

    @admin.display(description="body analysis")
    def pretty_body_analysis(self, message):
        return format_html(
            "<pre>{}</pre>", json.dumps(message.body_analysis, indent=2, ensure_ascii=False)
        )


class DeliveryAttemptInline(ReadOnlyInline):
    """Every try at the notification, oldest first."""

    model = DeliveryAttempt
    verbose_name_plural = "attempts"
    fields = readonly_fields = ["created_at", "status_code", "error", "duration_ms"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """Read-only: the lifecycle, the inbound handler and the link redirect record
    notifications and the workers deliver them; an operator can only ask for another try."""

    list_display = [
        "kind",
        "url",
        "state",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "created_at",
        "account",
    ]
    list_filter = ["kind", "state", "created_at", ACCOUNT_FILTER]
    list_select_related = ["account"]
    search_fields = ["url", "message__id"]
    date_hierarchy = "created_at"
    fields = readonly_fields = [
        "id",
        "account",
        "kind",
        "message_link",
        "url",
        "state",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "created_at",
        "pretty_payload",
    ]
    inlines = [DeliveryAttemptInline]
    actions = ["retry_now"]

    def has_retry_permission(self, request):
        return may_change(self, request)

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request, queryset):
        retried = list(queryset.exclude(state=Notification.State.DELIVERED))
        for notification in retried:
            notification_retry_now(notification=notification)
        self.message_user(request, f"Retrying {len(retried)} notification(s) now.")
        if skipped := queryset.filter(state=Notification.State.DELIVERED).count():
            self.message_user(
                request, f"{skipped} already delivered, not sent again.", messages.WARNING
            )

    @admin.display(description="message")
    def message_link(self, notification):
        if notification.message_id is None:
            return "-"
        url = reverse("admin:messaging_message_change", args=[notification.message_id])
        return format_html('<a href="{}">{}</a>', url, notification.message_id)

    @admin.display(description="payload")
    def pretty_payload(self, notification):
        return format_html(
            "<pre>{}</pre>", json.dumps(notification.payload, indent=2, ensure_ascii=False)
        )
