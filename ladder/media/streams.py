"""RTP streams: constant-size per-stream accumulators fed one UDP datagram at a time.

The pipeline drives one ``RtpStreamTable`` per capture through exactly these calls::

    table = RtpStreamTable()
    table.feed_udp(src_ip: str, src_port: int, dst_ip: str, dst_port: int, ts_ns: int,
                   frame_no: int, buf: bytes, off: int, end: int) -> None
        # every UDP datagram that is not SIP or HEP; buf[off:end] is the UDP payload
    table.expect_sdp(msg) -> None
        # every SIP message with SDP (decoders.sip.SipMessage: .sdp .src .dst .ts_ns .call_id)
    table.announcements_waiting() -> None
        # the accelerator's SIP first pass holds SDP bodies: heard before the next datagram
    table.finish() -> list[RtpStream]
    table.counts() -> dict  # {"rtp": n, "rtcp": n, "other": n}; they add up to the datagrams fed

Which datagrams are RTP (the heuristic, RFC 3550 Appendix A.1 in spirit):
  * The header must pass ``decoders.rtp.classify_rtp`` (version 2, PT not 72..76, CSRC list,
    extension and padding inside the datagram).
  * A datagram to or from an address:port announced in SDP (``expect_sdp``) is RTP at once.
  * A new SSRC on a 4-tuple that already carries a confirmed stream is RTP after
    ``SSRC_CHANGE_CONFIRM_AFTER`` (2) consistent packets (an SSRC change, counted on the new
    stream).
  * SDP media that is not RTP (``m=image ... udptl t38``) withdraws its address:port from the
    SDP set, so T.38 after a re-INVITE is not taken for RTP on the SDP's word.
  * Otherwise the 4-tuple and SSRC are a *candidate* until ``CONFIRM_AFTER`` (4) consecutive packets have
    the same payload type, sequence numbers rising by 1..``MAX_SEQ_STEP`` and
    timestamps not going back nor leaping more than ``MAX_TS_STEP`` per sequence step. Then it
    is confirmed retroactively: its first packets are in the statistics already. A packet that
    breaks the run restarts the candidate from that packet, and the packets of an abandoned
    candidate count as "other". This rejects DNS, STUN, random UDP and lone version-2 lookalikes.
RTCP: version 2 with a second byte 200..207, accepted when it goes to or from an RTCP address
announced in SDP (a=rtcp or port+1), a port one above a confirmed stream's, a stream's own
4-tuple (rtcp-mux, RFC 5761), or anywhere if the whole compound packet decodes strictly and
starts with SR or RR (RFC 3550 A.2). A malformed RTCP datagram on an announced or stream port
counts as RTCP and as the diagnostic ``rtcp-malformed``.

Statistics follow Wireshark's ``ui/tap-rtp-analysis.c`` so ``tshark -q -z rtp,streams``
agrees: expected = last sequence number + 65536 * wraps - first + 1; lost = expected - received
(negative with duplicates); delta and RFC 3550 A.8 jitter in ms on the arrival clock, with the
nominal time from the RTP timestamp divided by ``clock_rate // 1000`` (Wireshark's integer
division); max/mean delta and jitter only over "regular" packets (not the first, not marked,
not comfort noise nor right after it, timestamp not going back); telephone-event packets and
dynamic payload types without an rtpmap have no clock, so no jitter.

Cost: a stream's state is of constant size (slots, a payload-type count per type, at most
``ladder.media.dtmf.MAX_DTMF_EVENTS`` digits, and a ``ladder.media.series.SeriesBuilder`` whose columns are allocated at
full size once), however many packets it has. Nearly every packet takes the fast path of
``feed_udp`` (the next sequence number, same payload type, no marker, timestamp moving forward,
no wrap due): the same arithmetic as ``_analyse`` on the stream's slots, with the bookkeeping
that only matters when such a run ends (packets per payload type, the last sequence number)
settled by ``_settle`` before the next general-path packet and at ``finish``.

The compiled accelerator (``ladder/_accel.c``, when it was built) runs that same fast path in C
straight off the capture's records: ``attach_accelerator()`` returns it for the reader's scan,
and every confirmed stream armed for the fast path is handed to it (``Accelerator.arm``; the
state's ``fast_pt`` reads -2 while C holds it) and taken back before Python touches the state
again (``_reclaim``), at the latest in ``counts``/``finish``. ``PCAPLADDER_PURE_PYTHON=1`` in
the environment turns it off.
"""

from __future__ import annotations

import os
import struct
from typing import TypeVar
from dataclasses import dataclass, field

from decoders.linklayer import MAX_VLAN_TAGS
from decoders.records import Endpoint
from decoders.rtcp import VoipMetrics
from decoders.rtp import STATIC_PAYLOAD_TYPES, rtp_header_end
from decoders.sip import body_sdp
from decoders.records import MAX_RECORD, MAX_TS_NS
from ladder.media.dtmf import DtmfDigit, note_event
from ladder.media.rtcp_reports import RtcpReports
from ladder.media.series import Series, SeriesBuilder

