import factory
from django.utils import timezone

from accounts.models import Account, User
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
