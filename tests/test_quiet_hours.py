"""Quiet hours (SPEC §13): when the pure core lets a marketing message go.

Every time is given, never read from the clock. The unit tests pin the rules to real
numbers and real nights; the Hypothesis properties check, for recipients drawn from the
NANP data and a few other countries, that the planned moment is never early, never quiet
in any of the recipient's zones, never over a 24-hour limit, and never later than needed.
"""

import csv
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from messaging.quiet_hours import (
    DATA_FILE,
    SEARCH,
    QuietWindow,
    RecipientRules,
    marketing_plan,
    recipient_rules,
)
from pools_project.errors import ServiceError
from virtual_numbers import nanp
from virtual_numbers.phone import parse_e164

NEW_YORK = "+12125550123"
FLORIDA = "+13055550123"  # Miami, America/New_York
OKLAHOMA = "+14055550123"  # Oklahoma City, America/Chicago
IDAHO = "+12082004567"  # an exchange phonenumbers places in both of Idaho's zones
LONDON = "+442071234567"
SATELLITE = "+881612345678"  # Iridium: phonenumbers knows no zone for it
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def plan_for(number, requested, *, pool_quiet=None, recent=(), deadline=None):
    return marketing_plan(
        rules=recipient_rules(number),
        requested=requested,
        pool_quiet=pool_quiet,
        recent=list(recent),
        deadline=deadline,
    )


def text(plan) -> str:
    return "\n".join(plan.explanation)


# The law's hours


def test_a_new_yorker_at_2230_is_held_until_0800_of_their_next_morning_by_the_tcpa():
    plan = plan_for(NEW_YORK, utc(2025, 1, 15, 3, 30))  # 22:30 EST on the 14th

    assert plan.send_at == utc(2025, 1, 15, 13, 0)  # 08:00 EST on the 15th
    assert plan.held and not plan.expired
    assert len(plan.explanation) == 1
    line = plan.explanation[0]
    assert "TCPA (47 CFR § 64.1200(c)(1))" in line
    assert "marketing only 08:00-21:00 local" in line
    assert "quiet at 22:30 in America/New_York" in line
    assert "it goes at 2025-01-15 08:00 in America/New_York (2025-01-15 13:00 UTC)" in line


def test_a_new_yorker_in_the_afternoon_is_not_held_and_the_explanation_says_why():
    plan = plan_for(NEW_YORK, utc(2025, 1, 15, 19, 5))

    assert plan.send_at == plan.requested == utc(2025, 1, 15, 19, 5)
    assert not plan.held and not plan.expired
    assert plan.explanation == (
        f"Quiet hours: marketing to {NEW_YORK} allowed as requested: 14:05 in "
        "America/New_York; within 08:00-21:00 (TCPA (47 CFR § 64.1200(c)(1)))",
    )


def test_florida_at_2030_is_held_by_florida_hours_where_the_tcpa_alone_would_not():
    requested = utc(2025, 1, 15, 1, 30)  # 20:30 EST

    plan = plan_for(FLORIDA, requested)

    assert plan.send_at == utc(2025, 1, 15, 13, 0)
    assert len(plan.explanation) == 1
    assert "Florida Telemarketing Act (Fla. Stat. § 501.616(6)(a)-(b))" in plan.explanation[0]
    assert "marketing only 08:00-20:00 local; quiet at 20:30 in America/New_York" in text(plan)
    assert not plan_for(NEW_YORK, requested).held


def test_florida_at_2230_names_both_laws_that_hold_it():
    plan = plan_for(FLORIDA, utc(2025, 1, 15, 3, 30))

    assert plan.send_at == utc(2025, 1, 15, 13, 0)
    assert len(plan.explanation) == 2
    assert plan.explanation[0].startswith("Quiet hours: held by TCPA (47 CFR")
    assert plan.explanation[1].startswith("Quiet hours: held by Florida Telemarketing Act (Fla.")


@pytest.mark.parametrize(
    ("number", "offset"), [(FLORIDA, timedelta(hours=5)), (OKLAHOMA, timedelta(hours=6))]
)
def test_the_third_marketing_message_in_24_hours_goes_and_the_fourth_waits_for_the_oldest(
    number, offset
):
    def local(hour):  # on 14 January, standard time in both states
        return utc(2025, 1, 14, hour) + offset

    first, second = local(10), local(12)

    third = plan_for(number, local(14), recent=[first, second])
    fourth = plan_for(number, local(16), recent=[first, second, local(14)])

    assert not third.held
    assert "no 24 hours around it hold more than 3 marketing messages" in text(third)
    assert fourth.send_at == first + DAY
    assert len(fourth.explanation) == 1
    assert "at most 3 marketing messages in any 24 hours" in fourth.explanation[0]
    assert "waits until the oldest leaves the 24 hours" in fourth.explanation[0]