CONFIRM_AFTER = 4
SSRC_CHANGE_CONFIRM_AFTER = 2
MAX_SEQ_STEP = 100
MAX_TS_STEP = 48_000  # one second of a 48 kHz clock per sequence step
TIMESTAMP_JUMP_MS = 2_000  # an in-order packet whose timestamp leaps further is a "jump"
MAX_CANDIDATES = 4_096
# Streams tracked at once (each costs a few KB, with its chart series). Past it a stream that
# would be confirmed is not (its packets count as other UDP), counted once as ``rtp-stream-limit``
# (its key is remembered among the last MAX_CANDIDATES refused): a million few-packet "streams"
# is an attack, and must not take the memory of a million.
MAX_STREAMS = 100_000
DEFAULT_TELEPHONE_EVENT_PT = 101  # what Wireshark assumes without SDP (rtpevent preference)
PT_CN, PT_CN_OLD = 13, 19
JITTER_BUFFER_MS = 60.0  # the nominal fixed jitter buffer behind ``late_packets`` and the MOS

try:
    from ladder import _accel
except ImportError:  # not built (no C compiler at install time): the same paths in Python
    _accel = None  # type: ignore[assignment]
Accelerator = None
if _accel is not None:
    # The constants both paths share are Python's: the C module takes them from here.
    _accel.set_constants(max_record=MAX_RECORD, max_ts_ns=MAX_TS_NS, max_vlan_tags=MAX_VLAN_TAGS,
                         timestamp_jump_ms=float(TIMESTAMP_JUMP_MS), jitter_buffer_ms=JITTER_BUFFER_MS)
    Accelerator = _accel.Accelerator

K = TypeVar("K")
_SEQ_TS_SSRC = struct.Struct("!HII")
_SSRC = struct.Struct("!I")
INF = float("inf")
HELD_IN_C = -2  # ``_State.fast_pt`` while the accelerator holds the stream's fast-path state


@dataclass(frozen=True, slots=True)
class RtcpSummary:
    """What RTCP said about a stream: counts from the sender's SRs, the latest reception report
    about its SSRC (fraction lost in %, cumulative lost, jitter in ms), the RTT from LSR/DLSR
    against the SR's arrival in the capture, CNAME and the latest XR VoIP metrics."""

    sender_reports: int
    receiver_reports: int
    fraction_lost_pct: float | None
    cumulative_lost: int | None
    jitter_ms: float | None
    rtt_ms: float | None
    cname: str | None
    voip_metrics: VoipMetrics | None


# What names one stream everywhere (bindings, ladder bars, the TUI's tables): source, destination
# (``ip:port``) and SSRC, as ``RtpStream.key`` gives it.
StreamKey = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class RtpStream:
    """One RTP stream (src, dst, SSRC) with the figures of Wireshark's RTP stream analysis."""

    ssrc: int
    src: Endpoint
    dst: Endpoint
    payload_types: tuple[int, ...]
    codec: str
    clock_rate: int
    packets: int
    expected: int
    lost: int
    lost_pct: float
    duplicates: int
    sequence_errors: int
    out_of_order: int
    seq_wraps: int
    ssrc_changes: int
    markers: int
    timestamp_jumps: int
    loss_events: int  # sequence gaps (bursts of loss), for the E-model's burst ratio
    late_packets: int  # later than JITTER_BUFFER_MS behind the best transit: buffer discards
    first_ns: int
    last_ns: int
    first_frame: int
    last_frame: int
    payload_bytes: int
    min_delta_ms: float
    mean_delta_ms: float
    max_delta_ms: float
    max_delta_frame: int
    min_jitter_ms: float
    mean_jitter_ms: float
    max_jitter_ms: float
    dtmf: tuple[DtmfDigit, ...]
    rtcp: RtcpSummary | None
    series: Series = field(repr=False)  # a Sequence of ladder.media.series.SeriesPoint
    found_by: str  # "sdp", "heuristic" or "ssrc-change"

    @property
    def key(self) -> StreamKey:
        return (self.src.address(), self.dst.address(), self.ssrc)

    @property
    def duration_ns(self) -> int:
        return self.last_ns - self.first_ns

    @property
    def bitrate_kbps(self) -> float:
        """Mean RTP bit rate (headers and payload, no IP/UDP) over the stream's duration."""
        seconds = self.duration_ns / 1e9
        return self.payload_bytes * 8 / seconds / 1000 if seconds > 0 else 0.0

    @property
    def ssrc_hex(self) -> str:
        return f"0x{self.ssrc:08X}"


class _Sdp:
    """What one SDP m= line announced for an address:port."""

    __slots__ = ("rtpmap", "call_id", "ts_ns")

    def __init__(self, rtpmap: dict[int, tuple[str, int]], call_id: str | None, ts_ns: int):
        self.rtpmap = rtpmap
        self.call_id = call_id
        self.ts_ns = ts_ns


