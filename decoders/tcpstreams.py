"""TCP stream reassembly for SIP over TCP (RFC 3261 §18.3) and SIP over WebSocket (RFC 7118):
each direction's bytes put in order here, then framed into messages by ``decoders.streamframing``.

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
Then ``decoders.streamframing`` frames the ordered bytes:

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

from decoders.records import Diagnostic, Endpoint, FrameRef, StreamResult
from decoders.sipframing import SipFraming
from decoders.streamframing import (
    MODE_IGNORED,
    MODE_UNKNOWN,
    MODE_WS_HANDSHAKE,
    SIP_MODES,
    StreamFramer,
    StreamMessage,
)
from decoders.websocket import WsMessageAssembler

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
MAX_CLOSED_REMEMBERED = 4096
# Directions followed at once. Beyond it the oldest is given up (``tcp-connection-limit``), as a
# capture of hundreds of thousands of half-open connections is an attack or a scan, not SIP.
MAX_CONNECTIONS = 100_000

_SEQ_MOD = 1 << 32
_HALF = 1 << 31

class Direction:
    """One direction of one connection: its reassembly state, and its framing state
    (``mode`` onwards in ``__init__``: ``decoders.streamframing``'s)."""

    __slots__ = (
        "src", "dst", "mode", "syn_seen", "next_seq", "next_abs", "buf", "buf_abs", "spans",
        "pending", "pending_bytes", "probes", "assembler", "inflater", "fin", "isn_next",
        "skipped", "framing",
    )

    def __init__(self, src: Endpoint, dst: Endpoint, next_seq: int, syn_seen: bool) -> None:
        self.src = src
        self.dst = dst
        self.mode = MODE_UNKNOWN
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
        self._streams: dict[tuple[str, int, str, int], Direction] = {}
        # Directions closed by FIN/RST -> their final sequence number, so that a segment resent
        # after the FIN is seen as a retransmission, not as a new stream joined mid-way.
        self._closed: dict[tuple[str, int, str, int], int] = {}
        self._diagnostics: list[Diagnostic] = []
        self._framer = StreamFramer(self._diagnostics)

    @property
    def keepalives(self) -> int:
        """RFC 5626 CRLF keep-alives seen on SIP streams."""
        return self._framer.keepalives

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
        framer = self._framer
        framer.begin(frame)
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
        if payload and state.mode != MODE_IGNORED:
            feed_class = self._accept(state, key, seq, payload, frame)
        if flags & (TCP_FIN | TCP_RST):
            state.fin = True
        if state.fin:
            # Closed once every byte before the FIN has arrived (a FIN may overtake data).
            if not state.pending:
                self._finish(state)
                del self._streams[key]
                self._remember_closed(key, state.next_seq)
        elif state.mode == MODE_IGNORED and not state.pending:
            state.buf.clear()
        if feed_class == FEED_SIP_SEGMENT:
            if framer.completed:
                feed_class = FEED_SIP
            elif framer.handshake_seen:
                feed_class = FEED_WS_HANDSHAKE
            elif framer.keepalive_seen and state.mode != MODE_IGNORED and not framer.frame_in_buffer(state):
                feed_class = FEED_SIP_KEEPALIVE
            elif state.mode not in SIP_MODES or state.mode == MODE_WS_HANDSHAKE:
                # An HTTP handshake still incomplete may yet turn out not to be SIP.
                feed_class = FEED_OTHER
        return self._result(feed_class)

    def _result(self, frame_class: str) -> StreamResult[StreamMessage]:
        result = StreamResult(tuple(self._framer.out), frame_class, tuple(self._diagnostics))
        self._diagnostics.clear()
        return result

    def _open(self, key: tuple[str, int, str, int], next_seq: int, syn_seen: bool) -> Direction:
        """A new direction, the oldest one given up first when ``max_connections`` are open."""
        self._streams.pop(key, None)
        while len(self._streams) >= self.max_connections:
            old_key, old = next(iter(self._streams.items()))
            self._finish(old)
            del self._streams[old_key]
            self._framer.diagnose("tcp-connection-limit", None,
                           f"more than {self.max_connections:,} TCP directions open: gave up the oldest, "
                           f"{old.src.address()} -> {old.dst.address()} (--limit tcp-connections=N raises it)")
        state = Direction(Endpoint(key[0], key[1], "tcp"), Endpoint(key[2], key[3], "tcp"), next_seq, syn_seen)
        self._streams[key] = state
        return state

    def flush(self) -> StreamResult[StreamMessage]:
        """End of capture: give up on holes, deliver what follows them, report leftovers."""
        self._framer.begin(None)
        for key, state in list(self._streams.items()):
            while state.pending:
                self._skip_gap(state, "end of capture")
                self._drain_pending(state)
                self._framer.process(state, (key[2], key[3], key[0], key[1]))
            self._finish(state)
        self._streams.clear()
        self._framer.reset()
        self._closed.clear()
        return self._result(FEED_OTHER)

    def buffered_bytes(self) -> int:
        """Bytes held across all streams (in-order buffers and out-of-order segments)."""
        return sum(len(state.buf) + state.pending_bytes for state in self._streams.values())

    # ------------------------------------------------------------------ reassembly

    def _remember_closed(self, key: tuple[str, int, str, int], next_seq: int) -> None:
        self._closed.pop(key, None)
        if len(self._closed) >= MAX_CLOSED_REMEMBERED:
            del self._closed[next(iter(self._closed))]  # the oldest (dicts keep insertion order)
        self._closed[key] = next_seq

    def _accept(self, state: Direction, key: tuple[str, int, str, int], seq: int, payload: bytes,
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
            known = state.mode in SIP_MODES or (state.mode == MODE_UNKNOWN and state.syn_seen)
            max_segments = MAX_PENDING_SEGMENTS if known else MAX_UNKNOWN_PENDING_SEGMENTS
            max_bytes = MAX_PENDING_BYTES if known else MAX_UNKNOWN_PENDING_BYTES
            if len(state.pending) > max_segments or state.pending_bytes > max_bytes:
                self._skip_gap(state, "out-of-order buffer full")
                self._drain_pending(state)
                self._framer.process(state, (key[2], key[3], key[0], key[1]))
            return FEED_SIP_SEGMENT
        self._append(state, payload, frame)
        self._drain_pending(state)
        self._framer.process(state, (key[2], key[3], key[0], key[1]))
        return FEED_SIP_SEGMENT

    def _append(self, state: Direction, payload: bytes, frame: FrameRef) -> None:
        if state.mode == MODE_IGNORED:
            state.next_abs += len(payload)
        else:
            state.buf += payload
            state.spans.append((state.next_abs, state.next_abs + len(payload), frame))
            state.next_abs += len(payload)
        state.next_seq = (state.next_seq + len(payload)) % _SEQ_MOD

    def _drain_pending(self, state: Direction) -> None:
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

    def _skip_gap(self, state: Direction, why: str) -> None:
        """Give up on the hole before the first out-of-order segment."""
        position = min(state.pending)
        missing = position - state.next_abs
        first_frame = state.pending[position][1]
        # A message in progress lost its middle: the framer drops it and looks for the next start line.
        self._framer.lost_sync(state, first_frame, missing, why)
        state.next_seq = (state.next_seq + missing) % _SEQ_MOD
        state.next_abs = position
        state.buf_abs = position

    def _finish(self, state: Direction) -> None:
        """The direction ended (FIN, RST, reuse, end of capture)."""
        self._framer.finish(state)
        state.pending.clear()
