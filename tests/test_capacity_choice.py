"""Capacity-aware choice (SPEC §12): a new assignment avoids a number whose backlog is
over the pool's `maxQueueSeconds`, or whose connection is down, while another number of
the same location tier can take the message; a sticky mapping is kept all the same."""

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from pools.decision import Mapping, Settings
from tests.test_selection_core import NOW, NY_212, NY_646, TO_212, choose, mentions, number

BACKLOGGED = NOW.timestamp() + 120  # two minutes of messages wait for it


def test_a_number_with_a_backlog_over_the_limit_is_left_out_for_a_sooner_one():
    busy, free = number(NY_212, next_slot_at=BACKLOGGED), number(NY_646)

    decision = choose(Settings(max_queue_seconds=60), TO_212, [busy, free])

    assert decision.sender == NY_646  # NY_212 would have won the tie-break by number
    assert mentions(decision, "Queue: left out +12125550101 (120 s)", "60 s limit")


def test_without_a_limit_the_backlog_does_not_matter():
    busy, free = number(NY_212, next_slot_at=BACKLOGGED), number(NY_646)

    decision = choose(Settings(), TO_212, [busy, free])

    assert decision.sender == NY_212  # the tie-break by number
    assert not mentions(decision, "Queue:")


def test_a_backlog_within_the_limit_keeps_the_number():
    busy, free = number(NY_212, next_slot_at=NOW.timestamp() + 30), number(NY_646)

    decision = choose(Settings(max_queue_seconds=60), TO_212, [busy, free])

    assert decision.sender == NY_212


def test_when_every_number_is_over_the_limit_the_soonest_takes_the_message():
    later = number(NY_212, next_slot_at=NOW.timestamp() + 300)
    sooner = number(NY_646, next_slot_at=NOW.timestamp() + 200)

    decision = choose(Settings(max_queue_seconds=60), TO_212, [later, sooner])

    assert decision.sender == NY_646
    assert mentions(decision, "left out +12125550101 (300 s)")


def test_the_limit_is_applied_within_the_location_tier_only():
    """A backlogged number in the area code still beats a free one elsewhere in the state."""
    busy = number(NY_212, next_slot_at=BACKLOGGED)
    elsewhere = number("+15185550101")

    decision = choose(Settings(geomatch=True, max_queue_seconds=60), TO_212, [busy, elsewhere])

    assert (decision.sender, decision.rule) == (NY_212, "areaCode")


def test_a_sticky_mapping_to_a_backlogged_number_is_kept():
    busy, free = number(NY_212, next_slot_at=BACKLOGGED), number(NY_646)
    mapping = Mapping(busy, NOW - timedelta(days=1))

    decision = choose(
        Settings(sticky=True, max_queue_seconds=60), TO_212, [busy, free], mapping=mapping
    )

    assert (decision.sender, decision.rule) == (NY_212, "sticky")


def test_a_number_whose_connection_is_down_is_avoided_while_another_can_take_it():
    down, up = number(NY_212, connection_status="down"), number(NY_646)

    decision = choose(Settings(), TO_212, [down, up])

    assert decision.sender == NY_646
    assert mentions(decision, "Connections: left out +12125550101, whose connection is down")


def test_when_every_connection_is_down_the_message_still_gets_a_sender():
    decision = choose(Settings(), TO_212, [number(NY_212, connection_status="down")])

    assert decision.sender == NY_212


def test_a_sticky_mapping_to_a_number_whose_connection_is_down_is_kept():
    down, up = number(NY_212, connection_status="down"), number(NY_646)
    mapping = Mapping(down, NOW - timedelta(hours=1))

    decision = choose(Settings(sticky=True), TO_212, [down, up], mapping=mapping)

    assert decision.sender == NY_212


@given(
    waits=st.lists(st.integers(min_value=0, max_value=600), min_size=2, max_size=6),
    limit=st.integers(min_value=0, max_value=300),
)
def test_the_chosen_number_is_within_the_limit_whenever_one_of_the_tier_is(waits, limit):
    numbers = [
        number(f"+1212555{i:04d}", next_slot_at=NOW.timestamp() + wait)
        for i, wait in enumerate(waits)
    ]

    decision = choose(Settings(max_queue_seconds=limit), TO_212, numbers)

    chosen_wait = waits[[c.number for c in numbers].index(decision.sender)]
    assert chosen_wait <= limit or chosen_wait == min(waits)
    if any(w <= limit for w in waits):
        assert chosen_wait <= limit
