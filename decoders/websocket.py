"""WebSocket (RFC 6455) for SIP over WebSocket (RFC 7118): the HTTP Upgrade and the frames.

API:

``parse_http_upgrade(buf, start=0) -> HttpUpgrade | None``
    The HTTP/1.1 message at ``start`` (request ``GET ... HTTP/1.1`` or response
    ``HTTP/1.1 101``) up to its empty line, or None when incomplete. Raises
    ``Malformed(reason="malformed-websocket")`` when it is not an HTTP start line.
``looks_like_http_start(buf, start=0) -> bool``
    Cheap check: a ``GET`` request line or an ``HTTP/1.x`` status line prefix.
``decode_ws_frames(buf, start=0) -> (list[WsFrame], consumed)``
    Every complete frame from ``start`` on, payloads unmasked; ``consumed`` counts the bytes
    those frames used (an incomplete last frame waits for more data). Raises
    ``Malformed(reason="malformed-websocket")`` on a broken frame header.
``WsMessageAssembler.add(frame) -> WsMessage | None``
    Joins a fragmented data message (first frame + continuation frames, RFC 6455 §5.4); control
    frames (close, ping, pong) are ignored as they carry no SIP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from decoders.errors import Malformed

OPCODE_CONTINUATION = 0x0
OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9
OPCODE_PONG = 0xA
_DATA_OPCODES = (OPCODE_CONTINUATION, OPCODE_TEXT, OPCODE_BINARY)
_CONTROL_OPCODES = (OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG)

MAX_FRAME_PAYLOAD = 16 * 1024 * 1024  # a SIP message is far smaller; bounds hostile lengths
MAX_MESSAGE = 16 * 1024 * 1024
MAX_HTTP_HEAD = 16 * 1024

_HTTP_REQUEST_LINE = re.compile(rb"GET [^ \r\n]+ HTTP/1\.[01]\r?\n")
_HTTP_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})[^\r\n]*\r?\n")
_HTTP_HEAD_END = re.compile(rb"\n\r?\n")


@dataclass(frozen=True, slots=True)
class HttpUpgrade:
    """One HTTP/1.1 message of the opening handshake (RFC 6455 §4)."""

    length: int  # bytes up to and including the empty line
    is_request: bool
    status: int | None  # 101 when the server accepts
    headers: tuple[tuple[str, str], ...]  # (lower-case name, value)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def is_websocket(self) -> bool:
        """``Upgrade: websocket`` present (and, for a response, status 101)."""
        upgrade = (self.header("upgrade") or "").lower()
        return "websocket" in upgrade and (self.is_request or self.status == 101)

    @property
    def subprotocols(self) -> tuple[str, ...]:
        """``Sec-WebSocket-Protocol`` values, lower case (RFC 7118 §4: ``sip``)."""
        values = (value for key, value in self.headers if key == "sec-websocket-protocol")
        return tuple(item.strip().lower() for value in values for item in value.split(",") if item.strip())


@dataclass(frozen=True, slots=True)
class WsFrame:
    """One RFC 6455 §5.2 frame; ``payload`` already unmasked; offsets relative to the buffer."""

    fin: bool
    rsv: int  # the three RSV bits (RSV1 = 4 means a compressed permessage-deflate message)
    opcode: int
    masked: bool
    payload: bytes
    offset: int
    length: int  # header + payload bytes on the wire


@dataclass(frozen=True, slots=True)
class WsMessage:
    """A complete data message: its opcode (text or binary), payload, and the wire span
    ``[first_offset, end_offset)`` of the frames that carried it, in the caller's offsets."""

    opcode: int
    payload: bytes
    compressed: bool
    first_offset: int
    end_offset: int


def looks_like_http_start(buf: bytes | bytearray | memoryview, start: int = 0) -> bool:
    head = bytes(buf[start : start + 8])
    return head.startswith(b"GET ") or head.startswith(b"HTTP/1.")


def parse_http_upgrade(buf: bytes | bytearray | memoryview, start: int = 0) -> HttpUpgrade | None:
    """The handshake message at ``start``, or None until its empty line has arrived."""
    window = bytes(buf[start : start + MAX_HTTP_HEAD])
    first_lf = window.find(b"\n")
    if first_lf < 0:
        # A prefix of "GET " or "HTTP/1." may still grow into a handshake line.
        if not (b"GET ".startswith(window[:4]) or b"HTTP/1.".startswith(window[:7])):
            raise Malformed("not an HTTP/1.1 handshake line", reason="malformed-websocket")
        if len(window) >= MAX_HTTP_HEAD:
            raise Malformed(f"HTTP start line longer than {MAX_HTTP_HEAD} bytes", reason="malformed-websocket")
        return None
    line = window[: first_lf + 1]
    request = _HTTP_REQUEST_LINE.fullmatch(line)
    status = _HTTP_STATUS_LINE.fullmatch(line)
    if not request and not status:
        raise Malformed(f"{line[:60]!r} is not an HTTP/1.1 handshake line (RFC 6455 §4.1)", reason="malformed-websocket")
    end = _HTTP_HEAD_END.search(window, first_lf)
    if end is None:
        if len(window) >= MAX_HTTP_HEAD:
            raise Malformed(f"HTTP header block longer than {MAX_HTTP_HEAD} bytes", reason="malformed-websocket")
        return None
    headers = []
    for raw in window[first_lf + 1 : end.start()].split(b"\n"):
        name, colon, value = raw.partition(b":")
        if colon:
            headers.append(
                (name.strip().decode("latin-1").lower(), value.strip().decode("latin-1"))
            )
    return HttpUpgrade(
        length=end.end(),
        is_request=bool(request),
        status=int(status.group(1)) if status else None,
        headers=tuple(headers),
    )


