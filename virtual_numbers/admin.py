from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.template.response import TemplateResponse

from accounts.admin_mixins import ACCOUNT_FILTER, AccountScopedAdmin, SavedByServiceAdmin
from pools.admin import PoolFilter
from pools.models import Pool
from pools.services import pool_assign_numbers, pool_remove_numbers
from pools_project.errors import ServiceError
from virtual_numbers import services
from virtual_numbers.models import Number


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
        ]
        widgets = {"health_override": HealthOverrideSelect}

    def clean(self):
        data = super().clean()
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
        "last_used_at",
        "account",
    ]
    list_filter = [
        "country",
        "type",
        NumberPoolFilter,
        HealthFilter,
        AssignedFilter,
        ACCOUNT_FILTER,
    ]
    list_select_related = ["account", "pool_number__pool"]
    search_fields = ["number", "area_code", "location"]
    autocomplete_fields = ["account"]
    actions = ["assign_to_pool", "remove_from_pool"]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            fields = ["account", "number", "type", "country", "sms_capable", "mms_capable"]
            return [(None, {"fields": fields})]
        return [
            (None, {"fields": ["account", "number", "country", "area_code", "location", "pool"]}),
            ("Type and capabilities", {"fields": ["type", "sms_capable", "mms_capable"]}),
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
            "last_used_at",
            "messages_sent",
            "created_at",
        ]

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
            )
        return services.number_register(
            account=data["account"],
            number=data["number"],
            type=data["type"],
            capabilities=capabilities,
            country=data["country"],
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
