"""What every model admin of the console shares: tenant scoping and writes through services.

Permissions: scoping narrows Django's model permissions, it does not grant them. A
staff user tied to an account still needs the usual view/add/change/delete
permissions (give them through a group), and then sees only that account's objects.
Staff tied to no account see nothing unless they are superusers, who see everything.
"""

from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.text import Truncator

from accounts.models import Account

# Superusers filter by account; scoped users have only theirs, so the mixin drops it.
ACCOUNT_FILTER = ("account", admin.RelatedOnlyFieldListFilter)


def short_time(moment) -> str:
    """A moment in a list, in the console's time zone: sortable, and one short line."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


def excerpt(text: str, length: int = 40) -> str:
    """A body in a list: one line, cut to `length` characters."""
    return Truncator(" ".join(text.split())).chars(length)


def user_account_id(user):
    """The account a non-superuser is confined to; None for superusers."""
    return None if user.is_superuser else getattr(user, "account_id", None)


def in_scope(user) -> bool:
    # Anonymous users (the login page asks too) have no account.
    return user.is_superuser or getattr(user, "account_id", None) is not None


class OwnAccountField(forms.ModelChoiceField):
    """A scoped user's `account`: always their own, whatever the browser posts.

    It stays in the form (hidden) rather than being excluded, so ModelForm
    validation still checks the constraints that involve the account, such as a
    pool's name being unique within it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "disabled": True, "widget": forms.HiddenInput})

    def clean(self, value):
        return self.queryset.get()  # the queryset is limited to the user's account


class PositiveRateField(forms.FloatField):
    """A rate per second: empty (the default), or above 0 and at most `max_value`."""

    def validate(self, value):
        super().validate(value)
        if value is not None and value <= 0:
            raise forms.ValidationError("Enter a rate greater than 0.", code="min_value")


class AccountScopedAdmin(admin.ModelAdmin):
    """Confines staff tied to an account to that account's objects.

    `account_lookup` is the path from the model to its account.
    """

    account_lookup = "account"

    def scope(self, request, queryset):
        user = request.user
        if user.is_superuser:
            return queryset
        if user.account_id is None:
            return queryset.none()
        return queryset.filter(**{self.account_lookup: user.account_id})

    def get_queryset(self, request):
        # Also where the change, delete and history views, actions and autocomplete
        # look objects up: another account's object simply does not exist.
        return self.scope(request, super().get_queryset(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if user_account_id(request.user) is not None:
            if related is Account and db_field.name == "account":
                kwargs["form_class"] = OwnAccountField
                kwargs["widget"] = forms.HiddenInput  # else the admin sets an autocomplete
            if self.admin_site.is_registered(related):
                related_admin = self.admin_site.get_model_admin(related)
                if isinstance(related_admin, AccountScopedAdmin):
                    kwargs["queryset"] = related_admin.scope(
                        request, related._default_manager.all()
                    )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        account_field = form.base_fields.get("account")
        if obj is not None and account_field is not None:
            # Moving an object to another tenant would strand its pool links.
            account_field.disabled = True
        return form

    def get_list_display(self, request):
        return [
            name
            for name in super().get_list_display(request)
            if name != "account" or user_account_id(request.user) is None
        ]

    def get_list_filter(self, request):
        return [
            spec
            for spec in super().get_list_filter(request)
            if spec != ACCOUNT_FILTER or user_account_id(request.user) is None
        ]

    def has_module_permission(self, request):
        return in_scope(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return in_scope(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return in_scope(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return in_scope(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return in_scope(request.user) and super().has_delete_permission(request, obj)


class SavedByServiceAdmin(admin.ModelAdmin):
    """For models whose writes belong to a service (STYLE: the admin calls the services).

    Django's add and change views save whatever `save_form` returns with `save_model`;
    here `save_form` hands the validated form to `service_save`, which returns the
    object the service created or updated, so `save_model` has nothing left to do.
    """

    def service_save(self, request, form, change):
        raise NotImplementedError

    def save_form(self, request, form, change):
        return self.service_save(request, form, change)

    def save_model(self, request, obj, form, change):
        pass

    def save_related(self, request, form, formsets, change):
        # These forms have no many-to-many fields (and `form.save_m2m` exists only
        # after `save(commit=False)`); their inlines are read-only, shown on change only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


class ReadOnlyAdmin(AccountScopedAdmin):
    """For what services write and nobody edits: messages, notifications, mappings,
    the opt-out audit, what people wrote in."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown as part of their parent's page: whoever may see the parent sees them."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return self.admin_site.get_model_admin(self.parent_model).has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
