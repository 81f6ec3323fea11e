from datetime import timedelta

import factory
from django.utils import timezone

from accounts.models import Account, User
from carriers.models import Connection
from messaging.models import Click, Message, ShortLink, StatusEvent
from pools.models import Pool, PoolNumber, StickyMapping
from virtual_numbers.models import Number


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"account-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user-{n}")
    password = factory.django.Password("pw-for-tests")
    is_staff = True
    account = factory.SubFactory(AccountFactory)


# A valid connection of each kind, as the API takes it: (settings, secrets).
CONNECTION_EXAMPLES = {
    "simulator": ({}, {}),
    "smpp": (
        {"host": "smsc.example.net", "port": 2775, "systemId": "acme"},
        {"password": "smPa55wd"},
    ),
    "twilio": ({"accountSid": "AC0123456789abcdef0123456789abcdef"}, {"authToken": "twilio-T0ken"}),
    "telnyx": ({"publicKey": "MCowBQYDK2VwAyEAexamplekey="}, {"apiKey": "KEY-telnyx-S3cret"}),
    "vonage": (
        {"apiKey": "a1b2c3d4"},
        {"apiSecret": "vonage-S3cret", "signatureSecret": "vonage-Sig"},
    ),
}


class ConnectionFactory(factory.django.DjangoModelFactory):
    """A simulator connection by default; for another `kind`, that kind's example settings
    and secrets (CONNECTION_EXAMPLES) unless given."""

    class Meta:
        model = Connection

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"connection-{n}")
    kind = Connection.Kind.SIMULATOR
    settings = factory.LazyAttribute(lambda c: dict(CONNECTION_EXAMPLES[c.kind][0]))
    secrets = factory.LazyAttribute(lambda c: dict(CONNECTION_EXAMPLES[c.kind][1]))


class NumberFactory(factory.django.DjangoModelFactory):
    """A New York long code by default; pass number/country/area_code for others."""

    class Meta:
        model = Number

    account = factory.SubFactory(AccountFactory)
    number = factory.Sequence(lambda n: f"+1212555{n % 10000:04d}")
    type = Number.Type.LONGCODE
    country = "US"
    area_code = "212"
    location = "NY"
    # Sends in a test leave at once: a test about pacing gives its numbers their rate.
    parts_per_second = 1000.0


class PoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pool

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"pool-{n}")


class PoolNumberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PoolNumber

    pool = factory.SubFactory(PoolFactory)
    number = factory.SubFactory(NumberFactory, account=factory.SelfAttribute("..pool.account"))


class StickyMappingFactory(factory.django.DjangoModelFactory):
    """A mapping of a recipient to one of the pool's numbers, used just now."""

    class Meta:
        model = StickyMapping

    pool_number = factory.SubFactory(PoolNumberFactory)
    pool = factory.SelfAttribute("pool_number.pool")
    recipient = factory.Sequence(lambda n: f"+1415555{n % 10000:04d}")
    last_used_at = factory.LazyFunction(timezone.now)


class MessageFactory(factory.django.DjangoModelFactory):
    """A message sent through a pool of its account, as the send service records it."""

    class Meta:
        model = Message

    account = factory.SubFactory(AccountFactory)
    pool = factory.SubFactory(PoolFactory, account=factory.SelfAttribute("..account"))
    to = factory.Sequence(lambda n: f"+1415555{n % 10000:04d}")
    sender = "+12122030001"
    body = "Your code is 1234"
    rule = "pool"
    explanation = factory.LazyAttribute(
        lambda message: f"Recipient {message.to}: country US.\nChose {message.sender} (pool)."
    )


class StatusEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StatusEvent

    message = factory.SubFactory(MessageFactory)
    status = Message.Status.QUEUED


class ShortLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShortLink

    code = factory.Sequence(lambda n: f"link{n:04d}")
    message = factory.SubFactory(MessageFactory)
    long_url = "https://example.com/offer"
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))


class ClickFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Click

    link = factory.SubFactory(ShortLinkFactory)
    ip = "203.0.113.7"
    referrer = "https://mail.example.com/"
    user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
    device = "iPhone"
    browser = "Mobile Safari"
    lag = 42
