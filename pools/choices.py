"""The enumerations of pools and sends, in a module without models: the selection core
(`pools.decision`) imports them as plain data, and the models (`Pool.Fallback`,
`Message.Strategy`, `Message.Channel`…), validators, serializers, admin and commands
import the same ones."""

from django.db import models


class Strategy(models.TextChoices):
    NUMERIC = "Numeric"
    ALPHANUMERIC = "Alphanumeric"


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    MMS = "mms", "MMS"

    @classmethod
    def of(cls, media) -> "Channel":
        """The channel of a send: with media attached it is an MMS."""
        return cls.MMS if media else cls.SMS


class Fallback(models.TextChoices):
    POOL = "Pool", "Pool: any number of the pool"
    CUSTOM_FROM = "CustomFrom", "CustomFrom: the alphanumeric sender"
    REJECT = "Reject", "Reject: refuse the message"


class OptOutScope(models.TextChoices):
    POOL = "pool", "Pool: a STOP to one number stops the whole pool"
    NUMBER = "number", "Number: a STOP stops only that number"
