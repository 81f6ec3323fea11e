"""The enumerations of a send, in a module without models: the selection core
(`pools.decision`) imports them as plain data, and the models (`Message.Strategy`,
`Message.Channel`), validators, serializers, admin and commands import the same ones."""

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
