"""Framing a TCP direction's reassembled bytes into SIP messages: by Content-Length (RFC 3261
§18.3, ``decoders.sipframing``), or as WebSocket messages that carry SIP (RFC 7118), once the
first bytes have told whether the stream carries either.

``decoders.tcpstreams`` puts each direction's bytes in order (``Direction.buf``) and calls
``StreamFramer.process``: every complete message is cut out (``StreamFramer.out``) and its bytes
consumed, and the framer notes what the frame just fed did (completed a message, carried only
keep-alives, finished a WebSocket handshake) so the frame can be classed. After a hole in the
stream (``lost_sync``) a SIP stream looks for the next start line; a WebSocket stream cannot be
resynchronised and is given up. Diagnostic reasons are listed in ``decoders.tcpstreams``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from decoders.errors import Malformed
from decoders.records import Diagnostic, Endpoint, FrameRef
from decoders.sipframing import (
    LENIENCY_MISSING_CONTENT_LENGTH,
    MAX_START_LINE,
    find_sip_start,
    frame_sip_message,
    keepalive_length,
    looks_like_sip_start,
    scan_sip_message,
)
from decoders.websocket import (
    OPCODE_BINARY,
    OPCODE_TEXT,
    WsMessage,
    WsMessageAssembler,
    decode_ws_frames,
    looks_like_http_start,
    parse_http_upgrade,
)

if TYPE_CHECKING:
    from decoders.tcpstreams import Direction

MID_STREAM_PROBES = 4
MAX_RESYNC_TAIL = MAX_START_LINE
MAX_UNKNOWN_PREFIX = 512  # bytes held while waiting for the first line of an unknown stream
MAX_EXPECTED_WS = 4096

# What a direction is known to carry (``Direction.mode``).
MODE_UNKNOWN = "unknown"
MODE_SIP = "sip"
MODE_RESYNC = "resync"  # SIP stream that lost sync: looking for the next start line
MODE_WS_HANDSHAKE = "ws-handshake"
MODE_WS = "ws"
MODE_IGNORED = "ignored"
SIP_MODES = (MODE_SIP, MODE_RESYNC, MODE_WS_HANDSHAKE, MODE_WS)


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One SIP message cut out of a TCP (or WebSocket) stream."""

    payload: bytes
    frames: tuple[FrameRef, ...]
    transport: str  # "tcp" or "ws"
    src: Endpoint
    dst: Endpoint
    ts_ns: int
    leniencies: tuple[str, ...] = ()


