"""SDP session descriptions (RFC 4566) as used by SIP offer/answer (RFC 3264).

``parse_sdp`` accepts CRLF or bare LF lines and skips line types it does not use; a body that
is not SDP at all (no ``v=`` first) or an unusable ``m=``/``o=``/``c=`` line raises ``Malformed``
with reason ``malformed-sdp``. Oddities that do not stop us are listed in ``problems``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from decoders.errors import Malformed
from decoders.memo import remembered_parse
from decoders.numbers import bounded_number
from decoders.quick_init import quick_init

REASON = "malformed-sdp"
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

# RFC 3551 §6, tables 4 and 5: static payload types -> (encoding name, clock rate, channels).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1),
    7: ("LPC", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),  # RFC 3551 §4.5.2: the RTP clock is 8000 although it samples at 16 kHz
    10: ("L16", 44100, 2),
    11: ("L16", 44100, 1),
    12: ("QCELP", 8000, 1),
    13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1),
    15: ("G728", 8000, 1),
    16: ("DVI4", 11025, 1),
    17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1),
    25: ("CelB", 90000, 1),
    26: ("JPEG", 90000, 1),
    28: ("nv", 90000, 1),
    31: ("H261", 90000, 1),
    32: ("MPV", 90000, 1),
    33: ("MP2T", 90000, 1),
    34: ("H263", 90000, 1),
}


def _fail(message: str) -> Malformed:
    return Malformed(message, REASON)


@quick_init
@dataclass(frozen=True, slots=True)
class SdpOrigin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``."""

    username: str
    session_id: str
    version: int
    network_type: str
    address_type: str
    address: str


@quick_init
@dataclass(frozen=True, slots=True)
class SdpMedia:
    """One ``m=`` section with the session-level values it inherits already applied.

    ``rtpmap`` maps a payload type to (encoding, clock rate, channels); a clock rate of 0 means
    the SDP did not give one."""

    kind: str
    port: int
    port_count: int
    proto: str
    formats: tuple[str, ...]
    connection: str | None
    direction: str
    rtpmap: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    fmtp: dict[int, str] = field(default_factory=dict)
    rtcp_port: int | None = None
    rtcp_mux: bool = False
    attributes: tuple[tuple[str, str | None], ...] = ()
    address_type: str | None = None

    @property
    def disabled(self) -> bool:
        """Port 0 rejects or disables the stream (RFC 3264 §6, §8.2)."""
        return self.port == 0

    def payload_types(self) -> tuple[int, ...]:
        """The formats that are RTP payload type numbers."""
        numbers = (bounded_number(fmt, 127) for fmt in self.formats)
        return tuple(number for number in numbers if number is not None)

    def encoding(self, payload_type: int) -> tuple[str, int, int] | None:
        """(encoding, clock rate, channels) from a=rtpmap, else the RFC 3551 static table."""
        return self.rtpmap.get(payload_type) or STATIC_PAYLOAD_TYPES.get(payload_type)

    def codec_names(self) -> list[str]:
        """The formats by name: rtpmap names, RFC 3551 names for static types, else as written."""
        names: list[str] = []
        for fmt in self.formats:
            payload_type = bounded_number(fmt, 127)
            known = self.encoding(payload_type) if payload_type is not None else None
            names.append(known[0] if known else fmt)
        return names

    def attribute(self, name: str) -> str | None:
        for key, value in self.attributes:
            if key == name:
                return value if value is not None else ""
        return None


@quick_init
@dataclass(frozen=True, slots=True)
class SdpSession:
    origin: SdpOrigin | None
    session_name: str | None
    connection: str | None
    direction: str
    media: tuple[SdpMedia, ...]
    attributes: tuple[tuple[str, str | None], ...] = ()
    version: int = 0
    problems: tuple[str, ...] = ()

    def audio(self) -> tuple[SdpMedia, ...]:
        return tuple(media for media in self.media if media.kind == "audio")


def _connection_address(value: str, where: str) -> tuple[str, str]:
    # c=<nettype> <addrtype> <connection-address>; multicast may add /ttl/count (RFC 4566 §5.7)
    parts = value.split()
    if len(parts) != 3:
        raise _fail(f"{where} c= line {value[:60]!r} is not '<nettype> <addrtype> <address>' (RFC 4566 §5.7)")
    return parts[2].split("/", 1)[0], parts[1].upper()


