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
from django.utils.text import Truncator

from accounts.admin_mixins import (
    ACCOUNT_FILTER,
    ReadOnlyAdmin,
    ReadOnlyInline,
    in_scope,
    short_time,
)
from messaging.models import Click, DeliveryAttempt, Message, Notification, ShortLink, StatusEvent
from messaging.services.notifications import notification_retry_now
from messaging.services.scheduling import message_cancel
from pools.admin import PoolFilter
from pools.services.selection import sender_preview
from pools_project.errors import ServiceError

MESSAGE_FIELDSETS = [
    (None, {"fields": ["id", "account", "pool", "to", "sender_shown", "created_at"]}),
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
            "fields": ["strategy", "rule", "selection_explanation", "decision_now"],
            "description": "Why the recipient got this sender: the rule that chose it "
            "and one line per step that mattered; and what the pool would decide for them "
            "now, with its numbers and mappings as they are.",
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
                "body_analysis_text",
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


BODY_EXCERPT = 40  # characters of a body in the messages list: the list fits 1366 px


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
        "tracking_id",
        "to",
        "sender_listed",
        "pool",
        "status_shown",
        "body_excerpt",
        "created",
        "account",
    ]
    list_display_links = ["tracking_id"]
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
    search_fields = ["to", "sender", "id", "body"]
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
        # Oldest first, as the statuses they carry came.
        context["notifications"] = (
            Notification.objects.filter(message=obj)
            .order_by("created_at", "pk")
            .prefetch_related("attempts_made")
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="tracking ID", ordering="id")
    def tracking_id(self, message):
        # The first 8 hex digits tell messages apart on a page; search takes the whole id.
        return format_html('<span title="{}">{}…</span>', message.pk, str(message.pk)[:8])

    @admin.display(description="status", ordering="status")
    def status_shown(self, message):
        if message.detailed_status:
            return f"{message.status} ({message.detailed_status})"
        return message.status

    @admin.display(description="from", ordering="sender")
    def sender_listed(self, message):
        return message.sender or "-"

    @admin.display(description="created", ordering="created_at")
    def created(self, message):
        return short_time(message.created_at)

    @admin.display(description="body")
    def body_excerpt(self, message):
        return Truncator(" ".join(message.body.split())).chars(BODY_EXCERPT)

    @admin.display(description="explanation")
    def selection_explanation(self, message):
        return lines_html(message.explanation.splitlines())

    @admin.display(description="from")
    def sender_shown(self, message):
        if message.number_id is None:
            return message.sender or "-"
        url = reverse("admin:numbers_number_change", args=[message.number_id])
        return format_html('<a href="{}">{}</a>', url, message.sender)

    @admin.display(description="decision now")
    def decision_now(self, message):
        if message.pool is None:
            return "The pool it was sent through is deleted."
        try:
            chosen = sender_preview(
                pool=message.pool, to=message.to, channel=message.channel, strategy=message.strategy
            )
        except ServiceError as error:
            lines = error.details.get("explanation", "").splitlines()
            return format_html("{} {}", error.message, lines_html(lines))
        decision = chosen.decision
        verdict = (
            "Opted out: nothing would be sent."
            if decision.opted_out
            else f"{decision.sender}, rule {decision.rule}"
            + (" (the same)" if decision.sender == message.sender else " (another sender)")
        )
        return format_html("{} {}", verdict, lines_html(decision.explanation))

    @admin.display(description="body analysis")
    def body_analysis_text(self, message):
        return lines_html(body_analysis_lines(message.body_analysis))


def body_analysis_lines(analysis: dict) -> list[str]:
    """bodyAnalysis in words: what the body costs and, for UCS-2, which characters made it so."""
    parts = analysis.get("parts", 0)
    encoding = "UCS-2 (Unicode)" if analysis.get("unicode") else "GSM-7"
    lines = [f"{analysis.get('characters', 0)} characters in {encoding}: {parts} part(s)."]
    if forced := analysis.get("unsupportedGSMCharacters"):
        named = ", ".join(f"“{char}” (U+{ord(char[0]):04X})" for char in forced)
        lines.append(f"UCS-2 because GSM-7 has no {named}.")
    if transcode := analysis.get("transcode"):
        lines.append(
            f"Transcoded to GSM-7 in {transcode['parts']} part(s); sent as: {transcode['message']}"
        )
    return lines


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
        "created",
        "kind",
        "carries",
        "url_excerpt",
        "state",
        "attempts",
        "next_attempt",
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

    @admin.display(description="created", ordering="created_at")
    def created(self, notification):
        return short_time(notification.created_at)

    @admin.display(description="carries")
    def carries(self, notification):
        if notification.kind == Notification.Kind.STATUS:
            return notification.payload.get("status", "-")
        return notification.get_kind_display()

    @admin.display(description="URL", ordering="url")
    def url_excerpt(self, notification):
        return format_html(
            '<span title="{}">{}</span>', notification.url, Truncator(notification.url).chars(40)
        )

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, notification):
        return short_time(notification.next_attempt_at)

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
