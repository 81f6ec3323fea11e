from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Case, Count, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, TruncDate
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
from messaging.models import Message
from optout.models import OptOutEvent
from optout.services import ACCOUNT_WIDE
from pools import selection, selectors, services
from pools.models import Pool, PoolNumber, StickyMapping
from pools.sender import sender_preview
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
            "fields": ["weights", "skip_unhealthy", "overrides"],
            "description": "How new assignments are shared: between number types by weight, "
            "then to the number with the fewest live mappings (sticky on) or the least "
            "recently used one (sticky off).",
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


def mapping_count():
    # A correlated subquery, not a second Count() join: two joins would multiply a
    # pool's numbers by its mappings before counting.
    mappings = (
        StickyMapping.objects.filter(pool=OuterRef("pk"))
        .order_by()
        .values("pool")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(mappings, output_field=IntegerField()), 0)


def https_by_default(db_field, **kwargs):
    """Reads a scheme-less callback URL as https (Django 6's default) rather than http."""
    if isinstance(db_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return db_field.formfield(**kwargs)


class PoolAdminForm(forms.ModelForm):
    class Meta:
        model = Pool
        fields = ["name", "account", *services.SETTINGS_FIELDS]
        formfield_callback = https_by_default

    def clean_default_country(self):
        return self.cleaned_data["default_country"].upper()

    def clean(self):
        data = super().clean()
        for name in ("priority_countries", "allowed_countries", "overrides"):
            if name in data and data[name] is None:
                data[name] = []  # an emptied box means none, not JSON null
        if "alphanumeric_sender_ids" in data and data["alphanumeric_sender_ids"] is None:
            data["alphanumeric_sender_ids"] = {}
        return data


class SenderPreviewForm(forms.Form):
    to = forms.CharField(
        label="Recipient", max_length=32, help_text="In E.164, such as +14155550123."
    )
    mms = forms.BooleanField(
        label="MMS", required=False, help_text="Media attached: only MMS-capable numbers qualify."
    )
    strategy = forms.ChoiceField(
        choices=[(s, s) for s in (selection.Strategy.NUMERIC, selection.Strategy.ALPHANUMERIC)],
        initial=selection.Strategy.NUMERIC,
    )


def preview_outcome(pool: Pool, data: dict) -> dict:
    """What the preview page shows: the decision, or the refusal, with its explanation."""
    try:
        chosen = sender_preview(
            pool=pool,
            to=data["to"],
            channel="mms" if data["mms"] else "sms",
            strategy=data["strategy"],
        )
    except ServiceError as exc:
        return {"refusal": exc, "explanation": exc.details.get("explanation", "").splitlines()}
    return {"selection": chosen, "explanation": chosen.decision.explanation}


# The charts page: drawn as inline SVG on the server, so it needs no script and no network.
CHART_DAYS = 30
# Django admin's own palette, in the order a message moves through its statuses.
STATUS_COLOURS = {
    Message.Status.QUEUED: "#999999",
    Message.Status.SENT: "#79aec8",
    Message.Status.DELIVERED: "#70bf2b",
    Message.Status.UNDELIVERED: "#efb80b",
    Message.Status.FAILED: "#ba2121",
}
POOL_OPTOUTS = "a number of this pool"
ACCOUNT_WIDE_OPTOUTS = "every number of the account (STOPALL)"
OPTOUT_COLOURS = {POOL_OPTOUTS: "#417690", ACCOUNT_WIDE_OPTOUTS: "#efb80b"}


@dataclass(frozen=True)
class LoadBar:
    label: str
    value: int
    y: int
    width: int


@dataclass(frozen=True)
class LoadChart:
    """One horizontal bar per number: its live sticky mappings."""

    bars: list[LoadBar]
    row: ClassVar[int] = 24
    label_width: ClassVar[int] = 130
    bar_max: ClassVar[int] = 360
    width: ClassVar[int] = 540

    @property
    def height(self) -> int:
        return len(self.bars) * self.row

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)

    @property
    def fewest(self) -> int:
        return min(bar.value for bar in self.bars)

    @property
    def most(self) -> int:
        return max(bar.value for bar in self.bars)


def load_chart(values: list[tuple[str, int]]) -> LoadChart:
    top = max((value for _, value in values), default=0) or 1
    return LoadChart(
        [
            LoadBar(label, value, index * LoadChart.row, round(value * LoadChart.bar_max / top))
            for index, (label, value) in enumerate(values)
        ]
    )