def _origin(value: str) -> SdpOrigin:
    parts = value.split()
    if len(parts) != 6:
        raise _fail(f"o= line {value[:60]!r} does not have 6 fields (RFC 4566 §5.2)")
    username, session_id, version_text, network_type, address_type, address = parts
    # sess-version is a 64-bit NTP-style number in practice (RFC 4566 §5.2)
    version = bounded_number(version_text, 2**64 - 1)
    if version is None:
        raise _fail(f"o= sess-version {version_text[:24]!r} is not a 64-bit number (RFC 4566 §5.2)")
    return SdpOrigin(username, session_id, version, network_type, address_type, address)


class _MediaBuilder:
    """Collects one m= section's lines before the session-level defaults are applied."""

    __slots__ = ("kind", "port", "port_count", "proto", "formats", "connection", "address_type",
                 "direction", "rtpmap", "fmtp", "rtcp_port", "rtcp_mux", "attributes")  # fmt: skip

    def __init__(self, value: str):
        parts = value.split()
        if len(parts) < 3:
            raise _fail(f"m= line {value[:60]!r} lacks <media> <port> <proto> (RFC 4566 §5.14)")
        self.kind = parts[0]
        port_text, slash, count_text = parts[1].partition("/")
        port = bounded_number(port_text, 65535)
        if port is None:
            raise _fail(f"m= port {parts[1][:20]!r} is not a port number (RFC 4566 §5.14)")
        count = bounded_number(count_text, 65535) if slash else 1
        if not count:
            raise _fail(f"m= port count {count_text[:20]!r} is not a positive number (RFC 4566 §5.14)")
        self.port = port
        self.port_count = count
        self.proto = parts[2]
        self.formats = tuple(parts[3:])
        self.connection: str | None = None
        self.address_type: str | None = None
        self.direction: str | None = None
        self.rtpmap: dict[int, tuple[str, int, int]] = {}
        self.fmtp: dict[int, str] = {}
        self.rtcp_port: int | None = None
        self.rtcp_mux = False
        self.attributes: list[tuple[str, str | None]] = []


def _rtpmap(value: str, problems: list[str]) -> tuple[int, tuple[str, int, int]] | None:
    # a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>] (RFC 4566 §6)
    pt_text, _, spec = value.strip().partition(" ")
    pieces = spec.strip().split("/")
    payload_type = bounded_number(pt_text, 127)
    clock = bounded_number(pieces[1].strip(), 2**32 - 1) if len(pieces) > 1 else 0
    channels = bounded_number(pieces[2].strip(), 255) if len(pieces) > 2 and pieces[2] else 1
    if payload_type is None or clock is None or channels is None:
        problems.append(f"a=rtpmap:{value[:40]} is not '<pt> <name>/<rate>[/<channels>]' (RFC 4566 §6)")
        return None
    if not pieces[0]:
        problems.append(f"a=rtpmap:{value[:40]} lacks an encoding name (RFC 4566 §6)")
        return None
    if len(pieces) < 2:
        # Leniency: keep the name (RFC 4475 §3.1.1.1 has "a=rtpmap:31 LPC"); rate 0 = not given.
        problems.append(f"a=rtpmap:{value[:40]} lacks a clock rate (RFC 4566 §6)")
    return payload_type, (pieces[0], clock, channels)


# An offer's and its answer's rtpmap lines repeat in every call (a=rtpmap:8 PCMA/8000): each
# value's parse and problems are remembered (bounded in entries and value length).
_RTPMAP_MEMO: dict[str, tuple[tuple[int, tuple[str, int, int]] | None, tuple[str, ...]]] = {}
_MEMO_ENTRIES = 1024
_MEMO_VALUE_LENGTH = 256


def _remembered_rtpmap(value: str, problems: list[str]) -> tuple[int, tuple[str, int, int]] | None:
    return remembered_parse(_RTPMAP_MEMO, value, len(value), _rtpmap, problems, _MEMO_ENTRIES, _MEMO_VALUE_LENGTH)


