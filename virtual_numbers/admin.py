import io
from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin_mixins import (
    ACCOUNT_FILTER,
    AccountScopedAdmin,
    OwnAccountField,
    PositiveRateField,
    SavedByServiceAdmin,
    user_account_id,
)
from accounts.models import Account
from pools.admin import PoolFilter
from pools.models import Pool
from pools.services.pools import pool_assign_numbers, pool_remove_numbers
from pools_project.errors import ServiceError
from virtual_numbers import services
from virtual_numbers.capacity import utc_today
from virtual_numbers.importing import ImportReport, numbers_import, read_numbers_csv
from virtual_numbers.models import Number

# The file travels through the page twice (uploaded for the preview, posted back from a
# hidden field for the import): this keeps it under DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
IMPORT_MAX_BYTES = 2 * 1024 * 1024
IMPORT_MAX_ROWS = 10_000


class HealthFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return [("healthy", "Healthy"), ("unhealthy", "Unhealthy")]

    def queryset(self, request, queryset):
        # Through the queryset methods: an operator's override wins over computed health.
        if self.value() == "healthy":
            return queryset.healthy()
        if self.value() == "unhealthy":
            return queryset.unhealthy()
        return queryset


class CapacityFilter(admin.SimpleListFilter):
    title = "daily cap"
    parameter_name = "capacity"

    def lookups(self, request, model_admin):
        return [("at_cap", "At its cap today (UTC)")]

    def queryset(self, request, queryset):
        if self.value() == "at_cap":
            return queryset.at_daily_cap(utc_today())
        return queryset


class AssignedFilter(admin.SimpleListFilter):
    title = "pool assignment"
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("yes", "In a pool"), ("no", "In no pool")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.assigned()
        if self.value() == "no":
            return queryset.unassigned()
        return queryset


class NumberPoolFilter(PoolFilter):
    pool_lookup = "pool_number__pool"


class HealthOverrideSelect(forms.NullBooleanSelect):
    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [
            ("unknown", "Follow delivery reports"),
            ("true", "Healthy"),
            ("false", "Unhealthy"),
        ]


class NumberAdminForm(forms.ModelForm):
    """Validates as `number_register` and `number_update` will, so refusals are form errors."""

    # Wider than the column: people paste "+1 212-555-0142"; the service normalises it.
    number = forms.CharField(max_length=32, help_text=Number._meta.get_field("number").help_text)
    country = forms.CharField(
        max_length=2,
        required=False,
        help_text="Short codes: the ISO 3166-1 alpha-2 code of their country. "
        "Derived from E.164 numbers.",
    )
    parts_per_second = PositiveRateField(
        label="Parts per second",
        required=False,
        max_value=services.MAX_PARTS_PER_SECOND,
        help_text=Number._meta.get_field("parts_per_second").help_text,
    )
    daily_new_recipients = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=services.MAX_DAILY_NEW_RECIPIENTS,
        help_text=Number._meta.get_field("daily_new_recipients").help_text,
    )
    # A form posted without it registers the number active, as the API does.
    state = forms.TypedChoiceField(
        choices=Number.State.choices,
        required=False,
        empty_value=Number.State.ACTIVE,
        help_text=Number._meta.get_field("state").help_text,
    )

    class Meta:
        model = Number
        fields = [
            "account",
            "number",
            "type",
            "country",
            "sms_capable",
            "mms_capable",
            "health_override",
            "connection",
            "parts_per_second",
            "state",
            "daily_new_recipients",
        ]
        widgets = {"health_override": HealthOverrideSelect}

    def clean(self):
        data = super().clean()
        connection, account = data.get("connection"), data.get("account")
        if connection is not None and account is not None and connection.account_id != account.pk:
            self.add_error(
                "connection",
                f"“{connection}” is a connection of another account: choose one of {account}'s.",
            )
        try:
            if self.instance._state.adding and {"number", "type"} <= data.keys():
                facts = services.number_facts(
                    number=data["number"], type=data["type"], country=data["country"].upper()
                )
                # Normalised here so the uniqueness check below sees what will be stored.
                data.update(number=facts.number, country=facts.country)
            elif not self.instance._state.adding and "type" in data:
                services.number_facts(
                    number=self.instance.number, type=data["type"], country=self.instance.country
                )
        except ServiceError as exc:
            self.add_error("number" if self.instance._state.adding else "type", exc.message)
        return data


