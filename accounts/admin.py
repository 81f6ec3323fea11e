from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin

from accounts.admin_mixins import ACCOUNT_FILTER, AccountScopedAdmin, SavedByServiceAdmin
from accounts.models import Account, ApiKey, User
from accounts.services import api_key_create, api_key_revoke


@admin.register(Account)
class AccountAdmin(AccountScopedAdmin):
    account_lookup = "pk"
    list_display = ["name", "created_at"]
    search_fields = ["name"]  # the account autocompletes of the other admins search here
    fields = ["name", "webhook_secret", "created_at"]
    readonly_fields = ["webhook_secret", "created_at"]

    # A scoped user has exactly one account: creating or deleting one is outside it.
    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(ApiKey)
class ApiKeyAdmin(SavedByServiceAdmin, AccountScopedAdmin):
    list_display = ["prefix", "name", "account", "created_at", "revoked_at"]
    list_filter = [ACCOUNT_FILTER, ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["account"]
    search_fields = ["prefix", "name"]
    autocomplete_fields = ["account"]
    readonly_fields = ["prefix", "created_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["account", "name"]
        return ["prefix", "name", "account", "created_at", "revoked_at"]

    def service_save(self, request, form, change):
        if change:
            return form.save()  # only the name can change
        issued = api_key_create(
            account=form.cleaned_data["account"], name=form.cleaned_data["name"]
        )
        # The raw key exists only in this response: the database keeps its hash.
        self.message_user(
            request,
            f"The new API key is {issued.raw_key} — copy it now: "
            "it is not stored and will not be shown again.",
            messages.SUCCESS,
        )
        return issued.api_key

    def has_delete_permission(self, request, obj=None):
        return False  # keys are revoked, not deleted, so the list keeps their history

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        keys = list(queryset.active())
        for key in keys:
            api_key_revoke(api_key=key)
        self.message_user(request, f"Revoked {len(keys)} API key(s).", messages.SUCCESS)


@admin.register(User)
class UserAdmin(auth_admin.UserAdmin):
    """Superusers only: whoever can edit users can make anyone a superuser."""

    fieldsets = [*auth_admin.UserAdmin.fieldsets, ("Tenant", {"fields": ["account"]})]
    add_fieldsets = [*auth_admin.UserAdmin.add_fieldsets, ("Tenant", {"fields": ["account"]})]
    list_display = [*auth_admin.UserAdmin.list_display, "account"]
    list_filter = [*auth_admin.UserAdmin.list_filter, "account"]
    list_select_related = ["account"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