class _State:
    """Constant-size mutable accumulator for one stream (or a candidate for one)."""

    # Slots lie in this order in memory: the fast path's come first, together, so that a
    # packet touches few cache lines of its stream's state.
    __slots__ = (
        "fast_pt", "next_seq", "fast_limit", "last_ts32", "time_ms", "delta", "fast_clock",
        "ts_off", "last_nominal", "jitter", "min_transit", "max_jitter", "min_jitter",
        "mean_jitter", "max_delta", "min_delta", "mean_delta", "packets", "payload_bytes",
        "last_ns", "last_frame", "series", "late", "ts_jumps", "max_delta_frame",
        "src_ip", "src_port", "dst_ip", "dst_port", "ssrc", "run", "found_by",
        "first_ns", "first_frame", "start_seq", "stop_seq", "seq_num", "cycles", "under",
        "ts_high", "seq_ts", "pt", "reg_pt", "pts", "duplicates", "sequence_errors",
        "out_of_order", "markers", "ssrc_changes", "clocks", "rtpmap", "loss_events", "fast_base",
        "dtmf", "dtmf_last_ts", "sr", "rr", "rr_report", "rtt_ms", "cname", "xr", "confirmed",
    )

    def __init__(self, src_ip, src_port, dst_ip, dst_port, ssrc, pt, seq, ts32, ts_ns, frame):
        self.src_ip, self.src_port, self.dst_ip, self.dst_port = src_ip, src_port, dst_ip, dst_port
        self.ssrc = ssrc
        self.run = 1
        self.found_by = "heuristic"
        self.confirmed = False  # a stream of the table, not a candidate
        self.packets = 0
        self.payload_bytes = 0
        self.first_ns = self.last_ns = ts_ns
        self.first_frame = self.last_frame = frame
        self.start_seq = self.stop_seq = self.seq_num = seq
        self.cycles = 0
        self.under = False
        self.ts_high = 0
        self.last_ts32 = ts32
        self.seq_ts = ts32  # the first packet's (extended) timestamp
        self.last_nominal = 0.0
        self.time_ms = 0.0
        self.pt = self.reg_pt = pt
        self.pts: dict[int, int] = {}
        self.delta = self.jitter = 0.0
        self.min_delta = INF
        self.max_delta = 0.0
        self.max_delta_frame = frame
        self.mean_delta = 0.0
        self.min_jitter = INF
        self.max_jitter = self.mean_jitter = 0.0
        self.duplicates = self.sequence_errors = self.out_of_order = 0
        self.markers = self.ts_jumps = self.ssrc_changes = 0
        self.loss_events = self.late = 0
        self.min_transit = INF
        # The fast path in feed_udp applies while packets keep this payload type (-1: never).
        self.fast_pt = -1
        self.fast_clock = 0
        # While armed, the fast path keeps only what it must per packet; ``_settle`` books the
        # rest when the run ends: packets since ``fast_base`` go to ``pts[fast_pt]``, and
        # ``seq_num``/``stop_seq`` are ``next_seq - 1``.
        self.fast_base = 0
        self.next_seq = -1  # the sequence number the fast path takes next
        self.fast_limit = 0xFFFF  # the highest it may take without wrap bookkeeping
        self.ts_off = 0  # ts_high - seq_ts: the RTP timestamp's offset from the first packet's
        self.clocks: dict[int, int] = {}  # PT -> ms divisor, cached once known
        self.rtpmap: dict[int, tuple[str, int]] | None = None
        self.dtmf: list[DtmfDigit] = []
        self.dtmf_last_ts = -1
        self.series = SeriesBuilder(ts_ns)
        self.sr = self.rr = 0
        self.rr_report = None
        self.rtt_ms = None
        self.cname = None
        self.xr = None


