from django.apps import AppConfig


class PoolsConfig(AppConfig):
    name = "pools"
    verbose_name = "Pools"

    def ready(self):
        from pools import tasks  # noqa: F401  (registered by name, as messaging's)
