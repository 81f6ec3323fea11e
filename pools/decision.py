"""The decision core: which sender a recipient sees, and why (SPEC §2).

Pure functions over plain data — no ORM, no clock, no I/O — so every rule can be
tested directly and with Hypothesis. `pools.services.selection` loads the state,
calls `decide`, and writes what the decision says.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pools.alphanumeric import accepts_alphanumeric


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


class Strategy:
    NUMERIC = "Numeric"
    ALPHANUMERIC = "Alphanumeric"


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
    fallback: str = "Pool"
    weights: dict[str, int] = field(
        default_factory=lambda: {"longcode": 1, "tollfree": 1, "shortcode": 1}
    )
    skip_unhealthy: bool = False
    opt_out_scope: str = "pool"
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


@dataclass(frozen=True)
class Recipient:
    number: str  # E.164
    country: str
    area_code: str = ""  # NANP only
    location: str = ""
    overlay: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Candidate:
    """One number of the pool, with the counters distribution reads."""

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

    def wait(self, now: datetime) -> float:
        """Seconds a message given to it now would wait for its turn."""
        return max(0.0, self.next_slot_at - now.timestamp())


@dataclass(frozen=True)
class Mapping:
    candidate: Candidate
    last_used_at: datetime


@dataclass(frozen=True)
class Request:
    recipient: Recipient
    now: datetime
    channel: str = "sms"
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
    candidates: Callable[[], Sequence[Candidate]],
) -> Decision:
    """Every step of SPEC §2, in order. `candidates` is called only when a choice is needed,
    so a sticky hit never loads the pool's numbers."""
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
    if settings.opt_out_scope == "pool" and _opted_out_of_pool(request, candidates):
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

    eligible = [c for c in candidates() if _can_carry(c, request)]
    if settings.skip_unhealthy:
        healthy = [c for c in eligible if c.healthy]
        if len(healthy) < len(eligible):
            trail(f"Skip unhealthy: {len(eligible) - len(healthy)} unhealthy number(s) left out.")
        eligible = healthy

    if not eligible:
        trail(f"No number of the pool can carry {request.channel.upper()} to {recipient.country}.")
        decision = _last_resort(settings, recipient, trail)
    else:
        rule, tier = _location_tier(settings, recipient, eligible, trail)
        if tier is None:
            decision = _fallback(settings, request, eligible, trail)
        else:
            decision = _pick(settings, request, rule, tier, trail)
    decision = replace(decision, drop_mapping=drop_mapping)
    return _check_number_opt_out(settings, request, decision)


def _opted_out_of_pool(request, candidates) -> bool:
    if not request.opted_out_numbers:
        return False
    pool_numbers = {c.number for c in candidates()}
    return bool(pool_numbers & request.opted_out_numbers)


def _check_number_opt_out(settings, request, decision: Decision) -> Decision:
    """Scope `number`: the pool does not route around the recipient's STOP to its number."""
    if settings.opt_out_scope != "number" or decision.sender_type != "number":
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
    if not (candidate.mms if request.channel == "mms" else candidate.sms):
        return False
    # A short code is national: it reaches only its own country.
    return candidate.type != "shortcode" or candidate.country == request.recipient.country


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
    trail(line + ".")
    decision = Decision(
        number, "number", Rule.STICKY, tuple(trail.lines), mapping.candidate, reuse_mapping=True
    )
    return _check_number_opt_out(settings, request, decision)


def _location_tier(settings, recipient, eligible, trail):
    """The first non-empty location tier: (rule, numbers), or (None, None) for fallback."""
    tiers = []
    if settings.geomatch:
        if recipient.area_code:
            tiers += [
                (
                    Rule.AREA_CODE,
                    f"area code {recipient.area_code}",
                    lambda c: c.area_code == recipient.area_code,
                ),
                (
                    Rule.OVERLAY,
                    f"the overlay of {recipient.area_code} ({'/'.join(sorted(recipient.overlay))})",
                    lambda c: c.area_code in recipient.overlay,
                ),
            ]
        if recipient.location:
            tiers.append(
                (
                    Rule.REGION,
                    f"{recipient.location}",
                    lambda c: c.location == recipient.location and c.country == recipient.country,
                )
            )
        tiers.append(
            (Rule.COUNTRY, f"country {recipient.country}", lambda c: c.country == recipient.country)
        )
        tiers += _default_country_tier(settings) + _priority_tiers(settings)
    else:
        tiers += _priority_tiers(settings) + _default_country_tier(settings)
        tiers.append((Rule.POOL, "the pool", lambda c: True))
    for rule, label, matches in tiers:
        tier = [c for c in eligible if matches(c)]
        if tier:
            trail(f"Location: {len(tier)} eligible number(s) in {label} ({rule}).")
            return rule, tier
    trail("Location: no eligible number matches the recipient's location or the pool's countries.")
    return None, None