def parse_sdp(body: bytes | str) -> SdpSession:
    """Parse an SDP body (RFC 4566). Raises ``Malformed`` (``malformed-sdp``) if it is not SDP."""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray, memoryview)) else body
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first >= len(lines) or not lines[first].startswith("v="):
        raise _fail("body does not start with a v= line, so it is not SDP (RFC 4566 §5)")
    problems: list[str] = []
    version_text = lines[first][2:].strip()
    version = bounded_number(version_text, 255)
    version = -1 if version is None else version
    if version != 0:
        problems.append(f"v={version_text[:10]} is not 0 (RFC 4566 §5.1)")

    origin: SdpOrigin | None = None
    session_name: str | None = None
    connection: str | None = None
    session_address_type: str | None = None
    session_direction: str | None = None
    session_attributes: list[tuple[str, str | None]] = []
    media: list[_MediaBuilder] = []
    for number, line in enumerate(lines[first + 1 :], start=first + 2):
        if not line.strip():
            problems.append(f"line {number} is empty (RFC 4566 §5)")
            continue
        kind, eq, value = line.partition("=")
        if not eq or len(kind) != 1:
            problems.append(f"line {number} {line[:30]!r} is not '<type>=<value>' (RFC 4566 §5)")
            continue
        current = media[-1] if media else None
        if kind == "m":
            media.append(_MediaBuilder(value))
        elif kind == "o":
            origin = _origin(value)
        elif kind == "s":
            session_name = value
        elif kind == "c":
            address, address_type = _connection_address(value, "media" if current else "session")
            if current is None:
                connection, session_address_type = address, address_type
            else:
                current.connection, current.address_type = address, address_type
        elif kind == "a":
            name, colon, attr_value = value.partition(":")
            entry = (name, attr_value if colon else None)
            if current is None:
                session_attributes.append(entry)
                if name in DIRECTIONS:
                    session_direction = name
                continue
            current.attributes.append(entry)
            if name in DIRECTIONS:
                current.direction = name
            elif name == "rtpmap":
                parsed = _remembered_rtpmap(attr_value, problems)
                if parsed is not None:
                    current.rtpmap[parsed[0]] = parsed[1]
            elif name == "fmtp":
                pt_text, _, params = attr_value.partition(" ")
                payload_type = bounded_number(pt_text, 127)
                if payload_type is not None:
                    current.fmtp[payload_type] = params.strip()
                else:
                    problems.append(f"a=fmtp:{attr_value[:30]} has no payload type (RFC 4566 §6)")
            elif name == "rtcp":
                # a=rtcp:<port> [nettype addrtype address] (RFC 3605 §2.1)
                rtcp_port = bounded_number(attr_value.split(" ", 1)[0].strip(), 65535)
                if rtcp_port is not None:
                    current.rtcp_port = rtcp_port
                else:
                    problems.append(f"a=rtcp:{attr_value[:30]} has no port (RFC 3605 §2.1)")
            elif name == "rtcp-mux":
                current.rtcp_mux = True
    if origin is None:
        problems.append("no o= line (RFC 4566 §5.2)")
    direction = session_direction or "sendrecv"
    built = tuple(
        SdpMedia(
            kind=m.kind,
            port=m.port,
            port_count=m.port_count,
            proto=m.proto,
            formats=m.formats,
            connection=m.connection if m.connection is not None else connection,
            direction=m.direction or direction,
            rtpmap=m.rtpmap,
            fmtp=m.fmtp,
            rtcp_port=m.rtcp_port,
            rtcp_mux=m.rtcp_mux,
            attributes=tuple(m.attributes),
            address_type=m.address_type or session_address_type,
        )
        for m in media
    )
    for index, m in enumerate(built, start=1):
        if m.connection is None and m.port != 0:
            problems.append(f"m= section {index} has no c= line and neither has the session (RFC 4566 §5.7)")
    return SdpSession(
        origin=origin,
        session_name=session_name,
        connection=connection,
        direction=direction,
        media=built,
        attributes=tuple(session_attributes),
        version=version,
        problems=tuple(problems),
    )
