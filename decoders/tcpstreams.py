"""TCP stream reassembly for SIP over TCP (RFC 3261 §18.3) and SIP over WebSocket (RFC 7118).

API (the pipeline owns one ``TcpStreamTable`` per capture)::

    table = TcpStreamTable()
    result = table.feed(src_ip, src_port, dst_ip, dst_port, seq, flags, payload, frame)
    result.messages            # the StreamMessages that segment completed
    result.frame_class         # how to count that frame: one of FEED_CLASSES
    result.diagnostics         # the problems met on the way
    result = table.flush()     # at the end of the capture: the same three
    table.keepalives           # RFC 5626 CRLF keep-alives seen on SIP streams
    table.buffered_bytes()     # memory held (bounded; non-SIP streams hold nothing)

Each direction of a connection is reassembled on its own:

* A SYN sets the initial sequence number; without one (capture began mid-stream) the first
  segment seen sets it, and the stream is joined at the next SIP start line.
* Out-of-order segments wait (bounded: ``MAX_PENDING_SEGMENTS`` / ``MAX_PENDING_BYTES``) until
  the hole is filled. Retransmitted and overlapping bytes are dropped: the bytes received FIRST
  win (the receiving stack also kept the first copy it accepted; a sender that resends different
  bytes for the same sequence numbers is rare and ambiguous anyway). A hole that is never filled
  (bounds exceeded, or end of capture) is a ``tcp-gap`` diagnostic; the stream then resyncs at
  the next SIP start line. A stream not yet known to be SIP gets a much smaller out-of-order
  allowance (``MAX_UNKNOWN_PENDING_*``) unless its SYN was seen.
* A FIN or RST closes the direction once every byte before it has arrived; its final sequence
  number is remembered (``MAX_CLOSED_REMEMBERED`` directions) so that data resent after the FIN
  counts as a retransmission, not as a new stream.
* SIP is recognised by content, not port: a stream whose first bytes are neither a SIP start
  line nor an HTTP Upgrade to WebSocket is ignored at once, without buffering (a stream joined
  mid-way gets ``MID_STREAM_PROBES`` payloads to show a SIP start line).
* SIP messages are framed by Content-Length (``decoders.sipframing``), several per segment or one
  across many. WebSocket streams need the ``Upgrade: websocket`` handshake with
  ``Sec-WebSocket-Protocol: sip`` (or a capture that starts with a frame carrying SIP); each
  text/binary message is one SIP message (RFC 7118 §5.1), transport ``ws``. Compressed
  messages (permessage-deflate, RFC 7692) are inflated.

Frame classes (``StreamResult.frame_class``, each frame exactly one): ``sip`` (completed a message it
carried part of), ``sip-segment`` (bytes of a SIP or SIP-WebSocket stream, nothing completed
here), ``sip-keepalive`` (only RFC 5626 CRLF keep-alives), ``ws-handshake`` (completed the
HTTP Upgrade of a SIP WebSocket), ``tcp-retransmission`` (every byte seen before), ``tcp-other``
(no payload, not SIP, or an HTTP handshake not yet complete).

``StreamMessage.ts_ns`` is the time of the frame that carried the message's last byte;
``frames`` lists every frame that carried part of it, in stream order.

Diagnostic reasons: ``tcp-gap``, ``tcp-mid-stream`` (bytes skipped before the first start line of a
stream joined mid-way), ``malformed-sip``, ``malformed-websocket``,
``websocket-deflate-error``, ``missing-content-length`` (RFC 3261 §18.3 MUST on streams; the body
is taken as empty), ``tcp-incomplete-message`` (stream ended inside a message).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from decoders.errors import Malformed
from decoders.records import Diagnostic, Endpoint, FrameRef, StreamResult
from decoders.sipframing import (
    LENIENCY_MISSING_CONTENT_LENGTH,
    MAX_START_LINE,
    find_sip_start,
    frame_sip_message,
    keepalive_length,
    looks_like_sip_start,
    scan_sip_message,
    SipFraming,
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

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04

# How the pipeline counts the frame just fed (every frame exactly once).
FEED_SIP = "sip"  # completed at least one SIP message that it carried part of
FEED_SIP_SEGMENT = "sip-segment"  # bytes of a SIP/WebSocket stream, no message completed here
FEED_SIP_KEEPALIVE = "sip-keepalive"  # only RFC 5626 CRLF keep-alives
FEED_WS_HANDSHAKE = "ws-handshake"  # completed the HTTP Upgrade of a SIP WebSocket
FEED_RETRANSMISSION = "tcp-retransmission"  # every payload byte had been received before
FEED_OTHER = "tcp-other"  # no payload, a stream that is not SIP, or an unfinished HTTP handshake
FEED_CLASSES = (FEED_SIP, FEED_SIP_SEGMENT, FEED_SIP_KEEPALIVE, FEED_WS_HANDSHAKE, FEED_RETRANSMISSION, FEED_OTHER)

MAX_PENDING_SEGMENTS = 64
MAX_PENDING_BYTES = 1024 * 1024
MAX_UNKNOWN_PENDING_SEGMENTS = 4
MAX_UNKNOWN_PENDING_BYTES = 16 * 1024
MID_STREAM_PROBES = 4
MAX_RESYNC_TAIL = MAX_START_LINE
MAX_UNKNOWN_PREFIX = 512  # bytes held while waiting for the first line of an unknown stream
MAX_EXPECTED_WS = 4096
MAX_CLOSED_REMEMBERED = 4096
# Directions followed at once. Beyond it the oldest is given up (``tcp-connection-limit``), as a
# capture of hundreds of thousands of half-open connections is an attack or a scan, not SIP.
MAX_CONNECTIONS = 100_000

_SEQ_MOD = 1 << 32
_HALF = 1 << 31

# Stream modes.
_UNKNOWN = "unknown"
_SIP = "sip"
_RESYNC = "resync"  # SIP stream that lost sync: looking for the next start line
_WS_HANDSHAKE = "ws-handshake"
_WS = "ws"
_IGNORED = "ignored"
_SIP_MODES = (_SIP, _RESYNC, _WS_HANDSHAKE, _WS)


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


class _Direction:
    """Reassembly state of one direction of one connection."""

    __slots__ = (
        "src", "dst", "mode", "syn_seen", "next_seq", "next_abs", "buf", "buf_abs", "spans",
        "pending", "pending_bytes", "probes", "assembler", "inflater", "fin", "isn_next",
        "skipped", "framing",
    )

    def __init__(self, src: Endpoint, dst: Endpoint, next_seq: int, syn_seen: bool) -> None:
        self.src = src
        self.dst = dst
        self.mode = _UNKNOWN
        self.syn_seen = syn_seen
        self.isn_next = next_seq if syn_seen else None  # ISN + 1: tells a retransmitted SYN from a new one
        self.next_seq = next_seq  # sequence number of the next in-order byte (mod 2**32)
        self.next_abs = 0  # the same, as an absolute stream offset (never wraps)
        self.buf = bytearray()  # in-order bytes not yet consumed; buf[0] is at buf_abs
        self.buf_abs = 0
        self.spans: list[tuple[int, int, FrameRef]] = []  # (abs start, abs end, frame) of bytes in buf
        self.pending: dict[int, tuple[bytes, FrameRef]] = {}  # abs offset -> out-of-order segment
        self.pending_bytes = 0
        self.probes = 0
        self.skipped = 0  # bytes dropped while looking for the first start line mid-stream
        self.framing: SipFraming | None = None  # the message at buf[0] whose body is still arriving
        self.assembler: WsMessageAssembler | None = None
        self.inflater: zlib._Decompress | None = None  # permessage-deflate (RFC 7692), made on first use
        self.fin = False


def _seq_diff(a: int, b: int) -> int:
    """Signed distance a - b in 32-bit sequence space (RFC 793 §3.3 modular comparison)."""
    return ((a - b + _HALF) % _SEQ_MOD) - _HALF


class TcpStreamTable:
    """Every TCP direction seen so far, fed one segment at a time."""

    def __init__(self, max_connections: int = MAX_CONNECTIONS) -> None:
        self.max_connections = max_connections
        self._streams: dict[tuple[str, int, str, int], _Direction] = {}
        self._expected_ws: set[tuple[str, int, str, int]] = set()
        # Directions closed by FIN/RST -> their final sequence number, so that a segment resent
        # after the FIN is seen as a retransmission, not as a new stream joined mid-way.
        self._closed: dict[tuple[str, int, str, int], int] = {}
        self._diagnostics: list[Diagnostic] = []
        self.keepalives = 0
        # Per-feed scratch state.
        self._out: list[StreamMessage] = []
        self._frame: FrameRef | None = None
        self._frame_completed = False
        self._keepalive_seen = False
        self._handshake_seen = False

    # ------------------------------------------------------------------ public API

    def feed(
        self,
        src_ip: str,
        src_port: int,
        dst_ip: str,
        dst_port: int,
        seq: int,
        flags: int,
        payload: bytes,
        frame: FrameRef,
    ) -> StreamResult[StreamMessage]:
        """One TCP segment: the SIP messages it completed (possibly none), how to count its
        frame, and the problems met."""
        self._begin(frame)
        key = (src_ip, src_port, dst_ip, dst_port)
        state = self._streams.get(key)
        if flags & TCP_SYN:
            isn_next = (seq + 1) % _SEQ_MOD
            if state is None or state.isn_next != isn_next:
                if state is not None:
                    self._finish(state)  # a new connection on the same 4-tuple
                state = self._open(key, isn_next, True)
                self._closed.pop(key, None)
            seq = isn_next  # data on a SYN (TCP Fast Open) starts after the SYN's sequence number
        if state is None:
            if not payload:
                return self._result(FEED_OTHER)
            closed_at = self._closed.get(key)
            if closed_at is not None and _seq_diff(seq + len(payload), closed_at) <= 0:
                return self._result(FEED_RETRANSMISSION)  # data resent after the FIN we already saw
            state = self._open(key, seq, False)
        feed_class = FEED_OTHER
        if payload and state.mode != _IGNORED:
            feed_class = self._accept(state, key, seq, payload, frame)
        if flags & (TCP_FIN | TCP_RST):
            state.fin = True
        if state.fin:
            # Closed once every byte before the FIN has arrived (a FIN may overtake data).
            if not state.pending:
                self._finish(state)
                del self._streams[key]
                self._remember_closed(key, state.next_seq)
        elif state.mode == _IGNORED and not state.pending:
            state.buf.clear()
        if feed_class == FEED_SIP_SEGMENT:
            if self._frame_completed:
                feed_class = FEED_SIP
            elif self._handshake_seen:
                feed_class = FEED_WS_HANDSHAKE
            elif self._keepalive_seen and state.mode != _IGNORED and not self._frame_in_buffer(state):
                feed_class = FEED_SIP_KEEPALIVE
            elif state.mode not in _SIP_MODES or state.mode == _WS_HANDSHAKE:
                # An HTTP handshake still incomplete may yet turn out not to be SIP.
                feed_class = FEED_OTHER
        return self._result(feed_class)

    def _result(self, frame_class: str) -> StreamResult[StreamMessage]:
        result = StreamResult(tuple(self._out), frame_class, tuple(self._diagnostics))
        self._diagnostics = []
        return result

    def _open(self, key: tuple[str, int, str, int], next_seq: int, syn_seen: bool) -> _Direction:
        """A new direction, the oldest one given up first when ``max_connections`` are open."""
        self._streams.pop(key, None)
        while len(self._streams) >= self.max_connections:
            old_key, old = next(iter(self._streams.items()))
            self._finish(old)
            del self._streams[old_key]
            self._diagnose("tcp-connection-limit", self._frame,
                           f"more than {self.max_connections:,} TCP directions open: gave up the oldest, "
                           f"{old.src.address()} -> {old.dst.address()} (--limit tcp-connections=N raises it)")
        state = _Direction(Endpoint(key[0], key[1], "tcp"), Endpoint(key[2], key[3], "tcp"), next_seq, syn_seen)
        self._streams[key] = state
        return state

    def flush(self) -> StreamResult[StreamMessage]:
        """End of capture: give up on holes, deliver what follows them, report leftovers."""
        self._begin(None)
        for key, state in list(self._streams.items()):
            while state.pending:
                self._skip_gap(state, "end of capture")
                self._drain_pending(state)
                self._process(state, (key[2], key[3], key[0], key[1]))
            self._finish(state)
        self._streams.clear()
        self._expected_ws.clear()
        self._closed.clear()
        return self._result(FEED_OTHER)

    def buffered_bytes(self) -> int:
        """Bytes held across all streams (in-order buffers and out-of-order segments)."""
        return sum(len(state.buf) + state.pending_bytes for state in self._streams.values())

    # ------------------------------------------------------------------ reassembly

    def _begin(self, frame: FrameRef | None) -> None:
        self._out = []
        self._frame = frame
        self._frame_completed = False
        self._keepalive_seen = False
        self._handshake_seen = False

    def _remember_closed(self, key: tuple[str, int, str, int], next_seq: int) -> None:
        self._closed.pop(key, None)
        if len(self._closed) >= MAX_CLOSED_REMEMBERED:
            del self._closed[next(iter(self._closed))]  # the oldest (dicts keep insertion order)
        self._closed[key] = next_seq

    def _diagnose(self, reason: str, frame: FrameRef | None, detail: str) -> None:
        number = frame.number if frame is not None else (self._frame.number if self._frame else 0)
        self._diagnostics.append(Diagnostic(reason, number, detail))

    def _accept(self, state: _Direction, key: tuple[str, int, str, int], seq: int, payload: bytes,
                frame: FrameRef) -> str:
        offset = _seq_diff(seq, state.next_seq)
        if offset < 0:
            if offset + len(payload) <= 0:
                return FEED_RETRANSMISSION
            payload = payload[-offset:]  # overlap: keep the bytes received first
            offset = 0
        if offset > 0:
            position = state.next_abs + offset
            held = state.pending.get(position)
            if held is not None and len(held[0]) >= len(payload):
                return FEED_RETRANSMISSION
            if held is not None:
                state.pending_bytes -= len(held[0])
            state.pending[position] = (payload, frame)
            state.pending_bytes += len(payload)
            # A stream not yet known to carry SIP gets a small out-of-order allowance only.
            known = state.mode in _SIP_MODES or (state.mode == _UNKNOWN and state.syn_seen)
            max_segments = MAX_PENDING_SEGMENTS if known else MAX_UNKNOWN_PENDING_SEGMENTS
            max_bytes = MAX_PENDING_BYTES if known else MAX_UNKNOWN_PENDING_BYTES
            if len(state.pending) > max_segments or state.pending_bytes > max_bytes:
                self._skip_gap(state, "out-of-order buffer full")
                self._drain_pending(state)
                self._process(state, (key[2], key[3], key[0], key[1]))
            return FEED_SIP_SEGMENT
        self._append(state, payload, frame)
        self._drain_pending(state)
        self._process(state, (key[2], key[3], key[0], key[1]))
        return FEED_SIP_SEGMENT

    def _append(self, state: _Direction, payload: bytes, frame: FrameRef) -> None:
        if state.mode == _IGNORED:
            state.next_abs += len(payload)
        else:
            state.buf += payload
            state.spans.append((state.next_abs, state.next_abs + len(payload), frame))
            state.next_abs += len(payload)
        state.next_seq = (state.next_seq + len(payload)) % _SEQ_MOD

    def _drain_pending(self, state: _Direction) -> None:
        """Move out-of-order segments that now touch the in-order edge into the buffer."""
        while state.pending:
            position = min(state.pending)
            if position > state.next_abs:
                return
            payload, frame = state.pending.pop(position)
            state.pending_bytes -= len(payload)
            overlap = state.next_abs - position
            if overlap < len(payload):
                self._append(state, payload[overlap:], frame)

    def _skip_gap(self, state: _Direction, why: str) -> None:
        """Give up on the hole before the first out-of-order segment."""
        position = min(state.pending)
        missing = position - state.next_abs
        first_frame = state.pending[position][1]
        if state.mode in _SIP_MODES:  # a hole in a stream not known to be SIP is not our concern
            self._diagnose(
                "tcp-gap",
                first_frame,
                f"{missing} bytes of {state.src.address()} -> {state.dst.address()} never captured ({why})",
            )
        state.next_seq = (state.next_seq + missing) % _SEQ_MOD
        state.next_abs = position
        # A message in progress lost its middle: drop it and look for the next start line.
        state.buf.clear()
        state.spans.clear()
        state.framing = None
        state.buf_abs = position
        state.syn_seen = False  # what follows is joined mid-stream
        if state.assembler is not None:
            state.assembler = WsMessageAssembler()
        if state.mode in (_SIP, _RESYNC):
            state.mode = _RESYNC
        elif state.mode in (_WS, _WS_HANDSHAKE):
            # WebSocket frame boundaries cannot be found again inside a stream.
            self._diagnose("malformed-websocket", first_frame, "WebSocket stream lost its framing after a TCP gap")
            state.mode = _IGNORED

    # ------------------------------------------------------------------ framing

    def _process(self, state: _Direction, reverse_key: tuple[str, int, str, int]) -> None:
        """Cut every complete message out of the in-order buffer."""
        position = 0
        while True:
            mode = state.mode
            if mode == _UNKNOWN:
                position = self._classify(state, position)
                if state.mode == _UNKNOWN:
                    break
            elif mode == _SIP:
                advanced = self._next_sip(state, position)
                if advanced is None:
                    break
                position = advanced
            elif mode == _RESYNC:
                found = find_sip_start(state.buf, position)
                if found is None:
                    # Keep only the last partial line: a start line can only begin after an LF.
                    tail = state.buf.rfind(b"\n")
                    keep_from = max(position, tail + 1 if tail >= 0 else position, len(state.buf) - MAX_RESYNC_TAIL)
                    position = keep_from
                    break
                position = found
                state.mode = _SIP
            elif mode == _WS_HANDSHAKE:
                advanced = self._handshake(state, position, reverse_key)
                if advanced is None:
                    break
                position = advanced
            elif mode == _WS:
                position = self._next_ws(state, position)
                break
            else:  # ignored
                position = len(state.buf)
                break
        self._consume(state, position)

    def _consume(self, state: _Direction, count: int) -> None:
        if count <= 0:
            return
        del state.buf[:count]
        state.buf_abs += count
        keep_from = state.buf_abs
        if state.assembler is not None and state.assembler.pending_offset is not None:
            # A fragmented WebSocket message still needs the frames of its first fragments.
            keep_from = min(keep_from, state.assembler.pending_offset)
        state.spans = [span for span in state.spans if span[1] > keep_from]

    def _frames_between(self, state: _Direction, start: int, end: int) -> tuple[FrameRef, ...]:
        """Frames that carried buffer bytes [start, end) (buffer offsets)."""
        return self._frames_between_abs(state, state.buf_abs + start, state.buf_abs + end)

    @staticmethod
    def _frames_between_abs(state: _Direction, low: int, high: int) -> tuple[FrameRef, ...]:
        """Frames that carried stream bytes [low, high) (absolute offsets)."""
        frames: list[FrameRef] = []
        for span_start, span_end, frame in state.spans:
            if span_start < high and span_end > low and frame not in frames:
                frames.append(frame)
        return tuple(frames)

    def _frame_in_buffer(self, state: _Direction) -> bool:
        """Did the current frame leave bytes (other than keep-alives) waiting in the buffer?"""
        return any(frame is self._frame for _, _, frame in state.spans) and bool(
            len(state.buf) - keepalive_length(state.buf)
        )

    def _emit(self, state: _Direction, start: int, end: int, transport: str, leniencies: tuple[str, ...] = ()) -> None:
        frames = self._frames_between(state, start, end)
        if self._frame is not None and any(frame is self._frame for frame in frames):
            self._frame_completed = True
        src, dst = state.src, state.dst
        if transport != "tcp":
            src = Endpoint(src.ip, src.port, transport)
            dst = Endpoint(dst.ip, dst.port, transport)
        ts_ns = frames[-1].ts_ns if frames else (self._frame.ts_ns if self._frame else 0)
        self._out.append(StreamMessage(bytes(state.buf[start:end]), frames, transport, src, dst, ts_ns, leniencies))

    def _classify(self, state: _Direction, position: int) -> int:
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
            state.mode = _WS_HANDSHAKE
            return position
        line_end = buf.find(b"\n", position)
        if line_end < 0 and len(buf) - position < MAX_UNKNOWN_PREFIX and self._could_be_start(buf, position):
            return position  # wait for the rest of the first line
        if line_end >= 0 and looks_like_sip_start(buf, position):
            state.mode = _SIP
            return position
        if not state.syn_seen:
            # Joined mid-stream: the first bytes may be the tail of a message. WebSocket first,
            # as an unmasked frame can carry a SIP start line a few bytes in.
            if self._starts_with_sip_ws_frame(buf, position):
                state.mode = _WS
                state.assembler = WsMessageAssembler()
                return position
            found = find_sip_start(buf, position)
            if found is not None:
                state.mode = _SIP
                skipped = state.skipped + found - position
                if skipped:
                    joined_at = self._frames_between(state, found, found + 1)
                    self._diagnose(
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
        state.mode = _IGNORED
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

    def _next_sip(self, state: _Direction, position: int) -> int | None:
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
                self._diagnose(error.reason, culprit[0] if culprit else self._frame, str(error))
                state.mode = _RESYNC
                return position + max(1, keepalive_length(buf, position))
            if framing is None:
                skipped = keepalive_length(buf, position)
                if skipped and skipped == len(buf) - position:
                    self._keepalive_seen = True
                    self.keepalives += 1
                    return position + skipped
                return None
            if len(buf) - position < framing.length:
                state.framing = framing  # _process leaves buf starting at this message
                return None
        if framing.keepalive:
            self._keepalive_seen = True
            self.keepalives += 1
        start = position + framing.keepalive
        end = position + framing.length
        self._emit(state, start, end, "tcp", framing.leniencies)
        if LENIENCY_MISSING_CONTENT_LENGTH in framing.leniencies:
            self._diagnose(
                "missing-content-length",
                self._out[-1].frames[-1] if self._out[-1].frames else self._frame,
                "SIP message over TCP without Content-Length (RFC 3261 §18.3 MUST); body taken as empty",
            )
        return end

    def _handshake(self, state: _Direction, position: int, reverse_key: tuple[str, int, str, int]) -> int | None:
        try:
            upgrade = parse_http_upgrade(state.buf, position)
        except Malformed:
            state.mode = _IGNORED  # plain HTTP, not a WebSocket handshake: not ours
            return len(state.buf)
        if upgrade is None:
            return None
        own_key = (state.src.ip, state.src.port, state.dst.ip, state.dst.port)
        is_sip = "sip" in upgrade.subprotocols or own_key in self._expected_ws
        if not (upgrade.is_websocket and is_sip):
            state.mode = _IGNORED
            return len(state.buf)
        if upgrade.is_request and len(self._expected_ws) < MAX_EXPECTED_WS:
            self._expected_ws.add(reverse_key)
        self._expected_ws.discard(own_key)
        self._handshake_seen = True
        state.mode = _WS
        state.assembler = WsMessageAssembler()
        return position + upgrade.length

    def _next_ws(self, state: _Direction, position: int) -> int:
        """Decode every complete WebSocket frame; returns the position after them."""
        try:
            frames, consumed = decode_ws_frames(state.buf, position)
        except Malformed as error:
            self._diagnose(error.reason, self._frame, str(error))
            state.mode = _IGNORED
            return len(state.buf)
        assembler = state.assembler
        if assembler is None:  # set whenever the mode becomes _WS: only for the type checker
            assembler = state.assembler = WsMessageAssembler()
        for frame in frames:
            try:
                message = assembler.add(frame, base=state.buf_abs)
            except Malformed as error:
                self._diagnose(error.reason, self._frame, str(error))
                continue
            if message is not None:
                self._emit_ws(state, message)
        return position + consumed

    def _emit_ws(self, state: _Direction, message: WsMessage) -> None:
        payload = message.payload
        frames = self._frames_between_abs(state, message.first_offset, message.end_offset)
        if message.compressed:
            # RFC 7692 §7.2.2: append 00 00 ff ff and inflate; the window carries across messages.
            if state.inflater is None:
                state.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                payload = state.inflater.decompress(payload + b"\x00\x00\xff\xff")
            except zlib.error as error:
                self._diagnose("websocket-deflate-error", frames[-1] if frames else self._frame, f"permessage-deflate: {error}")
                return
        skipped = keepalive_length(payload)
        if skipped == len(payload):
            self._keepalive_seen = True
            self.keepalives += 1
            return
        if not looks_like_sip_start(payload):
            self._diagnose(
                "malformed-sip",
                frames[-1] if frames else self._frame,
                f"WebSocket message {payload[:40]!r} does not start with a SIP start line (RFC 7118 §5.1)",
            )
            return
        if self._frame is not None and any(frame is self._frame for frame in frames):
            self._frame_completed = True
        src = Endpoint(state.src.ip, state.src.port, "ws")
        dst = Endpoint(state.dst.ip, state.dst.port, "ws")
        ts_ns = frames[-1].ts_ns if frames else (self._frame.ts_ns if self._frame else 0)
        self._out.append(StreamMessage(payload[skipped:], frames, "ws", src, dst, ts_ns))

    def _finish(self, state: _Direction) -> None:
        """The direction ended (FIN, RST, reuse, end of capture): report a message cut short."""
        if state.mode in _SIP_MODES and len(state.buf) > keepalive_length(state.buf):
            frame = state.spans[-1][2] if state.spans else self._frame
            self._diagnose(
                "tcp-incomplete-message",
                frame,
                f"{len(state.buf)} bytes of an unfinished message on {state.src.address()} -> {state.dst.address()}",
            )
        state.buf.clear()
        state.spans.clear()
        state.pending.clear()
        state.framing = None
