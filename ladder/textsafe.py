"""Text from a capture made safe for a terminal.

A SIP reason phrase or display name is attacker-controlled: ESC sequences could move the
cursor, retitle the window or hide lines, and bidi/format characters can make a ladder lie.
Everything from a capture goes through ``safe_text`` before it is printed, whole outputs
through ``safe_lines``, and JSON through ``json_text``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from json.encoder import encode_basestring  # ensure_ascii=False's string encoder (C)
from typing import Any

# ECMA-48: CSI (ESC [ params intermediates final), OSC/DCS/SOS/PM/APC strings up to BEL or ST,
# and the two-byte escapes; the 8-bit C1 CSI (0x9b) too.
_ESCAPE_RE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x9d\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# What json.dumps leaves raw in a string though a terminal would act on it: DEL and C1 controls
# (0x9b is an 8-bit CSI), the bidi embeddings, isolates and marks (they reorder what follows),
# and the line/paragraph separators (line breaks to JavaScript and some terminals).
_ASCII_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe_text(text: object) -> str:
    """``text`` with escape sequences removed and control/format characters dropped; tabs and
    line breaks become single spaces so one value stays on one line."""
    value = "" if text is None else str(text)
    if value.isascii() and value.isprintable():
        return value
    value = _ESCAPE_RE.sub("", value)
    out = []
    for ch in value:
        if ch in "\t\r\n":
            out.append(" ")
        elif unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
            out.append(ch)
    return "".join(out)


def safe_lines(text: str) -> str:
    """A whole text output made safe line by line: the line breaks stay, nothing else does."""
    if text.isascii() and not _ASCII_CONTROL_BUT_NEWLINE.search(text):
        return text
    return "\n".join(safe_text(line) for line in text.split("\n"))


def json_text(value: object, **options) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)`` with every character a terminal
    would act on (``_JSON_UNSAFE``) written as a ``\\u`` escape: the JSON means the same and
    stays inert when piped to a terminal (json.dumps escapes C0 controls itself)."""
    options.setdefault("ensure_ascii", False)
    text = indented_json(value) if options == _INDENTED else None  # the same text, sooner
    if text is None:
        text = json.dumps(value, **options)
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


_INDENTED = {"indent": 2, "ensure_ascii": False}


def display_width(text: str) -> int:
    """Terminal cells: East Asian wide/full-width characters take two, combining marks none."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


FIELD_WIDTH = 48  # a long SIP URI fits; a fuzzed 2,049-character method name does not


def clip(text: object, width: int = FIELD_WIDTH) -> str:
    """``safe_text(text)`` cut to ``width`` terminal cells with an ellipsis, for one field of a
    text table (JSON output keeps every value whole)."""
    value = safe_text(text)
    if display_width(value) <= width:
        return value
    out, used = [], 0
    for ch in value:
        cells = display_width(ch)
        if used + cells > width - 1:
            break
        out.append(ch)
        used += cells
    return "".join(out) + "…"


def write_json_stream(out, head: dict, name: str, items, tail=None, **options) -> int:
    """``json_text({**head, name: list(items), **tail()}, indent=2, **options)`` and a newline,
    written to ``out`` item by item, so a list of a million entries is never held; ``tail``
    (a function) gives the keys that follow, once the items are written. Returns the count."""
    start = json_text({**head, name: []}, indent=2, **options)
    out.write(start[: -len("[]\n}")] + "[")
    count = 0
    for item in items:
        text = json_text(item, indent=2, **options).replace("\n", "\n    ")
        out.write(("\n    " if not count else ",\n    ") + text)
        count += 1
    out.write("\n  ]" if count else "]")
    rest = json_text(tail(), indent=2, **options) if tail is not None else "{}"
    out.write(",\n" + rest[2:] if rest != "{}" else "\n}")
    out.write("\n")
    return count


# -- ``json.dumps(value, indent=2, ensure_ascii=False)``, written faster ---------------------------
# With ``indent``, the standard library encodes in pure Python (its C encoder serves only the
# compact form), through a generator per nesting level: a ``ladder calls --json`` of a busy
# capture spent more on that than on its rows. ``indented_json`` gives the same text for the
# values JSON outputs hold (dicts with string keys, lists, tuples, strings, numbers, booleans,
# None), escaping strings with the library's own C function; for anything else it returns None
# and ``json_text`` uses ``json.dumps`` (``tests/cli/test_calls_rows.py`` compares them).

_INDENT = "  "
_NOT_PLAIN = object()


def indented_json(value: object) -> str | None:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, or None for a value outside the
    plain types (the caller falls back to ``json.dumps``, which also raises for cycles)."""
    parts: list[str] = []
    try:
        if _encode(value, parts, "\n") is _NOT_PLAIN:
            return None
    except RecursionError:
        return None
    return "".join(parts)


def _encode(value: object, parts: list[str], newline: str) -> object:
    """Append ``value``'s text to ``parts``; ``newline`` is a line break and its indentation."""
    scalar = _SCALARS.get(type(value))
    if scalar is not None:
        parts.append(scalar(value))
    elif isinstance(value, (list, tuple, dict)):
        if isinstance(value, dict):
            if not all(isinstance(key, str) for key in value):
                return _NOT_PLAIN  # json converts other keys its own way
            pairs = [(encode_basestring(key) + ": ", item) for key, item in value.items()]
            brackets = "{}"
        else:
            pairs = [("", item) for item in value]
            brackets = "[]"
        if not pairs:
            parts.append(brackets)
            return None
        inner = newline + _INDENT
        parts.append(brackets[0])
        separator = inner
        for prefix, item in pairs:
            scalar = _SCALARS.get(type(item))
            if scalar is not None:  # (the usual item: no call)
                parts.append(separator + prefix + scalar(item))
            else:
                parts.append(separator + prefix)
                if _encode(item, parts, inner) is _NOT_PLAIN:
                    return _NOT_PLAIN
            separator = "," + inner
        parts.append(newline + brackets[1])
    elif isinstance(value, str):  # subclasses, as json takes them
        parts.append(encode_basestring(value))
    elif isinstance(value, int):
        parts.append(int.__repr__(value))
    elif isinstance(value, float):
        parts.append(_float(value))
    else:
        return _NOT_PLAIN
    return None


def _float(value: float) -> str:
    """``json``'s ``floatstr`` with ``allow_nan`` (its default)."""
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == float("-inf"):
        return "-Infinity"
    return float.__repr__(value)


# The exact types of the scalars, each with its text (a subclass takes ``_encode``'s checks).
_SCALARS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring, int: int.__repr__, float: _float, bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}