@dataclass(frozen=True)
class Segment:
    series: str
    value: int
    y: int
    height: int
    colour: str


@dataclass(frozen=True)
class DayColumn:
    day: date
    x: int
    counts: list[int]  # per series, in the chart's series order
    top: int  # y of the column's top
    segments: list[Segment]
    labelled: bool  # the day is written under every seventh column, counted from today

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class StackedChart:
    """One column per day, stacked by series from the bottom up."""

    series: dict[str, str]  # name → colour
    columns: list[DayColumn]
    plot_height: ClassVar[int] = 160
    step: ClassVar[int] = 22
    bar_width: ClassVar[int] = 16
    bar_middle: ClassVar[int] = bar_width // 2
    margin: ClassVar[int] = 16  # above the plot for the totals, below it for the days

    @property
    def width(self) -> int:
        return len(self.columns) * self.step + self.margin  # room for the last day's label

    @property
    def height(self) -> int:
        return self.plot_height + 2 * self.margin

    @property
    def series_totals(self) -> list[int]:
        return [sum(column) for column in zip(*(c.counts for c in self.columns), strict=True)]

    @property
    def total(self) -> int:
        return sum(self.series_totals)


def stacked_chart(
    counts: dict[tuple[date, str], int], series: dict[str, str], days: list[date]
) -> StackedChart:
    per_day = [[counts.get((day, name), 0) for name in series] for day in days]
    top = max(map(sum, per_day), default=0) or 1

    def y(value: int) -> int:
        return StackedChart.plot_height - round(value * StackedChart.plot_height / top)

    columns = []
    for index, (day, values) in enumerate(zip(days, per_day, strict=True)):
        segments, below = [], 0
        for (name, colour), value in zip(series.items(), values, strict=True):
            if value:
                segments.append(
                    Segment(name, value, y(below + value), y(below) - y(below + value), colour)
                )
            below += value
        labelled = (len(days) - 1 - index) % 7 == 0
        columns.append(
            DayColumn(day, index * StackedChart.step, values, y(below), segments, labelled)
        )
    return StackedChart(series, columns)


def chart_days() -> list[date]:
    today = timezone.localdate()
    return [today - timedelta(days=n) for n in reversed(range(CHART_DAYS))]


def messages_per_day(pool: Pool, since: date) -> dict[tuple[date, str], int]:
    rows = (
        Message.objects.filter(pool=pool, created_at__date__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {(row["day"], row["status"]): row["count"] for row in rows}


def optouts_per_day(pool: Pool, since: date) -> dict[tuple[date, str], int]:
    """Opt-outs added that stop the pool: to one of its numbers, or to every number."""
    pool_numbers = PoolNumber.objects.filter(pool=pool).values("number__number")
    rows = (
        OptOutEvent.objects.filter(
            Q(number__in=pool_numbers) | Q(number=ACCOUNT_WIDE),
            account=pool.account_id,
            change=OptOutEvent.Change.ADDED,
            created_at__date__gte=since,
        )
        .annotate(
            day=TruncDate("created_at"),
            scope=Case(
                When(number=ACCOUNT_WIDE, then=Value(ACCOUNT_WIDE_OPTOUTS)),
                default=Value(POOL_OPTOUTS),
            ),
        )
        .values("day", "scope")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {(row["day"], row["scope"]): row["count"] for row in rows}


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
    form = PoolAdminForm
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
    # The admin builds its form fields itself: same https default as PoolAdminForm's.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(number_count=Count("pool_numbers"), mapping_count=mapping_count())
        )

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
        days = chart_days()
        numbers = selectors.pool_numbers(pool=pool)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Charts of “{pool}”",
            "opts": self.opts,
            "pool": pool,
            "chart_days": CHART_DAYS,
            "load_chart": load_chart([(str(a.number), a.live_mapping_count) for a in numbers]),
            "message_chart": stacked_chart(messages_per_day(pool, days[0]), STATUS_COLOURS, days),
            "optout_chart": stacked_chart(optouts_per_day(pool, days[0]), OPTOUT_COLOURS, days),
        }
        return TemplateResponse(request, "admin/pools/pool/charts.html", context)

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

    @admin.display(description="sticky mappings", ordering="mapping_count")
    def mappings(self, pool):
        return pool.mapping_count

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
        cleared = sum(services.pool_clear_mappings(pool=pool) for pool in pools)
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
