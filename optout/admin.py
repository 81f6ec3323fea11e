"""Keywords, opt-outs, their audit trail and inbound messages in the console.

Keywords are the account's own data and edited here. Opt-outs are facts the inbound
handler records: an operator may add one (a customer called to say STOP) or remove
one, always through the opt-out services so every change lands in the audit with
the operator's name; the audit, the inbound messages and the unrouted ones are only read.
"""

import re
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from accounts.admin_mixins import (
    ACCOUNT_FILTER,
    AccountScopedAdmin,
    ReadOnlyAdmin,
    SavedByServiceAdmin,
    excerpt,
    short_time,
)
from optout.models import InboundMessage, Keyword, OptOut, OptOutEvent, UnroutedInbound
from optout.services import ACCOUNT_WIDE, optout_record, optout_remove
from pools.admin import PoolFilter
from pools_project.errors import ServiceError
from virtual_numbers.phone import is_country_code, parse_e164

# Digits alone are a short code; anything longer is a national number missing its "+".
SHORT_CODE = re.compile(r"[0-9]{3,8}")


@admin.display(description="number", ordering="number")
def applies_to(record):
    return record.number or "all numbers"


# Keywords


class KeywordCountryFilter(admin.SimpleListFilter):
    """The account's keyword countries, and the general keywords (no country) as a choice."""

    title = "country"
    parameter_name = "country"
    GENERAL = "general"

    def lookups(self, request, model_admin):
        countries = (
            model_admin.get_queryset(request)
            .exclude(country="")
            .order_by("country")
            .values_list("country", flat=True)
            .distinct()
        )
        return [(self.GENERAL, "Every country"), *((country, country) for country in countries)]

    def queryset(self, request, queryset):
        if self.value() == self.GENERAL:
            return queryset.filter(country="")
        if self.value():
            return queryset.filter(country=self.value())
        return queryset


class KeywordAdminForm(forms.ModelForm):
    """The model's clean() normalises the word before the uniqueness check sees it."""

    class Meta:
        model = Keyword
        fields = ["account", "word", "action", "account_wide", "country"]
        error_messages = {
            NON_FIELD_ERRORS: {
                "unique_together": "The account already has this keyword for this country "
                "(or, with no country, for everyone)."
            }
        }

    def clean_country(self):
        country = self.cleaned_data["country"].strip().upper()
        if country and not is_country_code(country):
            raise forms.ValidationError(f"{country!r} is not an ISO 3166-1 alpha-2 country code.")
        return country

    def clean(self):
        data = super().clean()
        # The database refuses it too (optout_keyword_account_wide_is_optout); this says why.
        if (
            data.get("account_wide")
            and "action" in data
            and data["action"] != Keyword.Action.OPTOUT
        ):
            self.add_error(
                "account_wide", "Only an opt-out keyword can stop every number of the account."
            )
        return data


@admin.register(Keyword)
class KeywordAdmin(AccountScopedAdmin):
    form = KeywordAdminForm
    list_display = ["account", "word", "action", "stops", "country"]
    list_filter = ["action", KeywordCountryFilter, ACCOUNT_FILTER]
    list_select_related = ["account"]
    search_fields = ["word"]
    autocomplete_fields = ["account"]
    # Each account's keywords together, as they apply: by account, then action and word.
    ordering = ["account__name", "action", "word"]

    @admin.display(description="stops", ordering="account_wide")
    def stops(self, keyword):
        # What an opt-out keyword stops, in words: "no" is a scope, not an error.
        if keyword.action != Keyword.Action.OPTOUT:
            return "-"
        return "every number of the account" if keyword.account_wide else "the number written to"


# Opt-outs


class OptOutAdminForm(forms.ModelForm):
    # Wider than the columns: people paste "+1 415-555-0123"; it is stored as E.164.
    recipient = forms.CharField(
        max_length=32, help_text="The person who asked to stop, in E.164 (+14155550123)."
    )
    number = forms.CharField(
        max_length=32,
        required=False,
        help_text="The sender they asked to stop: E.164, or a short code's digits. "
        "Empty: every number of the account.",
    )

    class Meta:
        model = OptOut
        fields = ["account", "recipient", "number"]
        error_messages = {
            NON_FIELD_ERRORS: {
                "unique_together": "This recipient has already opted out of this number."
            }
        }

    def clean_recipient(self):
        try:
            return parse_e164(self.cleaned_data["recipient"]).number
        except ServiceError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_number(self):
        number = self.cleaned_data["number"]
        if not number:
            return ACCOUNT_WIDE
        if SHORT_CODE.fullmatch(number):
            return number
        if not number.startswith("+"):
            raise forms.ValidationError(
                "Write the number in E.164 (+ and the country code), or a short code's digits."
            )
        try:
            return parse_e164(number).number
        except ServiceError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(OptOut)
