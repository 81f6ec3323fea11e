"""The selection core, rule by rule and tie-break by tie-break (SPEC §2).

`pools.decision.decide` is a pure function: these tests build its plain inputs —
settings, a recipient parsed from a real E.164 number (NANPA's area codes and overlay
complexes included), the pool's numbers as candidates — and read the decision. No
database. The Hypothesis properties at the end hold the rules over generated pools.
"""

import functools
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pools.alphanumeric import accepts_alphanumeric
from pools.decision import (
    Candidate,
    Decision,
    Mapping,
    NumberList,
    Recipient,
    Refusal,
    Request,
    Rule,
    Settings,
    Strategy,
    decide,
)
from pools.services.selection import recipient_facts
from virtual_numbers.phone import parse_e164

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
TODAY = NOW.date()  # the UTC day daily caps count in

# Senders, one per place the tiers tell apart.
NY_212 = "+12125550101"
NY_646 = "+16465550101"  # in 212's overlay complex
NY_718 = "+17185550101"  # in 917's overlay complex, not in 212's
NY_518 = "+15185550101"  # New York State, another complex
CALIFORNIA_415 = "+14155550101"  # US, location "CA"
ONTARIO_416 = "+14165550101"
ONTARIO_647 = "+16475550101"  # in 416's overlay complex
ONTARIO_613 = "+16135550101"  # Ontario, another complex
TOLL_FREE = "+18005550101"
FRANCE = "+33612345678"
GERMANY = "+4915123456789"
SPAIN = "+34612345678"
BRITAIN = "+447400123456"

# Recipients.
TO_212 = "+12125550123"
TO_917 = "+19175550123"
TO_415 = "+14155550123"
TO_416 = "+14165550123"
TO_FRANCE = "+33698765432"
TO_GERMANY = "+4915198765432"
TO_SPAIN = "+34698765432"


@functools.cache
def recipient(e164: str) -> Recipient:
    return recipient_facts(e164)


def number(e164: str, *, type: str = "longcode", **fields) -> Candidate:
    facts = parse_e164(e164)
    return Candidate(
        id=facts.number,
        number=facts.number,
        type=type,
        country=facts.country,
        area_code=facts.area_code,
        location=facts.location,
        **fields,
    )


def short_code(digits: str, country: str, **fields) -> Candidate:
    return Candidate(id=digits, number=digits, type="shortcode", country=country, **fields)


def used(minutes_ago: int) -> datetime:
    return NOW - timedelta(minutes=minutes_ago)


def choose(
    settings: Settings,
    to: str,
    numbers: list[Candidate],
    *,
    mapping: Mapping | None = None,
    **request_fields,
) -> Decision:
    request = Request(recipient=recipient(to), now=NOW, **request_fields)
    return decide(settings, request, mapping, NumberList(numbers))


def refusal(settings: Settings, to: str, numbers: list[Candidate], **kwargs) -> Refusal:
    with pytest.raises(Refusal) as caught:
        choose(settings, to, numbers, **kwargs)
    return caught.value


def assign(numbers: list[Candidate], chosen: Candidate, when: datetime = NOW) -> list[Candidate]:
    """The pool after a new assignment to `chosen`, as the service records it."""
    return [
        replace(
            c,
            mapping_count=c.mapping_count + 1,
            assignment_count=c.assignment_count + 1,
            last_used_at=when,
        )
        if c.id == chosen.id
        else c
        for c in numbers
    ]


def mentions(decision_or_refusal, *words: str) -> bool:
    text = "\n".join(decision_or_refusal.explanation)
    return all(word in text for word in words)


# --- Allowed countries ------------------------------------------------------------------


def test_destination_outside_allowed_countries_is_refused():
    settings = Settings(allowed_countries=("US", "CA"))

    refused = refusal(settings, TO_FRANCE, [number(FRANCE)])

    assert refused.code == "COUNTRY_NOT_ALLOWED"
    assert "FR" in refused.message


def test_destination_in_allowed_countries_is_served():
    settings = Settings(allowed_countries=("US", "FR"))

    assert choose(settings, TO_FRANCE, [number(FRANCE)]).sender == FRANCE


@pytest.mark.parametrize("to", [TO_212, TO_416, TO_FRANCE, TO_GERMANY])
def test_empty_allowed_countries_allow_every_destination(to):
    assert choose(Settings(), to, [number(NY_212)]).sender == NY_212


def test_allowed_countries_are_checked_before_opt_out():
    settings = Settings(allowed_countries=("US",))

    refused = refusal(settings, TO_FRANCE, [number(FRANCE)], opted_out_everywhere=True)

    assert refused.code == "COUNTRY_NOT_ALLOWED"


# --- Opt-out, scope pool ----------------------------------------------------------------


def assert_nothing_written(decision: Decision) -> None:
    assert decision.opted_out
    assert not (decision.create_mapping or decision.reuse_mapping or decision.drop_mapping)
    assert not decision.new_assignment


def test_pool_scope_opt_out_of_any_pool_number_stops_the_whole_pool():
    numbers = [number(NY_212), number(NY_646)]

    decision = choose(Settings(), TO_212, numbers, opted_out_numbers=frozenset({NY_646}))

    assert_nothing_written(decision)
    assert decision.number is None
    assert mentions(decision, "opted out")


def test_pool_scope_opt_out_everywhere_stops_the_pool():
    decision = choose(Settings(), TO_212, [number(NY_212)], opted_out_everywhere=True)

    assert_nothing_written(decision)


def test_pool_scope_opt_out_leaves_the_sticky_mapping_untouched():
    mapped = number(NY_212)
    settings = Settings(sticky=True, sticky_ttl_days=8)
    for last_used in (used(5), NOW - timedelta(days=30)):  # live, then expired
        decision = choose(
            settings,
            TO_212,
            [mapped, number(NY_646)],
            mapping=Mapping(mapped, last_used),
            opted_out_numbers=frozenset({NY_646}),
        )

        assert_nothing_written(decision)


def test_pool_scope_opt_out_also_stops_the_alphanumeric_strategy():
    settings = Settings(alphanumeric_sender_id="ACME")

    decision = choose(
        settings,
        TO_FRANCE,
        [number(FRANCE)],
        strategy=Strategy.ALPHANUMERIC,
        opted_out_numbers=frozenset({FRANCE}),
    )

    assert_nothing_written(decision)


def test_pool_scope_opt_out_of_a_number_outside_the_pool_does_not_stop_it():
    decision = choose(Settings(), TO_212, [number(NY_212)], opted_out_numbers=frozenset({GERMANY}))

    assert not decision.opted_out
    assert decision.sender == NY_212


# --- Opt-out, scope number --------------------------------------------------------------


def test_number_scope_opt_out_of_the_chosen_number_is_not_routed_around():
    numbers = [number(NY_212), number(NY_646, last_used_at=used(1))]  # 212 is chosen
    settings = Settings(opt_out_scope="number", sticky=True)

    decision = choose(settings, TO_212, numbers, opted_out_numbers=frozenset({NY_212}))

    assert decision.opted_out
    assert decision.sender == NY_212
    assert not (decision.create_mapping or decision.new_assignment)
    assert mentions(decision, "opted out of " + NY_212)


def test_number_scope_opt_out_of_another_pool_number_still_sends_from_the_chosen_one():
    numbers = [number(NY_212), number(NY_646, last_used_at=used(1))]
    settings = Settings(opt_out_scope="number", sticky=True)

    decision = choose(settings, TO_212, numbers, opted_out_numbers=frozenset({NY_646}))

    assert not decision.opted_out
    assert decision.sender == NY_212
    assert decision.create_mapping


