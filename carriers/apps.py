from django.apps import AppConfig


class CarriersConfig(AppConfig):
    name = "carriers"
    verbose_name = "Carrier connections"
    default_auto_field = "django.db.models.BigAutoField"
