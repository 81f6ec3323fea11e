"""Messages in the console: browsable and searchable, never edited.

The send service writes a message, the lifecycle its statuses and the link
redirect its clicks; here operators read why a recipient got a sender and what
became of the message.
"""

import json
import uuid
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from accounts.admin_mixins import (
    ACCOUNT_FILTER,
    ReadOnlyAdmin,
    ReadOnlyInline,
    excerpt,
    in_scope,
    short_time,
    user_account_id,
)
from accounts.models import Account
from messaging import phone
from messaging.models import Click, DeliveryAttempt, Message, Notification, ShortLink, StatusEvent
from messaging.services.inbound import inbound_receive
from messaging.services.notifications import notification_retry_now
from messaging.services.scheduling import message_cancel
from messaging.services.sending import message_send
from optout.models import Keyword
from pools.admin import PoolFilter
from pools.services.selection import sender_preview
from pools_project.errors import ServiceError
from virtual_numbers.models import Number
from virtual_numbers.phone import parse_e164

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


# The virtual phone (SPEC §11): a recipient's conversation, sent through the pools and
# written back through the inbound handler, without a carrier.

VIRTUAL_PHONE_TEMPLATE = "admin/messaging/message/virtual_phone.html"
BODY_LIMIT = 1600  # characters of a body typed on the virtual phone: ten concatenated parts


def phone_url(account, recipient: str) -> str:
    query = urlencode({"account": account.pk, "recipient": recipient})
    return f"{reverse('admin:messaging_message_virtual_phone')}?{query}"