class StreamFramer:
    """Frames every direction of one capture's TCP streams; ``diagnostics`` collects problems."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self._diagnostics = diagnostics
        # Directions whose WebSocket handshake request was seen: the answer is SIP too.
        self._expected_ws: set[tuple[str, int, str, int]] = set()
        self.keepalives = 0  # RFC 5626 CRLF keep-alives seen on SIP streams
        # What the frame being fed did (``begin`` resets it).
        self.out: list[StreamMessage] = []
        self._frame: FrameRef | None = None
        self.completed = False  # it completed a message it carried part of
        self.keepalive_seen = False
        self.handshake_seen = False

    def begin(self, frame: FrameRef | None) -> None:
        """A new frame (None: the end of the capture)."""
        self.out = []
        self._frame = frame
        self.completed = False
        self.keepalive_seen = False
        self.handshake_seen = False

    def reset(self) -> None:
        """The end of the capture: no handshake answer is awaited any more."""
        self._expected_ws.clear()

    def diagnose(self, reason: str, frame: FrameRef | None, detail: str) -> None:
        """One problem, at ``frame`` (None: the frame being fed)."""
        number = frame.number if frame is not None else (self._frame.number if self._frame else 0)
        self._diagnostics.append(Diagnostic(reason, number, detail))

    def lost_sync(self, state: Direction, first_frame: FrameRef, missing: int, why: str) -> None:
        """``missing`` bytes before ``first_frame`` will never come: drop the message in progress."""
        if state.mode in SIP_MODES:  # a hole in a stream not known to be SIP is not our concern
            self.diagnose("tcp-gap", first_frame,
                          f"{missing} bytes of {state.src.address()} -> {state.dst.address()} never captured ({why})")
        state.buf.clear()
        state.spans.clear()
        state.framing = None
        state.syn_seen = False  # what follows is joined mid-stream
        if state.assembler is not None:
            state.assembler = WsMessageAssembler()
        if state.mode in (MODE_SIP, MODE_RESYNC):
            state.mode = MODE_RESYNC
        elif state.mode in (MODE_WS, MODE_WS_HANDSHAKE):
            # WebSocket frame boundaries cannot be found again inside a stream.
            self.diagnose("malformed-websocket", first_frame, "WebSocket stream lost its framing after a TCP gap")
            state.mode = MODE_IGNORED

    def finish(self, state: Direction) -> None:
        """The direction ended (FIN, RST, reuse, end of capture): report a message cut short."""
        if state.mode in SIP_MODES and len(state.buf) > keepalive_length(state.buf):
            frame = state.spans[-1][2] if state.spans else self._frame
            self.diagnose(
                "tcp-incomplete-message",
                frame,
                f"{len(state.buf)} bytes of an unfinished message on {state.src.address()} -> {state.dst.address()}",
            )
        state.buf.clear()
        state.spans.clear()
        state.framing = None

    def process(self, state: Direction, reverse_key: tuple[str, int, str, int]) -> None:
        """Cut every complete message out of the in-order buffer."""
        position = 0
        while True:
            mode = state.mode
            if mode == MODE_UNKNOWN:
                position = self._classify(state, position)
                if state.mode == MODE_UNKNOWN:
                    break
            elif mode == MODE_SIP:
                advanced = self._next_sip(state, position)
                if advanced is None:
                    break
                position = advanced
            elif mode == MODE_RESYNC:
                found = find_sip_start(state.buf, position)
                if found is None:
                    # Keep only the last partial line: a start line can only begin after an LF.
                    tail = state.buf.rfind(b"\n")
                    keep_from = max(position, tail + 1 if tail >= 0 else position, len(state.buf) - MAX_RESYNC_TAIL)
                    position = keep_from
                    break
                position = found
                state.mode = MODE_SIP
            elif mode == MODE_WS_HANDSHAKE:
                advanced = self._handshake(state, position, reverse_key)
                if advanced is None:
                    break
                position = advanced
            elif mode == MODE_WS:
                position = self._next_ws(state, position)
                break
            else:  # ignored
                position = len(state.buf)
                break
        self._consume(state, position)


    def _consume(self, state: Direction, count: int) -> None:
        if count <= 0:
            return
        del state.buf[:count]
        state.buf_abs += count
        keep_from = state.buf_abs
        if state.assembler is not None and state.assembler.pending_offset is not None:
            # A fragmented WebSocket message still needs the frames of its first fragments.
            keep_from = min(keep_from, state.assembler.pending_offset)
        state.spans = [span for span in state.spans if span[1] > keep_from]


    def _frames_between(self, state: Direction, start: int, end: int) -> tuple[FrameRef, ...]:
        """Frames that carried buffer bytes [start, end) (buffer offsets)."""
        return self._frames_between_abs(state, state.buf_abs + start, state.buf_abs + end)


    @staticmethod
    def _frames_between_abs(state: Direction, low: int, high: int) -> tuple[FrameRef, ...]:
        """Frames that carried stream bytes [low, high) (absolute offsets)."""
        frames: list[FrameRef] = []
        for span_start, span_end, frame in state.spans:
            if span_start < high and span_end > low and frame not in frames:
                frames.append(frame)
        return tuple(frames)


    def frame_in_buffer(self, state: Direction) -> bool:
        """Did the current frame leave bytes (other than keep-alives) waiting in the buffer?"""
        return any(frame is self._frame for _, _, frame in state.spans) and bool(
            len(state.buf) - keepalive_length(state.buf)
        )


    def _emit(self, state: Direction, start: int, end: int, transport: str, leniencies: tuple[str, ...] = ()) -> None:
        frames = self._frames_between(state, start, end)
        if self._frame is not None and any(frame is self._frame for frame in frames):
            self.completed = True
        src, dst = state.src, state.dst
        if transport != "tcp":
            src = Endpoint(src.ip, src.port, transport)
            dst = Endpoint(dst.ip, dst.port, transport)
        ts_ns = frames[-1].ts_ns if frames else (self._frame.ts_ns if self._frame else 0)
        self.out.append(StreamMessage(bytes(state.buf[start:end]), frames, transport, src, dst, ts_ns, leniencies))


    def _classify(self, state: Direction, position: int) -> int:
        """Decide from its first bytes whether a stream carries SIP; returns the new position."""
        buf = state.buf
        # Leading CR/LF tell nothing yet (FTP, SMTP, HTTP send them too): step over them
        # without counting keep-alives until the stream is known to be SIP.
        position += keepalive_length(buf, position)
        if position >= len(buf):
            return position
        head = bytes(buf[position : position + 7])
        if (len(head) < 4 and b"GET ".startswith(head)) or (len(head) < 7 and b"HTTP/1.".startswith(head)):
            return position  # too short to tell an HTTP handshake from a SIP start line yet
        if looks_like_http_start(buf, position):
            state.mode = MODE_WS_HANDSHAKE
            return position
        line_end = buf.find(b"\n", position)
        if line_end < 0 and len(buf) - position < MAX_UNKNOWN_PREFIX and self._could_be_start(buf, position):
            return position  # wait for the rest of the first line
        if line_end >= 0 and looks_like_sip_start(buf, position):
            state.mode = MODE_SIP
            return position
        if not state.syn_seen:
            # Joined mid-stream: the first bytes may be the tail of a message. WebSocket first,
            # as an unmasked frame can carry a SIP start line a few bytes in.
            if self._starts_with_sip_ws_frame(buf, position):
                state.mode = MODE_WS
                state.assembler = WsMessageAssembler()
                return position
            found = find_sip_start(buf, position)
            if found is not None:
                state.mode = MODE_SIP
                skipped = state.skipped + found - position
                if skipped:
                    joined_at = self._frames_between(state, found, found + 1)
                    self.diagnose(
                        "tcp-mid-stream",
                        joined_at[0] if joined_at else self._frame,
                        f"{skipped} bytes before the first SIP start line of "
                        f"{state.src.address()} -> {state.dst.address()} (capture began inside a message)",
                    )
                return found
            state.probes += 1
            if state.probes < MID_STREAM_PROBES:
                tail = buf.rfind(b"\n")
                keep_from = max(position, tail + 1, len(buf) - MAX_UNKNOWN_PREFIX)
                state.skipped += keep_from - position
                return keep_from
        state.mode = MODE_IGNORED
        state.pending.clear()
        state.pending_bytes = 0
        state.spans.clear()
        return len(buf)


    @staticmethod
    def _could_be_start(buf: bytearray, position: int) -> bool:
        try:
            frame_sip_message(buf[position : position + MAX_UNKNOWN_PREFIX])
        except Malformed:
            return False
        return True


    @staticmethod
    def _starts_with_sip_ws_frame(buf: bytearray, position: int) -> bool:
        try:
            frames, _ = decode_ws_frames(buf, position)
        except Malformed:
            return False
        return bool(frames) and frames[0].opcode in (OPCODE_TEXT, OPCODE_BINARY) and looks_like_sip_start(frames[0].payload)


    def _next_sip(self, state: Direction, position: int) -> int | None:
        """Frame one SIP message at ``position``; None when more data is needed."""
        buf = state.buf
        framing = state.framing
        if framing is not None:
            # Headers already scanned: wait for the body without rescanning them.
            if len(buf) - position < framing.length:
                return None
            state.framing = None
        else:
            try:
                framing = scan_sip_message(buf, position)
            except Malformed as error:
                culprit = self._frames_between(state, position, position + 1)
                self.diagnose(error.reason, culprit[0] if culprit else self._frame, str(error))
                state.mode = MODE_RESYNC
                return position + max(1, keepalive_length(buf, position))
            if framing is None:
                skipped = keepalive_length(buf, position)
                if skipped and skipped == len(buf) - position:
                    self.keepalive_seen = True
                    self.keepalives += 1
                    return position + skipped
                return None
            if len(buf) - position < framing.length:
                state.framing = framing  # _process leaves buf starting at this message
                return None
        if framing.keepalive:
            self.keepalive_seen = True
            self.keepalives += 1
        start = position + framing.keepalive
        end = position + framing.length
        self._emit(state, start, end, "tcp", framing.leniencies)
        if LENIENCY_MISSING_CONTENT_LENGTH in framing.leniencies:
            self.diagnose(
                "missing-content-length",
                self.out[-1].frames[-1] if self.out[-1].frames else self._frame,
                "SIP message over TCP without Content-Length (RFC 3261 §18.3 MUST); body taken as empty",
            )
        return end


    def _handshake(self, state: Direction, position: int, reverse_key: tuple[str, int, str, int]) -> int | None:
        try:
            upgrade = parse_http_upgrade(state.buf, position)
        except Malformed:
            state.mode = MODE_IGNORED  # plain HTTP, not a WebSocket handshake: not ours
            return len(state.buf)
        if upgrade is None:
            return None
        own_key = (state.src.ip, state.src.port, state.dst.ip, state.dst.port)
        is_sip = "sip" in upgrade.subprotocols or own_key in self._expected_ws
        if not (upgrade.is_websocket and is_sip):
            state.mode = MODE_IGNORED
            return len(state.buf)
        if upgrade.is_request and len(self._expected_ws) < MAX_EXPECTED_WS:
            self._expected_ws.add(reverse_key)
        self._expected_ws.discard(own_key)
        self.handshake_seen = True
        state.mode = MODE_WS
        state.assembler = WsMessageAssembler()
        return position + upgrade.length


    def _next_ws(self, state: Direction, position: int) -> int:
        """Decode every complete WebSocket frame; returns the position after them."""
        try:
            frames, consumed = decode_ws_frames(state.buf, position)
        except Malformed as error:
            self.diagnose(error.reason, self._frame, str(error))
            state.mode = MODE_IGNORED
            return len(state.buf)
        assembler = state.assembler
        if assembler is None:  # set whenever the mode becomes MODE_WS: only for the type checker
            assembler = state.assembler = WsMessageAssembler()
        for frame in frames:
            try:
                message = assembler.add(frame, base=state.buf_abs)
            except Malformed as error:
                self.diagnose(error.reason, self._frame, str(error))
                continue
            if message is not None:
                self._emit_ws(state, message)
        return position + consumed


    def _emit_ws(self, state: Direction, message: WsMessage) -> None:
        payload = message.payload
        frames = self._frames_between_abs(state, message.first_offset, message.end_offset)
        if message.compressed:
            # RFC 7692 §7.2.2: append 00 00 ff ff and inflate; the window carries across messages.
            if state.inflater is None:
                state.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                payload = state.inflater.decompress(payload + b"\x00\x00\xff\xff")
            except zlib.error as error:
                self.diagnose("websocket-deflate-error", frames[-1] if frames else self._frame, f"permessage-deflate: {error}")
                return
        skipped = keepalive_length(payload)
        if skipped == len(payload):
            self.keepalive_seen = True
            self.keepalives += 1
            return
        if not looks_like_sip_start(payload):
            self.diagnose(
                "malformed-sip",
                frames[-1] if frames else self._frame,
                f"WebSocket message {payload[:40]!r} does not start with a SIP start line (RFC 7118 §5.1)",
            )
            return
        if self._frame is not None and any(frame is self._frame for frame in frames):
            self.completed = True
        src = Endpoint(state.src.ip, state.src.port, "ws")
        dst = Endpoint(state.dst.ip, state.dst.port, "ws")
        ts_ns = frames[-1].ts_ns if frames else (self._frame.ts_ns if self._frame else 0)
        self.out.append(StreamMessage(payload[skipped:], frames, "ws", src, dst, ts_ns))

