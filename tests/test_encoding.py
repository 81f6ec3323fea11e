"""Body analysis (SPEC §4): GSM 03.38 or UCS-2, how many parts, and GSM-7 transcoding.

`messaging.encoding` is pure: no database. Boundaries first (160/161, 306/307, 70/71,
134/135), then what must never be split across parts (an escape pair, a surrogate
pair, a grapheme cluster), then the look-alike classes transcoding replaces, and
Hypothesis properties over mixed bodies at the end.
"""

import itertools

import regex
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from messaging.encoding import (
    GSM_BASIC,
    GSM_EXTENSION,
    LOOKALIKES,
    analyse,
    segment,
    transcode,
)

# GSM 03.38 default alphabet in code order, 0x00–0x7F; 0x1B (ESC) is not a character.
GSM_0338_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM_0338_EXTENSION = "\f^{}\\[~]|€"

# Independent of the module's helpers, so the tests count on their own.
GSM = frozenset(GSM_0338_TABLE.replace("\x1b", "")) | frozenset(GSM_0338_EXTENSION)


def septets(text: str) -> int:
    return sum(2 if char in GSM_0338_EXTENSION else 1 for char in text)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def graphemes(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def grapheme_boundaries(text: str) -> set[int]:
    return {match.end() for match in regex.finditer(r"\X", text)} | {0}


THUMBS_UP_MEDIUM = "👍🏽"  # U+1F44D U+1F3FD: 4 UTF-16 units
FAMILY = "👨\u200d👩\u200d👧"  # man ZWJ woman ZWJ girl: 8 UTF-16 units
FRANCE = "🇫🇷"  # two regional indicators: 4 UTF-16 units
GRINNING = "😀"  # U+1F600: one surrogate pair


# --- The tables ---------------------------------------------------------------------


def test_basic_table_is_the_gsm_0338_default_alphabet_without_escape():
    assert frozenset(GSM_0338_TABLE) - {"\x1b"} == GSM_BASIC
    assert len(GSM_BASIC) == 127


def test_extension_table_holds_the_ten_escaped_characters():
    assert frozenset(GSM_0338_EXTENSION) == GSM_EXTENSION
    assert not GSM_BASIC & GSM_EXTENSION


def test_accented_letters_gsm_7_has_do_not_force_unicode():
    body = "é ü ñ Ç ß Δ è à Ø å Ä Ö Ñ Ü ¿ ¡ £ ¥ § ¤"
    analysis = analyse(body)
    assert not analysis.unicode
    assert analysis.unsupported_gsm_characters == ()
    assert analysis.parts == 1


def test_accented_letters_gsm_7_lacks_force_unicode():
    for char in "áçłíóúâêõ":
        analysis = analyse(f"Caf{char}")
        assert analysis.unicode, char
        assert analysis.unsupported_gsm_characters == (char,)


def test_euro_sign_is_gsm_7_through_the_extension_table():
    analysis = analyse("5 €")
    assert not analysis.unicode
    assert analysis.unsupported_gsm_characters == ()


def test_tab_is_not_gsm_7():
    assert analyse("a\tb").unicode


# --- Part boundaries --------------------------------------------------------------


def test_gsm_body_of_160_septets_is_one_part():
    analysis = analyse("a" * 160)
    assert (analysis.unicode, analysis.parts) == (False, 1)
    assert analysis.segments == ("a" * 160,)


def test_gsm_body_of_161_septets_is_two_parts_of_153_and_8():
    analysis = analyse("a" * 161)
    assert (analysis.unicode, analysis.parts) == (False, 2)
    assert [len(part) for part in analysis.segments] == [153, 8]


def test_gsm_body_of_306_septets_is_two_parts():
    analysis = analyse("a" * 306)
    assert analysis.parts == 2
    assert [len(part) for part in analysis.segments] == [153, 153]


def test_gsm_body_of_307_septets_is_three_parts():
    analysis = analyse("a" * 307)
    assert analysis.parts == 3
    assert [len(part) for part in analysis.segments] == [153, 153, 1]


def test_ucs2_body_of_70_units_is_one_part():
    analysis = analyse("ж" * 70)
    assert (analysis.unicode, analysis.parts) == (True, 1)


def test_ucs2_body_of_71_units_is_two_parts_of_67_and_4():
    analysis = analyse("ж" * 71)
    assert (analysis.unicode, analysis.parts) == (True, 2)
    assert [len(part) for part in analysis.segments] == [67, 4]


def test_ucs2_body_of_134_units_is_two_parts():
    analysis = analyse("ж" * 134)
    assert analysis.parts == 2
    assert [len(part) for part in analysis.segments] == [67, 67]


def test_ucs2_body_of_135_units_is_three_parts():
    analysis = analyse("ж" * 135)
    assert analysis.parts == 3
    assert [len(part) for part in analysis.segments] == [67, 67, 1]


def test_one_non_gsm_character_turns_the_whole_body_ucs2():
    analysis = analyse("a" * 69 + "ж")
    assert (analysis.unicode, analysis.parts) == (True, 1)
    analysis = analyse("a" * 70 + "ж")
    assert (analysis.unicode, analysis.parts) == (True, 2)


def test_astral_characters_count_two_utf16_units():
    assert analyse(GRINNING * 35).parts == 1  # 70 units
    analysis = analyse(GRINNING * 36)  # 72 units
    assert analysis.parts == 2
    assert [utf16_units(part) for part in analysis.segments] == [66, 6]


# --- Extension characters and the escape pair -------------------------------------


def test_80_euro_signs_fit_one_part():
    analysis = analyse("€" * 80)
    assert (analysis.unicode, analysis.parts, analysis.characters) == (False, 1, 80)


def test_81_euro_signs_need_two_parts():
    analysis = analyse("€" * 81)
    assert analysis.parts == 2
    assert [len(part) for part in analysis.segments] == [76, 5]  # 152 + 10 septets


def test_every_extension_character_costs_two_septets():
    for char in "€[]{}~^\\|\f":
        assert analyse(char * 80).parts == 1, repr(char)
        assert analyse(char * 81).parts == 2, repr(char)
        assert analyse("a" * 158 + char).parts == 1, repr(char)
        assert analyse("a" * 159 + char).parts == 2, repr(char)


def test_escape_pair_straddling_septets_153_and_154_moves_whole_to_next_part():
    body = "a" * 152 + "€" + "b" * 10
    analysis = analyse(body)
    assert analysis.segments == ("a" * 152, "€" + "b" * 10)
    assert [septets(part) for part in analysis.segments] == [152, 12]


def test_basic_character_at_septet_153_stays_in_first_part():
    analysis = analyse("a" * 152 + "x" + "b" * 10)
    assert analysis.segments == ("a" * 152 + "x", "b" * 10)


def test_escape_pair_ending_exactly_at_septet_153_stays_in_first_part():
    analysis = analyse("a" * 151 + "€" + "b" * 10)
    assert analysis.segments == ("a" * 151 + "€", "b" * 10)


def test_no_gsm_part_exceeds_153_septets_with_extension_characters_everywhere():
    body = "aa" + "€" * 200  # every part edge falls inside an escape pair
    analysis = analyse(body)
    assert "".join(analysis.segments) == body
    assert [septets(part) for part in analysis.segments] == [152, 152, 98]


# --- Surrogate pairs and grapheme clusters ----------------------------------------


def test_surrogate_pair_at_the_67_unit_edge_moves_whole_to_next_part():
    body = "ж" * 66 + GRINNING + "ж" * 10
    analysis = analyse(body)
    assert analysis.segments == ("ж" * 66, GRINNING + "ж" * 10)
    assert [utf16_units(part) for part in analysis.segments] == [66, 12]


def test_surrogate_pair_ending_exactly_at_unit_67_stays_in_first_part():
    analysis = analyse("ж" * 65 + GRINNING + "ж" * 10)
    assert analysis.segments == ("ж" * 65 + GRINNING, "ж" * 10)


def test_flag_at_the_part_edge_moves_whole_to_next_part():
    body = "ж" * 65 + FRANCE + "ж" * 10  # a split by code point would end at unit 67
    analysis = analyse(body)
    assert analysis.segments == ("ж" * 65, FRANCE + "ж" * 10)


def test_row_of_flags_is_split_between_flags_never_inside_one():
    analysis = analyse(FRANCE * 20)
    assert analysis.segments == (FRANCE * 16, FRANCE * 4)


def test_skin_toned_emoji_at_the_part_edge_moves_whole_to_next_part():
    analysis = analyse("ж" * 64 + THUMBS_UP_MEDIUM + "ж" * 10)
    assert analysis.segments == ("ж" * 64, THUMBS_UP_MEDIUM + "ж" * 10)


def test_skin_toned_emoji_that_fits_stays_in_first_part():
    analysis = analyse("ж" * 63 + THUMBS_UP_MEDIUM + "ж" * 10)
    assert analysis.segments == ("ж" * 63 + THUMBS_UP_MEDIUM, "ж" * 10)


def test_zwj_family_at_the_part_edge_moves_whole_to_next_part():
    analysis = analyse("ж" * 60 + FAMILY + "ж" * 10)
    assert analysis.segments == ("ж" * 60, FAMILY + "ж" * 10)


def test_zwj_family_that_fits_stays_in_first_part():
    analysis = analyse("ж" * 59 + FAMILY + "ж" * 10)
    assert analysis.segments == ("ж" * 59 + FAMILY, "ж" * 10)


def test_cluster_too_long_for_any_part_is_split_by_code_point_within_the_limit():
    body = "e" + "\u0301" * 100  # one grapheme of 101 units
    analysis = analyse(body)
    assert "".join(analysis.segments) == body
    assert [utf16_units(part) for part in analysis.segments] == [67, 34]


# --- Empty and whitespace bodies, counting ----------------------------------------


def test_empty_body_is_zero_gsm_parts():
    analysis = analyse("", transcoding=True)
    assert analysis.as_api() == {
        "characters": 0,
        "parts": 0,
        "unicode": False,
        "unsupportedGSMCharacters": [],
    }
    assert analysis.segments == ()
    assert segment("") == (False, [])


def test_whitespace_only_gsm_body_is_counted_like_any_text():
    assert analyse(" ").as_api()["parts"] == 1
    assert analyse("\n\r \n").as_api() == {
        "characters": 4,
        "parts": 1,
        "unicode": False,
        "unsupportedGSMCharacters": [],
    }
    assert analyse(" " * 161).parts == 2


def test_no_break_spaces_only_body_transcodes_to_plain_spaces():
    analysis = analyse("\u00a0\u3000", transcoding=True)
    assert analysis.unicode
    assert analysis.as_api()["transcode"] == {"message": "  ", "parts": 1}


def test_characters_counts_unicode_code_points():
    assert analyse("hello").characters == 5
    assert analyse(GRINNING).characters == 1  # two UTF-16 units, one character
    assert analyse(FRANCE).characters == 2
    assert analyse(THUMBS_UP_MEDIUM).characters == 2
    assert analyse(FAMILY).characters == 5
    assert analyse("e\u0301").characters == 2
    assert analyse("€").characters == 1  # two septets, one character


def test_unsupported_characters_are_distinct_in_order_of_first_appearance():
    analysis = analyse("ж😀ж€á😀ç a ж")
    assert analysis.unsupported_gsm_characters == ("ж", "😀", "á", "ç")
    assert analysis.as_api()["unsupportedGSMCharacters"] == ["ж", "😀", "á", "ç"]


def test_api_shape_leaves_out_transcode_unless_applied():
    body = "It’s fine"
    assert analyse(body).as_api() == {
        "characters": 9,
        "parts": 1,
        "unicode": True,
        "unsupportedGSMCharacters": ["’"],
    }
    assert analyse(body, transcoding=True).as_api() == {
        "characters": 9,
        "parts": 1,
        "unicode": True,
        "unsupportedGSMCharacters": ["’"],
        "transcode": {"message": "It's fine", "parts": 1},
    }


def test_gsm_body_has_nothing_to_transcode():
    assert "transcode" not in analyse("Plain [text] €5", transcoding=True).as_api()


# --- Transcoding, class by class --------------------------------------------------


def transcoded(body: str) -> dict | None:
    return analyse(body, transcoding=True).as_api().get("transcode")


def test_curly_single_quotes_become_apostrophes():
    assert transcoded("‘It’s’ ‚low‛") == {"message": "'It's' 'low'", "parts": 1}


def test_curly_double_quotes_and_guillemets_become_straight_quotes():
    assert transcoded("“Hi” „there‟ «you»") == {
        "message": '"Hi" "there" "you"',
        "parts": 1,
    }


def test_primes_become_quotes():
    assert transcoded("5′ 10″ ‵‶") == {"message": "5' 10\" '\"", "parts": 1}


def test_dashes_and_minus_sign_become_hyphens():
    assert transcoded("a‐b‑c‒d–e—f―g−1") == {"message": "a-b-c-d-e-f-g-1", "parts": 1}


def test_ellipsis_becomes_three_full_stops_and_may_add_parts():
    analysis = analyse("…" * 60, transcoding=True)
    assert (analysis.unicode, analysis.parts) == (True, 1)  # 60 units
    assert analysis.transcode.message == "." * 180
    assert analysis.transcode.parts == 2  # 180 septets


def test_no_break_thin_and_ideographic_spaces_become_spaces():
    body = "a\u00a0b\u2009c\u202fd\u3000e\u2003f\u205fg"
    assert transcoded(body) == {"message": "a b c d e f g", "parts": 1}


def test_fullwidth_letters_digits_and_punctuation_become_ascii():
    assert transcoded("ＡＢＣ ｘｙｚ １２３！？＃％（）＋＝") == {
        "message": "ABC xyz 123!?#%()+=",
        "parts": 1,
    }


def test_fullwidth_brackets_become_extension_characters_costing_two_septets():
    analysis = analyse("｛" * 81, transcoding=True)
    assert analysis.parts == 2  # 81 UCS-2 units
    assert analysis.transcode.message == "{" * 81
    assert analysis.transcode.parts == 2  # 162 septets
    assert transcoded("｛" * 80) == {"message": "{" * 80, "parts": 1}


def test_zero_width_characters_are_removed():
    body = "a\u200bb\u200cc\u200dd\u2060e\ufefff\u00adg"
    assert transcoded(body) == {"message": "abcdefg", "parts": 1}


def test_body_of_only_invisible_characters_is_not_transcoded_to_nothing():
    analysis = analyse("\u200b\ufeff", transcoding=True)
    assert (analysis.unicode, analysis.parts) == (True, 1)
    assert analysis.transcode is None  # an empty message is never what gets sent
    assert transcoded("\u200bok") == {"message": "ok", "parts": 1}


def test_transcoding_can_save_parts():
    analysis = analyse("It’s " * 30, transcoding=True)  # 150 characters, UCS-2
    assert (analysis.unicode, analysis.parts) == (True, 3)
    assert analysis.transcode.message == "It's " * 30
    assert analysis.transcode.parts == 1


def test_one_unreplaceable_emoji_means_no_transcode():
    body = "It’s “done” — " + GRINNING
    assert transcode(body) is None
    api = analyse(body, transcoding=True).as_api()
    assert "transcode" not in api
    assert api["unsupportedGSMCharacters"] == ["’", "“", "”", "—", GRINNING]


def test_one_unreplaceable_chinese_character_means_no_transcode():
    assert transcode("“好”") is None
    assert transcoded("It’s 好") is None


def test_letters_gsm_7_lacks_have_no_look_alike():
    for body in ("Café á", "garçon", "Łódź"):
        assert transcoded(body) is None, body


def test_transcoding_never_touches_gsm_7_characters():
    body = "“Déjà vu” — über Ñoño, Ça va? ß Δ € [x] {y} ~ ^ \\ | @ £ ¥ §"
    assert transcoded(body)["message"] == (
        '"Déjà vu" - über Ñoño, Ça va? ß Δ € [x] {y} ~ ^ \\ | @ £ ¥ §'
    )


def test_no_gsm_7_character_has_a_look_alike_entry():
    assert not set(LOOKALIKES) & GSM
    for char in GSM:
        assert transcode(char) == char


def test_every_look_alike_becomes_gsm_7():
    for char, replacement in LOOKALIKES.items():
        assert all(c in GSM for c in replacement), repr(char)
        assert transcode(f"a{char}b") == f"a{replacement}b", repr(char)


def test_transcoding_off_reports_no_transcode():
    assert analyse("It’s", transcoding=False).transcode is None


# --- Properties -------------------------------------------------------------------

GSM_CHARS = sorted(GSM)
EXTENSION_CHARS = sorted(GSM_0338_EXTENSION)
BMP_TEXT = list("жЯщßλ你好語ありáçł’“”…\u00a0\u0301\u200d")
EMOJI = [GRINNING, THUMBS_UP_MEDIUM, FAMILY, "❤️", "#️⃣", "🏳️‍🌈", "\U0001f3fd"]
FLAGS = [FRANCE, "🇩🇪", "🇯🇵", "🇬🇧", "🇺🇸", "\U0001f1eb"]  # a lone indicator too


def long_bodies(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Bodies from empty to several parts long: chunks of characters, each repeated."""
    chunk = st.tuples(st.lists(alphabet, min_size=1, max_size=8), st.integers(1, 60))
    return st.lists(chunk.map(lambda c: "".join(c[0]) * c[1]), max_size=6).map("".join)


gsm_bodies = long_bodies(st.one_of(st.sampled_from(GSM_CHARS), st.sampled_from(EXTENSION_CHARS)))
mixed_bodies = long_bodies(
    st.one_of(
        st.sampled_from(GSM_CHARS),
        st.sampled_from(EXTENSION_CHARS),
        st.sampled_from(BMP_TEXT),
        st.sampled_from(EMOJI),
        st.sampled_from(FLAGS),
    )
)
PROPERTIES = hypothesis_settings(max_examples=300, deadline=None)


def check_parts(body: str) -> None:
    unicode, parts = segment(body)
    analysis = analyse(body)
    assert "".join(parts) == body
    assert all(parts)
    assert unicode == any(char not in GSM for char in body)
    assert analysis.parts == len(parts) and analysis.segments == tuple(parts)
    assert analysis.characters == len(body)
    size, single, multi = (utf16_units, 70, 67) if unicode else (septets, 160, 153)
    if len(parts) == 1:
        assert size(body) <= single
    elif parts:
        assert size(body) > single
        assert all(size(part) <= multi for part in parts)
    if unicode and all(utf16_units(g) <= 67 for g in graphemes(body)):
        ends, end = set(), 0
        for part in parts:
            end += len(part)
            ends.add(end)
        assert ends <= grapheme_boundaries(body)  # no cluster split across parts
        for part, following in itertools.pairwise(parts):  # greedy, no waste
            assert size(part) + size(graphemes(following)[0]) > multi
    if not unicode:
        for part, following in itertools.pairwise(parts):
            assert size(part) + size(following[0]) > multi


@PROPERTIES
@given(gsm_bodies)
def test_gsm_parts_join_back_to_the_body_within_their_size(body):
    check_parts(body)


@PROPERTIES
@given(mixed_bodies)
def test_mixed_parts_join_back_to_the_body_within_their_size(body):
    check_parts(body)


transcodable_bodies = long_bodies(
    st.one_of(
        st.sampled_from(GSM_CHARS),
        st.sampled_from(sorted(LOOKALIKES)),
        st.sampled_from(["ж", "好", "á", "\t", GRINNING, FRANCE]),
    )
)


@PROPERTIES
@given(transcodable_bodies)
def test_transcoding_yields_pure_gsm_7_and_keeps_gsm_7_characters_in_place(body):
    text = transcode(body)
    replaceable = all(char in GSM or char in LOOKALIKES for char in body)
    leaves_text = any(char in GSM or LOOKALIKES.get(char) for char in body)
    assert (text is not None) == (replaceable and leaves_text)
    if text is None:
        return
    assert all(char in GSM for char in text)
    position = 0
    for char in body:
        if char in GSM:
            assert text[position] == char
            position += 1
        else:
            replacement = LOOKALIKES[char]
            assert text[position : position + len(replacement)] == replacement
            position += len(replacement)
    assert position == len(text)
    analysis = analyse(body, transcoding=True)
    if analysis.unicode:
        assert analysis.transcode.message == text
        assert analysis.transcode.parts == len(segment(text)[1])
    else:
        assert analysis.transcode is None and text == body
