"""Pools set up so that each selection rule, or each refusal, decides the sender.

Shared by the send and preview API tests: both endpoints must report the same
decision for the same pool and recipient.
"""

from dataclasses import dataclass, field

from messaging.models import Message
from messaging.services.sending import message_send
from pools.models import Pool, PoolNumber, StickyMapping
from tests.factories import NumberFactory, PoolFactory
from virtual_numbers.models import Number
from virtual_numbers.phone import parse_e164

NEW_YORK = "+12122030001"  # area code 212, NY
SAN_FRANCISCO = "+14152030001"  # area code 415, CA; 628 is its overlay
LONDON = "+447400200001"  # GB mobile


def number_of(account, e164: str, **fields) -> Number:
    """One of the account's numbers, with the country and NANP facts its E.164 gives."""
    facts = parse_e164(e164)
    return NumberFactory(
        account=account,
        number=facts.number,
        country=facts.country,
        area_code=facts.area_code,
        location=facts.location,
        type=Number.Type.TOLLFREE if facts.toll_free else Number.Type.LONGCODE,
        **fields,
    )


def pool_with(account, numbers=(), **settings) -> Pool:
    """A pool of the account holding `numbers` (E.164 strings), with model-level settings."""
    pool = PoolFactory(account=account, **settings)
    for e164 in numbers:
        PoolNumber.objects.create(pool=pool, number=number_of(account, e164))
    return pool


@dataclass(frozen=True)
class RuleCase:
    """A pool where `rule` picks `sender`, which no other rule would have picked first."""

    rule: str
    numbers: tuple[str, ...]
    to: str
    sender: str  # as the API writes `from`: no `+`
    settings: dict = field(default_factory=dict)
    strategy: str = "Numeric"
    sender_type: str = "number"
    sent_before: bool = False  # the recipient already got a message (a mapping exists)

    def pool(self, account) -> Pool:
        pool = pool_with(account, self.numbers, **self.settings)
        if self.sent_before:
            message_send(pool=pool, to=self.to, body="first")
        return pool

    def __str__(self):
        return self.rule


RULE_CASES = [
    # The first message mapped the recipient to New York; San Francisco now has fewer
    # mappings, so only stickiness keeps New York.
    RuleCase(
        "sticky",
        (NEW_YORK, SAN_FRANCISCO),
        to="+14155550123",
        sender="12122030001",
        settings={"sticky": True},
        sent_before=True,
    ),
    RuleCase(
        "areaCode",
        (NEW_YORK, SAN_FRANCISCO),
        to="+14155550123",
        sender="14152030001",
        settings={"geomatch": True},
    ),
    RuleCase(
        "overlay",
        (NEW_YORK, SAN_FRANCISCO),
        to="+16282030001",
        sender="14152030001",
        settings={"geomatch": True},
    ),
    RuleCase(
        "region",
        (NEW_YORK, SAN_FRANCISCO),
        to="+12132030001",
        sender="14152030001",
        settings={"geomatch": True},
    ),
    RuleCase(
        "country",
        (NEW_YORK, LONDON),
        to="+447400123456",
        sender="447400200001",
        settings={"geomatch": True},
    ),
    RuleCase(
        "defaultCountry",
        (NEW_YORK, LONDON),
        to="+33612345678",
        sender="447400200001",
        settings={"geomatch": True, "default_country": "GB"},
    ),
    RuleCase(
        "priorityCountry",
        (NEW_YORK, LONDON),
        to="+12125550100",
        sender="447400200001",
        settings={"priority_countries": ["GB"]},
    ),
    RuleCase("pool", (NEW_YORK, LONDON), to="+33612345678", sender="12122030001"),
    RuleCase(
        "alphanumeric",
        (NEW_YORK,),
        to="+447400123456",
        sender="ACME",
        settings={"alphanumeric_sender_id": "ACME"},
        strategy="Alphanumeric",
        sender_type="alphanumeric",
    ),
]


@dataclass(frozen=True)
class RefusalCase:
    """A sticky pool that must refuse a message to `to`: `code` with HTTP `status`."""

    code: str
    status: int
    to: str
    settings: dict = field(default_factory=dict)
    strategy: str = "Numeric"

    def pool(self, account) -> Pool:
        return pool_with(account, (NEW_YORK,), sticky=True, **self.settings)

    def __str__(self):
        return self.code


REFUSAL_CASES = [
    RefusalCase("INVALID_RECIPIENT", 400, to="+1212555"),
    RefusalCase("INVALID_RECIPIENT", 400, to="12125550100"),
    RefusalCase(
        "COUNTRY_NOT_ALLOWED", 422, to="+33612345678", settings={"allowed_countries": ["US"]}
    ),
    RefusalCase(
        "NO_SENDER_AVAILABLE",
        422,
        to="+33612345678",
        settings={"geomatch": True, "fallback": "Reject"},
    ),
    RefusalCase("NO_ALPHANUMERIC_SENDER", 422, to="+447400123456", strategy="Alphanumeric"),
    RefusalCase(
        "ALPHANUMERIC_NOT_SUPPORTED",
        422,
        to="+12125550100",
        settings={"alphanumeric_sender_id": "ACME"},
        strategy="Alphanumeric",
    ),
]


def request_body(case, **extra) -> dict:
    return {"to": case.to, "poolStrategy": case.strategy, **extra}


def written_state(account) -> dict:
    """Everything a send writes, to show that a preview or a refusal wrote none of it."""
    return {
        "messages": Message.objects.filter(account=account).count(),
        "mappings": sorted(
            StickyMapping.objects.filter(pool__account=account).values_list(
                "recipient", "pool_number_id", "last_used_at"
            )
        ),
        "counters": sorted(
            PoolNumber.objects.filter(pool__account=account).values_list(
                "pk", "mapping_count", "assignment_count"
            )
        ),
        "usage": sorted(
            Number.objects.filter(account=account).values_list(
                "number", "messages_sent", "last_used_at"
            )
        ),
    }
