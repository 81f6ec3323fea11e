"""Quiet hours: the earliest moment a marketing message may go to its recipient (SPEC §13).

The decision is a pure function over plain data, so the send service, the preview and
`explain_sender` ask one question and get one answer, and Hypothesis can check it:
`marketing_plan` takes the recipient's rules, the moment asked for, the pool's quiet
window, the recipient's other marketing messages and the message's deadline, and answers
when the message may go and why. Nothing here reads the clock or the database; the one
file read is the shipped rule table, data/quiet_hours.csv (see data/README.md), once per
process. Transactional messages are never held: the caller asks only for marketing ones.

Local time is the recipient's wall clock in each zone `phonenumbers` gives its number. A
number whose area spans several zones is held while it is quiet in any of them; a window
edge that a DST change skips takes effect at the change.
"""

import csv
import functools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_zones

from virtual_numbers.phone import parse_e164

DATA_FILE = Path(__file__).parent / "data" / "quiet_hours.csv"
DAY = timedelta(hours=24)
UTC_ZONE = ZoneInfo("UTC")
UNKNOWN_ZONE = "Etc/Unknown"  # phonenumbers' answer for a number it cannot place
# How far past `requested` and the last 24-hour limit `recent` imposes to look for an
# opening. The windows repeat daily (DST aside), so a month without one means that
# together they leave no time at all (a pool window over zones hours apart): it cannot go.
SEARCH = timedelta(days=31)


@dataclass(frozen=True)
class QuietWindow:
    """Local hours [start, end) in which no marketing is sent.

    It wraps midnight when end < start (21:00-09:00). start == end is an empty window
    that holds nothing (the pool's constraint refuses one): read as the whole day instead,
    it would be a pool that sends no marketing at all, which its owner gets by sending none.
    """

    start: time
    end: time

    @property
    def wraps(self) -> bool:
        return self.end < self.start

    def contains(self, moment: time) -> bool:
        if self.wraps:
            return moment >= self.start or moment < self.end
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class LegalRule:
    """One row of data/quiet_hours.csv: when marketing may reach the recipients of a place."""

    country: str  # ISO 3166-1 alpha-2, the recipient's region as phonenumbers names it
    state: str  # the area code's location in the NANP data ("FL"); "" for the whole country
    opens: time  # marketing allowed from `opens` until before `closes`, local time
    closes: time
    max_per_24h: int | None  # marketing messages per recipient in any rolling 24 hours
    name: str
    citation: str
    source: str  # where the text of the law is published

    @property
    def quiet(self) -> QuietWindow:
        return QuietWindow(start=self.closes, end=self.opens)

    @property
    def hours(self) -> str:
        return f"{self.opens:%H:%M}-{self.closes:%H:%M}"

    def __str__(self) -> str:
        return f"{self.name} ({self.citation})"


@dataclass(frozen=True)
class RecipientRules:
    """What limits marketing to one recipient: its local zones and the laws of its place."""

    number: str
    country: str
    zones: tuple[str, ...]  # IANA names; empty when phonenumbers knows none for the number
    legal: tuple[LegalRule, ...]

    @property
    def limited(self) -> bool:
        """A law caps the marketing messages it may get a day: its others count."""
        return any(rule.max_per_24h is not None for rule in self.legal)


@dataclass(frozen=True)
class MarketingPlan:
    """When a marketing message may go, and why.

    `send_at` is the earliest allowed moment at or after `requested`, or None when the
    quiet windows leave no moment at all (none within SEARCH); then, or when `deadline`
    (the end of the message's ttl) comes before `send_at`, the message is `expired`: it
    ends Failed / "Quiet hours" instead of being sent.
    """

    requested: datetime
    send_at: datetime | None
    deadline: datetime | None
    explanation: tuple[str, ...]

    @property
    def held(self) -> bool:
        return self.send_at != self.requested

    @property
    def expired(self) -> bool:
        if self.send_at is None:
            return True
        return self.deadline is not None and self.deadline < self.send_at


@functools.cache
def _legal_rules() -> tuple[LegalRule, ...]:
    with DATA_FILE.open(newline="", encoding="utf-8") as f:
        return tuple(
            LegalRule(
                country=row["country"],
                state=row["state"],
                opens=time.fromisoformat(row["opens"]),
                closes=time.fromisoformat(row["closes"]),
                max_per_24h=int(row["max_per_24h"]) if row["max_per_24h"] else None,
                name=row["name"],
                citation=row["citation"],
                source=row["source"],
            )
            for row in csv.DictReader(f)
        )