class AssignToPoolForm(forms.Form):
    pool = forms.ModelChoiceField(queryset=Pool.objects.none(), empty_label=None)

    def __init__(self, *args, pools, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pool"].queryset = pools


class NumberImportForm(forms.Form):
    """The CSV import's two steps: a file to preview, then the previewed content to import."""

    required_css_class = "required"
    file = forms.FileField(
        label="CSV file",
        required=False,
        help_text="A header row, then one number per row: number,type,capabilities,country. "
        "type is longcode (the default), tollfree or shortcode; capabilities sms (the "
        "default), mms or sms|mms; country is needed for short codes only. UTF-8, at most "
        f"2 MB and {IMPORT_MAX_ROWS:,} rows.",
    )
    # The preview puts the file here, so the import posts back exactly what was previewed.
    content = forms.CharField(
        required=False, strip=False, widget=forms.Textarea(attrs={"hidden": True})
    )
    account = forms.ModelChoiceField(queryset=Account.objects.all())
    pool = forms.ModelChoiceField(
        queryset=Pool.objects.none(),
        required=False,
        empty_label="No pool: register the numbers only",
        help_text="One of the account's pools to assign the numbers to. "
        "A number already in another pool is rejected.",
    )

    def __init__(self, *args, account_id, pools, **kwargs):
        super().__init__(*args, **kwargs)
        if account_id is not None:
            self.fields["account"] = OwnAccountField(queryset=Account.objects.filter(pk=account_id))
        else:
            self.fields["pool"].label_from_instance = lambda pool: f"{pool} ({pool.account})"
        self.fields["pool"].queryset = pools

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file is None:
            return None
        if file.size > IMPORT_MAX_BYTES:
            raise ValidationError("The file is larger than 2 MB: import it in parts.")
        try:
            # utf-8-sig: spreadsheets often start their CSV exports with a byte-order mark.
            return file.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(f"The file is not UTF-8 text: {exc.reason}.") from exc

    def clean(self):
        data = super().clean()
        if "file" in self.errors:
            return data
        data["content"] = data.get("file") or data.get("content")
        try:
            data["rows"] = self._rows(data["content"])
        except ValidationError as exc:
            self.add_error("file", exc)
        pool, account = data.get("pool"), data.get("account")
        if pool is not None and account is not None and pool.account_id != account.pk:
            self.add_error("pool", f"“{pool}” is not a pool of {account}: choose one of its pools.")
        return data

    @staticmethod
    def _rows(content):
        if not content:
            raise ValidationError("Choose a CSV file.")
        try:
            rows = read_numbers_csv(io.StringIO(content, newline=""))
        except ServiceError as exc:
            raise ValidationError(exc.message) from exc
        if not rows:
            raise ValidationError("The file has a header row but no numbers.")
        if len(rows) > IMPORT_MAX_ROWS:
            raise ValidationError(
                f"The file has {len(rows):,} rows, more than {IMPORT_MAX_ROWS:,}: "
                "import it in parts."
            )
        return rows


def pool_size_after(pool: Pool, report: ImportReport) -> int:
    """The numbers the pool holds once the file is in: those it held and the file's, a
    number in both (or twice in the file) counted once. After a dry run, undone, the pool
    holds what it held before."""
    held = Number.objects.filter(pool_number__pool=pool).values_list("number", flat=True)
    # Created or skipped, with a pool: the file's numbers that the import put in it.
    return len({*held, *report.created, *report.skipped})


def import_summary(report: ImportReport, pool: Pool | None, pool_size: int | None) -> str:
    summary = (
        f"{len(report.created)} created, {len(report.skipped)} skipped (already registered), "
        f"{len(report.rejected)} rejected"
    )
    if pool is not None:
        summary += f"; {pool_size} now in pool “{pool}”"
    return summary


@admin.register(Number)
class NumberAdmin(SavedByServiceAdmin, AccountScopedAdmin):
    form = NumberAdminForm
    list_display = [
        "number",
        "type",
        "country",
        "area_code",
        "location",
        "pool",
        "healthy",
        "state",
        "last_used_at",
        "account",
    ]
    list_filter = [
        "country",
        "type",
        NumberPoolFilter,
        HealthFilter,
        "state",
        CapacityFilter,
        AssignedFilter,
        ("connection", admin.RelatedOnlyFieldListFilter),
        ACCOUNT_FILTER,
    ]
    list_select_related = ["account", "pool_number__pool"]
    search_fields = ["number", "area_code", "location"]
    autocomplete_fields = ["account"]
    actions = ["assign_to_pool", "remove_from_pool", "cordon", "activate"]
    change_list_template = "admin/numbers/number/change_list.html"  # adds "Import CSV"

    def get_urls(self):
        # Before the default URLs, whose "<object_id>/" would take "import/" for an id.
        import_csv = path(
            "import/",
            self.admin_site.admin_view(self.import_csv_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_import",
        )
        return [import_csv, *super().get_urls()]

    def get_fieldsets(self, request, obj=None):
        sending = ("Sending", {"fields": ["connection", "parts_per_second"]})
        capacity = ["state", "daily_new_recipients"]
        if obj is None:
            fields = ["account", "number", "type", "country", "sms_capable", "mms_capable"]
            return [(None, {"fields": fields}), sending, ("New recipients", {"fields": capacity})]
        return [
            (None, {"fields": ["account", "number", "country", "area_code", "location", "pool"]}),
            ("Type and capabilities", {"fields": ["type", "sms_capable", "mms_capable"]}),
            sending,
            ("New recipients", {"fields": [*capacity, "new_recipients_taken_today"]}),
            (
                "Health and usage",
                {
                    "fields": [
                        "healthy",
                        "computed_healthy",
                        "health_override",
                        "last_used_at",
                        "messages_sent",
                        "created_at",
                    ]
                },
            ),
        ]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        connection = form.base_fields.get("connection")
        if connection is not None and obj is not None:
            connection.queryset = connection.queryset.filter(account_id=obj.account_id)
        elif connection is not None and user_account_id(request.user) is None:
            # Superusers add numbers to any account: say whose each connection is.
            connection.queryset = connection.queryset.select_related("account")
            connection.label_from_instance = lambda c: f"{c.name} ({c.account})"
        return form

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # The number itself is what was registered: to change it, register another.
        return [
            "number",
            "country",
            "area_code",
            "location",
            "pool",
            "healthy",
            "computed_healthy",
            "new_recipients_taken_today",
            "last_used_at",
            "messages_sent",
            "created_at",
        ]

    @admin.display(description="new recipients today (UTC)")
    def new_recipients_taken_today(self, number):
        return number.new_recipients_on_day(utc_today())

    @admin.display(description="pool", ordering="pool_number__pool__name")
    def pool(self, number):
        return number.pool_number.pool if hasattr(number, "pool_number") else None

    @admin.display(description="healthy", boolean=True)
    def healthy(self, number):
        return number.healthy

    def service_save(self, request, form, change):
        data = form.cleaned_data
        capabilities = [name for name in services.CAPABILITIES if data[f"{name}_capable"]]
        if change:
            return services.number_update(
                number=form.instance,
                type=data["type"],
                capabilities=capabilities,
                healthy=data["health_override"],
                connection=data["connection"],
                parts_per_second=data["parts_per_second"],
                daily_new_recipients=data["daily_new_recipients"],
                state=data["state"],
            )
        return services.number_register(
            account=data["account"],
            number=data["number"],
            type=data["type"],
            capabilities=capabilities,
            country=data["country"],
            connection=data["connection"],
            parts_per_second=data["parts_per_second"],
            daily_new_recipients=data["daily_new_recipients"],
            state=data["state"],
        )

    def delete_model(self, request, obj):
        services.number_delete(number=obj)

    def delete_queryset(self, request, queryset):
        for number in queryset:
            services.number_delete(number=number)

    @admin.action(description="Assign to pool…", permissions=["change"])
    def assign_to_pool(self, request, queryset):
        """Asks for the pool on an intermediate page, then assigns all the numbers or none."""
        account_ids = set(queryset.values_list("account_id", flat=True))
        if len(account_ids) != 1:
            self.message_user(
                request,
                "Select numbers of one account: a pool takes only its own account's numbers.",
                messages.ERROR,
            )
            return None
        pools = Pool.objects.filter(account_id=account_ids.pop())
        if not pools.exists():
            self.message_user(
                request, "The account has no pool yet: add one first.", messages.ERROR
            )
            return None
        form = AssignToPoolForm(request.POST if "apply" in request.POST else None, pools=pools)
        if form.is_valid():
            self._assign(request, form.cleaned_data["pool"], queryset)
            return None  # back to the list, which shows the outcome
        context = {
            **self.admin_site.each_context(request),
            "title": "Assign numbers to a pool",
            "opts": self.opts,
            "form": form,
            "numbers": queryset.select_related("pool_number__pool"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/numbers/number/assign_to_pool.html", context)

    def _assign(self, request, pool, queryset):
        numbers = [number.number for number in queryset]
        try:
            pool_assign_numbers(pool=pool, numbers=numbers)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(
                request, f"{len(numbers)} number(s) now in pool “{pool}”.", messages.SUCCESS
            )

    @admin.action(description="Remove from pool", permissions=["change"])
    def remove_from_pool(self, request, queryset):
        by_pool = defaultdict(list)
        for number in queryset.assigned().select_related("pool_number__pool"):
            by_pool[number.pool_number.pool].append(number.number)
        if not by_pool:
            self.message_user(
                request, "None of the selected numbers is in a pool.", messages.WARNING
            )
            return
        with transaction.atomic():  # all the pools or none
            for pool, numbers in by_pool.items():
                pool_remove_numbers(pool=pool, numbers=numbers)
        removed = sum(len(numbers) for numbers in by_pool.values())
        names = ", ".join(f"“{pool}”" for pool in by_pool)
        self.message_user(request, f"Removed {removed} number(s) from {names}.", messages.SUCCESS)

    @admin.action(description="Cordon selected numbers", permissions=["change"])
    def cordon(self, request, queryset):
        changed = services.numbers_set_state(numbers=queryset, state=Number.State.CORDONED)
        self.message_user(
            request,
            f"{changed} number(s) cordoned: they take no new recipients, and keep serving "
            "their sticky mappings until these expire.",
            messages.SUCCESS,
        )

    @admin.action(description="Activate selected numbers", permissions=["change"])
    def activate(self, request, queryset):
        changed = services.numbers_set_state(numbers=queryset, state=Number.State.ACTIVE)
        self.message_user(
            request,
            f"{changed} number(s) activated: they take new recipients again.",
            messages.SUCCESS,
        )

    def import_csv_view(self, request):
        """Step 1 previews the CSV with a dry run, whose report is exact; step 2 imports it."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        pools = self.admin_site.get_model_admin(Pool).scope(
            request, Pool.objects.select_related("account")
        )
        if not self.has_change_permission(request):
            pools = pools.none()  # assigning to a pool is a change, as in "Assign to pool…"
        bound = request.method == "POST"
        form = NumberImportForm(
            request.POST if bound else None,
            request.FILES if bound else None,
            account_id=user_account_id(request.user),
            pools=pools,
        )
        report = pool_size = None
        if form.is_valid():
            data = form.cleaned_data
            report = numbers_import(
                account=data["account"],
                rows=data["rows"],
                pool=data["pool"],
                dry_run="import" not in request.POST,
            )
            if data["pool"] is not None:
                pool_size = pool_size_after(data["pool"], report)
            if not report.dry_run:
                summary = import_summary(report, data["pool"], pool_size)
                self.message_user(
                    request,
                    f"Imported into {data['account']}: {summary}.",
                    messages.WARNING if report.rejected else messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:numbers_number_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import numbers from a CSV file",
            "opts": self.opts,
            "form": form,
            "report": report,
            "pool_size": pool_size,
        }
        return TemplateResponse(request, "admin/numbers/number/import_csv.html", context)
