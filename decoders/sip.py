"""SIP messages (RFC 3261 §7): start line, headers, body, and the fields every layer uses.

``parse_sip`` turns the bytes of one message into a frozen ``SipMessage`` or raises
``Malformed`` (reason ``malformed-sip``). Only a broken start line is fatal: a capture tool must
still draw a message whose headers are odd, so header-level defects become ``problems`` entries
(short sentences citing the RFC) and the affected derived field is None.

Named leniencies, each recorded in ``problems``: bare LF line ends; a missing Content-Length
(the body is the rest of the datagram); a body shorter than Content-Length (kept as it is); a
lower-case method; a status line without the SP before an empty reason phrase; CRLFs before the
start line; IPv6 addresses without brackets; a defect inside an otherwise well-placed
Request-URI; "< uri >" with spaces; an rtpmap without clock rate (in ``sdp.problems``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from decoders.header_names import _CANONICAL, LIST_HEADERS, canonical_name
from decoders.errors import DecodeError, Malformed
from decoders.memo import remember, remembered_parse
from decoders.multipart import find_part, parse_multipart
from decoders.numbers import bounded_number
from decoders.quick_init import quick_init
from decoders.records import Endpoint, FrameRef
from decoders.sdp import SdpMedia, SdpOrigin, SdpSession, parse_sdp
from decoders.sipuri import (
    TOKEN_RE,
    NameAddr,
    SipUri,
    Via,
    parse_name_addr,
    parse_uri,
    parse_via,
    split_outside_quotes,
)

__all__ = [
    "NameAddr",
    "RequestLine",
    "SipMessage",
    "SipUri",
    "StatusLine",
    "Via",
    "body_sdp",
    "canonical_name",
    "looks_like_sip",
    "parse_name_addr",
    "parse_sip",
    "parse_uri",
    "parse_via",
    "split_list",
]

REASON = "malformed-sip"

_SIP_VERSION_RE = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
_DIGITS_RE = re.compile(r"[0-9]+", re.ASCII)
# ";;" or a trailing ";" — a generic-param with no name.
_EMPTY_PARAM_RE = re.compile(r";[ \t]*(?:;|,|$)")
_LWS_LINE_START = (" ", "\t")
# Largest values RFC 3261 allows: CSeq < 2**31 (§8.1.1.5), Max-Forwards 0-255 (§20.22).
_CSEQ_MAX = 2**31 - 1


@quick_init
@dataclass(frozen=True, slots=True)
class RequestLine:
    method: str
    uri: str
    version: str

    def __str__(self) -> str:
        return f"{self.method} {self.uri} {self.version}"


@dataclass(frozen=True, slots=True)
class StatusLine:
    version: str
    code: int
    reason: str

    def __str__(self) -> str:
        return f"{self.version} {self.code} {self.reason}"


def looks_like_sip(payload: bytes) -> bool:
    """True when ``payload`` starts with a SIP status line or request line.

    Called on every UDP datagram, so it looks at a few bytes before anything costlier."""
    if len(payload) < 12:
        return False
    head = payload[:8]
    if head == b"SIP/2.0 ":
        return payload[8:11].isdigit() and payload[11:12] in (b" ", b"\r", b"\n")
    first = payload[0]
    # Methods are tokens: RTP (0x80..), TLS (0x16) and STUN (0x00/0x01) fail here at once.
    if first < 0x21 or first > 0x7E:
        return False
    line_end = payload.find(b"\n")
    line = payload if line_end < 0 else payload[:line_end]
    if not line.rstrip(b"\r").endswith(b" SIP/2.0"):
        return False
    # No length cap on the method: fuzzers (PROTOS c07-sip) send 4099-letter methods.
    method = line[: line.find(b" ")]
    return TOKEN_RE.fullmatch(method.decode("ascii", "replace")) is not None


def split_list(value: str, keep_empty: bool = False) -> list[str]:
    """Split a list header value on commas outside quoted strings and <...> (RFC 3261 §7.3.1).
    Empty elements are dropped unless ``keep_empty`` (to report them)."""
    if "," not in value:
        stripped = value.strip()
        return [stripped] if stripped or keep_empty else []
    items = [item.strip() for item in split_outside_quotes(value, ",", angles=True)]
    return items if keep_empty else [item for item in items if item]


@quick_init
@dataclass(frozen=True, slots=True, eq=False)
class SipMessage:
    """One SIP message. Derived fields are computed once by ``parse_sip``; messages compare by
    identity (two retransmissions with the same bytes are still two messages)."""

    start: RequestLine | StatusLine
    headers: tuple[tuple[str, str], ...]
    body: bytes
    raw: bytes
    src: Endpoint | None = None
    dst: Endpoint | None = None
    frames: tuple[FrameRef, ...] = ()
    ts_ns: int = 0
    problems: tuple[str, ...] = ()
    call_id: str | None = None
    cseq: tuple[int, str] | None = None
    from_addr: NameAddr | None = None
    to_addr: NameAddr | None = None
    vias: tuple[Via, ...] = ()
    contacts: tuple[NameAddr, ...] = ()
    max_forwards: int | None = None
    content_length: int | None = None
    content_type: str | None = None
    sdp: SdpSession | None = None
    _index: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # Derived from the fields above once, when the message is made (``dataclasses.replace``
    # too): the rules, the transactions and the ladder read them dozens of times a message.
    is_request: bool = field(init=False, repr=False)
    method: str | None = field(init=False, repr=False)  # the request method, or the CSeq method of a response
    status: int | None = field(init=False, repr=False)
    from_tag: str | None = field(init=False, repr=False)
    to_tag: str | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        start, cseq, set_ = self.start, self.cseq, object.__setattr__
        set_(self, "is_request", isinstance(start, RequestLine))
        set_(self, "method", start.method if isinstance(start, RequestLine) else (cseq[1] if cseq else None))
        set_(self, "status", start.code if isinstance(start, StatusLine) else None)
        set_(self, "from_tag", self.from_addr.params.get("tag") if self.from_addr else None)
        set_(self, "to_tag", self.to_addr.params.get("tag") if self.to_addr else None)

    # --- start line -------------------------------------------------------------------

    @property
    def reason(self) -> str | None:
        return self.start.reason if isinstance(self.start, StatusLine) else None

    @property
    def request_uri(self) -> str | None:
        return self.start.uri if isinstance(self.start, RequestLine) else None

    # --- headers ----------------------------------------------------------------------
    def header(self, name: str) -> str | None:
        """The first value of a header (any case, compact forms too), or None."""
        values = self._index.get(_CANONICAL.get(name) or canonical_name(name))
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        """All values of a header, in order; list headers (Via, Contact, Route, Allow ...)
        are split on commas outside quotes and <>."""
        # The rules ask this of every message for a dozen names: the usual answers (none; one
        # value without a comma) are given without a call.
        key = _CANONICAL.get(name) or canonical_name(name)
        values = self._index.get(key)
        if not values:
            return []
        if key not in LIST_HEADERS:
            return list(values)
        if len(values) == 1 and "," not in values[0]:
            stripped = values[0].strip()
            return [stripped] if stripped else []
        out: list[str] = []
        for value in values:
            out.extend(split_list(value))
        return out

    def header_index(self) -> Mapping[str, tuple[str, ...]]:
        """The header values by canonical name (lower-case, full), one per header line as
        written (a list header's not split on commas); read-only. What ``header`` and
        ``header_values`` read: a caller asking many names of many messages reads it directly,
        and can remember what it made of a header by its lines (a call repeats its From, To and
        Via lines)."""
        return self._index

    # --- derived ----------------------------------------------------------------------
    @property
    def from_uri(self) -> str | None:
        return self.from_addr.uri if self.from_addr else None

    @property
    def to_uri(self) -> str | None:
        return self.to_addr.uri if self.to_addr else None

    @property
    def from_display(self) -> str | None:
        return self.from_addr.display if self.from_addr else None

    @property
    def to_display(self) -> str | None:
        return self.to_addr.display if self.to_addr else None

    @property
    def top_via(self) -> Via | None:
        return self.vias[0] if self.vias else None

    @property
    def branch(self) -> str | None:
        return self.vias[0].branch if self.vias else None

    @property
    def media_type(self) -> str | None:
        """The body's type/subtype in lower case without parameters ("application/sdp")."""
        if self.content_type is None:
            return None
        return self.content_type.split(";", 1)[0].strip().lower()

    @property
    def contact(self) -> str | None:
        """The first Contact value (``*`` or a name-addr as written)."""
        values = self.header_values("contact")
        return values[0] if values else None

    def with_context(
        self,
        src: Endpoint | None,
        dst: Endpoint | None,
        frames: tuple[FrameRef, ...],
        ts_ns: int,
    ) -> SipMessage:
        """A copy that knows where and when it was seen."""
        return dataclasses.replace(self, src=src, dst=dst, frames=tuple(frames), ts_ns=ts_ns)

    def summary(self) -> str:
        """``INVITE`` or ``200 OK`` — the label a ladder arrow shows."""
        if isinstance(self.start, RequestLine):
            return self.start.method
        return f"{self.start.code} {self.start.reason}".rstrip()


def _fail(message: str) -> Malformed:
    return Malformed(message, REASON)


def _split_head(data: bytes, problems: list[str]) -> tuple[list[str], int]:
    """The decoded head lines (start line first, line ends removed) and the body's offset."""
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        head = data[:end]
        if head.count(b"\n") == head.count(b"\r\n"):  # every line ends in CRLF: the usual case
            return _decode(head, problems).split("\r\n"), end + 4
    # Slow path: bare LF line ends, or no empty line at all.
    lines: list[bytes] = []
    pos = 0
    n = len(data)
    bare_lf = False
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        if nl == pos or data[nl - 1] != 0x0D:
            bare_lf = True
            line = data[pos:nl]
        else:
            line = data[pos : nl - 1]
        pos = nl + 1
        if not line:
            if bare_lf:
                problems.append("lines end in bare LF instead of CRLF (RFC 3261 §7)")
            return _decode(b"\n".join(lines), problems).split("\n"), pos
        lines.append(line)
    if pos < n:
        lines.append(data[pos:].rstrip(b"\r"))  # the datagram stops inside the last header line
    problems.append("message ends without the empty line after the headers (RFC 3261 §7)")
    return _decode(b"\n".join(lines), problems).split("\n"), n


def _decode(raw: bytes, problems: list[str]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append("header bytes are not valid UTF-8 (RFC 3261 §7.3.1); shown with replacement characters")
        return raw.decode("utf-8", "replace")


def _parse_start(line: str, problems: list[str]) -> RequestLine | StatusLine:
    if not line:
        raise _fail("message has an empty start line (RFC 3261 §7.1)")
    if line[:4].upper() == "SIP/":
        return _parse_status_line(line, problems)
    return _parse_request_line(line, problems)


def _parse_status_line(line: str, problems: list[str]) -> StatusLine:
    # Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF (RFC 3261 §7.2)
    version, sp, rest = line.partition(" ")
    if not _SIP_VERSION_RE.fullmatch(version):
        raise _fail(f"Status-Line has a bad SIP-Version {version[:20]!r} (RFC 3261 §7.2)")
    if not sp:
        raise _fail("Status-Line has no Status-Code (RFC 3261 §7.2)")
    code_text, sp2, reason = rest.partition(" ")
    if not (len(code_text) == 3 and code_text.isdigit() and code_text.isascii()):
        raise _fail(f"Status-Code {code_text[:24]!r} is not 3 digits (RFC 3261 §7.2)")
    code = int(code_text)
    if code < 100:
        raise _fail(f"Status-Code {code} is below 100 (RFC 3261 §21)")
    if not sp2:
        problems.append("Status-Line lacks the SP before its (empty) Reason-Phrase (RFC 3261 §7.2)")
    if version.upper() != "SIP/2.0":  # ABNF literals are case-insensitive (RFC 3261 §25)
        problems.append(f"SIP-Version {version[:20]} is not SIP/2.0 (RFC 3261 §7.2)")
    return StatusLine(version, code, reason)


def _parse_request_line(line: str, problems: list[str]) -> RequestLine:
    # Request-Line = Method SP Request-URI SP SIP-Version CRLF (RFC 3261 §7.1): exactly two SPs.
    parts = line.split(" ")
    if len(parts) != 3:
        if line.endswith(" "):
            raise _fail("Request-Line has SP after the SIP-Version (RFC 3261 §7.1)")
        if "" in parts:
            raise _fail("Request-Line elements are separated by more than one SP (RFC 3261 §7.1)")
        if len(parts) < 3:
            if len(parts) == 2 and _SIP_VERSION_RE.fullmatch(parts[1]):
                raise _fail("Request-Line has no Request-URI (RFC 3261 §7.1)")
            raise _fail("Request-Line has no SIP-Version (RFC 3261 §7.1)")
        if _SIP_VERSION_RE.fullmatch(parts[-1]):
            raise _fail("Request-URI contains whitespace (RFC 3261 §7.1, §19.1.1)")
        raise _fail("Request-Line has no SIP-Version (RFC 3261 §7.1)")
    method, uri, version = parts
    if not TOKEN_RE.fullmatch(method):
        raise _fail(f"Method {method[:20]!r} is not a token (RFC 3261 §25.1)")
    if "\t" in uri:
        raise _fail("Request-URI contains whitespace (RFC 3261 §7.1, §19.1.1)")
    if not _SIP_VERSION_RE.fullmatch(version):
        raise _fail(f"Request-Line has no SIP-Version, found {version[:20]!r} (RFC 3261 §7.1)")
    if uri.startswith("<") and uri.endswith(">"):
        raise _fail("Request-URI is enclosed in <> (RFC 3261 §7.1, §25.1 Request-URI)")
    if ":" not in uri:
        raise _fail(f"Request-URI {uri[:60]!r} has no scheme (RFC 3261 §7.1, §19.1.1)")
    problems.extend(_request_uri_problems(uri))
    if method.upper() != method and method.upper() in _KNOWN_METHODS:
        problems.append(f"method {method!r} is not upper case; methods are case-sensitive (RFC 3261 §7.1)")
    if version.upper() != "SIP/2.0":  # ABNF literals are case-insensitive (RFC 3261 §25)
        problems.append(f"SIP-Version {version[:20]} is not SIP/2.0; a server answers 505 (RFC 3261 §21.5.6)")
    return RequestLine(method, uri, version)


def _request_uri_problems(uri: str) -> tuple[str, ...]:
    """What is wrong inside a Request-URI, remembered by value (an ACK and a BYE repeat theirs)."""
    return _remembered(_request_uri_memo, uri, _check_request_uri)[1]


def _check_request_uri(uri: str, found: list[str]) -> None:
    # The start line's structure is sound here, so a defect inside the URI is not fatal.
    try:
        parsed = parse_uri(uri, found)
    except DecodeError as error:
        found.append(f"Request-URI: {error}")
    else:
        if parsed.headers:
            found.append(
                "Request-URI has URI headers ('?'), which a Request-URI must not carry (RFC 3261 §19.1.1 table 1)"
            )


_KNOWN_METHODS = frozenset(
    "INVITE ACK BYE CANCEL REGISTER OPTIONS PRACK SUBSCRIBE NOTIFY PUBLISH INFO REFER MESSAGE UPDATE".split()
)


def _parse_headers(lines: list[str], problems: list[str]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    seen = _header_line_memo
    for text in lines:
        entry = seen.get(text)  # never a continuation line: only lines read as a header are kept
        if entry is not None:
            headers.append(entry)
            continue
        if text[:1] in _LWS_LINE_START:
            # LWS continuation (RFC 3261 §7.3.1): unfold into the previous value with one SP.
            text = text.strip(" \t")
            if not headers:
                problems.append("first header line starts with whitespace (RFC 3261 §7.3.1)")
                continue
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {text}" if value else text)
            continue
        name, colon, value = text.partition(":")
        if not colon:
            problems.append(f"header line {text[:40]!r} has no colon; ignored (RFC 3261 §7.3.1)")
            continue
        known = _HEADER_NAMES.get(name)
        if known is None:
            known = _header_name(name)
            if known is None:
                written = name.rstrip(" \t")
                problems.append(f"header name {written[:40]!r} is not a token; ignored (RFC 3261 §7.3.1)")
                continue
        entry = (known, value.strip(" \t"))
        if len(text) <= MEMO_VALUE_LENGTH:
            remember(seen, text, entry, MEMO_ENTRIES)
        headers.append(entry)
    return headers


# Header names as written -> the one shared copy of the name and its canonical key (lower
# case, compact forms expanded). Every message repeats the same few names: one lookup replaces a
# token check, a lower() and the compact-form lookup, and a capture keeps one copy of each name
# instead of one per message. Bounded, so hostile traffic cannot grow it.
MAX_HEADER_NAMES = 4096
_HEADER_NAMES: dict[str, str] = {}
_HEADER_KEYS: dict[str, str] = {}


def _header_name(written: str) -> str | None:
    """The shared copy of a header name (``HCOLON`` whitespace removed), or None if it is
    not a token; remembers it and its key."""
    name = written.rstrip(" \t")  # HCOLON = *( SP / HTAB ) ":" SWS
    if not TOKEN_RE.fullmatch(name):
        return None
    name = sys.intern(name)
    key = sys.intern(canonical_name(name))
    if len(_HEADER_NAMES) >= MAX_HEADER_NAMES:
        _HEADER_NAMES.clear()
        _HEADER_KEYS.clear()
    _HEADER_NAMES[written] = name
    _HEADER_KEYS[name] = key
    return name


def parse_sip(
    data: bytes,
    *,
    src: Endpoint | None = None,
    dst: Endpoint | None = None,
    frames: tuple[FrameRef, ...] = (),
    ts_ns: int = 0,
) -> SipMessage:
    """Parse one complete SIP message (RFC 3261 §7). Raises ``Malformed`` (``malformed-sip``).
    ``src``, ``dst``, ``frames`` and ``ts_ns`` say where and when it was seen, as
    ``with_context`` does, without a copy."""
    if _parse_plain is not None:  # the compiled parse of a plain message (see _compiled_parse)
        message = _parse_plain(data, src, dst, frames, ts_ns)
        if message is not None:
            return message
    return parse_sip_python(data, src=src, dst=dst, frames=frames, ts_ns=ts_ns)


def parse_sip_python(
    data: bytes,
    *,
    src: Endpoint | None = None,
    dst: Endpoint | None = None,
    frames: tuple[FrameRef, ...] = (),
    ts_ns: int = 0,
) -> SipMessage:
    """``parse_sip`` in Python alone: every message, whatever its shape or problems."""
    data = bytes(data)
    problems: list[str] = []
    # RFC 3261 §7.5: CRLFs before the start line are ignored (RFC 5626 §3.5.1 keep-alives).
    stripped = data.lstrip(b"\r\n")
    if len(stripped) != len(data):
        if not stripped:
            raise _fail("message is only CRLF keep-alives (RFC 5626 §3.5.1)")
        problems.append("empty lines before the start line were ignored (RFC 3261 §7.5)")
        data = stripped
    if not data:
        raise _fail("message is empty (RFC 3261 §7)")
    lines, body_start = _split_head(data, problems)
    start, found = _remembered(_start_memo, lines[0], _parse_start)  # a bad start line raises: not kept
    if found:
        problems.extend(found)
    headers = _parse_headers(lines[1:], problems)

    index: dict[str, tuple[str, ...]] = {}  # values in order (a header seldom repeats: tuples at once)
    repeated: dict[str, list[str]] | None = None  # the values of the headers that do
    keys = _HEADER_KEYS
    for name, value in headers:
        key = keys.get(name) or canonical_name(name)  # the table may have been cleared meanwhile
        if key in index:
            if repeated is None:
                repeated = {}
            values = repeated.get(key)
            if values is None:
                values = repeated[key] = [index[key][0]]
            values.append(value)
        else:
            index[key] = (value,)
    if repeated is not None:
        for key, values in repeated.items():
            index[key] = tuple(values)

    lengths = index.get("content-length")
    if lengths is not None and len(lengths) == 1:  # the usual case: one value, remembered
        content_length = _by_value(_content_length_memo, lengths[0], len(lengths[0]), _content_length_of, problems)
    else:
        content_length = _content_length(lengths, problems)
    rest = data[body_start:]
    if content_length is None:
        body = rest  # leniency: over UDP Content-Length may be absent (RFC 3261 §18.3, §20.14)
        if "content-length" not in index and rest:
            problems.append("no Content-Length; the body is the rest of the datagram (RFC 3261 §18.3)")
    elif len(rest) < content_length:
        body = rest
        problems.append(
            f"Content-Length {content_length} but body has {len(rest)} bytes (RFC 3261 §18.3)"
        )
    else:
        body = rest[:content_length]
        if len(rest) > content_length:
            extra = len(rest) - content_length
            problems.append(
                f"{extra} bytes after the Content-Length {content_length} body are not part of "
                "the message (RFC 3261 §18.3)"
            )
    raw = data[: body_start + len(body)]

    final_index = index
    is_request = isinstance(start, RequestLine)
    call_id = _single(final_index, "call-id", problems)
    cseq = _cseq(final_index, start, problems)
    from_addr = _name_addr(final_index, "from", problems)
    to_addr = _name_addr(final_index, "to", problems)
    vias = _vias(final_index, problems)
    contacts = _contacts(final_index, problems)
    _check_date(final_index, problems)
    _check_scalars(final_index, problems)
    if from_addr is not None and "tag" not in from_addr.params:
        problems.append("From has no tag (RFC 3261 §8.1.1.3)")
    max_forwards = _max_forwards(final_index, problems)
    content_type = _single(final_index, "content-type", problems)
    if content_type is not None:
        content_type = content_type.strip()
    _check_required(final_index, is_request, problems)
    sdp = _body_sdp(body, content_type, problems)
    return SipMessage(
        start=start,
        headers=tuple(headers),
        body=body,
        raw=raw,
        problems=tuple(problems),
        call_id=call_id,
        cseq=cseq,
        from_addr=from_addr,
        to_addr=to_addr,
        vias=vias,
        contacts=contacts,
        max_forwards=max_forwards,
        content_length=content_length,
        content_type=content_type,
        sdp=sdp,
        _index=final_index,
        src=src,
        dst=dst,
        frames=tuple(frames),
        ts_ns=ts_ns,
    )


def _single(index: dict[str, tuple[str, ...]], key: str, problems: list[str]) -> str | None:
    values = index.get(key)
    if not values:
        return None
    if len(values) > 1 and len(set(values)) > 1:
        problems.append(f"{_display_name(key)} appears {len(values)} times with different values (RFC 3261 §7.3.1)")
    return values[0]


def _display_name(key: str) -> str:
    special = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate"}
    return special.get(key) or "-".join(part.capitalize() for part in key.split("-"))


def _content_length(values: tuple[str, ...] | list[str] | None, problems: list[str]) -> int | None:
    if not values:
        return None
    distinct = {value.strip() for value in values}
    if len(distinct) > 1:
        problems.append(
            f"Content-Length appears {len(values)} times with different values "
            f"{', '.join(sorted(distinct))}; the first is used (RFC 3261 §20.14)"
        )
    text = values[0].strip()
    if not _DIGITS_RE.fullmatch(text):
        problems.append(f"Content-Length {text[:20]!r} is not a non-negative integer (RFC 3261 §20.14)")
        return None
    # No RFC bound; 2**32 is far beyond any datagram or sane TCP message.
    number = bounded_number(text, 2**32)
    if number is None:
        problems.append(f"Content-Length {text[:24]} is absurdly large (RFC 3261 §20.14)")
    return number


def _content_length_of(value: str, problems: list[str]) -> int | None:
    return _content_length((value,), problems)


def _cseq(index: dict[str, tuple[str, ...]], start: RequestLine | StatusLine, problems: list[str]) -> tuple[int, str] | None:
    value = _single(index, "cseq", problems)
    if value is None:
        return None
    return _by_value(_cseq_memo, (value, start.method if isinstance(start, RequestLine) else None), len(value),
                     _parse_cseq, problems)


def _parse_cseq(key: tuple[str, str | None], problems: list[str]) -> tuple[int, str] | None:
    value, request_method = key
    number_text, _, method = value.strip().partition(" ")
    method = method.strip(" \t")
    if not _DIGITS_RE.fullmatch(number_text) or not TOKEN_RE.fullmatch(method):
        problems.append(f"CSeq {value[:40]!r} is not 'number method' (RFC 3261 §20.16)")
        return None
    number = bounded_number(number_text, _CSEQ_MAX)
    if number is None:
        problems.append(f"CSeq number {number_text[:24]} exceeds 2**31-1 (RFC 3261 §8.1.1.5)")
        return None
    if request_method is not None and method != request_method:
        problems.append(
            f"CSeq method {method[:40]} does not match the Request-Line method {request_method[:40]} "
            "(RFC 3261 §8.1.1.5)"
        )
    return number, method


def _name_addr(index: dict[str, tuple[str, ...]], key: str, problems: list[str]) -> NameAddr | None:
    value = _single(index, key, problems)
    if value is None:
        return None
    return _checked_name_addr(value, "From" if key == "from" else "To", problems)


# From, To, Contact and Via values repeat in every message of a dialog and in each
# retransmission: their parse, with the problems it found, is remembered by value. Bounded in
# entries and in value length, so hostile traffic cannot make it grow; the parsed objects are
# frozen and shared.
MEMO_ENTRIES = 4096
MEMO_VALUE_LENGTH = 512
_name_addr_memo: dict[tuple[str, str], tuple[NameAddr | None, tuple[str, ...]]] = {}
_via_memo: dict[str, tuple[Via | None, tuple[str, ...]]] = {}
_request_uri_memo: dict[str, tuple[None, tuple[str, ...]]] = {}
# The same holds of whole header lines, start lines ("SIP/2.0 180 Ringing", an ACK's repeating
# its INVITE's), CSeq, Max-Forwards and Content-Length values and a message's Via and Contact
# values together (the responses of a transaction repeat its request's): parsed once, shared.
_header_line_memo: dict[str, tuple[str, str]] = {}
_start_memo: dict[str, tuple[RequestLine | StatusLine, tuple[str, ...]]] = {}
T = TypeVar("T")
K = TypeVar("K")
Parsed = tuple[T, tuple[str, ...]]  # a parse and the problems it found
_cseq_memo: dict[tuple[str, str | None], Parsed[tuple[int, str] | None]] = {}
_max_forwards_memo: dict[str, Parsed[int | None]] = {}
_content_length_memo: dict[str, Parsed[int | None]] = {}
_vias_memo: dict[tuple[str, ...], Parsed[tuple[Via, ...]]] = {}
_contacts_memo: dict[tuple[str, ...], Parsed[tuple[NameAddr, ...]]] = {}


def _by_value(memo: dict[K, Parsed[T]], key: K, size: int, parse: Callable[[K, list[str]], T],
              problems: list[str]) -> T:
    """``parse(key, problems)`` remembered by ``key`` (see ``MEMO_ENTRIES``)."""
    return remembered_parse(memo, key, size, parse, problems, MEMO_ENTRIES, MEMO_VALUE_LENGTH)


def _checked_name_addr(value: str, what: str, problems: list[str]) -> NameAddr | None:
    if len(value) > MEMO_VALUE_LENGTH:
        return _parse_checked_name_addr(value, what, problems)
    entry = _name_addr_memo.get((value, what))
    if entry is None:
        found: list[str] = []
        entry = remember(_name_addr_memo, (value, what),
                         (_parse_checked_name_addr(value, what, found), tuple(found)), MEMO_ENTRIES)
    if entry[1]:
        problems.extend(entry[1])
    return entry[0]


def _parse_checked_name_addr(value: str, what: str, problems: list[str]) -> NameAddr | None:
    try:
        addr = parse_name_addr(value)
    except DecodeError as error:
        problems.append(f"{what}: {error}")
        return None
    # Leniency: "< sip:x@y >" is read as <sip:x@y>, but LAQUOT/RAQUOT allow no LWS inside.
    if "<" in value and f"<{addr.uri}>" not in value:
        problems.append(f"{what}: whitespace inside <> around the URI (RFC 3261 §25.1 LAQUOT, RAQUOT)")
    tail = value[value.rfind(">") + 1 :] if "<" in value else value
    if _EMPTY_PARAM_RE.search(tail):
        problems.append(f"{what} has an empty parameter (RFC 3261 §25.1 generic-param)")
    expires = addr.params.get("expires")
    if expires is not None and not _valid_delta_seconds(expires):
        problems.append(f"{what} expires={expires[:24]} is not delta-seconds below 2**32 (RFC 3261 §20.19)")
    return addr


def _valid_delta_seconds(text: str) -> bool:
    # delta-seconds = 1*DIGIT, "a value of 2**32-1" at most (RFC 3261 §20.19, §25.1)
    text = text.strip()
    return bounded_number(text, 2**32 - 1) is not None


def _contacts(index: dict[str, tuple[str, ...]], problems: list[str]) -> tuple[NameAddr, ...]:
    values = index.get("contact", ())
    return _by_value(_contacts_memo, values, sum(map(len, values)), _parse_contacts, problems)


def _parse_contacts(values: tuple[str, ...], problems: list[str]) -> tuple[NameAddr, ...]:
    contacts: list[NameAddr] = []
    for value in values:
        for item in split_list(value):
            if item == "*":
                continue  # "Contact: *" removes all bindings (RFC 3261 §10.2.2)
            addr = _checked_name_addr(item, "Contact", problems)
            if addr is not None:
                contacts.append(addr)
    return tuple(contacts)


def _check_scalars(index: dict[str, tuple[str, ...]], problems: list[str]) -> None:
    expires = _single(index, "expires", problems)
    if expires is not None and not _valid_delta_seconds(expires):
        problems.append(f"Expires {expires[:24]!r} is not delta-seconds below 2**32 (RFC 3261 §20.19)")
    for value in index.get("warning", ()):
        for item in split_list(value):
            # warning-value = warn-code SP warn-agent SP warn-text; warn-code = 3DIGIT (RFC 3261 §20.43)
            code = item.split(" ", 1)[0]
            if not (len(code) == 3 and code.isdigit() and code.isascii()):
                problems.append(f"Warning code {code[:24]!r} is not 3 digits (RFC 3261 §20.43)")


def _check_date(index: dict[str, tuple[str, ...]], problems: list[str]) -> None:
    # Date = rfc1123-date, always in "GMT" (RFC 3261 §20.17)
    value = _single(index, "date", problems)
    if value is not None and not value.rstrip().endswith(" GMT"):
        problems.append(f"Date {value[:40]!r} is not in GMT (RFC 3261 §20.17)")


def _vias(index: dict[str, tuple[str, ...]], problems: list[str]) -> tuple[Via, ...]:
    values = index.get("via", ())
    return _by_value(_vias_memo, values, sum(map(len, values)), _parse_vias, problems)


def _parse_vias(values: tuple[str, ...], problems: list[str]) -> tuple[Via, ...]:
    vias: list[Via] = []
    for value in values:
        if _EMPTY_PARAM_RE.search(value):
            problems.append(f"Via {value[:60]!r} has an empty parameter (RFC 3261 §20.42 via-params)")
        for item in split_list(value, keep_empty=True):
            if not item:
                problems.append(f"Via {value[:60]!r} has an empty list element (RFC 3261 §7.3.1)")
                continue
            via = _parsed_via(item, problems)
            if via is None:
                continue
            if via.branch == "z9hG4bK":
                problems.append("Via branch is only the magic cookie z9hG4bK (RFC 3261 §8.1.1.7)")
            elif via.branch is not None and not via.branch.startswith("z9hG4bK"):
                problems.append(f"Via branch {via.branch[:60]} lacks z9hG4bK (RFC 3261 §8.1.1.7)")
            vias.append(via)
    return tuple(vias)


def _parsed_via(item: str, problems: list[str]) -> Via | None:
    """``parse_via`` remembered by value (see ``_checked_name_addr``); None when it failed."""
    via, found = _remembered(_via_memo, item, _via_or_none)
    if found:
        problems.extend(found)
    return via


def _via_or_none(item: str, found: list[str]) -> Via | None:
    try:
        return parse_via(item, found)
    except DecodeError as error:
        found.append(str(error))
        return None


def _remembered(memo: dict[str, tuple[T, tuple[str, ...]]], key: str,
                parse: Callable[[str, list[str]], T]) -> tuple[T, tuple[str, ...]]:
    """``parse(key, problems)`` and the problems it found, remembered by ``key`` (bounded; a
    value longer than ``MEMO_VALUE_LENGTH`` is not kept)."""
    entry = memo.get(key)
    if entry is None:
        found: list[str] = []
        entry = (parse(key, found), tuple(found))
        if len(key) <= MEMO_VALUE_LENGTH:
            remember(memo, key, entry, MEMO_ENTRIES)
    return entry


def _max_forwards(index: dict[str, tuple[str, ...]], problems: list[str]) -> int | None:
    value = _single(index, "max-forwards", problems)
    if value is None:
        return None
    return _by_value(_max_forwards_memo, value, len(value), _parse_max_forwards, problems)


def _parse_max_forwards(value: str, problems: list[str]) -> int | None:
    text = value.strip()
    if not _DIGITS_RE.fullmatch(text):
        problems.append(f"Max-Forwards {text[:20]!r} is not an integer (RFC 3261 §20.22)")
        return None
    number = bounded_number(text, 255)
    if number is None:
        problems.append(f"Max-Forwards {text[:24]} exceeds 255 (RFC 3261 §20.22)")
        return None
    return number


def _check_required(index: dict[str, tuple[str, ...]], is_request: bool, problems: list[str]) -> None:
    # RFC 3261 §8.1.1: To, From, CSeq, Call-ID, Max-Forwards and Via are mandatory in requests;
    # responses copy all but Max-Forwards (§8.2.6.2).
    required = ("to", "from", "cseq", "call-id", "via") + (("max-forwards",) if is_request else ())
    missing = [_display_name(key) for key in required if key not in index]
    if missing:
        problems.append(f"missing required header(s) {', '.join(missing)} (RFC 3261 §8.1.1)")


def body_sdp(body: bytes, content_type: str | None) -> SdpSession | None:
    """The SDP of a message body (or of its multipart SDP part), as ``SipMessage.sdp`` finds it;
    None when there is none or it does not parse."""
    return _body_sdp(body, content_type, [])


def _body_sdp(body: bytes, content_type: str | None, problems: list[str]) -> SdpSession | None:
    if not body:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower() if content_type else None
    sdp_bytes: bytes | None = None
    if media_type == "application/sdp":
        sdp_bytes = body
    elif media_type is not None and media_type.startswith("multipart/"):
        try:
            part = find_part(parse_multipart(body, content_type or ""), "application/sdp")
        except DecodeError as error:
            problems.append(f"multipart body: {error}")
            return None
        if part is None:
            return None
        sdp_bytes = part.body
    elif media_type is None and body.lstrip()[:4] in (b"v=0\r", b"v=0\n"):
        problems.append("body looks like SDP but has no Content-Type (RFC 3261 §20.15)")
        sdp_bytes = body
    if sdp_bytes is None:
        return None
    try:
        return parse_sdp(sdp_bytes)
    except DecodeError as error:
        problems.append(f"SDP body: {error}")
        return None


def _compiled_parse() -> Callable[[bytes, Endpoint | None, Endpoint | None, tuple[FrameRef, ...], int],
                                  SipMessage | None] | None:
    """``decoders/_sipparse.c``'s ``parse_plain``: the same ``SipMessage`` as
    ``parse_sip_python`` for a plain message (ASCII head, CRLF lines, no problem), None for the
    rest. None when it was not built, ``PCAPLADDER_PURE_PYTHON`` or ``PCAPLADDER_NO_C_PARSE`` (this
    parse alone, to measure it) is set, or the records' fields are not those it stores
    (``tests/unit/decoders/test_sipparse.py`` fails then)."""
    if os.environ.get("PCAPLADDER_PURE_PYTHON") or os.environ.get("PCAPLADDER_NO_C_PARSE"):
        return None
    try:
        from decoders import _sipparse
    except ImportError:
        return None
    records = (SipMessage, RequestLine, StatusLine, NameAddr, Via, SdpSession, SdpOrigin, SdpMedia, FrameRef)
    if not _sipparse.setup({cls.__name__: cls for cls in records}, canonical_name):
        return None
    return _sipparse.parse_plain


_parse_plain = _compiled_parse()
# ``parse_plain`` of a message of one frame, given as (number, ts_ns, offset): its FrameRef made in
# C (``ladder.capture.messagestore.MessageStore.parsed_all``, where a message's frame is columns).
_parse_at: Callable[[bytes, Endpoint | None, Endpoint | None, int, int, int], SipMessage | None] | None = \
    getattr(sys.modules.get("decoders._sipparse"), "parse_at", None) if _parse_plain is not None else None
