from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin_mixins import (
    ACCOUNT_FILTER,
    AccountScopedAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    SavedByServiceAdmin,
)
from messaging import selectors as marketing_selectors
from messaging.models import Message
from pools import charts, selectors
from pools.forms import PoolForm, SenderPreviewForm
from pools.models import Pool, PoolNumber, StickyMapping
from pools.services import pools as services
from pools.services.selection import mappings_clear, sender_preview
from pools_project.errors import ServiceError

# The pool settings flow of SPEC §1, in the order selection applies it.
POOL_FIELDSETS = [
    (
        "Stickiness",
        {
            "fields": ["sticky", "sticky_ttl_days"],
            "description": "A recipient keeps hearing from the same number "
            "(Routee, Telnyx, Vonage “predictable sender”).",
        },
    ),
    (
        "Location",
        {
            "fields": [
                "geomatch",
                "default_country",
                "priority_countries",
                "allowed_countries",
                "fallback",
            ],
            "description": "Where the sender should be. With geomatch on, the first tier "
            "with a number wins: same area code → same overlay → same state or province "
            "(North America) → same country → default country → each priority country in "
            "order → fallback. With geomatch off: priority countries → default country → "
            "any number of the pool.",
        },
    ),
    (
        "Distribution",
        {
            "fields": ["weights", "skip_unhealthy", "max_queue_seconds", "overrides"],
            "description": "How new assignments are shared: between number types by weight, "
            "then to the number with the fewest live mappings (sticky on) or the least "
            "recently used one (sticky off). Numbers whose connection is down, or whose "
            "backlog is over the queue limit, are avoided while another can take the message.",
        },
    ),
    (
        "Quiet hours",
        {
            "fields": ["quiet_hours_start", "quiet_hours_end"],
            "description": "Marketing messages (intent marketing) are held to the hours "
            "the recipient may receive them, in their own time zone: the law's (US 08:00-21:00; "
            "Florida and Oklahoma 08:00-20:00 and 3 a day) and, if set, outside this window "
            "of the pool's. A held message is Scheduled for the next allowed moment.",
        },
    ),
    (
        "Alphanumeric sender",
        {
            "fields": ["alphanumeric_sender_id", "alphanumeric_sender_ids"],
            "description": "A name instead of a number, for the Alphanumeric strategy and the "
            "CustomFrom fallback. Not every destination accepts one (the US and Canada do not).",
        },
    ),
    (
        "Opt-out and replies",
        {
            "fields": ["opt_out_scope", "help_reply", "opt_out_reply", "opt_in_reply"],
            "description": "What a recipient's STOP blocks, and the pool's automatic answers "
            "to the HELP, STOP and START keywords.",
        },
    ),
    (
        "Delivery",
        {
            "fields": [
                "transcode",
                "callback_url",
                "callback_strategy",
                "inbound_sms_callback_url",
            ],
            "description": "How messages are encoded, and where the pool's status "
            "notifications and inbound messages are posted.",
        },
    ),
]


def numbers_changelist_url(pool: Pool) -> str:
    return f"{reverse('admin:numbers_number_changelist')}?{urlencode({'pool': pool.pk})}"


class PoolFilter(admin.SimpleListFilter):
    """By one of the user's pools, empty ones included.

    Unlike RelatedOnlyFieldListFilter, it still filters when there is only one pool
    to offer, so a pool's link to its numbers always shows just those.
    """

    title = "pool"
    parameter_name = "pool"
    pool_lookup = "pool"

    def lookups(self, request, model_admin):
        pool_admin = model_admin.admin_site.get_model_admin(Pool)
        pools = pool_admin.scope(request, Pool.objects.select_related("account"))
        if request.user.is_superuser:
            return [(str(pool.pk), f"{pool} ({pool.account})") for pool in pools]
        return [(str(pool.pk), str(pool)) for pool in pools]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.pool_lookup: self.value()})
        return queryset


