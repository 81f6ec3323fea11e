"""The request parser: JSON, with what would crash after parsing refused before it.

Its own module because DRF's views read DEFAULT_PARSER_CLASSES when they are imported,
and pools_project.api imports them.
"""

import json
import re

from rest_framework import exceptions, parsers

# Python's json parser recurses once per level: a body nested a thousand deep raises
# RecursionError. No request of this API nests beyond a handful of levels.
MAX_JSON_DEPTH = 32

# A JSON string. The closing quote is optional so that an unterminated string ends the
# match at the end of the body instead of being retried from every later quote.
_JSON_STRING = re.compile(rb'"(?:[^"\\]+|\\.)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_OPENING = frozenset(b"[{")


def check_json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse `body` if its arrays and objects nest deeper than `limit`, before parsing:
    the brackets outside strings, counted in one pass."""
    depth = 0
    for byte in _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in _OPENING else -1
        if depth > limit:
            raise exceptions.ValidationError(f"The JSON body is nested deeper than {limit} levels.")


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored (PostgreSQL's text holds no NUL, UTF-8 no lone
    surrogate, which JSON's `\\ud800` escapes can produce), or None."""
    if "\x00" in text:
        return "Must not contain the NUL character (\\u0000)."
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "Must not contain an unpaired surrogate: it is not valid Unicode text."
    return None


def _text_errors(data, path: str, errors: dict) -> None:
    if isinstance(data, str):
        if problem := text_problem(data):
            errors[path or "nonFieldErrors"] = [problem]
    elif isinstance(data, dict):
        for key, value in data.items():
            if problem := text_problem(key):
                errors[path or "nonFieldErrors"] = [f"A key: {problem}"]
            else:
                _text_errors(value, f"{path}.{key}" if path else key, errors)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            _text_errors(item, f"{path}.{index}" if path else str(index), errors)


def check_json_text(data) -> None:
    """Refuse parsed JSON holding a string that cannot be stored, naming where it is."""
    errors = {}
    _text_errors(data, "", errors)
    if errors:
        raise exceptions.ValidationError(errors)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON.")


def json_parsed(body: bytes):
    """The JSON in `body`; 400 when it is not JSON, nests too deep or holds bad text."""
    check_json_depth(body)
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except ValueError as exc:  # UnicodeDecodeError included
        raise exceptions.ParseError(f"JSON parse error - {exc}") from None
    check_json_text(data)
    return data


class StrictJSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing before parsing what would crash after it (see
    `json_parsed`). JSON is UTF-8 (RFC 8259); json.loads also detects UTF-16/32."""

    def parse(self, stream, media_type=None, parser_context=None):
        return json_parsed(stream.read())
