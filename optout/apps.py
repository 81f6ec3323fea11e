from django.apps import AppConfig


class OptoutConfig(AppConfig):
    name = "optout"
    verbose_name = "Opt-out and inbound"

    def ready(self):
        from optout import signals  # noqa: F401