class RtpStreamTable:
    """All RTP streams of one capture. See the module docstring for the contract.

    ``statistics=False`` makes a counting-only table for benchmarks: streams are found the same
    way, but once confirmed their packets are only counted (no other figure is meaningful).
    It is the baseline the cost of the statistics is measured against (bench/bench_ingest.py).
    """

    def __init__(self, *, statistics: bool = True, max_streams: int = MAX_STREAMS) -> None:
        self.max_streams = max_streams
        if not statistics:
            self.feed_udp = self._feed_udp_counting  # type: ignore[method-assign]  # shadows the method
        self._statistics = statistics
        self.accel: _accel.Accelerator | None = None  # the compiled fast path, once attach_accelerator() made one
        self._waiting = False  # SDP bodies wait in the accelerator (announcements_waiting)
        self._streams: dict[tuple, _State] = {}  # (src, sport, dst, dport, ssrc) -> confirmed
        self._flows: dict[tuple, _State] = {}  # 4-tuple -> its latest confirmed stream
        self._candidates: dict[tuple, _State] = {}  # 4-tuple + SSRC -> unconfirmed run
        self._refused: set[tuple] = set()  # 4-tuple + SSRC refused at max_streams
        self._final_counts: dict[str, int] | None = None  # set by finish()
        self._sdp: dict[tuple[str, int], _Sdp] = {}
        # Indexes over confirmed streams, so SDP and RTCP never scan every stream.
        self._by_ssrc: dict[int, list[_State]] = {}
        self._by_endpoint: dict[tuple[str, int], list[_State]] = {}
        # Endpoints whose every stream already has this rtpmap: an SDP announcing the same one
        # again changes nothing there. Without it, each SDP re-read every stream of its
        # endpoint, and SIPp's rtp_stream puts all its calls' streams on one port pair.
        self._uniform: dict[tuple[str, int], dict[int, tuple[str, int]]] = {}
        self._base_ns = 0  # the first packet's time (``_based`` once it is set): times in ms count from it
        self._based = False
        self._fed = 0
        self.diagnostics: dict[str, int] = {}
        self._rtcp = RtcpReports(self._flows, self._by_ssrc, self.diagnostics)

    # -- SDP ---------------------------------------------------------------------------
    def expect_sdp(self, msg) -> None:
        """Remember the RTP/RTCP addresses an SDP body announces, with its rtpmap."""
        if self._waiting:
            self._hear_announcements()
        sdp = msg.sdp
        if sdp is not None:
            self._announce(sdp, msg.src.ip if msg.src else None, msg.call_id, msg.ts_ns)

    def announcements_waiting(self) -> None:
        """The accelerator's SIP first pass kept SDP bodies (``Accelerator.take_announcements``):
        they are heard, in order, before the next datagram or SDP, so the table ends as if each
        had come through ``expect_sdp``; a capture without media never parses them at all."""
        self._waiting = True

    def _hear_announcements(self) -> None:
        self._waiting = False
        if self.accel is None:  # (waiting only ever set by the accelerator's first pass)
            return
        while batch := self.accel.take_announcements():  # a chunk at a time: some come from a file
            for src_ip, call_id, ts_ns, content_type, body in batch:
                sdp = body_sdp(body, content_type)
                if sdp is not None:
                    self._announce(sdp, src_ip, call_id, ts_ns)

    def _announce(self, sdp, src_ip: str | None, call_id: str | None, ts_ns: int) -> None:
        for media in sdp.media:
            address = media.connection or sdp.connection or src_ip
            if not media.port or not address:
                continue
            if "RTP" not in media.proto.upper():
                self._sdp.pop((address, media.port), None)
                continue
            rtpmap: dict[int, tuple[str, int]] = {}
            for pt, entry in media.rtpmap.items():
                rtpmap[int(pt)] = (entry[0], int(entry[1]))
            self._sdp[(address, media.port)] = _Sdp(rtpmap, call_id, ts_ns)
            rtcp_port = media.rtcp_port or media.port + 1
            self._rtcp.announce(address, rtcp_port, ts_ns)
            if media.rtcp_mux:
                self._rtcp.announce(address, media.port, ts_ns)
            # A stream seen before this SDP learns the payload names now.
            endpoint = (address, media.port)
            if self._uniform.get(endpoint) == rtpmap:
                continue
            for state in self._by_endpoint.get(endpoint, ()):
                if state.rtpmap == rtpmap:
                    continue
                self._reclaim(state)
                _settle(state)  # its cached clock may change
                state.rtpmap = rtpmap
                state.clocks.clear()
                # the stream's other end may now hold streams of two rtpmaps
                self._uniform.pop((state.src_ip, state.src_port), None)
                self._uniform.pop((state.dst_ip, state.dst_port), None)
            self._uniform[endpoint] = rtpmap

    # -- datagrams ---------------------------------------------------------------------
    def feed_udp(self, src_ip: str, src_port: int, dst_ip: str, dst_port: int, ts_ns: int,
                 frame_no: int, buf: bytes, off: int, end: int) -> None:
        if self._waiting:
            self._hear_announcements()
        self._fed += 1
        if end - off < 12:
            if end - off >= 8 and buf[off] & 0xC0 == 0x80 and 200 <= buf[off + 1] <= 207:
                self._rtcp.feed(src_ip, src_port, dst_ip, dst_port, ts_ns, buf, off, end)
            return
        first = buf[off]
        if first & 0xC0 != 0x80:
            return
        second = buf[off + 1]
        seq, ts32, ssrc = _SEQ_TS_SSRC.unpack_from(buf, off + 2)
        st = self._streams.get((src_ip, src_port, dst_ip, dst_port, ssrc))
        # Fast path (nearly every packet): the next sequence number, same payload type and
        # no marker (``second``), timestamp not behind nor leaping 2**31, no wrap bookkeeping
        # due.
        if (st is not None and second == st.fast_pt and seq == st.next_seq and seq <= st.fast_limit
                and 0 <= ts32 - st.last_ts32 < 0x80000000 and (first == 0x80 or rtp_header_end(buf, off, end) >= 0)):
            # The same arithmetic, in the same order, as _analyse for such a packet.
            now_ms = (ts_ns - self._base_ns) / 1e6
            st.last_ts32 = ts32
            st.next_seq = seq + 1
            delta = now_ms - st.time_ms
            st.time_ms = now_ms
            st.delta = delta
            clock = st.fast_clock
            if clock:
                nominal = (ts32 + st.ts_off) / clock
                step = nominal - st.last_nominal
                st.last_nominal = nominal
                d = delta - step
                if d < 0:
                    d = -d
                st.jitter = jitter = (15 * st.jitter + d) / 16
                if step > TIMESTAMP_JUMP_MS:
                    st.ts_jumps += 1
                transit = now_ms - nominal
                best = st.min_transit
                if transit < best:
                    st.min_transit = transit
                elif transit - best > JITTER_BUFFER_MS:
                    st.late += 1
                if jitter > st.max_jitter:
                    st.max_jitter = jitter
                if jitter < st.min_jitter:
                    st.min_jitter = jitter
                st.mean_jitter += jitter
            else:
                jitter = st.jitter
                total = st.packets
                if total > 1:
                    st.mean_jitter *= total / (total - 1)
            if delta > st.max_delta:
                st.max_delta = delta
                st.max_delta_frame = frame_no
            if delta < st.min_delta:
                st.min_delta = delta
            st.mean_delta += delta
            st.packets += 1
            st.payload_bytes += end - off
            st.last_ns = ts_ns
            st.last_frame = frame_no
            series = st.series
            if ts_ns < series.end_ns:
                if delta > series.delta:
                    series.delta = delta
                if jitter > series.jitter:
                    series.jitter = jitter
                series.packets += 1
            else:
                series.open(ts_ns, delta, jitter, 0)
                if self.accel is not None:  # its columns exist now: C can take it from here
                    self._hand_over(st)
            return
        if 200 <= second <= 207:
            self._rtcp.feed(src_ip, src_port, dst_ip, dst_port, ts_ns, buf, off, end)
            return
        pt = second & 0x7F
        if 72 <= pt <= 76:
            return
        if first == 0x80:  # no CSRC, extension or padding: the header is 12 bytes, inline
            header_end = off + 12
        else:
            header_end = rtp_header_end(buf, off, end)
            if header_end < 0:
                return
        if st is None:
            st = self._new_packet_state(src_ip, src_port, dst_ip, dst_port, ssrc, pt, seq,
                                        ts32, ts_ns, frame_no)
            if st is None:
                return
        self._analyse(st, ts_ns, frame_no, second, pt, seq, ts32, end - off, buf, header_end, end)

    def _feed_udp_counting(self, src_ip: str, src_port: int, dst_ip: str, dst_port: int,
                           ts_ns: int, frame_no: int, buf: bytes, off: int, end: int) -> None:
        """``feed_udp`` of a table made with ``statistics=False``: a confirmed stream's packets
        are only counted. The baseline that benchmarks measure the statistics against."""
        if self._waiting:
            self._hear_announcements()
        if end - off >= 12 and buf[off] & 0xC0 == 0x80 and not 200 <= buf[off + 1] <= 207:
            st = self._streams.get((src_ip, src_port, dst_ip, dst_port) + _SSRC.unpack_from(buf, off + 8))
            if st is not None and (buf[off] == 0x80 or rtp_header_end(buf, off, end) >= 0):
                self._fed += 1
                st.packets += 1
                return
        RtpStreamTable.feed_udp(self, src_ip, src_port, dst_ip, dst_port, ts_ns, frame_no, buf, off, end)

    def _new_packet_state(self, src_ip, src_port, dst_ip, dst_port, ssrc, pt, seq, ts32,
                          ts_ns, frame_no):
        """The state for a packet of no confirmed stream: an SDP or SSRC-change confirmation,
        a candidate that keeps its run, or None while the heuristic is still unsure."""
        if not self._based:
            self._base_ns, self._based = ts_ns, True
        flow = (src_ip, src_port, dst_ip, dst_port)
        found_by = None
        sdp = self._sdp.get((dst_ip, dst_port)) or self._sdp.get((src_ip, src_port))
        previous = self._flows.get(flow)
        if sdp is not None:
            found_by = "sdp"
        elif previous is not None:
            found_by = "ssrc-change"
        cand_key = flow + (ssrc,)
        if cand_key in self._refused:
            return None
        cand = self._candidates.get(cand_key)
        if cand is not None and cand.pt == pt:
            seq_step = (seq - cand.stop_seq) & 0xFFFF
            ts_step = (ts32 - cand.last_ts32) & 0xFFFFFFFF
            if 1 <= seq_step <= MAX_SEQ_STEP and ts_step <= MAX_TS_STEP * seq_step:
                cand.run += 1
                if cand.run >= CONFIRM_AFTER or found_by == "sdp" or (
                        found_by is not None and cand.run >= SSRC_CHANGE_CONFIRM_AFTER):
                    del self._candidates[cand_key]
                    if self._full(cand_key):
                        return None
                    self._confirm(cand, flow, found_by or "heuristic", sdp)
                return cand
        if found_by != "sdp":
            # Start (or restart) a candidate run. Random UDP makes one per datagram, so the
            # table of candidates is bounded: dropping them only turns their packets "other".
            if len(self._candidates) >= MAX_CANDIDATES:
                self._candidates.clear()
            cand = _State(src_ip, src_port, dst_ip, dst_port, ssrc, pt, seq, ts32, ts_ns, frame_no)
            cand.time_ms = (ts_ns - self._base_ns) / 1e6
            self._candidates[cand_key] = cand
            return cand
        self._candidates.pop(flow + (ssrc,), None)
        if self._full(cand_key):
            return None
        state = _State(src_ip, src_port, dst_ip, dst_port, ssrc, pt, seq, ts32, ts_ns, frame_no)
        state.time_ms = (ts_ns - self._base_ns) / 1e6
        self._confirm(state, flow, found_by, sdp)
        return state

    def _full(self, key: tuple) -> bool:
        """Whether ``max_streams`` are tracked: then the new stream ``key`` is refused, counted
        and remembered (so its next packets cost nothing)."""
        if len(self._streams) < self.max_streams:
            return False
        self.diagnostics["rtp-stream-limit"] = self.diagnostics.get("rtp-stream-limit", 0) + 1
        if len(self._refused) >= MAX_CANDIDATES:
            self._refused.clear()
        self._refused.add(key)
        return True

    def _confirm(self, state: _State, flow: tuple, found_by: str, sdp: _Sdp | None) -> None:
        state.found_by = found_by
        state.confirmed = True
        if sdp is None:
            sdp = (self._sdp.get((state.dst_ip, state.dst_port))
                   or self._sdp.get((state.src_ip, state.src_port)))
        state.rtpmap = sdp.rtpmap if sdp is not None else None
        previous = self._flows.get(flow)
        if previous is not None:
            state.ssrc_changes = previous.ssrc_changes + 1
        self._streams[flow + (state.ssrc,)] = state
        self._flows[flow] = state
        self._by_ssrc.setdefault(state.ssrc, []).append(state)
        self._by_endpoint.setdefault((state.src_ip, state.src_port), []).append(state)
        if (state.dst_ip, state.dst_port) != (state.src_ip, state.src_port):
            self._by_endpoint.setdefault((state.dst_ip, state.dst_port), []).append(state)
        for endpoint in ((state.src_ip, state.src_port), (state.dst_ip, state.dst_port)):
            if endpoint in self._uniform and self._uniform[endpoint] != state.rtpmap:
                del self._uniform[endpoint]
        if self.accel is not None and not self._statistics:
            self.accel.arm(state, self._base_ns, True)  # counting only, from the next packet

    def _analyse(self, st: _State, ts_ns: int, frame_no: int, second: int, pt: int, seq: int,
                 ts32: int, size: int, buf: bytes, payload_off: int, end: int) -> None:
        """Wireshark's rtppacket_analyse on constant state (see the module docstring)."""
        self._reclaim(st)
        if st.fast_pt >= 0:
            _settle(st)
        now_ms = (ts_ns - self._base_ns) / 1e6
        marker = second & 0x80
        st.pts[pt] = st.pts.get(pt, 0) + 1
        if marker:
            st.markers += 1
        clock = st.clocks.get(pt)
        if clock is None:
            clock = self._clock_divisor(st, pt)
        if clock == 0 and _is_event_pt(st, pt):
            note_event(st, pt, ts_ns, frame_no, ts32, buf, payload_off, end)
        if st.packets == 0:  # the first packet only sets the origin
            st.packets = 1
            st.payload_bytes = size
            st.series.add(ts_ns, 0.0, 0.0, 0)
            self._arm_fast_path(st, pt, clock)
            return
        # Extend the 32-bit timestamp (RFC 3550 A.1-style unwrapping around the last one).
        prev_ts32 = st.last_ts32
        diff = (ts32 - prev_ts32) & 0xFFFFFFFF
        if diff >= 0x80000000:
            diff -= 0x100000000
        ext_ts = st.ts_high + st.last_ts32 + diff
        st.ts_high = ext_ts - ts32
        st.last_ts32 = ts32

        # "In time" means not before the stream's first timestamp (Wireshark's rule).
        in_time = ext_ts >= st.seq_ts
        regular = in_time and not marker
        if seq < st.start_seq and in_time and not st.under:
            st.cycles += 1
            st.under = True
        elif seq == 0 and st.stop_seq == 65535 and in_time and not st.under:
            st.cycles += 1
            st.under = True
        elif seq > st.start_seq and in_time and st.under:
            st.under = False
        lost_here = 0
        if in_time and seq == (st.seq_num + 1) & 0xFFFF:
            st.seq_num = seq
        elif in_time and (st.seq_num + 1 < seq or st.seq_num - seq > 0xFF00):
            lost_here = (seq - st.seq_num - 1) & 0xFFFF
            st.seq_num = seq
            st.sequence_errors += 1
            st.loss_events += 1
        elif st.seq_num + 1 > seq:
            st.sequence_errors += 1
            if seq == st.seq_num and ts32 == prev_ts32:
                st.duplicates += 1
            else:
                st.out_of_order += 1
        if pt == PT_CN or pt == PT_CN_OLD or st.pt == PT_CN or st.pt == PT_CN_OLD:
            regular = False
        st.pt = pt

        jitter = st.jitter
        if in_time:
            if clock:
                # Nominal time since the first packet; the expected arrival is the last
                # arrival plus the nominal time elapsed since the last packet with a clock.
                nominal = (ext_ts - st.seq_ts) / clock
                current_diff = now_ms - st.time_ms - (nominal - st.last_nominal)
                if current_diff < 0:
                    current_diff = -current_diff
                st.jitter = jitter = (15 * jitter + current_diff) / 16
                if nominal - st.last_nominal > TIMESTAMP_JUMP_MS and lost_here == 0:
                    st.ts_jumps += 1
                st.last_nominal = nominal
                # Relative transit against the best seen so far: later than the nominal
                # jitter buffer means a receiver with that buffer would have discarded it.
                transit = now_ms - nominal
                if transit < st.min_transit:
                    st.min_transit = transit
                elif transit - st.min_transit > JITTER_BUFFER_MS:
                    st.late += 1
            st.delta = now_ms - st.time_ms
            st.time_ms = now_ms
        delta = st.delta
        # Wireshark's means are running means over *all* packets so far, updated only on
        # regular ones: M_k = (M_(k-1) (k-1) + x) / k. We keep T_k = M_k k instead, which a
        # regular packet grows by x (the fast path's one addition) and any other packet
        # scales by k / (k-1); the mean is T / (packets - 1) at the end.
        total = st.packets
        if regular:
            if delta > st.max_delta:
                st.max_delta = delta
                st.max_delta_frame = frame_no
            if delta < st.min_delta:
                st.min_delta = delta
            st.mean_delta += delta
        elif total > 1:
            st.mean_delta *= total / (total - 1)
        if regular and clock:
            if jitter > st.max_jitter:
                st.max_jitter = jitter
            st.mean_jitter += jitter
            if jitter < st.min_jitter:
                st.min_jitter = jitter
        elif total > 1:
            st.mean_jitter *= total / (total - 1)
        st.stop_seq = seq
        st.packets += 1
        st.payload_bytes += size
        st.last_ns = ts_ns
        st.last_frame = frame_no
        # The chart's delta and jitter follow the table's rules: a marker-bit (talk spurt),
        # comfort-noise or late packet counts as received but sets no maximum (as tshark).
        st.series.add(ts_ns, delta if regular else 0.0, jitter if regular and clock else 0.0, lost_here)
        if in_time:  # the fast path assumes the last packet was in time
            self._arm_fast_path(st, pt, clock)

    def _arm_fast_path(self, st: _State, pt: int, clock: int) -> None:
        """Arm the fast path for ``st`` (``_arm``) and hand it to C where it can take it."""
        _arm(st, pt, clock)
        if self.accel is not None:
            self._hand_over(st)

    # -- the compiled fast path ----------------------------------------------------------
    def attach_accelerator(self):
        """The compiled fast path bound to this table (for ``CaptureReader.records``), or
        None when it was not built or ``PCAPLADDER_PURE_PYTHON`` is set."""
        if self.accel is None and accelerator_enabled():
            self.accel = Accelerator()
        return self.accel

    def _hand_over(self, st: _State) -> None:
        """A confirmed stream armed for the fast path: its next packets go to C, once its
        chart series has columns (its first 100 ms bucket closed), so that the many streams of
        a packet or two never allocate them."""
        accel = self.accel
        if accel is not None and st.confirmed and st.fast_pt >= 0 and self._statistics and st.series.has_columns:
            accel.arm(st, self._base_ns)

    def _reclaim(self, st: _State) -> None:
        """Take a stream's state back from C before Python reads or changes it."""
        if st.fast_pt == HELD_IN_C and self.accel is not None:  # set only while self.accel holds it
            self.accel.pull(st)

    def _clock_divisor(self, st: _State, pt: int) -> int:
        """``clock_rate // 1000`` for ``pt`` (0: no clock, as for telephone-event); cached once
        an answer is certain."""
        rate = 0
        if pt < 96:
            rate = STATIC_PAYLOAD_TYPES.get(pt, ("", 0))[1]
            st.clocks[pt] = rate // 1000
            return rate // 1000
        if st.rtpmap is not None and pt in st.rtpmap:
            name, rate = st.rtpmap[pt]
            if name.lower().startswith("telephone-event"):
                rate = 0
            st.clocks[pt] = rate // 1000
        return rate // 1000

    # -- results -----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        if self._final_counts is not None:
            return self._final_counts
        fed = self._fed
        if self.accel is not None:
            self.accel.pull_all()
            fed += self.accel.fed
        rtp = sum(st.packets for st in self._streams.values())
        rtcp = self._rtcp.packets
        return {"rtp": rtp, "rtcp": rtcp, "other": fed - rtp - rtcp}

    def finish(self) -> list[RtpStream]:
        """The streams; the table is spent afterwards (``counts`` still answers). Each state is
        freed as soon as its snapshot is made, so the two never all exist at once: that was
        the peak memory of a capture with many streams."""
        self._final_counts = self.counts()
        for index in (self._flows, self._by_ssrc, self._by_endpoint, self._candidates, self._uniform):
            index.clear()
        streams = []
        while self._streams:
            streams.append(_snapshot(self._streams.popitem()[1]))
        streams.sort(key=lambda s: (s.first_ns, s.first_frame))
        return streams

    def so_far(self) -> list[RtpStream]:
        """The streams as they stand, for a live capture: the table goes on being fed."""
        if self.accel is not None:
            self.accel.pull_all()
        streams = [_snapshot(st, live=True) for st in self._streams.values()]
        streams.sort(key=lambda s: (s.first_ns, s.first_frame))
        return streams

    def forget_before(self, ts_ns: int) -> int:
        """Drop the streams and SDP offers last seen before ``ts_ns`` (a live capture bounded by
        ``--limit``: the calls they belonged to are gone); returns how many streams went."""
        if self._waiting:
            self._hear_announcements()
        if self.accel is not None:
            self.accel.pull_all()
        gone = [key for key, st in self._streams.items() if st.last_ns < ts_ns]
        ssrcs: set[int] = set()
        endpoints: set[tuple[str, int]] = set()
        for key in gone:
            st = self._streams.pop(key)
            flow = key[:4]
            if self._flows.get(flow) is st:
                del self._flows[flow]
            ssrcs.add(st.ssrc)
            endpoints.update(((st.src_ip, st.src_port), (st.dst_ip, st.dst_port)))
        # each index list filtered once (SIPp puts thousands of streams on one endpoint)
        _keep_tracked(self._by_ssrc, ssrcs, self._streams)
        _keep_tracked(self._by_endpoint, endpoints, self._streams)
        for key in [key for key, sdp in self._sdp.items() if sdp.ts_ns < ts_ns]:
            del self._sdp[key]
        for key in [key for key in self._uniform if key not in self._by_endpoint]:
            del self._uniform[key]
        self._rtcp.forget_before(ts_ns)
        return len(gone)


