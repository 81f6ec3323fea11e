"""Carrier connections in the console (SPEC §11): each setting of the kind is a form field
of its own, checked by the API's rules; secrets are password inputs never rendered back."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin_mixins import (
    ACCOUNT_FILTER,
    AccountScopedAdmin,
    PositiveRateField,
    SavedByServiceAdmin,
)
from carriers import selectors, services
from carriers.kinds import KINDS, Setting, secrets_errors, settings_errors
from carriers.models import Connection

MODEL_FIELDS = ["account", "name", "kind", "is_default", "messages_per_second", "window"]


def setting_field_name(kind: str, name: str) -> str:
    return f"{kind}_{name}"


def secret_field_name(kind: str, name: str) -> str:
    return f"{kind}_secret_{name}"


def setting_form_field(name: str, setting: Setting) -> forms.Field:
    # Never required by the field itself: the kind's rules decide, once the kind is known.
    options = {"label": name, "help_text": setting.help_text, "required": False}
    if setting.choices:
        return forms.ChoiceField(choices=[(c, c) for c in setting.choices], **options)
    if setting.type is bool:
        return forms.BooleanField(**options)
    if setting.type is int:
        return forms.IntegerField(**options)
    return forms.CharField(**options)


def secret_form_field(name: str, *, adding: bool) -> forms.CharField:
    return forms.CharField(
        label=name,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="" if adding else "Never shown. Leave blank to keep the stored value.",
    )


def model_help(field: str) -> str:
    return Connection._meta.get_field(field).help_text


class ConnectionAdminForm(forms.ModelForm):
    """The connection, with its kind's settings and secrets as fields (every kind's on the
    add page, where the kind is not chosen yet). `settings` and `secrets` are what the
    fields say once cleaned: the settings that differ from their default, the secrets typed."""

    messages_per_second = PositiveRateField(
        required=False,
        max_value=services.MAX_MESSAGES_PER_SECOND,
        help_text=model_help("messages_per_second"),
    )
    window = forms.IntegerField(
        min_value=1,
        max_value=services.MAX_WINDOW,
        initial=services.DEFAULT_WINDOW,
        help_text=model_help("window"),
    )

    class Meta:
        model = Connection
        fields = MODEL_FIELDS
        labels = {"is_default": "Default connection"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        adding = self.instance._state.adding
        for kind in KINDS if adding else [self.instance.kind]:
            for name, setting in KINDS[kind].settings.items():
                self.fields[setting_field_name(kind, name)] = setting_form_field(name, setting)
                self.initial.setdefault(setting_field_name(kind, name), setting.default)
            for name in KINDS[kind].secrets:
                self.fields[secret_field_name(kind, name)] = secret_form_field(name, adding=adding)
        if not adding:
            for name, value in self.instance.settings.items():
                self.initial[setting_field_name(self.instance.kind, name)] = value
        self.settings, self.secrets = {}, {}

    def _get_validation_exclusions(self):
        # The one-default constraint is not the form's to check: saving through the service
        # makes this connection the default and the previous one stops being it.
        return super()._get_validation_exclusions() | {"is_default"}

    def clean(self):
        data = super().clean()
        kind = data.get("kind") if self.instance._state.adding else self.instance.kind
        if kind in KINDS:
            self.settings = self._clean_settings(kind)
            self.secrets = self._clean_secrets(kind)
        return data

    def _clean_settings(self, kind: str) -> dict:
        settings = {}
        for name, setting in KINDS[kind].settings.items():
            value = self.cleaned_data.get(setting_field_name(kind, name))
            # Blank means the default, and so does the default itself: neither is stored.
            if value is not None and value != "" and value != setting.default:
                settings[name] = value
        self._add_errors(setting_field_name, kind, settings_errors(kind, settings))
        return settings

    def _clean_secrets(self, kind: str) -> dict:
        typed = {
            name: self.cleaned_data.get(secret_field_name(kind, name))
            for name in KINDS[kind].secrets
        }
        typed = {name: value for name, value in typed.items() if value}  # blank: keep
        stored = {} if self.instance._state.adding else self.instance.secrets
        self._add_errors(secret_field_name, kind, secrets_errors(kind, {**stored, **typed}))
        return typed

    def _add_errors(self, field_name, kind: str, errors: dict[str, list[str]]) -> None:
        for name, problems in errors.items():
            field = field_name(kind, name)
            if field not in self.errors:  # a value the field itself refused is not also missing
                self.add_error(field, problems)


# What a saved connection shows of its state, its webhook URLs and its numbers (read-only).
STATE_FIELDS = [
    "state_status",
    "state_detail",
    "state_checked_at",
    "webhook_inbound",
    "webhook_status",
    "numbers_shown",
    "created_at",
]


@admin.register(Connection)
class ConnectionAdmin(SavedByServiceAdmin, AccountScopedAdmin):
    form = ConnectionAdminForm
    list_display = ["name", "kind", "state", "default", "number_count", "account"]
    list_filter = ["kind", "state_status", "is_default", ACCOUNT_FILTER]
    list_select_related = ["account"]
    search_fields = ["name"]
    autocomplete_fields = ["account"]
    actions = ["check_now"]

    def get_queryset(self, request):
        return selectors.with_number_count(super().get_queryset(request))

    def get_form(self, request, obj=None, **kwargs):
        # The kind's settings and secrets are fields of the form, not of the model.
        readonly = self.get_readonly_fields(request, obj)
        kwargs["fields"] = [name for name in MODEL_FIELDS if name not in readonly]
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["kind", "settings_shown", "secrets_set", *STATE_FIELDS]

    def get_fieldsets(self, request, obj=None):
        main = (None, {"fields": ["account", "name", "kind", "is_default"]})
        limits = ("Limits", {"fields": ["messages_per_second", "window"]})
        if obj is None:
            return [main, *self._kind_fieldsets(), limits]
        state = (
            "State and webhook URLs",
            {
                "fields": STATE_FIELDS,
                "description": "What the last attempt or check found, the addresses to "
                "paste into the provider's console, and the numbers that send through it.",
            },
        )
        return [main, *self._settings_fieldsets(request, obj), limits, state]

    def _kind_fieldsets(self):
        """The add page's: one per kind, folded, since the kind is chosen on the same page."""
        return [
            (
                f"{Connection.Kind(kind).label} settings and secrets",
                {
                    "fields": [
                        *(setting_field_name(kind, name) for name in spec.settings),
                        *(secret_field_name(kind, name) for name in spec.secrets),
                    ],
                    "classes": ["collapse"],
                    "description": f"For {Connection.Kind(kind).label} connections only. "
                    "An empty setting takes its default.",
                },
            )
            for kind, spec in KINDS.items()
            if spec.settings or spec.secrets
        ]

    def _settings_fieldsets(self, request, obj):
        spec = KINDS[obj.kind]
        if not self.has_change_permission(request, obj):
            settings, secrets = ["settings_shown"], ["secrets_set"]
        else:
            settings = [setting_field_name(obj.kind, name) for name in spec.settings]
            secrets = [*(secret_field_name(obj.kind, name) for name in spec.secrets), "secrets_set"]
        fieldsets = []
        if spec.settings:
            description = "An empty setting takes its default."
            fieldsets.append(("Settings", {"fields": settings, "description": description}))
        if spec.secrets:
            description = "Write-only: a secret is never shown back, here or in the API."
            fieldsets.append(("Secrets", {"fields": secrets, "description": description}))
        return fieldsets

    @admin.display(description="state", ordering="state_status")
    def state(self, connection):
        return format_html(
            '<span title="{}">{}</span>',
            connection.state_detail,
            connection.get_state_status_display(),
        )

    @admin.display(description="default", ordering="-is_default")
    def default(self, connection):
        # In words: "not the default" is no error, as the admin's red ✕ would say.
        return "the account's default" if connection.is_default else ""

    @admin.display(description="numbers", ordering="number_count")
    def number_count(self, connection):
        return connection.number_count  # annotated by selectors.with_number_count

    @admin.display(description="settings")
    def settings_shown(self, connection):
        effective = {**KINDS[connection.kind].defaults(), **connection.settings}
        return ", ".join(f"{name}: {value}" for name, value in effective.items()) or "-"

    @admin.display(description="secrets set")
    def secrets_set(self, connection):
        return ", ".join(connection.secrets_set) or "None"

    @admin.display(description="numbers")
    def numbers_shown(self, connection):
        numbers = selectors.connection_numbers(connection=connection).order_by("number")
        shown = ", ".join(str(number) for number in numbers[:10])
        more = numbers.count() - 10
        url = reverse("admin:numbers_number_changelist") + f"?connection__id__exact={connection.pk}"
        return format_html(
            '{} <a href="{}">{}</a>',
            shown + (f" and {more} more" if more > 0 else "") or "None yet.",
            url,
            "See them in the numbers list",
        )

    @admin.display(description="inbound webhook URL")
    def webhook_inbound(self, connection):
        return connection.webhook_urls()["inbound"]

    @admin.display(description="status webhook URL")
    def webhook_status(self, connection):
        return connection.webhook_urls()["status"]

    def service_save(self, request, form, change):
        data = form.cleaned_data
        fields = {
            "name": data["name"],
            "secrets": form.secrets,
            "messages_per_second": data["messages_per_second"],
            "window": data["window"],
            "is_default": data["is_default"],
        }
        if change:
            kind = form.instance.kind
            # The whole of the kind's settings: those the form left out go back to default.
            settings = {name: form.settings.get(name) for name in KINDS[kind].settings}
            return services.connection_update(connection=form.instance, settings=settings, **fields)
        return services.connection_create(
            account=data["account"], kind=data["kind"], settings=form.settings, **fields
        )

    def get_deleted_objects(self, objs, request):
        """Django sees the numbers that name a connection; not those that name none and so
        use the account's default. Both keep it from being deleted."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for connection in objs:
            count = selectors.connection_numbers(connection=connection).count()
            if count:
                error = services.connection_in_use_error(connection, count)
                protected.append(f"{connection}: {error.message}")
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        services.connection_delete(connection=obj)

    def delete_queryset(self, request, queryset):
        for connection in queryset:
            services.connection_delete(connection=connection)

    @admin.action(description="Check now", permissions=["change"])
    def check_now(self, request, queryset):
        """Try each connection's credentials, one after the other, with no transaction open."""
        for connection in queryset:
            result = services.connection_check(connection=connection)
            level = messages.SUCCESS if result.status == Connection.Status.UP else messages.WARNING
            self.message_user(
                request, f"{connection.name}: {result.status}, {result.detail}", level
            )