def test_number_scope_sticky_mapping_to_an_opted_out_number_is_opted_out():
    mapped = number(NY_646)
    settings = Settings(opt_out_scope="number", sticky=True)

    decision = choose(
        settings,
        TO_212,
        [number(NY_212), mapped],
        mapping=Mapping(mapped, used(60)),
        opted_out_numbers=frozenset({NY_646}),
    )

    assert decision.opted_out
    assert decision.sender == NY_646
    assert decision.rule == Rule.STICKY
    assert not (decision.reuse_mapping or decision.create_mapping)


def test_number_scope_opt_out_everywhere_stops_every_number():
    settings = Settings(opt_out_scope="number")

    decision = choose(settings, TO_212, [number(NY_212)], opted_out_everywhere=True)

    assert decision.opted_out
    assert not decision.new_assignment


@pytest.mark.parametrize("scope", ["pool", "number"])
def test_stopall_also_silences_the_alphanumeric_sender(scope):
    settings = Settings(opt_out_scope=scope, alphanumeric_sender_id="ACME")

    decision = choose(
        settings,
        TO_FRANCE,
        [number(FRANCE)],
        strategy=Strategy.ALPHANUMERIC,
        opted_out_everywhere=True,
    )

    assert decision.opted_out
    assert not decision.sender


# --- Alphanumeric strategy --------------------------------------------------------------


def test_alphanumeric_strategy_prefers_the_per_country_sender():
    settings = Settings(alphanumeric_sender_id="ACME", alphanumeric_sender_ids={"FR": "ACMEFR"})

    decision = choose(settings, TO_FRANCE, [number(FRANCE)], strategy=Strategy.ALPHANUMERIC)

    assert (decision.sender, decision.sender_type, decision.rule) == (
        "ACMEFR",
        "alphanumeric",
        Rule.ALPHANUMERIC,
    )
    assert decision.number is None
    assert mentions(decision, "per-country")


def test_alphanumeric_strategy_falls_back_to_the_pools_sender():
    settings = Settings(alphanumeric_sender_id="ACME", alphanumeric_sender_ids={"FR": "ACMEFR"})

    decision = choose(settings, TO_GERMANY, [number(FRANCE)], strategy=Strategy.ALPHANUMERIC)

    assert decision.sender == "ACME"


def test_alphanumeric_strategy_without_a_sender_is_refused():
    settings = Settings(alphanumeric_sender_ids={"FR": "ACMEFR"})

    refused = refusal(settings, TO_GERMANY, [number(GERMANY)], strategy=Strategy.ALPHANUMERIC)

    assert refused.code == "NO_ALPHANUMERIC_SENDER"


@pytest.mark.parametrize("to", [TO_212, TO_416, "+17875550123"])  # US, Canada, Puerto Rico
def test_alphanumeric_strategy_to_a_destination_refusing_it_is_refused(to):
    settings = Settings(alphanumeric_sender_id="ACME", alphanumeric_sender_ids={"US": "ACMEUS"})

    refused = refusal(settings, to, [number(NY_212)], strategy=Strategy.ALPHANUMERIC)

    assert refused.code == "ALPHANUMERIC_NOT_SUPPORTED"


def test_alphanumeric_strategy_ignores_and_keeps_the_sticky_mapping():
    mapped = number(FRANCE)
    settings = Settings(sticky=True, alphanumeric_sender_id="ACME")

    decision = choose(
        settings,
        TO_FRANCE,
        [mapped],
        mapping=Mapping(mapped, NOW - timedelta(days=30)),
        strategy=Strategy.ALPHANUMERIC,
    )

    assert decision.sender == "ACME"
    assert not (decision.reuse_mapping or decision.drop_mapping or decision.create_mapping)


def test_alphanumeric_data_names_the_nanp_destinations():
    assert not accepts_alphanumeric("US")
    assert not accepts_alphanumeric("CA")
    assert accepts_alphanumeric("FR")


# --- Eligibility ------------------------------------------------------------------------


def test_mms_needs_an_mms_capable_number():
    numbers = [number(NY_212), number(NY_646, mms=True, last_used_at=used(1))]

    decision = choose(Settings(), TO_212, numbers, channel="mms")

    assert decision.sender == NY_646


def test_sms_needs_an_sms_capable_number():
    numbers = [number(NY_212, sms=False, mms=True), number(NY_646, last_used_at=used(1))]

    assert choose(Settings(), TO_212, numbers).sender == NY_646


def test_mms_without_an_mms_capable_number_has_no_sender():
    refused = refusal(Settings(), TO_212, [number(NY_212)], channel="mms")

    assert refused.code == "NO_SENDER_AVAILABLE"


def test_short_code_reaches_only_its_own_country():
    numbers = [short_code("12345", "US"), number(FRANCE, last_used_at=used(1))]

    assert choose(Settings(), TO_FRANCE, numbers).sender == FRANCE
    assert choose(Settings(), TO_212, numbers[:1]).sender == "12345"


def test_short_code_alone_cannot_reach_another_country():
    assert refusal(Settings(), TO_416, [short_code("12345", "US")]).code == "NO_SENDER_AVAILABLE"


@pytest.mark.parametrize("sender", [number(NY_212), number(TOLL_FREE, type="tollfree")])
def test_long_codes_and_toll_free_numbers_reach_any_country(sender):
    for to in (TO_FRANCE, TO_416, TO_GERMANY):
        assert choose(Settings(), to, [sender]).sender == sender.number


# --- Sticky -----------------------------------------------------------------------------


def test_live_sticky_mapping_to_an_eligible_number_wins():
    mapped = number(NY_646, mapping_count=9, last_used_at=used(1))
    numbers = [number(NY_212), mapped]

    decision = choose(
        Settings(sticky=True, geomatch=True), TO_212, numbers, mapping=Mapping(mapped, used(60))
    )

    assert (decision.sender, decision.rule) == (NY_646, Rule.STICKY)
    assert decision.number == mapped
    assert decision.reuse_mapping
    assert not (decision.create_mapping or decision.drop_mapping or decision.new_assignment)
    assert mentions(decision, "mapped to " + NY_646)


def test_sticky_mapping_to_an_unhealthy_number_survives_skip_unhealthy():
    mapped = number(NY_646, healthy=False)
    settings = Settings(sticky=True, skip_unhealthy=True)

    decision = choose(settings, TO_212, [number(NY_212), mapped], mapping=Mapping(mapped, used(1)))

    assert (decision.sender, decision.rule) == (NY_646, Rule.STICKY)
    assert decision.reuse_mapping
    assert mentions(decision, "unhealthy")


def test_sticky_hit_does_not_load_the_pool_numbers():
    mapped = number(NY_212)

    class Unasked:
        def __getattr__(self, question):
            raise AssertionError(f"a sticky hit needs no choice, but asked {question}")

    request = Request(recipient=recipient(TO_212), now=NOW)
    decision = decide(Settings(sticky=True), request, Mapping(mapped, used(1)), Unasked())

    assert decision.rule == Rule.STICKY


def test_mapping_unused_for_the_ttl_expires_and_a_new_number_is_chosen():
    mapped = number(NY_646, mapping_count=1)
    numbers = [number(NY_212), mapped]
    settings = Settings(sticky=True, sticky_ttl_days=8)

    decision = choose(settings, TO_212, numbers, mapping=Mapping(mapped, NOW - timedelta(days=8)))

    assert decision.rule != Rule.STICKY
    assert decision.sender == NY_212
    assert decision.drop_mapping and decision.create_mapping and decision.new_assignment
    assert not decision.reuse_mapping
    assert mentions(decision, "expired")