def test_the_fourth_waits_for_the_oldest_and_then_for_florida_hours_across_a_dst_change():
    # Three sent on Saturday evening 8 March 2025 (EST); the clocks go forward that night,
    # so the oldest leaves the 24 hours at 20:30 EDT on Sunday, after Florida's 20:00.
    recent = [utc(2025, 3, 9, 0, 30), utc(2025, 3, 9, 0, 40), utc(2025, 3, 9, 0, 50)]

    plan = plan_for(FLORIDA, utc(2025, 3, 9, 14, 0), recent=recent)

    assert plan.send_at == utc(2025, 3, 10, 12, 0)  # 08:00 EDT on Monday
    assert "Florida Telemarketing Act" in plan.explanation[0]
    assert "at most 3 marketing messages" in plan.explanation[0]
    assert "quiet at 20:30 in America/New_York" in text(plan)


def test_oklahoma_at_2030_is_held_by_oklahoma_hours():
    plan = plan_for(OKLAHOMA, utc(2025, 1, 15, 2, 30))  # 20:30 CST

    assert plan.send_at == utc(2025, 1, 15, 14, 0)  # 08:00 CST
    assert "Oklahoma Telephone Solicitation Act of 2022 (15 O.S. § 775C.4)" in text(plan)
    assert "quiet at 20:30 in America/Chicago" in text(plan)


def test_messages_that_are_not_crowded_together_do_not_hold_the_fourth():
    spread = [utc(2025, 1, 13, 15), utc(2025, 1, 14, 15), utc(2025, 1, 15, 15)]

    plan = plan_for(FLORIDA, utc(2025, 1, 15, 18), recent=spread)

    assert not plan.held


def test_a_planned_message_ahead_counts_too():
    ahead = [utc(2025, 1, 16, 15), utc(2025, 1, 16, 16), utc(2025, 1, 16, 17)]

    plan = plan_for(FLORIDA, utc(2025, 1, 15, 18), recent=ahead)

    # Within 24 hours of all three until the oldest is 24 hours gone.
    assert plan.send_at == utc(2025, 1, 17, 15)


# Zones


def test_a_number_spanning_two_zones_is_held_while_it_is_quiet_in_either():
    assert phonenumbers.timezone.time_zones_for_number(phonenumbers.parse(IDAHO)) == (
        "America/Boise",
        "America/Los_Angeles",
    )

    morning = plan_for(IDAHO, utc(2025, 1, 15, 15, 30))  # 08:30 in Boise, 07:30 in LA
    evening = plan_for(IDAHO, utc(2025, 1, 15, 4, 30))  # 21:30 in Boise, 20:30 in LA
    between = plan_for(IDAHO, utc(2025, 1, 15, 3, 30))  # 20:30 in Boise, 19:30 in LA

    assert morning.send_at == utc(2025, 1, 15, 16, 0)
    assert "quiet at 07:30 in America/Los_Angeles; it goes" in text(morning)
    assert evening.send_at == utc(2025, 1, 15, 16, 0)  # Boise's 08:00 is LA's 07:00
    assert "quiet at 21:30 in America/Boise" in text(evening)
    assert not between.held
    assert "20:30 in America/Boise, 19:30 in America/Los_Angeles" in text(between)


def test_a_number_without_a_known_zone_gets_the_pools_window_in_utc_and_no_legal_hours():
    rules = recipient_rules(SATELLITE)
    plan = plan_for(SATELLITE, utc(2025, 1, 15, 22), pool_quiet=QuietWindow(time(21), time(9)))

    assert rules.zones == () and rules.legal == ()
    assert plan.send_at == utc(2025, 1, 16, 9)
    assert plan.explanation[0].startswith(
        f"Quiet hours: phonenumbers knows no time zone for {SATELLITE}"
    )
    assert "quiet at 22:00 in UTC" in plan.explanation[1]


def test_an_area_code_in_florida_or_oklahoma_brings_its_states_rule():
    assert {rule.state for rule in recipient_rules(FLORIDA).legal} == {"", "FL"}
    assert {rule.state for rule in recipient_rules(OKLAHOMA).legal} == {"", "OK"}
    assert {rule.state for rule in recipient_rules(NEW_YORK).legal} == {""}
    assert recipient_rules("+17875550123").legal[0].name == "TCPA"  # Puerto Rico