def recipient_rules(number: str) -> RecipientRules:
    """The zones and legal rules for the valid E.164 `number` (ServiceError otherwise).

    The state is the area code's location in the NANP data, as the law presumes a
    recipient is where the area code is.
    """
    facts = parse_e164(number)
    zones = phone_zones.time_zones_for_number(phonenumbers.parse(facts.number))
    return RecipientRules(
        number=facts.number,
        country=facts.country,
        zones=tuple(zone for zone in zones if zone != UNKNOWN_ZONE),
        legal=tuple(
            rule
            for rule in _legal_rules()
            if rule.country == facts.country and rule.state in ("", facts.location)
        ),
    )


def marketing_plan(
    *,
    rules: RecipientRules,
    requested: datetime,
    pool_quiet: QuietWindow | None,
    recent: Iterable[datetime],
    deadline: datetime | None,
) -> MarketingPlan:
    """When a marketing message asked for at `requested` (now, or its sendAt) may go.

    `recent` are the send times of the recipient's other marketing messages of the
    account, sent or planned, on either side of `requested`; every datetime is aware. The
    answer is the earliest moment at or after `requested` outside every quiet window (the
    law's and the pool's) in every zone of the recipient, at which no rolling 24 hours
    would hold more marketing messages than a law allows. The explanation has a line for
    each rule that held the message, or one saying that it goes as asked.
    """
    requested = requested.astimezone(UTC)
    others = sorted(moment.astimezone(UTC) for moment in recent)
    zones = tuple(ZoneInfo(name) for name in rules.zones)
    constraints = [
        *(_Window(rule.quiet, zones, rule) for rule in rules.legal if zones),
        # Without a zone the law's hours cannot be read; the pool's are read in UTC.
        *([_Window(pool_quiet, zones or (UTC_ZONE,), None)] if pool_quiet else []),
        *(
            _Limit(rule, _crowded(others, rule.max_per_24h))
            for rule in rules.legal
            if rule.max_per_24h is not None
        ),
    ]
    horizon = max([requested, *others]) + DAY + SEARCH
    send_at, holds = _earliest(requested, constraints, horizon)
    plan = MarketingPlan(requested=requested, send_at=send_at, deadline=deadline, explanation=())
    return replace(plan, explanation=_explain(plan, rules, constraints, holds, horizon))


def _explain(
    plan: MarketingPlan,
    rules: RecipientRules,
    constraints: list["_Constraint"],
    holds: dict["_Constraint", datetime],
    horizon: datetime,
) -> tuple[str, ...]:
    zones = tuple(ZoneInfo(name) for name in rules.zones) or (UTC_ZONE,)
    lines = []
    if not rules.zones:
        lines.append(
            f"Quiet hours: phonenumbers knows no time zone for {rules.number}: "
            "no legal hours apply, and the pool's quiet hours are read in UTC"
        )
    if not plan.held:
        reasons = [constraint.allows() for constraint in constraints] or [
            f"no legal hours for {rules.country} and no pool quiet hours"
        ]
        lines.append(
            f"Quiet hours: marketing to {rules.number} allowed as requested: "
            f"{_local(plan.requested, zones, '%H:%M')}; {'; '.join(reasons)}"
        )
    elif plan.send_at is None:
        lines += [f"Quiet hours: held by {c.describe(at)}" for c, at in holds.items()]
        lines.append(f"Quiet hours: no moment before {_utc(horizon)} is allowed: it cannot go")
    else:
        local = _local(plan.send_at, zones, "%Y-%m-%d %H:%M")
        goes = f"it goes at {local} ({_utc(plan.send_at)})"
        lines += [f"Quiet hours: held by {c.describe(at)}; {goes}" for c, at in holds.items()]
        if plan.expired:
            lines.append(
                f"Quiet hours: its ttl runs out at {_utc(plan.deadline)}, "
                "before it may go: it fails"
            )
    return tuple(lines)


@dataclass(frozen=True)
class _Window:
    """A quiet window on the clocks of the recipient's zones: the law's, or the pool's."""

    window: QuietWindow
    zones: tuple[ZoneInfo, ...]
    rule: LegalRule | None  # None for the pool's

    def next_allowed(self, moment: datetime) -> datetime:
        return max(_quiet_until(self.window, zone, moment) for zone in self.zones)

    def describe(self, held_at: datetime) -> str:
        quiet = tuple(z for z in self.zones if self.window.contains(held_at.astimezone(z).time()))
        what = (
            f"the pool's quiet hours {self.window}"
            if self.rule is None
            else f"{self.rule}: marketing only {self.rule.hours} local"
        )
        return f"{what}; quiet at {_local(held_at, quiet, '%H:%M')}"

    def allows(self) -> str:
        if self.rule is None:
            return f"outside the pool's quiet hours {self.window}"
        return f"within {self.rule.hours} ({self.rule})"


