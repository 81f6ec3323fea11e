"""SMS body analysis: GSM 03.38 or UCS-2, how many parts, and GSM-7 transcoding.

Our own codec, because the split rules are where the published libraries go
wrong: an escape pair (GSM-7 extension character) is never split across parts,
nor a UTF-16 surrogate pair, nor a user-perceived character (a flag, a skin-toned
or ZWJ emoji), which is kept whole as far as it fits in one part.
"""

from dataclasses import dataclass

import regex

# GSM 03.38 default alphabet (one septet each) and its extension table (an escape
# septet plus one: two each). U+001B (the escape itself) is not a character.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM_SINGLE_PART, GSM_MULTI_PART = 160, 153  # septets
UCS2_SINGLE_PART, UCS2_MULTI_PART = 70, 67  # UTF-16 code units
MAX_PARTS = 10

GRAPHEME = regex.compile(r"\X")


def _lookalikes() -> dict[str, str]:
    table = {
        # Quotes and primes.
        **dict.fromkeys("‘’‚‛′‵ʹʼˈ`´", "'"),
        **dict.fromkeys("“”„‟″‶«»〝〞", '"'),
        "‹": "<",
        "›": ">",
        # Dashes, hyphens, minus.
        **dict.fromkeys("‐‑‒–—―−﹘﹣", "-"),
        "…": "...",
        "•": "-",
        "⁄": "/",
        "∕": "/",
        # Spaces: no-break, typographic widths, ideographic.
        **dict.fromkeys(
            "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
            "\u2009\u200a\u202f\u205f\u3000",
            " ",
        ),
        # Invisible characters carry nothing a reader would miss.
        **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""),
    }
    # Fullwidth ASCII (U+FF01–U+FF5E) is ASCII shifted by 0xFEE0.
    table.update({chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)})
    # A look-alike only helps if what it becomes is GSM-7 itself.
    return {
        char: repl
        for char, repl in table.items()
        if all(c in GSM_BASIC or c in GSM_EXTENSION for c in repl)
    }


LOOKALIKES = _lookalikes()


@dataclass(frozen=True)
class Transcoded:
    message: str
    parts: int


@dataclass(frozen=True)
class BodyAnalysis:
    characters: int
    unicode: bool
    unsupported_gsm_characters: tuple[str, ...]
    parts: int
    segments: tuple[str, ...]
    transcode: Transcoded | None = None

    def as_api(self) -> dict:
        data = {
            "characters": self.characters,
            "parts": self.parts,
            "unicode": self.unicode,
            "unsupportedGSMCharacters": list(self.unsupported_gsm_characters),
        }
        if self.transcode:
            data["transcode"] = {"message": self.transcode.message, "parts": self.transcode.parts}
        return data


def is_gsm(char: str) -> bool:
    return char in GSM_BASIC or char in GSM_EXTENSION


def septets(char: str) -> int:
    return 2 if char in GSM_EXTENSION else 1


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def unsupported_characters(body: str) -> tuple[str, ...]:
    """The distinct characters that force UCS-2, in order of first appearance."""
    return tuple(dict.fromkeys(char for char in body if not is_gsm(char)))


def _pack(units: list[str], size, capacity: int) -> list[str]:
    """Greedy packing of indivisible units into parts of at most `capacity`."""
    parts, current, used = [], [], 0
    for unit in units:
        cost = size(unit)
        if current and used + cost > capacity:
            parts.append("".join(current))
            current, used = [], 0
        current.append(unit)
        used += cost
    if current:
        parts.append("".join(current))
    return parts


def _ucs2_units(body: str) -> list[str]:
    """Grapheme clusters, each indivisible; one too long for a part falls back to its
    code points (a surrogate pair is one code point, so it still never splits)."""
    units = []
    for cluster in GRAPHEME.findall(body):
        units.extend([cluster] if utf16_units(cluster) <= UCS2_MULTI_PART else list(cluster))
    return units


def segment(body: str) -> tuple[bool, list[str]]:
    """(unicode?, the parts the body is sent in)."""
    if all(is_gsm(char) for char in body):
        if sum(map(septets, body)) <= GSM_SINGLE_PART:
            return False, [body] if body else []
        return False, _pack(list(body), septets, GSM_MULTI_PART)
    if utf16_units(body) <= UCS2_SINGLE_PART:
        return True, [body]
    return True, _pack(_ucs2_units(body), utf16_units, UCS2_MULTI_PART)


def transcode(body: str) -> str | None:
    """The body with look-alikes replaced, if that makes all of it GSM-7; else None.

    Characters GSM-7 has already (é, ü, ñ, …) are never touched. A body of invisible
    characters only is not transcoded: removing them would leave nothing to send.
    """
    result = "".join(char if is_gsm(char) else LOOKALIKES.get(char, char) for char in body)
    return result if result and all(is_gsm(char) for char in result) else None


def analyse(body: str, *, transcoding: bool = False) -> BodyAnalysis:
    unicode, parts = segment(body)
    transcoded = None
    if unicode and transcoding and (text := transcode(body)) is not None:
        transcoded = Transcoded(message=text, parts=len(segment(text)[1]))
    return BodyAnalysis(
        characters=len(body),
        unicode=unicode,
        unsupported_gsm_characters=unsupported_characters(body),
        parts=len(parts),
        segments=tuple(parts),
        transcode=transcoded,
    )
