"""Text from a capture made safe for a terminal.

A SIP reason phrase or display name is attacker-controlled: ESC sequences could move the
cursor, retitle the window or hide lines, and bidi/format characters can make a ladder lie.
Everything from a capture goes through ``safe_text`` before it is printed, whole outputs
through ``safe_lines``, and JSON through ``json_text``.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring, encode_basestring_ascii

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
    return _inert(_dumps(value, "", options))


def _inert(text: str) -> str:
    """``text`` with what ``_JSON_UNSAFE`` matches written as ``\\u`` escapes."""
    if text.isascii() and "\x7f" not in text:  # nothing ``_JSON_UNSAFE`` matches
        return text
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _dumps(value: object, pad: str, options: dict) -> str:
    """``json.dumps(value, **options)`` with every line after the first starting with ``pad``.
    With ``indent=2`` (and ``ensure_ascii`` at most) the text is made by ``_indented``:
    ``json.dumps`` with an indent runs its pure-Python encoder, about 1.4 times as long on ``ladder check
    --json``'s results (``tests/unit/capture/test_json_text.py`` holds the two to the same bytes).
    Where the extension was built, ``_accel.indented_json`` writes it first (about a tenth of
    ``_indented``'s CPU); it gives None for what it leaves to ``_indented``, which stays the
    fallback and the oracle (``tests/unit/capture/test_json_accel.py``)."""
    if options.get("indent") == 2 and options.keys() <= {"indent", "ensure_ascii"}:
        ascii_only = bool(options.get("ensure_ascii", True))
        if _c_indented is not None:
            compiled = _c_indented(value, pad, ascii_only)
            if compiled is not None:
                return compiled
        parts: list[str] = []
        try:
            _indented(value, pad, parts, _encode_ascii if ascii_only else _encode_text)
        except _Unfit:
            pass
        else:
            return "".join(parts)
    text = json.dumps(value, **options)
    return text.replace("\n", "\n" + pad) if pad else text


class _Unfit(Exception):
    """A value ``_indented`` leaves to ``json.dumps`` (a key that is not text, an unknown type)."""


_c_indented: Callable[[object, str, bool], str | None] | None
try:  # the same writer compiled (optional, as all of ``ladder._accel``)
    from ladder._accel import indented_json as _c_indented
except ImportError:  # pragma: no cover - a build without the extension
    _c_indented = None
if os.environ.get("PCAPLADDER_PURE_PYTHON"):
    _c_indented = None

_encode_ascii = encode_basestring_ascii  # the library's own string encoders (C)
_encode_text = encode_basestring
_INFINITY = float("inf")


def _indented(o: object, pad: str, parts: list[str], quote) -> None:
    """``o`` as ``json.dumps(o, indent=2)`` writes it (same type checks in the same order), its
    pieces appended to ``parts``."""
    if isinstance(o, str):
        parts.append(quote(o))
    elif o is None:
        parts.append("null")
    elif o is True:
        parts.append("true")
    elif o is False:
        parts.append("false")
    elif isinstance(o, int):
        parts.append(int.__repr__(o))
    elif isinstance(o, float):
        parts.append(float.__repr__(o) if o == o and o not in (_INFINITY, -_INFINITY)
                     else "NaN" if o != o else "Infinity" if o > 0 else "-Infinity")
    elif isinstance(o, (list, tuple, dict)):
        mapping = isinstance(o, dict)
        if not o:
            parts.append("{}" if mapping else "[]")
            return
        inner = pad + "  "
        separator = ",\n" + inner
        parts.append(("{\n" if mapping else "[\n") + inner)
        items: Iterable = o.items() if isinstance(o, dict) else o
        for n, item in enumerate(items):
            if n:
                parts.append(separator)
            if mapping:
                key, item = item
                if not isinstance(key, str):
                    raise _Unfit
                parts.append(quote(key) + ": ")
            _indented(item, inner, parts, quote)
        parts.append("\n" + pad + ("}" if mapping else "]"))
    else:
        raise _Unfit


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
    if type(text) is str and text.isascii() and text.isprintable() and len(text) <= width:
        return text  # the usual field (a busy capture's table has a million): nothing to drop or cut
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


_WRITTEN_ITEMS = 256  # items of a stream joined into one write


def write_json_stream(out, head: dict, name: str, items, tail=None, **options) -> int:
    """``json_text({**head, name: list(items), **tail()}, indent=2, **options)`` and a newline,
    written to ``out`` item by item, so a list of a million entries is never held; ``tail``
    (a function) gives the keys that follow, once the items are written. Returns the count."""
    start = json_text({**head, name: []}, indent=2, **options)
    out.write(start[: -len("[]\n}")] + "[")
    count = 0
    each = {"ensure_ascii": False, **options, "indent": 2}
    # The compiled writer asked straight away when it applies (``_dumps``' own test, made once),
    # and the items written a few hundred at a time: a busy capture has a million.
    compiled = _c_indented if each.keys() <= {"indent", "ensure_ascii"} else None
    ascii_only = bool(each["ensure_ascii"])
    pieces: list[str] = []
    try:
        for item in items:
            text = compiled(item, "    ", ascii_only) if compiled is not None else None
            if text is None:
                text = _dumps(item, "    ", each)
            # json_text's, each line indented under the list
            pieces.append(("\n    " if not count else ",\n    ") + _inert(text))
            count += 1
            if len(pieces) == _WRITTEN_ITEMS:
                batch = "".join(pieces)
                pieces.clear()
                out.write(batch)
    finally:  # (the items made before an error are written all the same: partial results)
        out.write("".join(pieces))
    out.write("\n  ]" if count else "]")
    rest = json_text(tail(), indent=2, **options) if tail is not None else "{}"
    out.write(",\n" + rest[2:] if rest != "{}" else "\n}")
    out.write("\n")
    return count
