"""Multipart MIME bodies (RFC 2046 §5.1) as SIP carries them: an INVITE whose body is
multipart/mixed (SDP + ISUP, SDP + PIDF-LO ...) or multipart/alternative.

``parse_multipart`` raises ``Malformed`` with reason ``malformed-multipart`` when the boundary
is missing or never appears; nested multiparts are returned as parts (callers may recurse).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from decoders.errors import Malformed

REASON = "malformed-multipart"

# boundary := 0*69<bchars> bcharsnospace (RFC 2046 §5.1.1); quoted or as a token.
_BOUNDARY_RE = re.compile(r';\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MimePart:
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters; text/plain by default (RFC 2046 §5.1)."""
        value = self.header("content-type") or self.header("c")
        return value.split(";", 1)[0].strip().lower() if value else "text/plain"


def boundary_of(content_type: str) -> str:
    match = _BOUNDARY_RE.search(content_type)
    if match is None:
        raise Malformed(f"Content-Type {content_type[:60]!r} has no boundary parameter (RFC 2046 §5.1.1)", REASON)
    return match.group(1) if match.group(1) is not None else match.group(2)


def _part_headers(head: bytes) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    for line in head.decode("utf-8", "replace").replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if line[0] in " \t" and headers:  # folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise Malformed(f"multipart part header {line[:40]!r} has no colon (RFC 2045 §3)", REASON)
        headers.append((name.strip(), value.strip()))
    return tuple(headers)


def parse_multipart(body: bytes, content_type: str) -> tuple[MimePart, ...]:
    """Split ``body`` into parts using the boundary from ``content_type``."""
    delimiter = b"--" + boundary_of(content_type).encode("utf-8", "replace")
    # The first delimiter may start the body; later ones follow a line end (RFC 2046 §5.1.1).
    if body.startswith(delimiter) and body[len(delimiter) : len(delimiter) + 1] in _AFTER_DELIMITER:
        pos = 0
    else:
        pos = _find_delimiter(body, delimiter, 0)
        if pos < 0:
            raise Malformed("multipart body never contains its boundary delimiter (RFC 2046 §5.1.1)", REASON)
        pos += 1
    parts: list[MimePart] = []
    while True:
        after = pos + len(delimiter)
        if body[after : after + 2] == b"--":
            break  # close-delimiter
        line_end = body.find(b"\n", after)
        if line_end < 0:
            raise Malformed("multipart body ends inside a boundary line (RFC 2046 §5.1.1)", REASON)
        content_start = line_end + 1
        next_delim = _find_delimiter(body, delimiter, content_start - 1)
        if next_delim < 0:
            raise Malformed("multipart body has no close-delimiter (RFC 2046 §5.1.1)", REASON)
        # The CRLF before a delimiter belongs to the delimiter, not to the part.
        end = next_delim - 1 if next_delim > 0 and body[next_delim - 1 : next_delim] == b"\r" else next_delim
        chunk = body[content_start:end] if end >= content_start else b""
        parts.append(_split_part(chunk))
        pos = next_delim + 1
    return tuple(parts)


# A delimiter line is the delimiter, then "--" (close), transport padding or the line end; a
# longer word that merely starts with it is content (RFC 2046 §5.1.1).
_AFTER_DELIMITER = (b"-", b" ", b"\t", b"\r", b"\n", b"")


def _find_delimiter(body: bytes, delimiter: bytes, start: int) -> int:
    """Offset of the "\n" that opens the next delimiter line at or after ``start``, or -1."""
    needle = b"\n" + delimiter
    pos = body.find(needle, start)
    while pos >= 0:
        after = pos + len(needle)
        if body[after : after + 1] in _AFTER_DELIMITER:
            return pos
        pos = body.find(needle, pos + 1)
    return -1


def _split_part(chunk: bytes) -> MimePart:
    # A part with no headers starts with its empty line (RFC 2046 §5.1.1: text/plain default).
    if chunk.startswith(b"\r\n"):
        return MimePart((), chunk[2:])
    if chunk.startswith(b"\n"):
        return MimePart((), chunk[1:])
    for separator in (b"\r\n\r\n", b"\n\n"):
        split = chunk.find(separator)
        if split >= 0:
            return MimePart(_part_headers(chunk[:split]), chunk[split + len(separator) :])
    return MimePart(_part_headers(chunk), b"")


def find_part(parts: tuple[MimePart, ...], media_type: str) -> MimePart | None:
    """The first part of ``media_type``, looking inside nested multiparts too (a broken
    nested multipart raises ``Malformed``)."""
    for part in parts:
        kind = part.content_type
        if kind == media_type:
            return part
        if kind.startswith("multipart/"):
            nested = parse_multipart(part.body, part.header("content-type") or "")
            found = find_part(nested, media_type)
            if found is not None:
                return found
    return None