def _keep_tracked(index: dict[K, list[_State]], keys: set[K], streams: dict[tuple, _State]) -> None:
    """Keep in ``index[key]``, for each of ``keys``, only the streams still in ``streams`` (a
    key goes with its last stream)."""
    for key in keys:
        kept = [other for other in index.get(key, ())
                if streams.get((other.src_ip, other.src_port, other.dst_ip, other.dst_port, other.ssrc)) is other]
        if kept:
            index[key] = kept
        else:
            index.pop(key, None)


def accelerator_enabled() -> bool:
    """Whether the compiled fast path is built and not turned off."""
    return Accelerator is not None and not os.environ.get("PCAPLADDER_PURE_PYTHON")


def udp_only_accelerator():
    """The compiled counter of RTP-looking datagrams for a pipeline with media off, or None."""
    return Accelerator(udp_only=True) if accelerator_enabled() else None


def _arm(st: _State, pt: int, clock: int) -> None:
    """Let the fast path take the next packets: same payload type, not comfort noise, not an
    event. It starts from the state the slow path left."""
    if pt == PT_CN or pt == PT_CN_OLD or (clock == 0 and _is_event_pt(st, pt)):
        return
    st.fast_pt = pt
    st.fast_clock = clock
    st.fast_base = st.packets
    st.next_seq = st.seq_num + 1  # 65536 after 65535: the wrap always takes the slow path
    # While ``under`` (wrapped, not yet past the first sequence number), passing start_seq
    # needs bookkeeping; otherwise any sequence number above start_seq is plain.
    st.fast_limit = st.start_seq if st.under else 0xFFFF
    st.ts_off = st.ts_high - st.seq_ts


