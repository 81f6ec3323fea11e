"""The decision core: which sender a recipient sees, and why (SPEC §2).

Pure functions over plain data — no ORM, no clock, no I/O — so every rule can be
tested directly and with Hypothesis. `pools.services.selection` loads the state,
calls `decide`, and writes what the decision says.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from pools.choices import Channel, Fallback, OptOutScope, Strategy
from virtual_numbers.choices import NumberType


class Rule:
    STICKY = "sticky"
    AREA_CODE = "areaCode"
    OVERLAY = "overlay"
    REGION = "region"
    COUNTRY = "country"
    DEFAULT_COUNTRY = "defaultCountry"
    PRIORITY_COUNTRY = "priorityCountry"
    POOL = "pool"
    ALPHANUMERIC = "alphanumeric"


DEFAULT_WEIGHT = 1  # a type's share when the pool's weights do not name it


@dataclass(frozen=True)
class Settings:
    """A pool's settings as selection reads them, overrides not yet applied."""

    sticky: bool = False
    sticky_ttl_days: int = 8
    geomatch: bool = False
    default_country: str = ""
    priority_countries: tuple[str, ...] = ()
    allowed_countries: tuple[str, ...] = ()
    alphanumeric_sender_id: str = ""
    alphanumeric_sender_ids: dict[str, str] = field(default_factory=dict)
    fallback: str = Fallback.POOL
    weights: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NumberType.values, 1))
    skip_unhealthy: bool = False
    opt_out_scope: str = OptOutScope.POOL
    overrides: tuple[dict, ...] = ()
    max_queue_seconds: int | None = None

    def for_destination(self, country: str, channel: str) -> "Settings":
        """The settings with the matching overrides applied, most specific last, key by key."""
        matching = sorted(
            (
                o
                for o in self.overrides
                if o.get("country") in (None, country) and o.get("channel") in (None, channel)
            ),
            # channel only, then country only, then country and channel.
            key=lambda o: (o.get("country") is not None, o.get("channel") is not None),
        )
        names = {"sticky": "sticky", "geomatch": "geomatch", "skipUnhealthy": "skip_unhealthy"}
        changes = {}
        for override in matching:
            for key, name in names.items():
                if key in override:
                    changes[name] = override[key]
            if "weights" in override:
                changes["weights"] = {**changes.get("weights", self.weights), **override["weights"]}
        return replace(self, **changes)


# A new pool's settings: the model's field defaults are these.
DEFAULTS = Settings()


@dataclass(frozen=True)
class Recipient:
    number: str  # E.164
    country: str
    area_code: str = ""  # NANP only
    location: str = ""
    overlay: frozenset[str] = frozenset()
    accepts_alphanumeric: bool = True  # its country lets a name be the sender


@dataclass(frozen=True)
class Candidate:
    """One number of the pool, with the counters distribution and its capacity read."""

    id: Any
    number: str
    type: str
    country: str
    area_code: str = ""
    location: str = ""
    sms: bool = True
    mms: bool = False
    healthy: bool = True
    mapping_count: int = 0  # live sticky mappings to it
    assignment_count: int = 0  # new assignments it has taken in this pool
    last_used_at: datetime | None = None
    number_id: Any = None  # the number's own id, for the service that writes counters
    next_slot_at: float = 0  # epoch seconds: when its rate lets its next part leave
    connection_id: Any = None  # where its messages leave
    connection_status: str = "up"  # what the last attempt on its connection found
    cordoned: bool = False  # takes no new recipients, keeps its mappings (SPEC §14)
    daily_cap: int | None = None  # new recipients it may take per UTC day; None: no limit
    new_recipients: int = 0  # the new recipients it took on `new_recipients_on`, a UTC day
    new_recipients_on: date | None = None

    def wait(self, now: datetime) -> float:
        """Seconds a message given to it now would wait for its turn."""
        return max(0.0, self.next_slot_at - now.timestamp())

    def at_daily_cap(self, day: date) -> bool:
        """Whether it took its daily cap of new recipients on `day` (UTC)."""
        taken = self.new_recipients if self.new_recipients_on == day else 0
        return self.daily_cap is not None and taken >= self.daily_cap