def test_mapping_used_just_inside_the_ttl_is_still_live():
    mapped = number(NY_646, mapping_count=1)
    settings = Settings(sticky=True, sticky_ttl_days=8)
    last_used = NOW - timedelta(days=8) + timedelta(seconds=1)

    decision = choose(
        settings, TO_212, [number(NY_212), mapped], mapping=Mapping(mapped, last_used)
    )

    assert decision.rule == Rule.STICKY


def test_expired_mapping_may_lead_back_to_the_same_number():
    mapped = number(NY_212, mapping_count=1)
    settings = Settings(sticky=True, sticky_ttl_days=1)

    decision = choose(settings, TO_212, [mapped], mapping=Mapping(mapped, NOW - timedelta(days=2)))

    assert decision.sender == NY_212
    assert decision.rule == Rule.POOL
    assert decision.drop_mapping and decision.create_mapping


def test_ttl_zero_never_expires():
    mapped = number(NY_646)
    settings = Settings(sticky=True, sticky_ttl_days=0)

    decision = choose(
        settings,
        TO_212,
        [number(NY_212), mapped],
        mapping=Mapping(mapped, NOW - timedelta(days=3650)),
    )

    assert (decision.sender, decision.rule) == (NY_646, Rule.STICKY)


def test_mapping_to_a_number_that_cannot_carry_the_channel_is_dropped():
    mapped = number(NY_212)  # SMS only
    numbers = [mapped, number(NY_646, mms=True)]

    decision = choose(
        Settings(sticky=True), TO_212, numbers, mapping=Mapping(mapped, used(1)), channel="mms"
    )

    assert decision.sender == NY_646
    assert decision.drop_mapping and decision.create_mapping
    assert mentions(decision, "can no longer carry MMS")


def test_sticky_off_ignores_the_mapping():
    mapped = number(NY_646, last_used_at=used(1))
    numbers = [number(NY_212), mapped]

    decision = choose(Settings(sticky=False), TO_212, numbers, mapping=Mapping(mapped, used(1)))

    assert decision.sender == NY_212
    assert decision.rule == Rule.POOL
    assert not (decision.reuse_mapping or decision.drop_mapping or decision.create_mapping)
    assert decision.new_assignment


def test_new_assignment_creates_a_mapping_only_with_sticky_on():
    numbers = [number(NY_212)]

    assert choose(Settings(sticky=True), TO_212, numbers).create_mapping
    assert not choose(Settings(sticky=False), TO_212, numbers).create_mapping


# --- Health -----------------------------------------------------------------------------


def test_skip_unhealthy_leaves_unhealthy_numbers_out_of_new_assignments():
    numbers = [number(NY_212, healthy=False), number(NY_646, last_used_at=used(1))]

    decision = choose(Settings(skip_unhealthy=True, geomatch=True), TO_212, numbers)

    assert (decision.sender, decision.rule) == (NY_646, Rule.OVERLAY)
    assert mentions(decision, "unhealthy")


def test_unhealthy_numbers_are_used_without_skip_unhealthy():
    numbers = [number(NY_212, healthy=False), number(NY_646, last_used_at=used(1))]

    decision = choose(Settings(geomatch=True), TO_212, numbers)

    assert (decision.sender, decision.rule) == (NY_212, Rule.AREA_CODE)


def test_all_numbers_unhealthy_goes_to_the_fallback():
    numbers = [number(FRANCE, healthy=False), number(GERMANY, healthy=False)]
    with_sender = Settings(skip_unhealthy=True, alphanumeric_sender_id="ACME")

    decision = choose(with_sender, TO_FRANCE, numbers)

    assert (decision.sender, decision.rule) == ("ACME", Rule.ALPHANUMERIC)
    assert refusal(Settings(skip_unhealthy=True), TO_FRANCE, numbers).code == "NO_SENDER_AVAILABLE"
    rejecting = replace(with_sender, fallback="Reject")
    assert refusal(rejecting, TO_FRANCE, numbers).code == "NO_SENDER_AVAILABLE"


# --- Capacity: cordoned numbers and daily caps (SPEC §14) ------------------------------


def capped(e164: str, cap: int = 2, **fields) -> Candidate:
    """A number that took its daily cap of new recipients today (UTC)."""
    return number(e164, daily_cap=cap, new_recipients=cap, new_recipients_on=TODAY, **fields)


def cordoned(e164: str, **fields) -> Candidate:
    return number(e164, cordoned=True, **fields)


@pytest.mark.parametrize("unavailable", [cordoned, capped], ids=["cordoned", "capped"])
def test_a_cordoned_or_capped_number_keeps_its_sticky_recipient(unavailable):
    mapped = unavailable(NY_212)
    settings = Settings(sticky=True, geomatch=True)

    decision = choose(settings, TO_212, [mapped, number(NY_646)], mapping=Mapping(mapped, used(1)))

    assert (decision.sender, decision.rule) == (NY_212, Rule.STICKY)
    assert decision.reuse_mapping and not decision.new_assignment
    assert mentions(decision, "cordoned" if unavailable is cordoned else "daily cap")


@pytest.mark.parametrize("unavailable", [cordoned, capped], ids=["cordoned", "capped"])
@pytest.mark.parametrize("sticky", [True, False])
def test_a_cordoned_or_capped_number_takes_no_new_recipient(unavailable, sticky):
    # The best number by distribution, and in the recipient's own area code.
    numbers = [unavailable(NY_212), number(NY_646, mapping_count=5, last_used_at=used(1))]

    decision = choose(Settings(sticky=sticky, geomatch=True), TO_212, numbers)

    assert (decision.sender, decision.rule) == (NY_646, Rule.OVERLAY)
    assert decision.new_assignment


def test_leaving_capacity_out_never_empties_a_tier_that_has_other_numbers():
    numbers = [
        cordoned(NY_212),
        capped(NY_212.replace("0101", "0102")),
        number(NY_212.replace("0101", "0103"), mapping_count=9),
        number(NY_646),
    ]

    decision = choose(Settings(sticky=True, geomatch=True), TO_212, numbers)

    assert (decision.sender, decision.rule) == (NY_212.replace("0101", "0103"), Rule.AREA_CODE)
    assert (
        "Capacity: 2 number(s) of area code 212 left out "
        "(1 cordoned, 1 at its daily cap of new recipients)."
    ) in decision.explanation
    assert mentions(decision, "Location: 1 eligible number(s) in area code 212")


def test_a_tier_of_only_cordoned_or_capped_numbers_moves_on_to_the_next_tier():
    numbers = [cordoned(NY_212), capped(NY_212.replace("0101", "0102")), number(NY_518)]

    decision = choose(Settings(geomatch=True), TO_212, numbers)

    assert (decision.sender, decision.rule) == (NY_518, Rule.REGION)
    assert (
        "Capacity: no number of area code 212 takes a new recipient now "
        "(cordoned, or at its daily cap); the next tier is tried."
    ) in decision.explanation


def test_capacity_needs_no_setting_unlike_skip_unhealthy():
    numbers = [capped(NY_212), number(NY_646, healthy=False)]

    decision = choose(Settings(geomatch=True, skip_unhealthy=False), TO_212, numbers)

    assert decision.sender == NY_646


