"""The enumerations of numbers, in a module without models: the selection core
(`pools.decision`) imports them as plain data, and the models, validators and
serializers import the same ones."""

from django.db import models


class NumberType(models.TextChoices):
    LONGCODE = "longcode", "Long code"
    TOLLFREE = "tollfree", "Toll-free"
    SHORTCODE = "shortcode", "Short code"


class NumberState(models.TextChoices):
    """Whether a number takes new recipients (SPEC §14); a cordoned one keeps serving its
    sticky mappings until they expire."""

    ACTIVE = "active", "Active"
    CORDONED = "cordoned", "Cordoned"
