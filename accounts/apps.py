from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from accounts.groups import operators_group_sync

        # After migrate, when every app's permissions exist.
        post_migrate.connect(operators_group_sync, dispatch_uid="accounts_operators_group")