def _settle(st: _State) -> None:
    """End the fast path's run for ``st``: its packets booked to their payload type, the
    sequence state brought up to date."""
    if st.fast_pt < 0:
        return
    run = st.packets - st.fast_base
    if run:
        st.pts[st.fast_pt] = st.pts.get(st.fast_pt, 0) + run
        st.seq_num = st.stop_seq = st.next_seq - 1
    st.fast_pt = -1


def _is_event_pt(st: _State, pt: int) -> bool:
    if st.rtpmap is not None and pt in st.rtpmap:
        return st.rtpmap[pt][0].lower() == "telephone-event"
    return pt == DEFAULT_TELEPHONE_EVENT_PT


def codec_name(pt: int, rtpmap: dict[int, tuple[str, int]] | None) -> tuple[str, int]:
    """(encoding name, clock rate) for ``pt``: RFC 3551's table for static types, the SDP
    rtpmap for dynamic ones, then ``PT<n>`` with no clock."""
    if pt in STATIC_PAYLOAD_TYPES:  # RFC 3551's spelling, whatever case the SDP used
        return STATIC_PAYLOAD_TYPES[pt]
    if rtpmap is not None and pt in rtpmap:
        return rtpmap[pt]
    if rtpmap is None and pt == DEFAULT_TELEPHONE_EVENT_PT:
        return ("telephone-event", 8000)
    return (f"PT{pt}", 0)