def test_every_number_cordoned_or_capped_leaves_the_last_resort():
    numbers = [cordoned(NY_212), capped(NY_646), capped(FRANCE, cap=1)]
    with_sender = Settings(geomatch=True, alphanumeric_sender_id="ACME")

    decision = choose(with_sender, TO_FRANCE, numbers)
    refused = refusal(Settings(geomatch=True), TO_212, numbers)

    assert (decision.rule, decision.sender) == (Rule.ALPHANUMERIC, "ACME")
    assert mentions(decision, "Capacity: 1 number(s) of country FR left out (1 at its daily cap")
    assert refused.code == "NO_SENDER_AVAILABLE"
    assert "Capacity: no number of the pool takes a new recipient now." in refused.explanation
    assert "Capacity: 1 number(s) of area code 212 left out (1 cordoned)." in refused.explanation
    assert refusal(replace(with_sender, fallback="Reject"), TO_FRANCE, numbers).code == (
        "NO_SENDER_AVAILABLE"
    )


@pytest.mark.parametrize(
    ("taken", "on", "available"),
    [
        (2, TODAY, False),  # the cap, today
        (5, TODAY, False),  # over it: the cap was lowered today
        (1, TODAY, True),
        (2, TODAY - timedelta(days=1), True),  # yesterday's count: today starts again
        (0, None, True),  # never took a new recipient
    ],
)
def test_a_daily_cap_counts_the_new_recipients_of_the_requests_utc_day(taken, on, available):
    numbers = [
        number(NY_212, daily_cap=2, new_recipients=taken, new_recipients_on=on),
        number(NY_646, mapping_count=5),
    ]

    decision = choose(Settings(sticky=True, geomatch=True), TO_212, numbers)

    assert decision.sender == (NY_212 if available else NY_646)


def test_the_utc_day_of_the_request_decides_not_its_local_day():
    """01:30 in Paris on 3 June is still 2 June in UTC: a number capped on 2 June stays capped."""
    numbers = [capped(NY_212), number(NY_646, mapping_count=5)]
    paris = timezone(timedelta(hours=2))
    request = Request(recipient(TO_212), datetime(2025, 6, 3, 1, 30, tzinfo=paris))

    decision = decide(Settings(sticky=True, geomatch=True), request, None, NumberList(numbers))

    assert decision.sender == NY_646


def test_no_cap_means_no_limit():
    numbers = [number(NY_212, new_recipients=10_000, new_recipients_on=TODAY)]

    assert choose(Settings(), TO_212, numbers).sender == NY_212


# --- Location tiers, geomatch on --------------------------------------------------------

GEO = Settings(geomatch=True, default_country="FR", priority_countries=("ES", "DE"))
EVERY_PLACE = [
    number(NY_212, last_used_at=used(1)),
    number(NY_646, last_used_at=used(2)),
    number(NY_518, last_used_at=used(3)),
    number(CALIFORNIA_415, last_used_at=used(4)),
    number(FRANCE),
    number(SPAIN),
    number(GERMANY),
    number(BRITAIN),
]


@pytest.mark.parametrize(
    ("without", "rule", "sender"),
    [
        ((), Rule.AREA_CODE, NY_212),
        ((NY_212,), Rule.OVERLAY, NY_646),
        ((NY_212, NY_646), Rule.REGION, NY_518),
        ((NY_212, NY_646, NY_518), Rule.COUNTRY, CALIFORNIA_415),
        ((NY_212, NY_646, NY_518, CALIFORNIA_415), Rule.DEFAULT_COUNTRY, FRANCE),
        ((NY_212, NY_646, NY_518, CALIFORNIA_415, FRANCE), Rule.PRIORITY_COUNTRY, SPAIN),
        ((NY_212, NY_646, NY_518, CALIFORNIA_415, FRANCE, SPAIN), Rule.PRIORITY_COUNTRY, GERMANY),
        ((NY_212, NY_646, NY_518, CALIFORNIA_415, FRANCE, SPAIN, GERMANY), Rule.POOL, BRITAIN),
    ],
)
def test_geomatch_takes_the_first_non_empty_tier(without, rule, sender):
    numbers = [c for c in EVERY_PLACE if c.number not in without]

    decision = choose(GEO, TO_212, numbers)

    assert (decision.rule, decision.sender) == (rule, sender)
    assert mentions(decision, f"({rule})" if rule != Rule.POOL else "Fallback Pool")


def test_geomatch_tier_wins_over_a_less_used_number_elsewhere():
    numbers = [number(NY_212, last_used_at=used(1), mapping_count=50), number(FRANCE)]

    for sticky in (True, False):
        decision = choose(Settings(geomatch=True, sticky=sticky), TO_212, numbers)
        assert (decision.rule, decision.sender) == (Rule.AREA_CODE, NY_212)


def test_overlay_complex_comes_from_nanpa_data():
    # 917 overlays all five boroughs; 212's complex is Manhattan only.
    numbers = [number(NY_718)]

    assert choose(Settings(geomatch=True), TO_917, numbers).rule == Rule.OVERLAY
    assert choose(Settings(geomatch=True), TO_212, numbers).rule == Rule.REGION


def test_region_is_the_state_or_province():
    geo = Settings(geomatch=True)

    assert choose(geo, TO_416, [number(ONTARIO_647)]).rule == Rule.OVERLAY
    assert choose(geo, TO_416, [number(ONTARIO_613)]).rule == Rule.REGION
    assert choose(geo, TO_212, [number(CALIFORNIA_415)]).rule == Rule.COUNTRY


def test_a_number_across_the_border_matches_no_tier():
    decision = choose(Settings(geomatch=True), TO_415, [number(ONTARIO_416)])

    assert (decision.rule, decision.sender) == (Rule.POOL, ONTARIO_416)


def test_nanp_tiers_do_not_apply_outside_the_nanp():
    numbers = [number(GERMANY), number(FRANCE, last_used_at=used(1))]

    decision = choose(Settings(geomatch=True), TO_FRANCE, numbers)

    assert (decision.rule, decision.sender) == (Rule.COUNTRY, FRANCE)


def test_geomatch_prefers_the_default_country_to_priority_countries():
    settings = Settings(geomatch=True, default_country="DE", priority_countries=("FR",))

    decision = choose(settings, TO_SPAIN, [number(FRANCE), number(GERMANY)])

    assert (decision.rule, decision.sender) == (Rule.DEFAULT_COUNTRY, GERMANY)


# --- Location tiers, geomatch off -------------------------------------------------------


def test_without_geomatch_priority_countries_come_first_in_order():
    settings = Settings(default_country="DE", priority_countries=("GB", "ES", "FR"))
    numbers = [number(FRANCE), number(GERMANY), number(SPAIN), number(NY_212)]

    decision = choose(settings, TO_212, numbers)

    assert (decision.rule, decision.sender) == (Rule.PRIORITY_COUNTRY, SPAIN)


def test_without_geomatch_the_default_country_comes_after_priority_countries():
    settings = Settings(default_country="DE", priority_countries=("GB",))
    numbers = [number(FRANCE), number(GERMANY, last_used_at=used(1)), number(NY_212)]

    decision = choose(settings, TO_212, numbers)

    assert (decision.rule, decision.sender) == (Rule.DEFAULT_COUNTRY, GERMANY)


def test_without_geomatch_the_whole_pool_ignores_the_recipients_location():
    numbers = [number(NY_212, last_used_at=used(1)), number(FRANCE)]

    decision = choose(Settings(fallback="Reject"), TO_212, numbers)

    assert (decision.rule, decision.sender) == (Rule.POOL, FRANCE)


# --- Fallback ---------------------------------------------------------------------------


