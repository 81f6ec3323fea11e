from django.apps import AppConfig


class NumbersConfig(AppConfig):
    # The package cannot be called `numbers`: that would shadow the standard
    # library module of the same name. The app label keeps the design's name.
    name = "virtual_numbers"
    label = "numbers"
    verbose_name = "Virtual numbers"