class PhonePickForm(forms.Form):
    """Whose phone: a recent recipient, or a number typed (which wins); a superuser also
    picks the account, whose messages the phone shows."""

    account = forms.ModelChoiceField(queryset=Account.objects.all(), empty_label=None)
    recent = forms.CharField(label="Recent recipients", required=False, widget=forms.Select)
    recipient = forms.CharField(
        label="or type a number",
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "+14155550123", "size": 16}),
    )

    def __init__(self, *args, superuser: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not superuser:
            del self.fields["account"]

    def offer(self, recipients: list[str]) -> "PhonePickForm":
        self.fields["recent"].widget.choices = [("", "—"), *((r, r) for r in recipients)]
        return self

    def clean(self):
        data = super().clean()
        typed = data.get("recipient", "").strip() or data.get("recent", "")
        data["number"] = None
        if typed:
            try:
                data["number"] = parse_e164(typed).number
            except ServiceError as error:
                self.add_error("recipient", error.message)
        return data


class PhoneSendForm(forms.Form):
    pool = forms.ModelChoiceField(
        queryset=None,
        empty_label=None,
        help_text="Pools with a number on a real carrier's connection are not offered: "
        "the virtual phone stays in the simulator.",
    )
    body = forms.CharField(max_length=BODY_LIMIT, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, pools, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pool"].queryset = pools


class PhoneReplyForm(forms.Form):
    """What the recipient writes, and to which of the account's numbers: one on a real
    carrier's connection is refused, as its replies come from that carrier."""

    number = forms.ChoiceField(label="to")
    body = forms.CharField(max_length=BODY_LIMIT, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, numbers: list[phone.PhoneNumber], country: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.numbers = {str(choice.number.pk): choice for choice in numbers}
        self.country = country
        groups = {
            "Wrote to them": [choice for choice in numbers if choice.wrote],
            "The account's other numbers": [choice for choice in numbers if not choice.wrote],
        }
        self.fields["number"].choices = [
            (group, [(str(choice.number.pk), self.label(choice)) for choice in choices])
            for group, choices in groups.items()
            if choices
        ]

    @staticmethod
    def label(choice: phone.PhoneNumber) -> str:
        return f"{choice.number} — on {choice.carrier}" if choice.carrier else str(choice.number)

    def clean_number(self) -> Number:
        choice = self.numbers[self.cleaned_data["number"]]
        number = choice.number
        if choice.carrier:
            raise ValidationError(
                f"{number} is on {choice.carrier}, a real carrier's connection: a message to "
                "it comes from that carrier. The virtual phone writes only to numbers on a "
                "simulator connection."
            )
        if number.type == Number.Type.SHORTCODE and number.country != self.country:
            raise ValidationError(
                f"{number} is a short code of {number.country}: only phones of that country "
                "can write to it."
            )
        return number


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

    def get_urls(self):
        # Before the default URLs, whose "<object_id>/" would take "virtual-phone/" for an id.
        virtual_phone = path(
            "virtual-phone/",
            self.admin_site.admin_view(self.virtual_phone_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_virtual_phone",
        )
        return [virtual_phone, *super().get_urls()]

    def virtual_phone_view(self, request):
        """A recipient's phone without a carrier: the conversation as they see it, a send
        through a pool to them, and a reply as them through the inbound handler. Looking
        takes the view permission; sending and replying, the change permission."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        writes = may_change(self, request)
        if request.method == "POST" and not writes:
            raise PermissionDenied
        superuser = request.user.is_superuser
        pick = PhonePickForm(request.GET or None, superuser=superuser)
        recipient = pick.cleaned_data["number"] if pick.is_valid() else None
        account = self.phone_account(request, pick)
        recent = phone.recent_recipients(account_id=account.pk) if account else []
        context = {
            **self.admin_site.each_context(request),
            "title": "Virtual phone",
            "opts": self.opts,
            "account": account,
            "recipient": recipient,
            "may_write": writes,
            "pick": pick.offer(recent),
        }
        if account is None or recipient is None:
            return TemplateResponse(request, VIRTUAL_PHONE_TEMPLATE, context)
        # The select shows the open conversation; the typed field is left for another.
        context["pick"] = PhonePickForm(
            initial={"account": account, "recent": recipient}, superuser=superuser
        ).offer(list(dict.fromkeys([recipient, *recent])))
        context["thread"] = thread = phone.phone_thread(account_id=account.pk, recipient=recipient)
        if writes:
            send, reply = self.phone_forms(request, account, recipient, thread)
            if self.phone_send(request, recipient, send) or self.phone_reply(
                request, account, recipient, reply
            ):
                return HttpResponseRedirect(phone_url(account, recipient))  # POST/redirect/GET
            context.update(send_form=send, reply_form=reply)
        return TemplateResponse(request, VIRTUAL_PHONE_TEMPLATE, context)

    def phone_account(self, request, pick) -> Account | None:
        """Scoped staff's own account; the one a superuser picked, else the first."""
        if (account_id := user_account_id(request.user)) is not None:
            return Account.objects.get(pk=account_id)
        return (pick.cleaned_data.get("account") if pick.is_bound else None) or (
            Account.objects.first()
        )

    def phone_forms(self, request, account, recipient, thread):
        """The two forms, the one posted bound; they start from the conversation's last
        message: its pool, and its number to answer."""
        sent = [entry for entry in thread.entries if not entry.by_recipient]
        last = sent[-1] if sent else None
        send = PhoneSendForm(
            request.POST if "send" in request.POST else None,
            pools=phone.simulated_pools(account_id=account.pk),
            initial={"pool": last.pool_id if last else None},
        )
        reply = PhoneReplyForm(
            request.POST if "reply" in request.POST else None,
            numbers=phone.phone_numbers(account_id=account.pk, recipient=recipient),
            country=parse_e164(recipient).country,
            initial={"number": str(last.number_id) if last and last.number_id else None},
        )
        return send, reply

    def phone_send(self, request, recipient, form) -> bool:
        if not form.is_bound or not form.is_valid():
            return False
        pool = form.cleaned_data["pool"]
        try:
            message = message_send(pool=pool, to=recipient, body=form.cleaned_data["body"])
        except ServiceError as error:
            form.add_error(None, error.message)
            return False
        if message.detailed_status == Message.OPTED_OUT:
            self.message_user(
                request,
                f"{recipient} opted out: the message is kept as {message.status} / "
                f"{message.detailed_status}, and never leaves.",
                messages.WARNING,
            )
        else:
            self.message_user(
                request, f"Sent through “{pool}” from {message.sender}: rule {message.rule}."
            )
        return True

    def phone_reply(self, request, account, recipient, form) -> bool:
        """The reply as a carrier's webhook would bring it, with a carrier id of its own."""
        if not form.is_bound or not form.is_valid():
            return False
        number = form.cleaned_data["number"]
        result = inbound_receive(
            message_id=f"simulated-{uuid.uuid4()}",
            sender=recipient,
            to=number.number,
            body=form.cleaned_data["body"],
            account_id=account.pk,
        )
        action = Keyword.Action(result.action).label if result.action else "no keyword"
        answered = "; the auto-reply is in the conversation" if result.auto_reply else ""
        self.message_user(request, f"{recipient} wrote to {number} ({action}){answered}.")
        return True

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["virtual_phone_url"] = phone_url(obj.account, obj.to) if obj else None
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
        return excerpt(message.body, BODY_EXCERPT)

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