def preview_outcome(pool: Pool, data: dict) -> dict:
    """What a preview shows: the decision, or the refusal, with its explanation; for
    marketing, also when quiet hours would let it go (as the API's preview says)."""
    try:
        chosen = sender_preview(
            pool=pool, to=data["to"], channel=data["channel"], strategy=data["strategy"]
        )
    except ServiceError as exc:
        return {"refusal": exc, "explanation": exc.details.get("explanation", "").splitlines()}
    outcome = {"selection": chosen, "explanation": list(chosen.decision.explanation)}
    if data["intent"] == Message.Intent.MARKETING and not chosen.decision.opted_out:
        plan = marketing_selectors.marketing_hold(
            pool=pool, to=chosen.recipient, requested=timezone.now(), deadline=None
        )
        outcome["marketing"] = plan
        outcome["explanation"] += plan.explanation
    return outcome


class PoolNumberInline(ReadOnlyInline):
    """The pool's numbers, read-only: assigning is the numbers list's "Assign to pool…"."""

    model = PoolNumber
    verbose_name_plural = "numbers"
    fields = readonly_fields = ["number", "type", "country", "area_code", "healthy", "mappings"]

    @admin.display(description="type")
    def type(self, pool_number):
        return pool_number.number.get_type_display()

    @admin.display(description="country")
    def country(self, pool_number):
        return pool_number.number.country

    @admin.display(description="area code")
    def area_code(self, pool_number):
        return pool_number.number.area_code

    @admin.display(description="healthy", boolean=True)
    def healthy(self, pool_number):
        return pool_number.number.healthy

    @admin.display(description="live mappings")
    def mappings(self, pool_number):
        return pool_number.live_mapping_count  # annotated by selectors.pool_numbers