def test_fallback_pool_takes_any_eligible_number():
    decision = choose(Settings(geomatch=True, fallback="Pool"), TO_212, [number(FRANCE)])

    assert (decision.rule, decision.sender) == (Rule.POOL, FRANCE)
    assert decision.new_assignment
    assert mentions(decision, "Fallback Pool")


def test_fallback_custom_from_uses_the_alphanumeric_sender():
    settings = Settings(
        geomatch=True,
        fallback="CustomFrom",
        alphanumeric_sender_id="ACME",
        alphanumeric_sender_ids={"FR": "ACMEFR"},
    )

    decision = choose(settings, TO_FRANCE, [number(NY_212)])

    assert (decision.rule, decision.sender, decision.sender_type) == (
        Rule.ALPHANUMERIC,
        "ACMEFR",
        "alphanumeric",
    )
    assert not (decision.create_mapping or decision.new_assignment)


def test_fallback_custom_from_to_a_destination_refusing_alphanumeric_is_refused():
    settings = Settings(geomatch=True, fallback="CustomFrom", alphanumeric_sender_id="ACME")

    refused = refusal(settings, TO_212, [number(FRANCE)])

    assert refused.code == "NO_SENDER_AVAILABLE"
    assert mentions(refused, "does not accept alphanumeric")


def test_fallback_custom_from_without_a_sender_is_refused():
    settings = Settings(geomatch=True, fallback="CustomFrom")

    assert refusal(settings, TO_FRANCE, [number(NY_212)]).code == "NO_SENDER_AVAILABLE"


def test_fallback_reject_refuses():
    settings = Settings(geomatch=True, fallback="Reject", alphanumeric_sender_id="ACME")

    refused = refusal(settings, TO_FRANCE, [number(NY_212)])

    assert refused.code == "NO_SENDER_AVAILABLE"
    assert mentions(refused, "Reject")


@pytest.mark.parametrize("fallback", ["Pool", "CustomFrom"])
@pytest.mark.parametrize("geomatch", [True, False])
def test_no_eligible_number_falls_to_the_alphanumeric_sender(fallback, geomatch):
    settings = Settings(geomatch=geomatch, fallback=fallback, alphanumeric_sender_id="ACME")

    for numbers in ([], [short_code("12345", "US")]):
        decision = choose(settings, TO_FRANCE, numbers)
        assert (decision.rule, decision.sender) == (Rule.ALPHANUMERIC, "ACME")


@pytest.mark.parametrize("fallback", ["Pool", "CustomFrom"])
def test_no_eligible_number_and_no_usable_alphanumeric_sender_is_refused(fallback):
    with_sender = Settings(fallback=fallback, alphanumeric_sender_id="ACME")

    assert refusal(Settings(fallback=fallback), TO_FRANCE, []).code == "NO_SENDER_AVAILABLE"
    assert refusal(with_sender, TO_212, []).code == "NO_SENDER_AVAILABLE"


def test_no_eligible_number_with_fallback_reject_is_refused():
    settings = Settings(fallback="Reject", alphanumeric_sender_id="ACME")

    assert refusal(settings, TO_FRANCE, []).code == "NO_SENDER_AVAILABLE"


# --- Type weights -----------------------------------------------------------------------


def run(settings: Settings, to: str, numbers: list[Candidate], rounds: int) -> list[Candidate]:
    """`rounds` new assignments, each fed back into the pool; the numbers chosen."""
    chosen = []
    for i in range(rounds):
        decision = choose(settings, to, numbers)
        chosen.append(decision.number)
        numbers = assign(numbers, decision.number, used(rounds - i))
    return chosen


def test_weights_five_to_one_give_five_long_codes_then_one_toll_free():
    numbers = [number(NY_212), number(NY_646), number(TOLL_FREE, type="tollfree")]
    settings = Settings(weights={"longcode": 5, "tollfree": 1, "shortcode": 1})

    types = [c.type[0].upper() for c in run(settings, TO_212, numbers, 12)]

    assert "".join(types) == "LLLLLTLLLLLT"


def test_weights_are_deterministic():
    numbers = [number(NY_212), number(TOLL_FREE, type="tollfree"), short_code("12345", "US")]
    settings = Settings(weights={"longcode": 3, "tollfree": 2, "shortcode": 1})

    assert run(settings, TO_212, numbers, 30) == run(settings, TO_212, numbers, 30)


def test_weights_of_three_types_keep_every_type_within_one_of_its_share():
    numbers = [number(NY_212), number(TOLL_FREE, type="tollfree"), short_code("12345", "US")]
    weights = {"longcode": 1, "tollfree": 1, "shortcode": 15}
    settings = Settings(weights=weights)

    chosen = run(settings, TO_212, numbers, 34)

    for n in range(1, len(chosen) + 1):
        for number_type, weight in weights.items():
            count = sum(c.type == number_type for c in chosen[:n])
            assert abs(count - n * weight / 17) < 1, (n, number_type, count)


def test_weight_zero_type_is_left_out_while_a_weighted_type_is_in_the_tier():
    numbers = [number(NY_212), number(TOLL_FREE, type="tollfree")]
    settings = Settings(weights={"longcode": 1, "tollfree": 0, "shortcode": 1})

    assert {c.type for c in run(settings, TO_212, numbers, 10)} == {"longcode"}


def test_weight_zero_type_is_used_when_it_is_alone_in_the_tier():
    # The US tier holds only the toll-free number; the French long code is elsewhere.
    numbers = [number(TOLL_FREE, type="tollfree"), number(FRANCE)]
    settings = Settings(geomatch=True, weights={"longcode": 1, "tollfree": 0, "shortcode": 1})

    decision = choose(settings, TO_212, numbers)

    assert (decision.rule, decision.sender) == (Rule.COUNTRY, TOLL_FREE)


def test_all_weights_zero_still_share_the_types():
    numbers = [number(NY_212), number(TOLL_FREE, type="tollfree")]
    settings = Settings(weights={"longcode": 0, "tollfree": 0, "shortcode": 0})

    assert {c.type for c in run(settings, TO_212, numbers, 4)} == {"longcode", "tollfree"}


def test_weights_explain_the_type_chosen():
    numbers = [number(NY_212), number(TOLL_FREE, type="tollfree")]

    decision = choose(Settings(weights={"longcode": 5, "tollfree": 1}), TO_212, numbers)

    assert mentions(decision, "Weights: longcode is next")


# --- Distribution -----------------------------------------------------------------------


def test_sticky_distribution_takes_the_number_with_fewest_mappings():
    numbers = [
        number(NY_212, mapping_count=3),
        number(NY_646, mapping_count=1, last_used_at=used(0)),
        number(NY_518, mapping_count=2, last_used_at=used(500)),
    ]

    decision = choose(Settings(sticky=True), TO_212, numbers)

    assert decision.sender == NY_646
    assert mentions(decision, "fewest live mappings")


def test_sticky_distribution_ties_go_to_the_never_used_number():
    numbers = [
        number(NY_212, mapping_count=1, last_used_at=used(500)),
        number(NY_646, mapping_count=1),
    ]

    assert choose(Settings(sticky=True), TO_212, numbers).sender == NY_646


def test_sticky_distribution_ties_go_to_the_least_recently_used_number():
    numbers = [
        number(NY_212, mapping_count=1, last_used_at=used(5)),
        number(NY_646, mapping_count=1, last_used_at=used(50)),
        number(NY_518, mapping_count=1, last_used_at=used(10)),
    ]

    assert choose(Settings(sticky=True), TO_212, numbers).sender == NY_646