def _unmask(payload: bytes, key: bytes) -> bytes:
    """XOR with the 4-byte masking key (RFC 6455 §5.3), done as one big-integer XOR for speed."""
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(payload), "big")


def decode_ws_frames(buf: bytes | bytearray | memoryview, start: int = 0) -> tuple[list[WsFrame], int]:
    """Decode all complete frames at ``start``; returns them and the bytes they used."""
    frames: list[WsFrame] = []
    position = start
    end = len(buf)
    while end - position >= 2:
        first, second = buf[position], buf[position + 1]
        fin = bool(first & 0x80)
        rsv = (first >> 4) & 0x07
        opcode = first & 0x0F
        masked = bool(second & 0x80)
        length = second & 0x7F
        header = 2
        if opcode not in _DATA_OPCODES and opcode not in _CONTROL_OPCODES:
            raise Malformed(f"reserved WebSocket opcode 0x{opcode:x} (RFC 6455 §5.2)", reason="malformed-websocket")
        if length == 126:
            if end - position < 4:
                break
            length = int.from_bytes(buf[position + 2 : position + 4], "big")
            header = 4
        elif length == 127:
            if end - position < 10:
                break
            length = int.from_bytes(buf[position + 2 : position + 10], "big")
            header = 10
            if length >> 63:
                raise Malformed("64-bit WebSocket length with its top bit set (RFC 6455 §5.2)", reason="malformed-websocket")
        if opcode in _CONTROL_OPCODES and (length > 125 or not fin):
            raise Malformed("fragmented or over-long WebSocket control frame (RFC 6455 §5.5)", reason="malformed-websocket")
        if length > MAX_FRAME_PAYLOAD:
            raise Malformed(f"WebSocket frame of {length} bytes exceeds {MAX_FRAME_PAYLOAD}", reason="malformed-websocket")
        key_length = 4 if masked else 0
        total = header + key_length + length
        if end - position < total:
            break
        payload_start = position + header + key_length
        payload = bytes(buf[payload_start : payload_start + length])
        if masked:
            payload = _unmask(payload, bytes(buf[position + header : payload_start]))
        frames.append(WsFrame(fin, rsv, opcode, masked, payload, position, total))
        position += total
    return frames, position - start


class WsMessageAssembler:
    """Joins data frames into messages for one direction of one connection (RFC 6455 §5.4)."""

    __slots__ = ("_opcode", "_parts", "_size", "_first_offset", "_compressed")

    def __init__(self) -> None:
        self._opcode: int | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self._first_offset = 0
        self._compressed = False

    @property
    def pending_offset(self) -> int | None:
        """Where the unfinished message's first frame began (caller's offsets), or None."""
        return self._first_offset if self._opcode is not None else None

    def add(self, frame: WsFrame, base: int = 0) -> WsMessage | None:
        """Take one frame (``base`` shifts its offsets into the caller's stream offsets)."""
        if frame.opcode in _CONTROL_OPCODES:
            return None  # may be interleaved with fragments (RFC 6455 §5.4); carries no SIP
        if frame.opcode == OPCODE_CONTINUATION:
            if self._opcode is None:
                raise Malformed("continuation frame without a first fragment (RFC 6455 §5.4)", reason="malformed-websocket")
        else:
            if self._opcode is not None:
                self._reset()
                raise Malformed("new data frame before the previous message ended (RFC 6455 §5.4)", reason="malformed-websocket")
            self._opcode = frame.opcode
            self._first_offset = base + frame.offset
            self._compressed = bool(frame.rsv & 0x4)
        self._size += len(frame.payload)
        if self._size > MAX_MESSAGE:
            self._reset()
            raise Malformed(f"WebSocket message larger than {MAX_MESSAGE} bytes", reason="malformed-websocket")
        self._parts.append(frame.payload)
        if not frame.fin:
            return None
        message = WsMessage(
            opcode=self._opcode,
            payload=b"".join(self._parts),
            compressed=self._compressed,
            first_offset=self._first_offset,
            end_offset=base + frame.offset + frame.length,
        )
        self._reset()
        return message

    def _reset(self) -> None:
        self._opcode = None
        self._parts = []
        self._size = 0
        self._compressed = False