@admin.register(Pool)
class PoolAdmin(SavedByServiceAdmin, AccountScopedAdmin):
    form = PoolForm
    list_display = [
        "name",
        "account",
        "numbers",
        "mappings",
        "sticky",
        "geomatch",
        "fallback",
    ]
    list_filter = [ACCOUNT_FILTER, "sticky", "geomatch", "fallback"]
    list_select_related = ["account"]
    search_fields = ["name"]
    autocomplete_fields = ["account"]
    readonly_fields = ["numbers_link", "created_at", "updated_at"]
    actions = ["preview_sender", "clear_mappings"]
    # The admin builds its form fields itself: same https default as PoolForm's.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        return selectors.with_counts(super().get_queryset(request))

    def get_urls(self):
        charts = path(
            "<path:object_id>/charts/",
            self.admin_site.admin_view(self.charts_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_charts",
        )
        return [charts, *super().get_urls()]

    def charts_view(self, request, object_id):
        """Is the load even, how do the messages fare, who stops: the last 30 days at a glance."""
        pool = self.get_object(request, unquote(object_id))
        if pool is None:  # another account's pool does not exist, as on its change page
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, pool):
            raise PermissionDenied
        days = charts.chart_days()
        numbers = selectors.pool_numbers(pool=pool)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Charts of “{pool}”",
            "opts": self.opts,
            "pool": pool,
            "chart_days": charts.CHART_DAYS,
            "load_chart": charts.load_chart(
                [(str(a.number), a.live_mapping_count) for a in numbers]
            ),
            "message_chart": charts.stacked_chart(
                charts.messages_per_day(pool, days[0]), charts.STATUS_COLOURS, days
            ),
            "optout_chart": charts.stacked_chart(
                charts.optouts_per_day(pool, days[0]), charts.OPTOUT_COLOURS, days
            ),
            "capacity": charts.pool_capacity(pool),
        }
        return TemplateResponse(request, "admin/pools/pool/charts.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pool = self.get_object(request, unquote(object_id))
        if pool is not None and self.has_view_permission(request, pool):
            extra_context = {**(extra_context or {}), **self.page_preview(request, pool)}
        return super().change_view(request, object_id, form_url, extra_context)

    def page_preview(self, request, pool: Pool) -> dict:
        """The preview on the pool's page: a GET of the page itself, since it writes
        nothing; the decision shows where the form is (pools/static/pools/preview.js
        swaps that section in, keeping any unsaved settings)."""
        bound = "preview-to" in request.GET
        form = SenderPreviewForm(request.GET if bound else None, prefix="preview")
        context = {"preview_form": form}
        if form.is_valid():
            context.update(preview_outcome(pool, form.cleaned_data))
        return context

    def get_fieldsets(self, request, obj=None):
        identity = ["name", "account"]
        if obj is not None:
            identity += ["numbers_link", "created_at", "updated_at"]
        return [(None, {"fields": identity}), *POOL_FIELDSETS]

    def get_inlines(self, request, obj):
        return [PoolNumberInline] if obj is not None else []

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, PoolNumberInline):
            # The selector counts live mappings, which depends on this pool's TTL.
            kwargs["queryset"] = selectors.pool_numbers(pool=obj)
        return kwargs

    @admin.display(description="numbers", ordering="number_count")
    def numbers(self, pool):
        return format_html('<a href="{}">{}</a>', numbers_changelist_url(pool), pool.number_count)

    @admin.display(description="live mappings", ordering="live_mapping_count")
    def mappings(self, pool):
        return pool.live_mapping_count

    @admin.display(description="numbers")
    def numbers_link(self, pool):
        return format_html(
            '{} — <a href="{}">manage them in the numbers list</a> '
            "(its “Assign to pool…” action adds numbers)",
            pool.number_count,
            numbers_changelist_url(pool),
        )

    def service_save(self, request, form, change):
        data = form.cleaned_data
        if change:
            # A fresh copy: the form's instance already holds the new values, and
            # pool_update compares with the old `sticky` to clear the mappings.
            pool = Pool.objects.get(pk=form.instance.pk)
            return services.pool_update(
                pool=pool, **{name: data[name] for name in form.changed_data}
            )
        settings = {name: data[name] for name in services.SETTINGS_FIELDS if name in data}
        return services.pool_create(account=data["account"], name=data["name"], **settings)

    def delete_model(self, request, obj):
        services.pool_delete(pool=obj)

    def delete_queryset(self, request, queryset):
        for pool in queryset:
            services.pool_delete(pool=pool)

    @admin.action(description="Clear sticky mappings", permissions=["change"])
    def clear_mappings(self, request, queryset):
        pools = list(queryset)
        cleared = sum(mappings_clear(pool=pool) for pool in pools)
        self.message_user(
            request,
            f"Cleared {cleared} sticky mapping(s) from {len(pools)} pool(s).",
            messages.SUCCESS,
        )

    @admin.action(description="Preview sender for a recipient…", permissions=["view"])
    def preview_sender(self, request, queryset):
        """Asks for a recipient on an intermediate page and shows the decision there.

        It goes through the selection service's preview, so it writes nothing: no
        mapping, no counter, no message.
        """
        pools = list(queryset[:2])
        if len(pools) != 1:
            self.message_user(
                request, "Select exactly one pool to preview its sender.", messages.ERROR
            )
            return None
        [pool] = pools
        form = SenderPreviewForm(request.POST if "preview" in request.POST else None)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview the sender of “{pool}”",
            "opts": self.opts,
            "pool": pool,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        if form.is_valid():
            context.update(preview_outcome(pool, form.cleaned_data))
        return TemplateResponse(request, "admin/pools/pool/preview_sender.html", context)


@admin.register(StickyMapping)
class StickyMappingAdmin(ReadOnlyAdmin):
    """Browsable only: selection writes the mappings and keeps its counters with them."""

    account_lookup = "pool__account"
    list_display = ["recipient", "number", "pool", "created_at", "last_used_at"]
    list_filter = [PoolFilter]
    list_select_related = ["pool", "pool_number__number"]
    search_fields = ["recipient", "pool_number__number__number"]

    @admin.display(description="number", ordering="pool_number__number__number")
    def number(self, mapping):
        return mapping.pool_number.number