def _snapshot(st: _State, live: bool = False) -> RtpStream:
    if st.fast_pt >= 0:
        _settle(st)
    ordered = sorted(st.pts, key=lambda pt: -st.pts[pt])
    names = []
    clock_rate = 0
    for pt in ordered:
        name, rate = codec_name(pt, st.rtpmap)
        names.append(name)
        if not clock_rate and name.lower() not in ("telephone-event", "cn"):
            clock_rate = rate
    expected = st.stop_seq + st.cycles * 65536 - st.start_seq + 1
    lost = expected - st.packets
    rtcp = None
    if st.sr or st.rr or st.cname or st.xr:
        block = st.rr_report
        jitter_ms = None
        if block is not None and clock_rate:
            jitter_ms = block.jitter * 1000 / clock_rate
        rtcp = RtcpSummary(
            sender_reports=st.sr, receiver_reports=st.rr,
            fraction_lost_pct=block.fraction_lost * 100 / 256 if block else None,
            cumulative_lost=block.cumulative_lost if block else None,
            jitter_ms=jitter_ms, rtt_ms=st.rtt_ms, cname=st.cname, voip_metrics=st.xr)
    return RtpStream(
        ssrc=st.ssrc, src=Endpoint(st.src_ip, st.src_port, "udp"),
        dst=Endpoint(st.dst_ip, st.dst_port, "udp"), payload_types=tuple(ordered),
        codec=", ".join(names), clock_rate=clock_rate, packets=st.packets, expected=expected,
        lost=lost, lost_pct=lost * 100 / expected if expected > 0 else 0.0,
        duplicates=st.duplicates, sequence_errors=st.sequence_errors,
        out_of_order=st.out_of_order, seq_wraps=st.cycles, ssrc_changes=st.ssrc_changes,
        markers=st.markers, timestamp_jumps=st.ts_jumps, loss_events=st.loss_events,
        late_packets=st.late, first_ns=st.first_ns,
        last_ns=st.last_ns, first_frame=st.first_frame, last_frame=st.last_frame,
        payload_bytes=st.payload_bytes, min_delta_ms=st.min_delta if st.min_delta < INF else 0.0,
        mean_delta_ms=st.mean_delta / (st.packets - 1) if st.packets > 1 else 0.0,
        max_delta_ms=st.max_delta,
        max_delta_frame=st.max_delta_frame, min_jitter_ms=st.min_jitter if st.min_jitter < INF else 0.0,
        mean_jitter_ms=st.mean_jitter / (st.packets - 1) if st.packets > 1 else 0.0,
        max_jitter_ms=st.max_jitter, dtmf=tuple(st.dtmf),
        rtcp=rtcp, series=st.series.peek() if live else st.series.finish(), found_by=st.found_by)