def test_sticky_distribution_last_tie_goes_to_the_lowest_number():
    numbers = [
        number(NY_646, mapping_count=2, last_used_at=used(5)),
        number(NY_518, mapping_count=2, last_used_at=used(5)),
        number(NY_212, mapping_count=2, last_used_at=used(5)),
    ]

    assert choose(Settings(sticky=True), TO_212, numbers).sender == NY_212


def test_non_sticky_distribution_takes_the_least_recently_used_number():
    numbers = [
        number(NY_212, mapping_count=0, last_used_at=used(5)),
        number(NY_646, mapping_count=9, last_used_at=used(50)),
    ]

    decision = choose(Settings(sticky=False), TO_212, numbers)

    assert decision.sender == NY_646
    assert mentions(decision, "least recently used")


def test_non_sticky_distribution_prefers_a_never_used_number():
    numbers = [number(NY_212, last_used_at=used(5000)), number(NY_646)]

    decision = choose(Settings(sticky=False), TO_212, numbers)

    assert decision.sender == NY_646
    assert mentions(decision, "never used")


def test_non_sticky_distribution_tie_goes_to_the_lowest_number():
    numbers = [number(NY_646, last_used_at=used(5)), number(NY_518, last_used_at=used(5))]

    assert choose(Settings(sticky=False), TO_212, numbers).sender == NY_518


def test_distribution_stays_within_the_type_the_weights_chose():
    numbers = [
        number(NY_212, mapping_count=5),
        number(TOLL_FREE, type="tollfree", mapping_count=0),
    ]
    settings = Settings(sticky=True, weights={"longcode": 1, "tollfree": 0, "shortcode": 0})

    assert choose(settings, TO_212, numbers).sender == NY_212


def test_sticky_on_spreads_new_recipients_one_by_one():
    numbers = [number(NY_212), number(NY_646), number(NY_518)]

    chosen = [c.number for c in run(Settings(sticky=True), TO_212, numbers, 6)]

    assert chosen == [NY_212, NY_518, NY_646, NY_212, NY_518, NY_646]


# --- Overrides --------------------------------------------------------------------------


def test_override_turns_geomatch_on_for_one_country_only():
    settings = Settings(overrides=({"country": "US", "geomatch": True},))

    us = choose(settings, TO_212, [number(NY_212, last_used_at=used(1)), number(FRANCE)])
    ca = choose(settings, TO_416, [number(ONTARIO_416, last_used_at=used(1)), number(FRANCE)])

    assert (us.rule, us.sender) == (Rule.AREA_CODE, NY_212)
    assert (ca.rule, ca.sender) == (Rule.POOL, FRANCE)


def test_override_makes_mms_sticky_and_leaves_sms_alone():
    mapped = number(NY_646, mms=True)
    numbers = [number(NY_212, mms=True), mapped]
    settings = Settings(overrides=({"channel": "mms", "sticky": True},))
    mapping = Mapping(mapped, used(1))

    mms = choose(settings, TO_212, numbers, mapping=mapping, channel="mms")
    sms = choose(settings, TO_212, numbers, mapping=mapping, channel="sms")

    assert (mms.rule, mms.sender, mms.reuse_mapping) == (Rule.STICKY, NY_646, True)
    assert sms.rule == Rule.POOL
    assert not (sms.create_mapping or sms.reuse_mapping or sms.drop_mapping)


OVERRIDES = (
    {"channel": "mms", "geomatch": False, "skipUnhealthy": True, "weights": {"tollfree": 3}},
    {"country": "US", "geomatch": True, "sticky": True, "weights": {"longcode": 7}},
    {"country": "US", "channel": "mms", "sticky": False},
)


@pytest.mark.parametrize("overrides", [OVERRIDES, OVERRIDES[::-1]])
def test_most_specific_override_wins_key_by_key(overrides):
    settings = Settings(overrides=overrides)

    us_mms = settings.for_destination("US", "mms")

    assert us_mms.sticky is False  # country + channel
    assert us_mms.geomatch is True  # country beats channel
    assert us_mms.skip_unhealthy is True  # only the channel override names it
    assert us_mms.weights == {"longcode": 7, "tollfree": 3, "shortcode": 1}


def test_overrides_for_other_destinations_change_nothing():
    settings = Settings(geomatch=True, overrides=OVERRIDES)

    assert settings.for_destination("FR", "sms") == settings
    assert settings.for_destination("US", "sms").sticky is True
    assert settings.for_destination("FR", "mms").geomatch is False


def test_override_weights_drive_the_type_choice():
    numbers = [number(NY_212), number(TOLL_FREE, type="tollfree")]
    settings = Settings(overrides=({"country": "US", "weights": {"longcode": 0}},))

    assert choose(settings, TO_212, numbers).sender == TOLL_FREE


# --- Explanation ------------------------------------------------------------------------


def test_explanation_names_the_recipient_the_tier_and_the_distribution():
    numbers = [number(NY_212), number(NY_212.replace("0101", "0102"), last_used_at=used(1))]

    decision = choose(Settings(geomatch=True, sticky=True), TO_212, numbers)

    assert decision.explanation[0].startswith(f"Recipient {TO_212}: country US, area code 212")
    assert mentions(decision, "area code 212", "(areaCode)")
    assert mentions(decision, "Distribution:", "fewest live mappings")


def test_refusal_carries_its_code_and_explanation_lines():
    refused = refusal(Settings(geomatch=True, fallback="Reject"), TO_FRANCE, [number(NY_212)])

    assert refused.code == "NO_SENDER_AVAILABLE"
    assert refused.message
    assert isinstance(refused.explanation, tuple)
    assert refused.explanation[0].startswith(f"Recipient {TO_FRANCE}")
    assert mentions(refused, "Location:", "Fallback Reject")


# --- Properties -------------------------------------------------------------------------

PROPERTY = hypothesis_settings(max_examples=200, deadline=None)

COUNTRIES = ("US", "CA", "FR", "DE", "ES", "PR")
NANP_AREA_CODES = ("212", "332", "646", "917", "718", "929", "518", "415", "213", "201")
NANP_AREA_CODES += ("416", "647", "613", "787")
RECIPIENTS = (
    *(recipient(f"+1{npa}5550123") for npa in NANP_AREA_CODES),
    recipient(TO_FRANCE),
    recipient(TO_GERMANY),
    recipient(TO_SPAIN),
)


def _place(e164: str, type: str = "longcode") -> dict:
    candidate = number(e164, type=type)
    return {
        "type": type,
        "country": candidate.country,
        "area_code": candidate.area_code,
        "location": candidate.location,
    }


PLACES = (
    *(_place(f"+1{npa}5550100") for npa in NANP_AREA_CODES),
    _place(FRANCE),
    _place(GERMANY),
    _place(SPAIN),
    _place(TOLL_FREE, type="tollfree"),
    *({"type": "shortcode", "country": country} for country in ("US", "CA", "FR")),
)


def rarely(strategy, usual):
    """`strategy` one time in four, else `usual`: rules that end a decision early stay rare."""
    return st.integers(0, 3).flatmap(lambda roll: strategy if roll == 3 else st.just(usual))


def places_near(recipient: Recipient | None) -> list[dict]:
    """The places in the recipient's overlay complex or state: the NANP tiers' material."""
    if recipient is None or not recipient.area_code:
        return []
    return [
        place
        for place in PLACES
        if place.get("area_code") in recipient.overlay
        or (place["country"], place.get("location")) == (recipient.country, recipient.location)
    ]