def test_an_invalid_number_is_refused():
    with pytest.raises(ServiceError):
        recipient_rules("+1212555")


# The pool's window


@pytest.mark.parametrize(
    ("requested", "send_at"),
    [
        (utc(2025, 1, 14, 22, 0), utc(2025, 1, 15, 9, 0)),  # evening: the next morning
        (utc(2025, 1, 15, 7, 0), utc(2025, 1, 15, 9, 0)),  # after midnight: the same morning
        (utc(2025, 1, 15, 9, 0), utc(2025, 1, 15, 9, 0)),  # its end is not quiet
        (utc(2025, 1, 15, 20, 59), utc(2025, 1, 15, 20, 59)),
    ],
)
def test_a_pool_window_that_wraps_midnight(requested, send_at):
    plan = plan_for(LONDON, requested, pool_quiet=QuietWindow(time(21), time(9)))

    assert plan.send_at == send_at


@pytest.mark.parametrize(
    ("requested", "send_at"),
    [
        (utc(2025, 1, 15, 12, 30), utc(2025, 1, 15, 13, 0)),
        (utc(2025, 1, 15, 13, 0), utc(2025, 1, 15, 13, 0)),
        (utc(2025, 1, 15, 11, 59), utc(2025, 1, 15, 11, 59)),
        (utc(2025, 1, 15, 23, 0), utc(2025, 1, 15, 23, 0)),
    ],
)
def test_a_pool_window_that_does_not_wrap(requested, send_at):
    plan = plan_for(LONDON, requested, pool_quiet=QuietWindow(time(12), time(13)))

    assert plan.send_at == send_at


@pytest.mark.parametrize("hour", [0, 9, 15, 23])
def test_a_pool_window_that_starts_where_it_ends_is_no_window(hour):
    plan = plan_for(LONDON, utc(2025, 1, 15, hour), pool_quiet=QuietWindow(time(9), time(9)))

    assert not plan.held


def test_a_recipient_outside_the_us_has_only_the_pools_window():
    assert recipient_rules(LONDON).legal == ()

    unlimited = plan_for(LONDON, utc(2025, 1, 15, 3))
    held = plan_for(LONDON, utc(2025, 1, 15, 22), pool_quiet=QuietWindow(time(21), time(9)))

    assert not unlimited.held
    assert "no legal hours for GB and no pool quiet hours" in text(unlimited)
    assert held.send_at == utc(2025, 1, 16, 9)
    assert held.explanation == (
        "Quiet hours: held by the pool's quiet hours 21:00-09:00; quiet at 22:00 in "
        "Europe/London; it goes at 2025-01-16 09:00 in Europe/London (2025-01-16 09:00 UTC)",
    )


def test_the_pools_window_adds_to_the_law_for_a_us_recipient():
    plan = plan_for(NEW_YORK, utc(2025, 1, 15, 1, 30), pool_quiet=QuietWindow(time(20), time(9)))

    assert plan.send_at == utc(2025, 1, 15, 14, 0)  # the pool's 09:00 EST, not the TCPA's 08:00
    assert "the pool's quiet hours 20:00-09:00; quiet at 20:30 in America/New_York" in text(plan)


# ttl


def test_a_ttl_shorter_than_the_hold_expires_the_message():
    requested = utc(2025, 1, 15, 3, 30)  # 22:30 in New York, held 9.5 hours

    short = plan_for(NEW_YORK, requested, deadline=requested + 4 * HOUR)
    long_enough = plan_for(NEW_YORK, requested, deadline=requested + 10 * HOUR)

    assert short.expired and short.send_at == utc(2025, 1, 15, 13, 0)
    assert "its ttl runs out at 2025-01-15 07:30 UTC, before it may go" in short.explanation[-1]
    assert not long_enough.expired
    assert not plan_for(NEW_YORK, utc(2025, 1, 15, 19), deadline=utc(2025, 1, 15, 19)).expired


def test_windows_that_leave_no_moment_at_all_expire_the_message():
    # phonenumbers gives this Jamaican number every NANP zone, from Guam to St John's.
    plan = plan_for(
        "+18762345678", utc(2025, 1, 15, 12), pool_quiet=QuietWindow(time(20), time(10))
    )

    assert plan.send_at is None and plan.held and plan.expired
    assert "is allowed: it cannot go" in plan.explanation[-1]


