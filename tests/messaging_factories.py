"""Messages made by hand, for the states a send does not reach by itself.

Most messaging tests send through `message_send` or the API; these factories stand in
where a test needs a message already opted out, already final or long queued, with
no selection and no dispatch around it.
"""

import factory

from messaging.models import Message
from tests.factories import PoolFactory


class StoredMessageFactory(factory.django.DjangoModelFactory):
    """A message of a pool's account, recorded as the send service records one."""

    class Meta:
        model = Message

    pool = factory.SubFactory(PoolFactory)
    account = factory.SelfAttribute("pool.account")
    to = "+12125550100"
    sender = "+12122030001"
    body = "Hello"
    rule = "pool"
    explanation = "Recipient +12125550100: country US.\nChose +12122030001 (pool)."