class OptOutAdmin(SavedByServiceAdmin, AccountScopedAdmin):
    """Added and removed, never edited: to change one, remove it and add the new one."""

    form = OptOutAdminForm
    list_display = ["recipient", applies_to, "source", "created_at", "account"]
    list_filter = ["source", ACCOUNT_FILTER]
    list_select_related = ["account"]
    search_fields = ["recipient", "number"]
    autocomplete_fields = ["account"]
    readonly_fields = [applies_to, "source", "created_at", "changes"]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            description = "Recorded with source “admin” and your name in the opt-out changes."
            fields = ["account", "recipient", "number"]
            return [(None, {"fields": fields, "description": description})]
        return [
            (None, {"fields": ["account", "recipient", applies_to, "source", "created_at"]}),
            ("Audit", {"fields": ["changes"]}),
        ]

    @admin.display(description="changes")
    def changes(self, optout):
        query = urlencode({"q": optout.recipient})
        return format_html(
            '<a href="{}?{}">Every change to the opt-outs of {}</a>',
            reverse("admin:optout_optoutevent_changelist"),
            query,
            optout.recipient,
        )

    def has_change_permission(self, request, obj=None):
        return False

    def service_save(self, request, form, change):
        key = {name: form.cleaned_data[name] for name in ("account", "recipient", "number")}
        optout_record(**key, source=OptOut.Source.ADMIN, user=request.user)
        # Already there only if someone recorded it since the form checked: same outcome.
        return OptOut.objects.get(**key)

    def delete_model(self, request, obj):
        optout_remove(
            account=obj.account,
            recipient=obj.recipient,
            numbers=[obj.number],
            source=OptOut.Source.ADMIN,
            user=request.user,
        )

    def delete_queryset(self, request, queryset):
        with transaction.atomic():  # all the selected opt-outs or none
            for optout in queryset.select_related("account"):
                self.delete_model(request, optout)


@admin.register(OptOutEvent)
class OptOutEventAdmin(ReadOnlyAdmin):
    """The audit trail: written by the opt-out services only."""

    list_display = [
        "created",
        "recipient",
        applies_to,
        "change",
        "source",
        "keyword",
        "user",
        "account",
    ]
    list_filter = ["change", "source", ACCOUNT_FILTER]
    list_select_related = ["account", "user"]
    search_fields = ["recipient", "number"]
    date_hierarchy = "created_at"

    @admin.display(description="when", ordering="created_at")
    def created(self, event):
        return short_time(event.created_at)

    fields = [
        "account",
        "recipient",
        applies_to,
        "change",
        "source",
        "keyword",
        "user",
        "created_at",
    ]


# Inbound messages


class KeywordActionFilter(admin.SimpleListFilter):
    """The keyword actions, and the messages that were none (a conversation)."""

    title = "keyword action"
    parameter_name = "action"
    NONE = "none"

    def lookups(self, request, model_admin):
        return [*Keyword.Action.choices, (self.NONE, "None")]

    def queryset(self, request, queryset):
        if self.value() == self.NONE:
            return queryset.filter(action="")
        if self.value():
            return queryset.filter(action=self.value())
        return queryset


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    """What people wrote to the account's numbers, as the inbound handler recorded it."""

    list_display = [
        "sender",
        "to",
        "pool",
        "body_excerpt",
        "action",
        "reply",
        "received_at",
        "account",
    ]
    list_filter = [KeywordActionFilter, PoolFilter, ACCOUNT_FILTER]
    list_select_related = ["pool", "account", "auto_reply"]
    search_fields = ["sender", "to", "body"]
    date_hierarchy = "received_at"
    fields = [
        "account",
        "sender",
        "to",
        "number",
        "pool",
        "body",
        "received_at",
        "action",
        "auto_reply",
        "carrier_message_id",
        "created_at",
    ]

    @admin.display(description="body")
    def body_excerpt(self, inbound):
        return excerpt(inbound.body)

    @admin.display(description="auto-reply", ordering="auto_reply__created_at")
    def reply(self, inbound):
        if inbound.auto_reply is None:
            return None
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:messaging_message_change", args=[inbound.auto_reply_id]),
            Truncator(inbound.auto_reply.body).chars(40),
        )


# Unrouted inbound


@admin.register(UnroutedInbound)
class UnroutedInboundAdmin(ReadOnlyAdmin):
    """Messages to no number of the service's — typically one mistyped in a provider's
    console. Those of the generic webhook belong to no account, so only superusers see
    them; an account's staff see those that came through the account's connections."""

    list_display = ["sender", "to", "body_excerpt", "came_through", "received_at", "account"]
    list_filter = ["received_at", ("connection", admin.RelatedOnlyFieldListFilter), ACCOUNT_FILTER]
    list_select_related = ["connection", "account"]
    search_fields = ["sender", "to", "body"]
    date_hierarchy = "received_at"
    fields = [
        "account",
        "came_through",
        "sender",
        "to",
        "body",
        "received_at",
        "carrier_message_id",
        "created_at",
    ]

    @admin.display(description="body")
    def body_excerpt(self, unrouted):
        return excerpt(unrouted.body)

    @admin.display(description="came through", ordering="connection__name")
    def came_through(self, unrouted):
        if unrouted.connection is None:
            # With an account, it came through one of its connections, since deleted.
            return "a deleted connection" if unrouted.account_id else "the generic webhook"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:carriers_connection_change", args=[unrouted.connection_id]),
            unrouted.connection,
        )