# DST


def test_0800_on_a_spring_forward_morning_is_0800_on_the_new_clock():
    # 9 March 2025: New York's clocks go from 02:00 EST to 03:00 EDT.
    assert plan_for(NEW_YORK, utc(2025, 3, 9, 4, 0)).send_at == utc(2025, 3, 9, 12, 0)
    assert plan_for(NEW_YORK, utc(2025, 3, 9, 11, 30)).send_at == utc(2025, 3, 9, 12, 0)


def test_0800_on_a_fall_back_morning_is_0800_on_the_new_clock():
    # 2 November 2025: New York's clocks go from 02:00 EDT back to 01:00 EST.
    assert plan_for(NEW_YORK, utc(2025, 11, 2, 3, 0)).send_at == utc(2025, 11, 2, 13, 0)
    assert plan_for(NEW_YORK, utc(2025, 11, 2, 12, 30)).send_at == utc(2025, 11, 2, 13, 0)


def test_a_window_end_the_clocks_skip_takes_effect_at_the_change():
    # 30 March 2025: London goes from 01:00 GMT to 02:00 BST; 01:30 never shows.
    plan = plan_for(LONDON, utc(2025, 3, 30, 0, 30), pool_quiet=QuietWindow(time(22), time(1, 30)))

    assert plan.send_at == utc(2025, 3, 30, 1, 0)  # 02:00 BST


def test_the_hour_the_clocks_repeat_is_quiet_again_on_its_second_pass():
    # 26 October 2025: London goes from 02:00 BST back to 01:00 GMT.
    window = QuietWindow(time(0), time(1, 30))

    first_pass = plan_for(LONDON, utc(2025, 10, 25, 23, 30), pool_quiet=window)  # 00:30 BST
    between = plan_for(LONDON, utc(2025, 10, 26, 0, 45), pool_quiet=window)  # 01:45 BST
    second_pass = plan_for(LONDON, utc(2025, 10, 26, 1, 10), pool_quiet=window)  # 01:10 GMT

    assert first_pass.send_at == utc(2025, 10, 26, 0, 30)  # 01:30 BST
    assert not between.held
    assert second_pass.send_at == utc(2025, 10, 26, 1, 30)  # 01:30 GMT


# The shipped data


def test_the_rules_file_has_its_columns_and_every_rule_its_source():
    with DATA_FILE.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)

    assert reader.fieldnames == [
        "country",
        "state",
        "opens",
        "closes",
        "max_per_24h",
        "name",
        "citation",
        "source",
    ]
    for row in rows:
        assert row["name"] and "§" in row["citation"], row
        assert row["source"].startswith(("http://", "https://")), row
    states = {row["state"]: row for row in rows if row["country"] == "US"}
    assert (states[""]["opens"], states[""]["closes"], states[""]["max_per_24h"]) == (
        "08:00",
        "21:00",
        "",
    )
    for state in ("FL", "OK"):
        assert (states[state]["opens"], states[state]["closes"]) == ("08:00", "20:00")
        assert states[state]["max_per_24h"] == "3"


# Properties


def first_valid(npa: str) -> str | None:
    for line in ("5550123", "2345678", "2004567", "7654321"):
        try:
            return parse_e164(f"+1{npa}{line}").number
        except ServiceError:
            continue
    return None


def nanp_numbers() -> dict[str, list[str]]:
    """A real number per area code phonenumbers accepts, by the rules it should get."""
    with nanp.DATA_FILE.open(newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["in_service"] == "Y"]
    groups: dict[str, list[str]] = {"FL": [], "OK": [], "US": [], "other": []}
    for row in rows:
        if number := first_valid(row["npa"]):
            group = row["location"] if row["location"] in ("FL", "OK") else row["country"]
            groups.get(group, groups["other"]).append(number)
    return groups


NANP = nanp_numbers()
WORLD = [
    phonenumbers.format_number(
        phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE),
        phonenumbers.PhoneNumberFormat.E164,
    )
    # Half-hour and 45-minute offsets, midnight DST changes (Chile, Egypt), many zones.
    for region in ("GB", "DE", "AU", "JP", "BR", "IN", "IR", "NP", "CL", "EG", "RU", "NZ")
] + [SATELLITE]