def _default_country_tier(settings):
    if not settings.default_country:
        return []
    country = settings.default_country
    return [
        (Rule.DEFAULT_COUNTRY, f"the default country {country}", lambda c: c.country == country)
    ]


def _priority_tiers(settings):
    return [
        (
            Rule.PRIORITY_COUNTRY,
            f"priority country {country}",
            lambda c, country=country: c.country == country,
        )
        for country in settings.priority_countries
    ]


def _fallback(settings, request, eligible, trail) -> Decision:
    if settings.fallback == "Pool":
        trail(f"Fallback Pool: any of the {len(eligible)} eligible number(s).")
        return _pick(settings, request, Rule.POOL, eligible, trail)
    if settings.fallback == "CustomFrom":
        return _custom_from(settings, request.recipient, trail, "Fallback CustomFrom")
    return _reject(trail, "Fallback Reject: no number fits the location rules.")


def _last_resort(settings, recipient, trail) -> Decision:
    """An empty eligible set: only an alphanumeric sender can still carry it (Routee)."""
    if settings.fallback == "Reject":
        return _reject(trail, "Fallback Reject: no number is eligible.")
    return _custom_from(settings, recipient, trail, f"Fallback {settings.fallback}")


def _custom_from(settings, recipient, trail, step) -> Decision:
    sender = _alphanumeric_sender(settings, recipient.country)
    if sender and accepts_alphanumeric(recipient.country):
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
    if not accepts_alphanumeric(recipient.country):
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


def _pick(settings, request, rule, tier: Sequence[Candidate], trail) -> Decision:
    tier = _reachable(tier, trail)
    tier = _within_queue_limit(settings, request, tier, trail)
    number_type = _weighted_type(settings.weights, tier, trail)
    of_type = [c for c in tier if c.type == number_type]
    if settings.sticky:
        chosen = min(of_type, key=lambda c: (c.mapping_count, _lru(c), c.number))
        reason = f"the fewest live mappings ({chosen.mapping_count})"
    else:
        chosen = min(of_type, key=lambda c: (_lru(c), c.number))
        reason = "the least recently used" if chosen.last_used_at else "never used yet"
    if len(of_type) > 1:
        trail(
            f"Distribution: {chosen.number} has {reason} of {len(of_type)} {number_type} number(s)."
        )
    else:
        trail(f"Distribution: {chosen.number} is the only {number_type} number in the tier.")
    return Decision(
        chosen.number,
        "number",
        rule,
        tuple(trail.lines),
        chosen,
        create_mapping=settings.sticky,
        new_assignment=True,
    )


def _lru(candidate: Candidate):
    # Never used sorts first; then the oldest use.
    used = candidate.last_used_at
    return (used is not None, used or datetime.min)


TYPE_ORDER = ("longcode", "tollfree", "shortcode")


def _weighted_type(weights: dict[str, int], tier: Sequence[Candidate], trail) -> str:
    """The type whose next assignment keeps the tier closest to the weights.

    Each type's next share lands at (assigned + 1) / weight; the earliest goes next,
    ties to the heavier type. Weights 5:1 thus give five long codes, then a toll-free.
    A type already at its upper quota waits (Balinski and Young's quota method), so with
    three types too each stays within one assignment of its share.
    A type of weight 0 only when no weighted type is in the tier.
    """
    present = [t for t in TYPE_ORDER if any(c.type == t for c in tier)]
    if len(present) == 1:
        return present[0]
    weighted = [t for t in present if weights.get(t, 1) > 0]
    if not weighted:
        trail(f"Weights: only weight-0 types here ({', '.join(present)}); sharing them evenly.")
    choices = weighted or present
    assigned = {t: sum(c.assignment_count for c in tier if c.type == t) for t in choices}
    weight = {t: weights.get(t, 1) or 1 for t in choices}
    total, turn = sum(weight.values()), sum(assigned.values()) + 1
    # Some type is always under quota: the quotas of this turn add up to `turn`.
    under_quota = [t for t in choices if assigned[t] * total < turn * weight[t]]
    chosen = min(
        under_quota,
        key=lambda t: ((assigned[t] + 1) / weight[t], -weight[t], TYPE_ORDER.index(t)),
    )
    shares = ", ".join(f"{t} {weight[t]} ({assigned[t]} so far)" for t in choices)
    trail(f"Weights: {chosen} is next (weights: {shares}).")
    return chosen