@st.composite
def pools(draw, min_size=0, max_size=8, counters=True, near=None) -> list[Candidate]:
    """The pool's numbers: real places (often near `near`), capabilities, health,
    counters, capacity (cordoned, a daily cap taken today, yesterday or never)."""
    nearby = places_near(near)
    places = (
        st.sampled_from(PLACES) | st.sampled_from(nearby) if nearby else st.sampled_from(PLACES)
    )
    specs = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "place": places,
                    "sms": rarely(st.just(False), True),
                    "mms": st.booleans(),
                    "healthy": st.booleans(),
                    "mapping_count": st.integers(0, 5) if counters else st.just(0),
                    "assignment_count": st.integers(0, 10) if counters else st.just(0),
                    "last_used_at": st.none() | st.integers(0, 600).map(used),
                    "cordoned": rarely(st.just(True), False),
                    "daily_cap": st.none() | st.integers(1, 3),
                    "new_recipients": st.integers(0, 4),
                    "new_recipients_on": st.sampled_from((None, TODAY, TODAY - timedelta(days=1))),
                }
            ),
            min_size=min_size,
            max_size=max_size,
        )
    )
    pool = []
    for i, spec in enumerate(specs):
        place = spec.pop("place")
        pool.append(Candidate(id=i, number=f"+9{i:06d}", **place, **spec))
    return pool


type_weights = st.fixed_dictionaries(
    {t: st.integers(0, 5) for t in ("longcode", "tollfree", "shortcode")}
)
countries = st.sampled_from(COUNTRIES)
channels = st.sampled_from(("sms", "mms"))
override_scopes = (
    st.fixed_dictionaries({"country": countries})
    | st.fixed_dictionaries({"channel": channels})
    | st.fixed_dictionaries({"country": countries, "channel": channels})
)
override_changes = st.fixed_dictionaries(
    {},
    optional={
        "sticky": st.booleans(),
        "geomatch": st.booleans(),
        "skipUnhealthy": st.booleans(),
        "weights": type_weights,
    },
)
overrides = st.lists(
    st.builds(lambda scope, changes: {**scope, **changes}, override_scopes, override_changes),
    max_size=3,
    unique_by=lambda o: (o.get("country"), o.get("channel")),
).map(tuple)


pool_settings = st.builds(
    Settings,
    sticky=st.booleans(),
    sticky_ttl_days=st.integers(0, 10),
    geomatch=st.booleans(),
    default_country=st.sampled_from(("", *COUNTRIES)),
    priority_countries=st.lists(st.sampled_from(COUNTRIES), unique=True, max_size=3).map(tuple),
    allowed_countries=rarely(
        st.lists(st.sampled_from(COUNTRIES), unique=True, min_size=1, max_size=3).map(tuple), ()
    ),
    alphanumeric_sender_id=st.sampled_from(("", "ACME")),
    alphanumeric_sender_ids=st.dictionaries(st.sampled_from(COUNTRIES), st.just("LOCAL")),
    fallback=st.sampled_from(("Pool", "CustomFrom", "Reject")),
    weights=type_weights,
    skip_unhealthy=st.booleans(),
    opt_out_scope=st.sampled_from(("pool", "number")),
    overrides=overrides,
)


def can_carry(candidate: Candidate, recipient: Recipient, channel: str) -> bool:
    capable = candidate.mms if channel == "mms" else candidate.sms
    return capable and (candidate.type != "shortcode" or candidate.country == recipient.country)


def takes_new_recipients(candidate: Candidate) -> bool:
    """SPEC §14, restated: not cordoned, and fewer new recipients today than its cap."""
    today = candidate.new_recipients if candidate.new_recipients_on == TODAY else 0
    return not candidate.cordoned and (candidate.daily_cap is None or today < candidate.daily_cap)


def eligible(settings: Settings, recipient: Recipient, channel: str, pool) -> list[Candidate]:
    """SPEC §2 steps 5 and 7 and §14, restated: the numbers a new assignment may use."""
    return [
        c
        for c in pool
        if can_carry(c, recipient, channel)
        and (c.healthy or not settings.skip_unhealthy)
        and takes_new_recipients(c)
    ]


def location_tier(settings: Settings, recipient: Recipient, numbers) -> tuple[str, list]:
    """SPEC §2 step 8, restated: the first non-empty tier, or fallback Pool's all."""

    def in_country(code):
        return lambda c: c.country == code

    nanp = []
    if recipient.area_code:
        nanp = [
            (Rule.AREA_CODE, lambda c: c.area_code == recipient.area_code),
            (Rule.OVERLAY, lambda c: c.area_code in recipient.overlay),
            (
                Rule.REGION,
                lambda c: c.country == recipient.country and c.location == recipient.location,
            ),
        ]
    default = (
        [(Rule.DEFAULT_COUNTRY, in_country(settings.default_country))]
        if settings.default_country
        else []
    )
    priority = [(Rule.PRIORITY_COUNTRY, in_country(code)) for code in settings.priority_countries]
    if settings.geomatch:
        tiers = [*nanp, (Rule.COUNTRY, in_country(recipient.country)), *default, *priority]
    else:
        tiers = [*priority, *default, (Rule.POOL, lambda c: True)]
    for rule, matches in tiers:
        if tier := [c for c in numbers if matches(c)]:
            return rule, tier
    return Rule.POOL, list(numbers)


@st.composite
def requests(draw, pool, to=None):
    pool_numbers = [c.number for c in pool]
    opted_out = (
        rarely(st.sets(st.sampled_from(pool_numbers), max_size=2), set())
        if pool_numbers
        else st.just(set())
    )
    return Request(
        recipient=to or draw(st.sampled_from(RECIPIENTS)),
        now=NOW,
        channel=draw(rarely(st.just("mms"), "sms")),
        strategy=draw(rarely(st.just(Strategy.ALPHANUMERIC), Strategy.NUMERIC)),
        opted_out_numbers=frozenset(draw(opted_out)),
        opted_out_everywhere=draw(rarely(st.booleans(), False)),
    )


@st.composite
def situations(draw):
    to = draw(st.sampled_from(RECIPIENTS))
    pool = draw(pools(min_size=1, near=to))
    request = draw(requests(pool, to))
    mapping = None
    if pool and draw(st.booleans()):
        hours_unused = draw(st.integers(0, 24) | st.integers(0, 12 * 24))
        mapping = Mapping(draw(st.sampled_from(pool)), NOW - timedelta(hours=hours_unused))
    return draw(pool_settings), request, mapping, pool


def outcome(settings, request, mapping, pool) -> Decision | Refusal:
    try:
        return decide(settings, request, mapping, NumberList(pool))
    except Refusal as refused:
        return refused