recipients = st.one_of(
    st.sampled_from(NANP["FL"]),
    st.sampled_from(NANP["OK"]),
    st.sampled_from(NANP["US"]),
    st.sampled_from(NANP["other"]),
    st.sampled_from(WORLD),
)
# Near the DST changes of 2025 (US, EU, Chile, Australia) as often as anywhere at all.
changes = [utc(2025, m, d) for m, d in ((3, 9), (11, 2), (3, 30), (10, 26), (4, 6), (9, 7))]
moments = st.one_of(
    st.datetimes(datetime(2024, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.builds(
        lambda change, minutes: change + timedelta(minutes=minutes),
        st.sampled_from(changes),
        st.integers(-2 * 24 * 60, 2 * 24 * 60),
    ),
)
clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]) | st.integers(0, 59))
pool_windows = st.none() | st.builds(QuietWindow, clock, clock)
# Bunched within a day and a bit of the request, so the 24-hour limit bites.
offsets = st.lists(st.timedeltas(-30 * HOUR, 30 * HOUR), max_size=7)


def quiet(start: time, end: time, local: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def busiest_24_hours(others: list[datetime], moment: datetime) -> int:
    """The most messages, this one included, in any 24 hours that contain `moment`."""
    times = sorted([*others, moment])
    # The busiest such 24 hours can always start at a message.
    return max(
        sum(start <= t < start + DAY for t in times)
        for start in times
        if start <= moment < start + DAY
    )


def why_not(rules: RecipientRules, pool: QuietWindow | None, others, moment) -> list[str]:
    """Every rule that forbids marketing to the recipient at `moment`, read from SPEC §13."""
    zones = [ZoneInfo(zone) for zone in rules.zones]
    reasons = []
    for zone in zones or [ZoneInfo("UTC")]:
        if pool and quiet(pool.start, pool.end, moment.astimezone(zone).time()):
            reasons.append(f"pool in {zone}")
    for rule in rules.legal:
        for zone in zones:
            if not rule.opens <= moment.astimezone(zone).time() < rule.closes:
                reasons.append(f"{rule.name} in {zone}")
        if rule.max_per_24h and busiest_24_hours(others, moment) > rule.max_per_24h:
            reasons.append(f"{rule.name}: over {rule.max_per_24h} in 24 hours")
    return reasons


def plan_drawn(number, requested, pool, deltas):
    rules = recipient_rules(number)
    recent = [requested + delta for delta in deltas]
    plan = marketing_plan(
        rules=rules, requested=requested, pool_quiet=pool, recent=recent, deadline=None
    )
    return rules, recent, plan


drawn = given(number=recipients, requested=moments, pool=pool_windows, deltas=offsets)
examples = hypothesis_settings(max_examples=150, deadline=None)


@examples
@drawn
def test_a_marketing_plan_is_never_earlier_than_requested(number, requested, pool, deltas):
    _, _, plan = plan_drawn(number, requested, pool, deltas)

    assert plan.send_at is None or plan.send_at >= requested
    assert plan.held == (plan.send_at != requested)


@examples
@drawn
def test_a_marketing_plan_is_never_quiet_in_any_zone_nor_over_the_24_hour_limit(
    number, requested, pool, deltas
):
    rules, recent, plan = plan_drawn(number, requested, pool, deltas)

    if plan.send_at is None:
        # Nothing allowed: so no moment of the search is.
        steps = [requested + SEARCH * k / 64 for k in range(64)]
        assert all(why_not(rules, pool, recent, moment) for moment in steps)
    else:
        assert why_not(rules, pool, recent, plan.send_at) == []


@examples
@drawn
def test_a_marketing_plan_holds_a_message_no_longer_than_the_rules_need(
    number, requested, pool, deltas
):
    rules, recent, plan = plan_drawn(number, requested, pool, deltas)

    if not why_not(rules, pool, recent, requested):
        assert plan.send_at == requested and not plan.held
    elif plan.send_at is not None:
        hold = plan.send_at - requested
        before = [requested + hold * k / 16 for k in range(16)]
        assert all(why_not(rules, pool, recent, m) for m in [*before, plan.send_at - SECOND])
        assert any(line.startswith("Quiet hours: held by") for line in plan.explanation)


@examples
@given(number=st.sampled_from(NANP["FL"] + NANP["OK"]), requested=moments, deltas=offsets)
def test_florida_and_oklahoma_recipients_never_get_a_fourth_message_in_24_hours(
    number, requested, deltas
):
    rules, recent, plan = plan_drawn(number, requested, None, deltas)

    assert {rule.state for rule in rules.legal} == {"", nanp.area_code(number[2:5]).location}
    assert busiest_24_hours(recent, plan.send_at) <= 3