@dataclass(frozen=True)
class _Limit:
    """A law's cap on the marketing messages in any rolling 24 hours.

    `crowded` holds each run of `cap` consecutive other messages less than 24 hours apart
    (oldest, newest): a message less than 24 hours from both would make some 24 hours
    hold one too many, so it waits until the oldest leaves the window.
    """

    rule: LegalRule
    crowded: tuple[tuple[datetime, datetime], ...]

    def next_allowed(self, moment: datetime) -> datetime:
        # The runs come in the order they start to forbid (their newest message's), so
        # once the moment is before one it is before all the rest: one pass is enough.
        for oldest, newest in self.crowded:
            if newest - DAY < moment < oldest + DAY:
                moment = oldest + DAY
        return moment

    def describe(self, held_at: datetime) -> str:
        oldest, newest = next(run for run in self.crowded if run[1] - DAY < held_at < run[0] + DAY)
        return (
            f"{self.rule}: at most {self.rule.max_per_24h} marketing messages in any 24 hours, "
            f"and {self.rule.max_per_24h} others go between {_utc(oldest)} and {_utc(newest)}, "
            "so it waits until the oldest leaves the 24 hours"
        )

    def allows(self) -> str:
        cap = self.rule.max_per_24h
        return f"no 24 hours around it hold more than {cap} marketing messages ({self.rule})"


_Constraint = _Window | _Limit


def _crowded(others: list[datetime], cap: int) -> tuple[tuple[datetime, datetime], ...]:
    runs = zip(others, others[cap - 1 :], strict=False)
    return tuple((oldest, newest) for oldest, newest in runs if newest - oldest < DAY)


def _earliest(
    requested: datetime, constraints: list[_Constraint], horizon: datetime
) -> tuple[datetime | None, dict[_Constraint, datetime]]:
    """The first moment every constraint allows, and when each one that held it did.

    Each constraint answers the first moment at or after a given one that it allows, so
    the latest of their answers skips no moment they all allow. The moment only grows,
    and each step passes the end of a window or of a run, of which there are finitely
    many before the horizon: the loop ends.
    """
    moment, holds = requested, {}
    while moment <= horizon:
        answers = [(constraint, constraint.next_allowed(moment)) for constraint in constraints]
        later = max((answer for _, answer in answers), default=moment)
        if later == moment:
            return moment, holds
        for constraint, answer in answers:
            if answer > moment:
                holds.setdefault(constraint, moment)
        moment = later
    return None, holds


def _quiet_until(window: QuietWindow, zone: ZoneInfo, moment: datetime) -> datetime:
    """`moment` if the clock in `zone` then reads outside `window`, else the window's end."""
    local = moment.astimezone(zone)
    if not window.contains(local.time()):
        return moment
    day = local.date()
    if window.wraps and local.time() >= window.start:
        day += timedelta(days=1)
    return _first_reading(zone, datetime.combine(day, window.end), after=moment)


def _first_reading(zone: ZoneInfo, wall: datetime, *, after: datetime) -> datetime:
    """The first moment after `after` at which the clock in `zone` reads `wall`; when a DST
    change skips that reading, the change itself."""
    first, second = (wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    if first.astimezone(zone).replace(tzinfo=None) != wall:
        # Skipped: fold 1 reads it with the new offset (a moment before the change),
        # fold 0 with the old one (a moment after it).
        return _offset_change(zone, second, first)
    # Read twice when the clock falls back: the second reading if the first has passed.
    return first if first > after else second


def _offset_change(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The moment between `before` and `after` at which `zone` takes the offset it has at
    `after` (zone data changes offsets on whole seconds)."""
    offset = after.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _local(moment: datetime, zones: tuple[ZoneInfo, ...], fmt: str) -> str:
    """`moment` on the clocks of `zones`, the zones whose clocks read alike named together."""
    readings: dict[str, list[str]] = {}
    for zone in zones:
        readings.setdefault(moment.astimezone(zone).strftime(fmt), []).append(zone.key)
    return ", ".join(f"{reading} in {' & '.join(keys)}" for reading, keys in readings.items())


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
