"""The shipped NANPA area-code data: known codes, their places and overlay complexes.

Run after refreshing `virtual_numbers/data/nanp_area_codes.csv` (see its README).
"""

import csv

import pytest

from pools_project.errors import ServiceError
from virtual_numbers.nanp import DATA_FILE, area_code
from virtual_numbers.phone import parse_e164


def rows() -> list[dict]:
    with DATA_FILE.open(newline="") as f:
        return list(csv.DictReader(f))


def test_the_file_has_the_five_documented_columns():
    with DATA_FILE.open(newline="") as f:
        header = next(csv.reader(f))

    assert header == ["npa", "country", "location", "in_service", "overlay_complex"]


def test_every_row_is_a_well_formed_geographic_area_code():
    data = rows()

    assert len(data) > 400
    for row in data:
        assert row["npa"].isdigit() and len(row["npa"]) == 3, row
        assert row["npa"][0] not in "01", row  # NPAs never start with 0 or 1
        assert row["location"], row
        assert row["in_service"] in ("Y", "N"), row
        overlay = [code for code in row["overlay_complex"].split("/") if code]
        assert all(code.isdigit() and len(code) == 3 for code in overlay), row


def test_each_area_code_is_listed_once():
    npas = [row["npa"] for row in rows()]

    assert len(npas) == len(set(npas))


def test_toll_free_codes_are_not_geographic():
    for npa in ("800", "833", "844", "855", "866", "877", "888"):
        assert area_code(npa) is None


def test_an_unassigned_code_is_unknown():
    assert area_code("999") is None


@pytest.mark.parametrize(
    ("npa", "location", "overlay"),
    [
        ("212", "NY", {"212", "332", "646", "917"}),
        ("646", "NY", {"212", "332", "646", "917"}),
        ("201", "NJ", {"201", "551"}),
        ("305", "FL", {"305", "645", "786"}),
        ("202", "DC", {"202", "771"}),
        ("416", "ONTARIO", {"416", "437", "647"}),
        ("418", "QUEBEC", {"367", "418", "581"}),
        ("787", "PR", {"787", "939"}),
    ],
)
def test_known_area_codes_have_their_place_and_overlay_complex(npa, location, overlay):
    known = area_code(npa)

    assert (known.npa, known.location) == (npa, location)
    assert known.overlay == overlay


def test_an_area_code_without_an_overlay_is_its_own_complex():
    assert area_code("684").overlay == {"684"}


def test_every_area_code_belongs_to_its_own_overlay_complex():
    for row in rows():
        assert row["npa"] in area_code(row["npa"]).overlay


def test_overlays_are_read_as_listed_even_when_not_symmetric():
    # NANPA lists 718 in 917's complex but not in 212's, though 917 is in 212's.
    assert "718" in area_code("917").overlay
    assert "718" not in area_code("212").overlay


# What registration and selection read from it


def test_a_new_york_number_carries_its_area_code_state_and_overlay():
    facts = parse_e164("+16465550100")

    assert (facts.country, facts.area_code, facts.location) == ("US", "646", "NY")
    assert facts.overlay == {"212", "332", "646", "917"}
    assert facts.toll_free is False


def test_a_toll_free_number_has_an_area_code_but_no_location():
    facts = parse_e164("+18005550199")

    assert (facts.area_code, facts.location, facts.overlay, facts.toll_free) == (
        "800",
        "",
        frozenset(),
        True,
    )


def test_a_caribbean_nanp_number_gets_its_own_country():
    facts = parse_e164("+17875550100")

    assert (facts.country, facts.area_code, facts.location) == ("PR", "787", "PR")


def test_a_number_outside_north_america_has_no_area_code():
    facts = parse_e164("+442079460958")

    assert (facts.country, facts.area_code, facts.location, facts.overlay) == (
        "GB",
        "",
        "",
        frozenset(),
    )


@pytest.mark.parametrize("raw", ["2125550100", "+1212555010", "+19995550100", "", None])
def test_what_is_not_a_valid_e164_number_is_refused(raw):
    with pytest.raises(ServiceError) as refused:
        parse_e164(raw)

    assert refused.value.code == "INVALID_NUMBER"