@PROPERTY
@given(situations())
def test_sender_is_always_an_eligible_pool_number_an_alphanumeric_sender_or_a_refusal(situation):
    settings, request, mapping, pool = situation
    effective = settings.for_destination(request.recipient.country, request.channel)
    country = request.recipient.country

    opted_out_of_pool = request.opted_out_numbers & {c.number for c in pool}

    result = outcome(*situation)

    if settings.allowed_countries and country not in settings.allowed_countries:
        assert isinstance(result, Refusal) and result.code == "COUNTRY_NOT_ALLOWED"
        return
    # STOPALL blocks whatever the scope; scope pool also blocks on any of its numbers.
    if request.opted_out_everywhere or (settings.opt_out_scope == "pool" and opted_out_of_pool):
        assert isinstance(result, Decision) and result.opted_out and not result.sender
        assert not (result.create_mapping or result.reuse_mapping or result.drop_mapping)
        return
    if isinstance(result, Refusal):
        assert result.code in {
            "NO_SENDER_AVAILABLE",
            "NO_ALPHANUMERIC_SENDER",
            "ALPHANUMERIC_NOT_SUPPORTED",
        }
        assert result.explanation
        return
    assert result.rule in {v for k, v in vars(Rule).items() if k.isupper()}
    assert result.sender
    if result.opted_out:
        assert not (result.create_mapping or result.reuse_mapping or result.new_assignment)
    if result.sender_type == "alphanumeric":
        assert result.rule == Rule.ALPHANUMERIC
        assert result.sender in {settings.alphanumeric_sender_id, "LOCAL"} - {""}
        assert accepts_alphanumeric(country)
        return
    assert request.strategy == Strategy.NUMERIC
    assert result.number in pool
    assert result.sender == result.number.number
    assert can_carry(result.number, request.recipient, request.channel)
    if result.rule == Rule.STICKY:
        assert result.number == mapping.candidate
    else:
        assert result.number.healthy or not effective.skip_unhealthy
        assert takes_new_recipients(result.number)
        assert result.create_mapping == (effective.sticky and not result.opted_out)


@PROPERTY
@given(situations())
def test_new_assignment_comes_from_the_first_non_empty_tier_and_names_it(situation):
    settings, request, _, pool = situation

    result = outcome(*situation)

    if not isinstance(result, Decision) or not result.number or result.rule == Rule.STICKY:
        return
    effective = settings.for_destination(request.recipient.country, request.channel)
    numbers = eligible(effective, request.recipient, request.channel, pool)
    rule, tier = location_tier(effective, request.recipient, numbers)
    assert result.rule == rule
    assert result.number in tier
    weighted_types = {c.type for c in tier if effective.weights.get(c.type, 1) > 0}
    assert not weighted_types or result.number.type in weighted_types


@PROPERTY
@given(
    to=st.sampled_from(RECIPIENTS),
    settings=pool_settings,
    channel=channels,
    sticky_mapping=st.booleans(),
    data=st.data(),
)
def test_geomatch_chooses_a_number_in_the_recipients_country_whenever_one_is_eligible(
    to, settings, channel, sticky_mapping, data
):
    """Precondition: geomatch on for this destination and channel (after overrides), the
    destination allowed, Numeric strategy, no opt-out, no live sticky mapping that takes
    precedence (here: a mapping only when sticky is off for the destination), and at least
    one number in the recipient's country that can carry the channel and is healthy.
    Priority and default countries cannot interfere: with geomatch they rank after the
    country."""
    settings = replace(
        settings,
        allowed_countries=(),
        overrides=tuple(o for o in settings.overrides if "geomatch" not in o),
        geomatch=True,
    )
    local = Candidate(
        id="local",
        number="+9999999",
        type="longcode",
        country=to.country,
        area_code="",
        location="",
        sms=True,
        mms=True,
    )
    pool = [*data.draw(pools(near=to)), local]
    effective = settings.for_destination(to.country, channel)
    mapping = None
    if sticky_mapping and not effective.sticky:
        mapping = Mapping(pool[0], NOW)

    decision = decide(settings, Request(to, NOW, channel=channel), mapping, NumberList(pool))

    assert decision.number.country == to.country
    assert decision.rule in (Rule.AREA_CODE, Rule.OVERLAY, Rule.REGION, Rule.COUNTRY)


@PROPERTY
@given(pool=pools(min_size=1), settings=pool_settings, data=st.data())
def test_live_mapping_to_an_eligible_number_always_wins(pool, settings, data):
    """Precondition: sticky on for the destination, the mapping live (unused for less
    than the TTL, or TTL 0), its number able to carry the channel to the recipient,
    Numeric strategy, the destination allowed, and under scope pool no opt-out from the
    pool. Health, skip-unhealthy, capacity, geomatch, weights and counters do not matter."""
    request = replace(data.draw(requests(pool)), strategy=Strategy.NUMERIC)
    mapped = data.draw(st.sampled_from(pool))
    mapped = replace(mapped, sms=True, mms=True)
    if mapped.type == "shortcode":
        mapped = replace(mapped, country=request.recipient.country)
    pool = [mapped if c.id == mapped.id else c for c in pool]
    settings = replace(
        settings,
        sticky=True,
        allowed_countries=(),
        overrides=tuple(o for o in settings.overrides if "sticky" not in o),
    )
    ttl = settings.sticky_ttl_days
    age = data.draw(st.integers(0, ttl * 24 * 60 - 1 if ttl else 10**7), label="minutes unused")
    # STOPALL blocks before any mapping is read, whatever the scope.
    assume(not request.opted_out_everywhere)
    assume(settings.opt_out_scope == "number" or not request.opted_out_numbers)

    decision = decide(
        settings, request, Mapping(mapped, NOW - timedelta(minutes=age)), NumberList(pool)
    )

    assert (decision.rule, decision.sender) == (Rule.STICKY, mapped.number)
    opted_out = mapped.number in request.opted_out_numbers
    assert decision.opted_out == opted_out
    assert decision.reuse_mapping == (not opted_out)
    assert not (decision.create_mapping or decision.drop_mapping or decision.new_assignment)


@PROPERTY
@given(
    pool=pools(min_size=1, counters=False),
    settings=pool_settings,
    to=st.sampled_from(RECIPIENTS),
    channel=channels,
)
def test_new_recipients_never_leave_two_numbers_of_a_tier_more_than_one_mapping_apart(
    pool, settings, to, channel
):
    """Sticky on, mapping counts from zero, every send to a new recipient of the same
    place. Numbers of one type are compared: the weights decide between types."""
    settings = replace(settings, sticky=True, allowed_countries=(), overrides=(), fallback="Pool")
    numbers = eligible(settings, to, channel, pool)
    assume(numbers)
    rule, tier = location_tier(settings, to, numbers)
    tier_ids = {c.id for c in tier}

    for i in range(3 * len(pool) + 3):
        new_recipient = replace(to, number=f"{to.number[:-4]}{i:04d}")
        decision = outcome(settings, Request(new_recipient, NOW, channel=channel), None, pool)
        assert isinstance(decision, Decision)
        assert decision.number.id in tier_ids and decision.rule == rule
        pool = assign(pool, decision.number, used(-i))
        for number_type in {c.type for c in tier}:
            counts = [c.mapping_count for c in pool if c.id in tier_ids and c.type == number_type]
            assert max(counts) - min(counts) <= 1


@PROPERTY
@given(
    types=st.lists(st.sampled_from(("longcode", "tollfree", "shortcode")), min_size=2, max_size=6),
    weights=type_weights,
    sticky=st.booleans(),
)
def test_type_weights_hold_over_a_long_run(types, weights, sticky):
    """Every type of the tier within one assignment of its share, at every round; a
    weight-0 type is never used while a weighted type is present."""
    pool = [Candidate(id=i, number=f"+9{i:06d}", type=t, country="US") for i, t in enumerate(types)]
    settings = Settings(sticky=sticky, weights=weights)
    present = set(types)
    weighted = {t: weights[t] for t in present if weights[t] > 0} or dict.fromkeys(present, 1)
    total = sum(weighted.values())

    chosen = run(settings, TO_212, pool, 60)

    for n in range(1, len(chosen) + 1):
        counts = {t: sum(c.type == t for c in chosen[:n]) for t in present}
        for t in present:
            share = n * weighted.get(t, 0) / total
            assert abs(counts[t] - share) < 1, (n, t, counts)