@dataclass(frozen=True)
class Mapping:
    candidate: Candidate
    last_used_at: datetime


@dataclass(frozen=True)
class Request:
    recipient: Recipient
    now: datetime
    channel: str = Channel.SMS
    strategy: str = Strategy.NUMERIC
    # Numbers the recipient opted out of, and whether of the whole account (STOPALL).
    opted_out_numbers: frozenset[str] = frozenset()
    opted_out_everywhere: bool = False


@dataclass(frozen=True)
class Decision:
    sender: str  # E.164, or the alphanumeric sender ID
    sender_type: str  # "number" or "alphanumeric"
    rule: str
    explanation: tuple[str, ...]
    number: Candidate | None = None
    opted_out: bool = False
    # What the service must write: a new mapping, a use of the existing one, and the
    # stale mapping (expired or no longer eligible) to delete first.
    create_mapping: bool = False
    reuse_mapping: bool = False
    drop_mapping: bool = False
    new_assignment: bool = False


class Refusal(Exception):
    def __init__(self, code: str, message: str, explanation: Sequence[str] = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.explanation = tuple(explanation)


@dataclass
class _Trail:
    """The explanation, one line per step that mattered."""

    lines: list[str] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        self.lines.append(line)


def describe(recipient: Recipient) -> str:
    line = f"Recipient {recipient.number}: country {recipient.country}"
    if recipient.area_code:
        line += f", area code {recipient.area_code}"
        if recipient.location:
            line += f" ({recipient.location})"
    return line + "."


def decide(
    settings: Settings,
    request: Request,
    mapping: Mapping | None,
    numbers: "PoolNumbers",
) -> Decision:
    """Every step of SPEC §2, in order. `numbers` answers the questions a choice asks of
    the pool's numbers; a sticky hit asks none."""
    recipient = request.recipient
    settings = settings.for_destination(recipient.country, request.channel)
    trail = _Trail([describe(recipient)])

    if settings.allowed_countries and recipient.country not in settings.allowed_countries:
        raise Refusal(
            "COUNTRY_NOT_ALLOWED",
            f"The pool does not send to {recipient.country} "
            f"(allowed: {', '.join(settings.allowed_countries)}).",
            trail.lines,
        )

    if request.opted_out_everywhere:
        # STOPALL: whatever the scope, no sender of the account, not even a name.
        trail("Opt-out: the recipient opted out of every number of the account; nothing is sent.")
        return Decision("", "number", Rule.POOL, tuple(trail.lines), opted_out=True)
    opted_out = request.opted_out_numbers
    if opted_out and opted_out_of_pool(settings.opt_out_scope, numbers.among(opted_out)):
        trail("Opt-out (scope pool): the recipient opted out of this pool; nothing is sent.")
        return Decision("", "number", Rule.POOL, tuple(trail.lines), opted_out=True)

    if request.strategy == Strategy.ALPHANUMERIC:
        return _alphanumeric(settings, recipient, trail, "Strategy Alphanumeric")

    drop_mapping = False
    if settings.sticky and mapping is not None:
        kept = _sticky(settings, request, mapping, trail)
        if kept is not None:
            return kept
        drop_mapping = True
    elif settings.sticky:
        trail("Sticky: no mapping for this recipient yet.")

    decision = _choose(settings, request, numbers, trail)
    decision = replace(decision, drop_mapping=drop_mapping)
    return _check_number_opt_out(settings, request, decision)


def opted_out_of_pool(scope: str, opted_out_pool_numbers: frozenset[str]) -> bool:
    """Scope `pool`: a STOP to any number of the pool stops the whole pool (SPEC §4)."""
    return scope == OptOutScope.POOL and bool(opted_out_pool_numbers)


def opted_out_of(
    *, scope: str, sender: str, opted_out: frozenset[str], opted_out_pool_numbers: frozenset[str]
) -> bool:
    """Whether a STOP the recipient sent covers `sender`, whatever the scope: the rule a
    message waiting its turn is checked against again when it leaves."""
    return sender in opted_out or opted_out_of_pool(scope, opted_out_pool_numbers)


def _check_number_opt_out(settings, request, decision: Decision) -> Decision:
    """Scope `number`: the pool does not route around the recipient's STOP to its number."""
    if settings.opt_out_scope != OptOutScope.NUMBER or decision.sender_type != "number":
        return decision
    if request.opted_out_everywhere or decision.sender in request.opted_out_numbers:
        line = f"Opt-out (scope number): the recipient opted out of {decision.sender}; nothing is sent."
        return replace(
            decision,
            explanation=(*decision.explanation, line),
            opted_out=True,
            create_mapping=False,
            reuse_mapping=False,
            new_assignment=False,
        )
    return decision


def _can_carry(candidate: Candidate, request: Request) -> bool:
    # Capacity is for new assignments only: a cordoned or capped number keeps its mappings.
    return Eligibility(request.channel, request.recipient.country).admits(candidate)


def utc_day(moment: datetime) -> date:
    """The UTC day a daily cap counts in."""
    return moment.astimezone(UTC).date()


def _sticky(settings, request, mapping: Mapping, trail) -> Decision | None:
    number = mapping.candidate.number
    ttl = settings.sticky_ttl_days
    if ttl and request.now - mapping.last_used_at >= timedelta(days=ttl):
        trail(
            f"Sticky: the mapping to {number} expired (unused since "
            f"{mapping.last_used_at:%Y-%m-%d %H:%M} UTC, TTL {ttl} days); choosing again."
        )
        return None
    if not _can_carry(mapping.candidate, request):
        trail(
            f"Sticky: the mapped number {number} can no longer carry "
            f"{request.channel.upper()} to {request.recipient.country}; choosing again."
        )
        return None
    line = f"Sticky: the recipient is mapped to {number}; it is used again"
    if not mapping.candidate.healthy:
        line += " (unhealthy, but skip-unhealthy never overrides a mapping)"
    if mapping.candidate.cordoned:
        line += " (cordoned: it takes no new recipients, but keeps its mapped ones)"
    elif mapping.candidate.at_daily_cap(utc_day(request.now)):
        line += " (at its daily cap of new recipients; a mapped recipient is not a new one)"
    trail(line + ".")
    decision = Decision(
        number, "number", Rule.STICKY, tuple(trail.lines), mapping.candidate, reuse_mapping=True
    )
    return _check_number_opt_out(settings, request, decision)


def _last_resort(settings, recipient, trail) -> Decision:
    """An empty eligible set: only an alphanumeric sender can still carry it (Routee)."""
    if settings.fallback == Fallback.REJECT:
        return _reject(trail, "Fallback Reject: no number is eligible.")
    return _custom_from(settings, recipient, trail, f"Fallback {settings.fallback}")


def _custom_from(settings, recipient, trail, step) -> Decision:
    sender = _alphanumeric_sender(settings, recipient.country)
    if sender and recipient.accepts_alphanumeric:
        trail(f"{step}: the alphanumeric sender {sender!r}.")
        return Decision(sender, "alphanumeric", Rule.ALPHANUMERIC, tuple(trail.lines))
    if not sender:
        return _reject(trail, f"{step}: no alphanumeric sender is configured.")
    return _reject(trail, f"{step}: {recipient.country} does not accept alphanumeric senders.")


def _reject(trail, line) -> Decision:
    trail(line)
    raise Refusal(
        "NO_SENDER_AVAILABLE", "No sender of the pool can carry this message.", trail.lines
    )


def _alphanumeric_sender(settings, country) -> str:
    return settings.alphanumeric_sender_ids.get(country) or settings.alphanumeric_sender_id


def _alphanumeric(settings, recipient, trail, step) -> Decision:
    if not recipient.accepts_alphanumeric:
        raise Refusal(
            "ALPHANUMERIC_NOT_SUPPORTED",
            f"{recipient.country} does not accept alphanumeric senders.",
            trail.lines,
        )
    sender = _alphanumeric_sender(settings, recipient.country)
    if not sender:
        raise Refusal(
            "NO_ALPHANUMERIC_SENDER",
            f"The pool has no alphanumeric sender for {recipient.country}.",
            trail.lines,
        )
    source = "per-country" if recipient.country in settings.alphanumeric_sender_ids else "pool's"
    trail(f"{step}: the {source} alphanumeric sender {sender!r}.")
    return Decision(sender, "alphanumeric", Rule.ALPHANUMERIC, tuple(trail.lines))


def _lru(candidate: Candidate):
    # Never used sorts first; then the oldest use.
    used = candidate.last_used_at
    return (used is not None, used or datetime.min)


# The choice among the pool's numbers (SPEC §2 steps 4-7). The core asks, the service
# answers in SQL and tests from a list (`NumberList`): which location tier is the first
# with an eligible number, how its numbers group by type, and the best of one type.


# Why a number that can carry the message is left out of it (`Eligibility.left_out`).
UNHEALTHY, CORDONED, AT_CAP = "unhealthy", "cordoned", "at daily cap"


@dataclass(frozen=True)
class Eligibility:
    """Which numbers can take the message: its channel, to the recipient's country (a
    short code is national); healthy ones only when the pool skips unhealthy numbers;
    for a new assignment on `new_on` (a UTC day), never a cordoned number nor one at its
    daily cap — whatever the pool's settings (SPEC §14)."""

    channel: str
    country: str
    healthy_only: bool = False
    new_on: date | None = None

    def admits(self, candidate: Candidate) -> bool:
        return self.carries(candidate) and not self.left_out(candidate)

    def carries(self, candidate: Candidate) -> bool:
        """Whether it can carry the message at all: channel and country."""
        if not (candidate.mms if self.channel == Channel.MMS else candidate.sms):
            return False
        return candidate.type != NumberType.SHORTCODE or candidate.country == self.country

    def left_out(self, candidate: Candidate) -> str:
        at_cap = self.new_on is not None and candidate.at_daily_cap(self.new_on)
        return self.reason(healthy=candidate.healthy, cordoned=candidate.cordoned, at_cap=at_cap)

    def reason(self, *, healthy: bool, cordoned: bool, at_cap: bool) -> str:
        """Why a number that carries the message is left out of it ("" if it is not): the
        one rule, for numbers read one by one and for the service's grouped counts."""
        if self.healthy_only and not healthy:
            return UNHEALTHY
        if self.new_on is not None and cordoned:
            return CORDONED
        if self.new_on is not None and at_cap:
            return AT_CAP
        return ""

    def ignoring_capacity(self) -> "Eligibility":
        return replace(self, new_on=None)


@dataclass(frozen=True)
class Tier:
    """A location tier: numbers with one of `area_codes`, or in `location` of `country`,
    or in `country`; nothing set is the whole pool."""

    rule: str
    label: str
    area_codes: frozenset[str] = frozenset()
    location: str = ""
    country: str = ""

    def matches(self, candidate: Candidate) -> bool:
        if self.area_codes:
            return candidate.area_code in self.area_codes
        if self.location:
            return candidate.location == self.location and candidate.country == self.country
        return not self.country or candidate.country == self.country


@dataclass(frozen=True)
class Group:
    """The tier's eligible numbers of one type that are alike in what the choice reads:
    whether their connection is down, whether their backlog is over the queue limit."""

    type: str
    count: int
    assigned: int  # their assignment counters, summed
    down: bool = False
    over_limit: bool = False


@dataclass(frozen=True)
class TierFacts:
    """The first tier with an eligible number, its numbers grouped; when no tier has one
    but some tier has numbers only capacity leaves out, the first such tier, no groups."""

    index: int
    groups: tuple[Group, ...]
    unhealthy: int = 0  # numbers of the tier left out by skip-unhealthy
    cordoned: int = 0  # numbers of the tier left out as cordoned
    at_cap: int = 0  # numbers of the tier left out at their daily cap
    # An earlier tier whose numbers are all cordoned or at their cap: passed over.
    passed: int | None = None

    @property
    def count(self) -> int:
        return sum(g.count for g in self.groups)


class PoolNumbers(Protocol):
    """What a choice asks of the pool's numbers."""

    def among(self, numbers: frozenset[str]) -> frozenset[str]:
        """Which of these numbers are the pool's."""

    def first_tier(
        self, tiers: Sequence[Tier], eligibility: Eligibility, busy_after: float | None
    ) -> TierFacts | None:
        """The first tier with an eligible number, grouped (see `TierFacts`); None if no
        tier has a number even capacity aside. A number whose next turn is after
        `busy_after` (epoch seconds) is over the queue limit."""

    def members(self, tier: Tier, eligibility: Eligibility) -> Sequence[Candidate]:
        """Every eligible number of the tier (asked only when some must be named)."""

    def best(
        self, tier: Tier, eligibility: Eligibility, number_type: str, by_mappings: bool
    ) -> Candidate:
        """The tier's eligible number of the type that distribution takes next."""


def distribution_key(candidate: Candidate, by_mappings: bool):
    """Fewest live mappings (sticky), then least recently used, then the number."""
    lru = (_lru(candidate), candidate.number)
    return (candidate.mapping_count, *lru) if by_mappings else lru


@dataclass(frozen=True)
class NumberList:
    """The pool's numbers as a list: answers as the service's SQL does."""

    candidates: Sequence[Candidate]

    def among(self, numbers):
        return numbers & {c.number for c in self.candidates}

    def first_tier(self, tiers, eligibility, busy_after):
        index = self._first(tiers, eligibility)
        held = self._first(tiers, eligibility.ignoring_capacity())
        if held is None:
            return None
        shown = held if index is None else index
        counts, assigned, left_out = Counter(), Counter(), Counter()
        for c in self.candidates:
            if not (eligibility.carries(c) and tiers[shown].matches(c)):
                continue
            if reason := eligibility.left_out(c):
                left_out[reason] += 1
                continue
            key = (c.type, c.connection_status == "down", _over(c, busy_after))
            counts[key] += 1
            assigned[key] += c.assignment_count
        groups = tuple(Group(t, n, assigned[t, d, o], d, o) for (t, d, o), n in counts.items())
        return TierFacts(
            shown,
            groups,
            left_out[UNHEALTHY],
            left_out[CORDONED],
            left_out[AT_CAP],
            passed=held if index is not None and held < index else None,
        )

    def _first(self, tiers, eligibility) -> int | None:
        return next((i for i, tier in enumerate(tiers) if self.members(tier, eligibility)), None)

    def members(self, tier, eligibility):
        return [c for c in self.candidates if eligibility.admits(c) and tier.matches(c)]

    def best(self, tier, eligibility, number_type, by_mappings):
        of_type = [c for c in self.members(tier, eligibility) if c.type == number_type]
        return min(of_type, key=lambda c: distribution_key(c, by_mappings))


def _over(candidate: Candidate, busy_after: float | None) -> bool:
    return busy_after is not None and candidate.next_slot_at > busy_after


def _choose(settings, request, numbers: PoolNumbers, trail) -> Decision:
    recipient = request.recipient
    eligibility = Eligibility(
        request.channel, recipient.country, settings.skip_unhealthy, utc_day(request.now)
    )
    tiers = _tiers(settings, recipient)
    busy_after = None
    if settings.max_queue_seconds is not None:
        busy_after = request.now.timestamp() + settings.max_queue_seconds
    facts = numbers.first_tier(tiers, eligibility, busy_after)
    if facts is None:
        trail(f"No number of the pool can carry {request.channel.upper()} to {recipient.country}.")
        return _last_resort(settings, recipient, trail)
    tier = tiers[facts.index]
    if facts.passed is not None:
        trail(
            f"Capacity: no number of {tiers[facts.passed].label} takes a new recipient now "
            "(cordoned, or at its daily cap); the next tier is tried."
        )
    if facts.unhealthy:
        trail(f"Skip unhealthy: {facts.unhealthy} unhealthy number(s) of {tier.label} left out.")
    if facts.cordoned or facts.at_cap:
        trail(_capacity_line(facts, tier))
    if not facts.groups:
        trail("Capacity: no number of the pool takes a new recipient now.")
        return _last_resort(settings, recipient, trail)
    if tier is _FALLBACK:
        trail(
            "Location: no eligible number matches the recipient's location or the pool's countries."
        )
        return _fallback(settings, request, numbers, eligibility, facts, trail)
    trail(f"Location: {facts.count} eligible number(s) in {tier.label} ({tier.rule}).")
    return _pick(settings, request, numbers, eligibility, tier, facts, trail)


def _capacity_line(facts: TierFacts, tier: Tier) -> str:
    reasons = []
    if facts.cordoned:
        reasons.append(f"{facts.cordoned} cordoned")
    if facts.at_cap:
        its = "its" if facts.at_cap == 1 else "their"
        reasons.append(f"{facts.at_cap} at {its} daily cap of new recipients")
    left_out = facts.cordoned + facts.at_cap
    return f"Capacity: {left_out} number(s) of {tier.label} left out ({', '.join(reasons)})."


# With geomatch, when no tier has a number: every eligible number (fallback Pool).
_FALLBACK = Tier(Rule.POOL, "the pool")


def _tiers(settings, recipient) -> list[Tier]:
    """The location tiers in the order they are tried."""
    priority = [
        Tier(Rule.PRIORITY_COUNTRY, f"priority country {c}", country=c)
        for c in settings.priority_countries
    ]
    default = []
    if settings.default_country:
        country = settings.default_country
        default = [Tier(Rule.DEFAULT_COUNTRY, f"the default country {country}", country=country)]
    if not settings.geomatch:
        return [*priority, *default, Tier(Rule.POOL, "the pool")]
    tiers = []
    if recipient.area_code:
        tiers.append(
            Tier(
                Rule.AREA_CODE,
                f"area code {recipient.area_code}",
                area_codes=frozenset({recipient.area_code}),
            )
        )
        if recipient.overlay:
            overlay = "/".join(sorted(recipient.overlay))
            tiers.append(
                Tier(
                    Rule.OVERLAY,
                    f"the overlay of {recipient.area_code} ({overlay})",
                    area_codes=frozenset(recipient.overlay),
                )
            )
    if recipient.location:
        tiers.append(
            Tier(
                Rule.REGION,
                recipient.location,
                location=recipient.location,
                country=recipient.country,
            )
        )
    tiers.append(Tier(Rule.COUNTRY, f"country {recipient.country}", country=recipient.country))
    return [*tiers, *default, *priority, _FALLBACK]


def _fallback(settings, request, numbers, eligibility, facts, trail) -> Decision:
    if settings.fallback == Fallback.POOL:
        trail(f"Fallback Pool: any of the {facts.count} eligible number(s).")
        return _pick(settings, request, numbers, eligibility, _FALLBACK, facts, trail)
    if settings.fallback == Fallback.CUSTOM_FROM:
        return _custom_from(settings, request.recipient, trail, "Fallback CustomFrom")
    return _reject(trail, "Fallback Reject: no number fits the location rules.")


def _pick(settings, request, numbers, eligibility, tier, facts, trail) -> Decision:
    up = [g for g in facts.groups if not g.down]
    some_down = bool(up) and len(up) < len(facts.groups)
    some_over = settings.max_queue_seconds is not None and facts.count > 1
    some_over = some_over and any(g.over_limit for g in facts.groups)
    if some_down or some_over:
        # Numbers left out are named in the explanation: the tier is read number by number.
        return _pick_from(settings, request, tier, numbers.members(tier, eligibility), trail)
    assigned = Counter()
    counts = Counter()
    for g in facts.groups:
        assigned[g.type] += g.assigned
        counts[g.type] += g.count
    number_type = _weighted_type(settings.weights, assigned, trail)
    chosen = numbers.best(tier, eligibility, number_type, settings.sticky)
    return _chosen(settings, tier, chosen, counts[number_type], number_type, trail)


def _pick_from(settings, request, tier, members: Sequence[Candidate], trail) -> Decision:
    members = _reachable(members, trail)
    members = _within_queue_limit(settings, request, members, trail)
    assigned = Counter()
    for c in members:
        assigned[c.type] += c.assignment_count
    number_type = _weighted_type(settings.weights, assigned, trail)
    of_type = [c for c in members if c.type == number_type]
    chosen = min(of_type, key=lambda c: distribution_key(c, settings.sticky))
    return _chosen(settings, tier, chosen, len(of_type), number_type, trail)


def _chosen(settings, tier, chosen: Candidate, of_type: int, number_type, trail) -> Decision:
    if settings.sticky:
        reason = f"has the fewest live mappings ({chosen.mapping_count})"
    elif chosen.last_used_at:
        reason = "is the least recently used"
    else:
        reason = "is the first never used yet"
    if of_type > 1:
        trail(f"Distribution: {chosen.number} {reason} of {of_type} {number_type} number(s).")
    else:
        trail(f"Distribution: {chosen.number} is the only {number_type} number in the tier.")
    return Decision(
        chosen.number,
        "number",
        tier.rule,
        tuple(trail.lines),
        chosen,
        create_mapping=settings.sticky,
        new_assignment=True,
    )


def _reachable(tier: Sequence[Candidate], trail) -> Sequence[Candidate]:
    """Numbers whose connection is down are avoided while another can take the message."""
    up = [c for c in tier if c.connection_status != "down"]
    if up and len(up) < len(tier):
        down = ", ".join(sorted(c.number for c in tier if c.connection_status == "down"))
        trail(f"Connections: left out {down}, whose connection is down.")
        return up
    return tier


def _within_queue_limit(settings, request, tier: Sequence[Candidate], trail):
    """maxQueueSeconds: a number whose backlog is over the limit is left out when another
    number of the tier can take the message sooner."""
    limit = settings.max_queue_seconds
    if limit is None or len(tier) < 2:
        return tier
    waits = {c.id: c.wait(request.now) for c in tier}
    soonest = min(waits.values())
    kept = [c for c in tier if waits[c.id] <= limit or waits[c.id] == soonest]
    if len(kept) < len(tier):
        left_out = sorted(
            (c for c in tier if waits[c.id] > limit and waits[c.id] > soonest),
            key=lambda c: c.number,
        )
        over = ", ".join(f"{c.number} ({waits[c.id]:.0f} s)" for c in left_out)
        trail(f"Queue: left out {over}, over the pool's {limit} s limit; others are sooner.")
    return kept


TYPE_ORDER = tuple(NumberType.values)


def _weighted_type(weights: dict[str, int], assigned: dict[str, int], trail) -> str:
    """The type whose next assignment keeps the tier closest to the weights; `assigned`:
    the new assignments each type present in the tier has taken so far.

    Each type's next share lands at (assigned + 1) / weight; the earliest goes next,
    ties to the heavier type. Weights 5:1 thus give five long codes, then a toll-free.
    A type already at its upper quota waits (Balinski and Young's quota method), so with
    three types too each stays within one assignment of its share.
    A type of weight 0 only when no weighted type is in the tier.
    """
    present = [t for t in TYPE_ORDER if t in assigned]
    if len(present) == 1:
        return present[0]
    weighted = [t for t in present if weights.get(t, DEFAULT_WEIGHT) > 0]
    if not weighted:
        trail(f"Weights: only weight-0 types here ({', '.join(present)}); sharing them evenly.")
    choices = weighted or present
    weight = {t: weights.get(t, DEFAULT_WEIGHT) or 1 for t in choices}
    total, turn = sum(weight.values()), sum(assigned[t] for t in choices) + 1
    # Some type is always under quota: the quotas of this turn add up to `turn`.
    under_quota = [t for t in choices if assigned[t] * total < turn * weight[t]]
    chosen = min(
        under_quota,
        key=lambda t: ((assigned[t] + 1) / weight[t], -weight[t], TYPE_ORDER.index(t)),
    )
    shares = ", ".join(f"{t} {weight[t]} ({assigned[t]} so far)" for t in choices)
    trail(f"Weights: {chosen} is next (weights: {shares}).")
    return chosen
