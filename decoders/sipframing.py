"""Splitting a byte stream into SIP messages (RFC 3261 §18.3 framing on stream transports).

API (the pipeline and ``decoders.tcpstreams`` use these):

``sip_message_length(buf, start=0, leniencies=None) -> int | None``
    Length of the first complete SIP message at ``start``: leading CRLF keep-alives (RFC 5626
    §4.4.1 "\\r\\n\\r\\n" pings, "\\r\\n" pongs) + header block up to the empty line + the
    Content-Length body. ``None`` means "need more data". Raises
    ``Malformed(reason="malformed-sip")`` when the bytes clearly cannot start a SIP message, so
    the caller can resync with ``find_sip_start``. Leniencies met on the way are appended to
    ``leniencies`` (a list) by name.

``frame_sip_message(buf, start=0) -> SipFraming | None``
    The same, with every part of the split spelled out (keep-alive bytes, header length, body
    length, leniencies).

``scan_sip_message(buf, start=0) -> SipFraming | None``
    The framing as soon as the header block is complete, body possibly still to come (lets a
    stream reader wait for ``length`` bytes without rescanning the headers).

``keepalive_length(buf, start=0) -> int``
    How many CR/LF keep-alive bytes lie at ``start``.

``find_sip_start(buf, start=0) -> int | None``
    Offset of the next line that looks like a SIP start line (resync after garbage or a gap).

``looks_like_sip_start(buf, start=0) -> bool``
    Cheap content check used to recognise a SIP stream by its first bytes, not its port.

Leniency names: ``bare-lf`` (header lines ended by LF alone, RFC 3261 §7 wants CRLF),
``missing-content-length`` (RFC 3261 §18.3: MUST be present on stream transports; we take the
body as empty, which is what the RFC says a missing value means on UDP).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from decoders.errors import Malformed

# Bounds that keep memory finite on hostile streams; real SIP is far below them
# (RFC 3261 §18.1.1 worries about messages over 1300 bytes; large MESSAGE/INFO bodies stay < 1 MiB).
MAX_START_LINE = 8 * 1024
MAX_HEADER_BLOCK = 64 * 1024
MAX_BODY = 16 * 1024 * 1024

LENIENCY_BARE_LF = "bare-lf"
LENIENCY_MISSING_CONTENT_LENGTH = "missing-content-length"

# RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
_TOKEN = rb"[A-Za-z0-9.!%*_+`'~-]+"
# Request-Line = Method SP Request-URI SP SIP-Version CRLF; Status-Line = SIP-Version SP 3DIGIT SP Reason
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") [^ \r\n]+ SIP/2\.0\r?\n", re.IGNORECASE)
_STATUS_LINE = re.compile(rb"SIP/2\.0 [1-6][0-9][0-9] [^\r\n]*\r?\n", re.IGNORECASE)
_TOKEN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.!%*_+`'~-")
_SIP_VERSION = b"SIP/2.0 "
# A start line anywhere after a line break: used to resync.
_START_AFTER_LF = re.compile(
    rb"(?:(?<=\n)|^)(?:" + _TOKEN + rb" [^ \r\n]+ SIP/2\.0\r?\n|SIP/2\.0 [1-6][0-9][0-9] )",
    re.IGNORECASE,
)
# The empty line that ends the header block: the LF ending the last header, then an empty line
# (CRLF or, leniently, a bare LF).
_HEADER_END = re.compile(rb"\n\r?\n")
# A Content-Length line: after the LF, optional whitespace that does not begin with a space or a tab
# (that would fold the line into the one before), the name, whitespace, the colon, the value.
# bytes.strip()'s whitespace is " \t\n\r\x0b\x0c"; no LF can fall inside a line.
_CONTENT_LENGTH_LINE = re.compile(
    rb"\n(?:[\r\x0b\x0c][ \t\r\x0b\x0c]*)?(?:content-length|l)[ \t\r\x0b\x0c]*:([^\n]*)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class SipFraming:
    """How one SIP message lies in a stream buffer, offsets relative to ``start``.

    The message bytes are ``buf[start + keepalive : start + length]``.
    """

    keepalive: int  # CR/LF keep-alive bytes skipped before the message
    header_length: int  # start line + headers + the empty line
    body_length: int
    leniencies: tuple[str, ...]

    @property
    def length(self) -> int:
        return self.keepalive + self.header_length + self.body_length


def keepalive_length(buf: bytes | bytearray | memoryview, start: int = 0) -> int:
    """Number of CR and LF bytes at ``start`` (RFC 5626 keep-alive pings and pongs)."""
    end = len(buf)
    position = start
    while position < end and buf[position] in (0x0D, 0x0A):
        position += 1
    return position - start


def _check_start_line_prefix(data: bytes) -> None:
    """Raise when an incomplete first line already cannot become a SIP start line."""
    if data[: len(_SIP_VERSION)].upper() == _SIP_VERSION[: len(data)]:
        return  # a (prefix of a) status line
    for index, byte in enumerate(data):
        if byte == 0x20:
            if index == 0:
                raise Malformed("a SIP start line cannot begin with a space", reason="malformed-sip")
            return
        if byte not in _TOKEN_BYTES:
            raise Malformed(
                f"byte 0x{byte:02x} cannot appear in a SIP method token (RFC 3261 §25.1)",
                reason="malformed-sip",
            )


def looks_like_sip_start(buf: bytes | bytearray | memoryview, start: int = 0) -> bool:
    """True when the bytes at ``start`` (after keep-alives) are a whole SIP start line."""
    begin = start + keepalive_length(buf, start)
    head = bytes(buf[begin : begin + MAX_START_LINE])
    return bool(_REQUEST_LINE.match(head) or _STATUS_LINE.match(head))


def find_sip_start(buf: bytes | bytearray | memoryview, start: int = 0) -> int | None:
    """Offset of the next SIP start line at or after ``start`` that begins a line, or None."""
    match = _START_AFTER_LF.search(bytes(buf), start)
    return match.start() if match else None


def _content_length(header_block: bytes) -> int | None:
    """The Content-Length (or compact ``l``) value in a header block; None when absent.

    A header line counts when the name before its first colon, stripped of ASCII whitespace, is
    ``content-length`` or ``l`` in any case, and the line does not begin with a space or a tab (a
    folded continuation). ``_CONTENT_LENGTH_LINE`` finds exactly those lines in one C-speed scan
    instead of splitting every line in Python (the first line, the start line, has no LF before it).
    """
    found: int | None = None
    for match in _CONTENT_LENGTH_LINE.finditer(header_block):
        text = match.group(1).strip()
        if not text.isdigit():
            raise Malformed(
                f"Content-Length {text[:40]!r} is not a number (RFC 3261 §20.14)", reason="malformed-sip"
            )
        length = int(text)
        if found is not None and found != length:
            raise Malformed(
                f"two different Content-Length values ({found} and {length})", reason="malformed-sip"
            )
        found = length
    return found


def scan_sip_message(buf: bytes | bytearray | memoryview, start: int = 0) -> SipFraming | None:
    """The framing of the SIP message at ``start`` as soon as its header block is complete
    (its body may still be arriving); None while the header block is incomplete."""
    if isinstance(buf, memoryview):
        buf = buf.tobytes()  # bytes and bytearray search in place; a view cannot
    keepalive = keepalive_length(buf, start)
    begin = start + keepalive
    end = len(buf)
    if begin >= end:
        return None
    first_lf = buf.find(b"\n", begin, begin + MAX_START_LINE + 1)
    if first_lf < 0:
        _check_start_line_prefix(bytes(buf[begin : begin + 64]))
        if end - begin > MAX_START_LINE:
            raise Malformed(f"start line longer than {MAX_START_LINE} bytes", reason="malformed-sip")
        return None
    first_lf -= begin
    start_line = bytes(buf[begin : begin + first_lf + 1])
    if not (_REQUEST_LINE.fullmatch(start_line) or _STATUS_LINE.fullmatch(start_line)):
        raise Malformed(
            f"{start_line[:60]!r} is neither a Request-Line nor a Status-Line (RFC 3261 §7.1, §7.2)",
            reason="malformed-sip",
        )
    # Searched in place, not in a copy of the next 64 KiB: a buffer holding many pipelined messages
    # would otherwise copy that much for each of them. The start line's own LF may be followed
    # directly by the empty line (no headers at all).
    header_end = _HEADER_END.search(buf, begin + first_lf, begin + MAX_HEADER_BLOCK)
    if header_end is None:
        if end - begin > MAX_HEADER_BLOCK:
            raise Malformed(f"header block longer than {MAX_HEADER_BLOCK} bytes", reason="malformed-sip")
        return None
    header_length = header_end.end() - begin
    header_block = bytes(buf[begin : begin + header_length])
    leniencies: list[str] = []
    if header_block.count(b"\n") != header_block.count(b"\r\n"):
        leniencies.append(LENIENCY_BARE_LF)
    body_length = _content_length(header_block)
    if body_length is None:
        leniencies.append(LENIENCY_MISSING_CONTENT_LENGTH)
        body_length = 0
    if body_length > MAX_BODY:
        raise Malformed(f"Content-Length {body_length} exceeds {MAX_BODY} bytes", reason="malformed-sip")
    return SipFraming(keepalive, header_length, body_length, tuple(leniencies))


def frame_sip_message(buf: bytes | bytearray | memoryview, start: int = 0) -> SipFraming | None:
    """Split off the first SIP message at ``start``; None when more bytes are needed."""
    framing = scan_sip_message(buf, start)
    if framing is None or len(buf) - start < framing.length:
        return None
    return framing


def sip_message_length(
    buf: bytes | bytearray | memoryview, start: int = 0, leniencies: list[str] | None = None
) -> int | None:
    """Bytes from ``start`` to the end of the first complete SIP message (keep-alives included)."""
    framing = frame_sip_message(buf, start)
    if framing is None:
        return None
    if leniencies is not None:
        leniencies.extend(framing.leniencies)
    return framing.length
