"""Frames in, SIP messages / RTP accumulators / diagnostics out: a sans-I/O state machine.

``Pipeline.feed(number, ts_ns, linktype, buf, off, caplen, origlen, offset)`` takes one frame
(its bytes are ``buf[off:off + caplen]``) and walks it down: link layer → IP (fragments
reassembled) → tunnels → UDP / TCP / SCTP. It owns the reassemblers and the RTP table.

Every frame lands in exactly one ``frame_classes`` bucket, so the values add up to ``frames``.
A frame that cannot be used is a ``Diagnostic`` (kebab-case reason), counted under its reason
both in ``diagnostics`` and in ``frame_classes``. Problems that do not stop a frame from being
used (the leniencies ``ip-length-mismatch`` and ``udp-length-mismatch``) and problems of a
reassembled stream (``tcp-gap``, ``malformed-sip`` in a TCP message, ...) are counted in
``diagnostics`` only, the frame keeping its class. A bounded number of examples is kept.

Frame classes: ``sip``, ``hep-sip``, ``hep``, ``sip-keepalive``, ``sip-segment``, ``ws-handshake``,
``tcp-retransmission``, ``tcp-other``, ``ip-fragment``, ``sctp-fragment``, ``sctp-retransmission``,
``sctp-other``, ``rtp``, ``rtcp``, ``udp-other``, ``icmp``, ``other-ip``, ``non-ip``, and one per
diagnostic reason (``snaplen-truncated``, ``malformed-ip``, ``unsupported-link-type``, ...).

The common case — Ethernet / IPv4 / UDP, not SIP — is handled with fixed offsets and handed to
the RTP table as plain ints and buffer offsets, without building any object per packet. Where the
compiled accelerator is built, ``accelerator()`` gives the reader what takes the commonest case of
all (the next packet of a known RTP stream) before it reaches Python; the reader reports each run
of frames it took as one ``ACCELERATED`` record. With ``messages=False`` it takes plainly written
SIP over UDP/IPv4 as well: its records come in batches (``_take_sip``) straight into ``sip_index``
(and with ``locate=True``, where each message is in the file, into ``message_store``).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Callable
from dataclasses import dataclass
from socket import AF_INET

from decoders.errors import DecodeError
from decoders.ip import ADDRESSES, IpHeader, address_text, parse_ip
from decoders.ipfragments import FragmentReassembler
from decoders.linklayer import (
    ETH_IPV4,
    ETH_IPV6,
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    strip_ethernet,
    strip_link,
)
from decoders.memo import remember
from decoders.records import Diagnostic, Endpoint, FrameRef, StreamResult
from decoders.sctp import SCTP_FRAGMENT, SCTP_OTHER, SCTP_RETRANSMISSION
from decoders.sdp import SdpSession
from decoders.sip import looks_like_sip, parse_sip
from decoders.sipscan import scan_sip
from decoders.tunnels import ETH_BRIDGED, IP_IN_IP, IPPROTO_GRE, strip_gre
from ladder.capture.reader import ACCELERATED
from ladder.capture.limits import Limits
from ladder.media.streams import RtpStreamTable, udp_only_accelerator
from ladder.capture.sipindex import SipIndex
from ladder.capture.messagestore import MessageStore, _c_scan_sip

if TYPE_CHECKING:
    from decoders.sctp import SctpReassembler
    from decoders.tcpstreams import TcpStreamTable

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
IPPROTO_SCTP = 132
SIP_PORTS = (5060, 5061)
MAX_NESTING = 8  # tunnels inside tunnels: enough for real networks, finite for hostile bytes
MAX_EXAMPLES_PER_REASON = 20
MAX_EXAMPLES = 500
MAX_ENDPOINTS = 65536

# Link layers whose header has a fixed size, so that one unpack reads, at fixed offsets, the
# EtherType, then IPv4's version/IHL, total length, flags/fragment offset, protocol, source,
# destination, UDP's ports and length, and the payload's first byte. Ethernet, and Linux
# cooked capture (what `tcpdump -i any` on an SBC writes): v1 has the protocol at byte 14 of a
# 16-byte header, v2 at byte 0 of a 20-byte one. Value: (unpack, header length, minimum caplen).
_IP_UDP_FIELDS = "BxHxxHxBxx4s4sHHHxxB"
_FAST_LAYOUTS = {
    LINKTYPE_ETHERNET: (struct.Struct("!12xH" + _IP_UDP_FIELDS), 14),
    LINKTYPE_LINUX_SLL: (struct.Struct("!14xH" + _IP_UDP_FIELDS), 16),
    LINKTYPE_LINUX_SLL2: (struct.Struct("!H18x" + _IP_UDP_FIELDS), 20),
}
_FAST_LINKS = {linktype: (layout.unpack_from, header, layout.size) for linktype, (layout, header) in _FAST_LAYOUTS.items()}
# The class of frames handed to the RTP table: settled at finish() from the table's own counts.
MEDIA = "media"
NEVER = 1 << 62  # no progress tick


@dataclass(frozen=True, slots=True)
class _Announcement:
    """What ``RtpStreamTable.expect_sdp`` reads of a message, from the first pass."""

    sdp: SdpSession
    src: Endpoint
    call_id: str | None
    ts_ns: int


def sip_columns_fit(index: SipIndex) -> bool:
    """Whether ``index``'s columns have the item sizes the C records are written in."""
    return (index.frame.itemsize, index.ts_ns.itemsize, index.method.itemsize, index.status.itemsize,
            index.call.itemsize) == (8, 8, 4, 2, 4)


class Pipeline:
    """Feed frames in capture order, then call ``finish()`` once.

    ``media=False`` hands no datagram to an RTP table (they count as ``udp-other``);
    ``media_table`` replaces the default ``RtpStreamTable()`` with any object that has its
    ``feed_udp``, ``expect_sdp``, ``finish``, ``counts`` and ``diagnostics`` (``ladder audio``
    passes one that collects a stream's payloads; benchmarks pass a counting-only table)."""

    def __init__(self, *, media: bool = True, media_table=None, limits: Limits | None = None,
                 messages: bool = True, locate: bool = False):
        self.limits = limits = limits or Limits()
        self.media = media
        # ``messages=False``: only the compact per-message records (``sip_index``) are kept, and
        # plainly written messages are read by the first pass instead of parsed (``ladder stats``).
        self.keep_messages = messages
        self.sip_index = SipIndex()
        # ``locate=True`` (with ``messages=False``): where each message's bytes are, to read them
        # back by call (``ladder.capture.messagestore``); ``buffer_base`` (set by the loader) gives
        # the file offset of the reader's buffer, so a plain UDP payload is found there again.
        self.message_store = MessageStore(self.sip_index) if locate and not messages else None
        self.buffer_base: Callable[[], int] | None = None
        self._frame_buf: bytes | None = None  # the frame being walked (a UDP payload's place in it)
        self._payload_at = -1
        self.frames = 0
        self.first_ts_ns: int | None = None
        self.last_ts_ns: int | None = None
        self.frame_classes: dict[str, int] = {}
        self.diagnostics: dict[str, int] = {}
        self.diagnostic_list: list[Diagnostic] = []
        self.sip_messages: list = []
        self.call_ids: set[str] = set()  # distinct Call-IDs so far, for progress reports
        self.rtcp_packets = 0
        self.streams: list = []
        self._fragments = FragmentReassembler(max_datagrams=limits.fragment_datagrams,
                                              max_pieces=limits.fragment_pieces)
        self._endpoints: dict[tuple[str, int, str], Endpoint] = {}
        self._media_frames = 0  # frames handed to the RTP table; split into classes at finish
        self._rtp: RtpStreamTable | None = None
        if media:
            self._rtp = media_table if media_table is not None else RtpStreamTable(max_streams=limits.rtp_streams)
        # The TCP and SCTP reassemblers (and HEP's decoder) are made when first needed: most
        # captures need none of them, and their modules weigh on every command's start-up.
        self._tcp: TcpStreamTable | None = None
        self._sctp: SctpReassembler | None = None
        self._finished = False
        self._sip_accel = None  # the accelerator taking SIP messages too (``accelerator``)

    # -- bookkeeping -------------------------------------------------------------------------
    def _count(self, frame_class: str, n: int = 1) -> None:
        self.frame_classes[frame_class] = self.frame_classes.get(frame_class, 0) + n

    def diagnose(self, reason: str, frame: int, detail: str) -> str:
        """Record one diagnostic; returns ``reason`` so callers can use it as the frame class."""
        count = self.diagnostics.get(reason, 0) + 1
        self.diagnostics[reason] = count
        if count <= MAX_EXAMPLES_PER_REASON and len(self.diagnostic_list) < MAX_EXAMPLES:
            self.diagnostic_list.append(Diagnostic(reason, frame, detail))
        return reason

    def accelerator(self):
        """The compiled fast path of this pipeline's RTP table (with media off, a counter of
        the datagrams it would call ``udp-other``), for ``CaptureReader.records(accelerator=...)``
        on a pipeline that has seen no frame yet; None when there is none (not built, turned
        off, another kind of table)."""
        if self.frames:
            return None
        if self._rtp is None:
            accel = udp_only_accelerator()
        else:
            attach = getattr(self._rtp, "attach_accelerator", None)
            accel = attach() if attach is not None else None
        # With a message store, only where the bytes can be read back from the file (C gives
        # their file offsets; what stdin or gzip bring would need the spill file).
        store = self.message_store
        if (accel is not None and not self.keep_messages and sip_columns_fit(self.sip_index)
                and (store is None or (self.buffer_base is not None and store.columns_fit()))
                and (self._rtp is None or hasattr(self._rtp, "announcements_waiting"))):
            # The first pass in C: plainly written SIP over UDP/IPv4 becomes SipIndex (and
            # MessageStore) records without reaching Python; SDP bodies wait in C until the RTP
            # table needs them.
            accel.enable_sip(media=self._rtp is not None, locate=store is not None)
            self.sip_index.attach_interner(accel)
            self._sip_accel = accel
        return accel

    # -- the frame walk ----------------------------------------------------------------------
    def feed_frame(self, frame) -> None:
        """``feed`` for a ``ladder.capture.reader.RawFrame`` (what the pyshark engine yields)."""
        self.feed(frame.number, frame.ts_ns, frame.linktype, frame.data, 0, frame.caplen, frame.origlen, frame.offset)

    def feed_decrypted(self, number: int, ts_ns: int, src: Endpoint, dst: Endpoint, payloads) -> None:
        """A frame whose TLS records tshark decrypted into SIP (the pyshark engine with a key
        log): its plain SIP messages, the frame counted once, by its first message."""
        self.frames = number
        if self.first_ts_ns is None:
            self.first_ts_ns = ts_ns
        self.last_ts_ns = ts_ns
        frames = (FrameRef(number, ts_ns),)
        classes = [self._sip(payload, src, dst, frames) for payload in payloads]
        self._count(classes[0] if classes else "tcp-other")

    def feed(
        self, number: int, ts_ns: int, linktype: int, buf: bytes, off: int, caplen: int, origlen: int, offset: int
    ) -> None:
        """One frame; ``number`` must follow the previous frame's (frames are numbered from 1)."""
        self.frames = number - 1
        self.feed_records(((ts_ns, linktype, buf, off, caplen, origlen, offset),))

    def feed_records(self, records, tick=None, every: int = 8192) -> None:
        """Every ``(ts_ns, linktype, buf, off, caplen, origlen, file_offset)`` record of
        ``records`` (``CaptureReader.records()``), numbered on from ``frames``; ``tick()`` is
        called every ``every`` frames (for progress reports).

        The loop is the hot path of the whole program, so it keeps its state in locals and
        handles the common frame without a single call of its own."""
        number = self.frames
        first_ts = self.first_ts_ns
        ts_ns = self.last_ts_ns
        classes = self.frame_classes
        addresses = ADDRESSES
        feed_udp = self._rtp.feed_udp if self._rtp is not None else None
        fast_links = _FAST_LINKS
        fast_linktype, fast, header, minimum = None, None, 0, 0
        media = 0
        sip_accel = self._sip_accel
        next_tick = number + every if tick is not None else NEVER
        try:
            for ts_ns, linktype, buf, off, caplen, origlen, offset in records:
                if number >= next_tick:  # ``number`` frames are done: report them
                    self._sync(number, first_ts, self.last_ts_ns, media)
                    media = 0
                    next_tick = number + every
                    tick()
                if linktype == ACCELERATED:  # frames taken in C: ``buf`` tells how many
                    taken = buf.frames
                    number += taken
                    if sip_accel is not None and sip_accel.sip_waiting:  # SIP messages among them
                        taken -= self._take_sip(sip_accel)
                    if feed_udp is None:
                        classes["udp-other"] = classes.get("udp-other", 0) + taken
                    else:
                        media += taken
                    if first_ts is None:
                        first_ts = buf.first_ts_ns
                    continue
                number += 1
                if first_ts is None:
                    first_ts = ts_ns
                # Fast path: a fixed-size link header, IPv4 without options or fragmentation,
                # UDP whose length agrees with IP's, payload not SIP (an RTP/RTCP first byte has
                # version 2: 0x80..0xbf, never a SIP letter nor HEP). One unpack reads every field.
                if linktype != fast_linktype:  # pcapng may mix link types; most files have one
                    fast_linktype = linktype
                    fast, header, minimum = fast_links.get(linktype, (None, 0, 0))
                if fast is not None and caplen == origlen and caplen >= minimum:
                    ethertype, ver_ihl, total, flags, proto, src_raw, dst_raw, sport, dport, ulen, first = fast(
                        buf, off
                    )
                    if (
                        ethertype == ETH_IPV4
                        and ver_ihl == 0x45
                        and proto == IPPROTO_UDP
                        and not flags & 0x3FFF
                        and 0x80 <= first < 0xC0
                        and ulen == total - 20
                        and total <= caplen - header
                    ):
                        if feed_udp is None:
                            classes["udp-other"] = classes.get("udp-other", 0) + 1
                            continue
                        src = addresses.get(src_raw) or address_text(AF_INET, src_raw)
                        dst = addresses.get(dst_raw) or address_text(AF_INET, dst_raw)
                        media += 1
                        feed_udp(src, sport, dst, dport, ts_ns, number, buf, off + header + 28, off + header + total)
                        continue
                frame_class = self._classify(number, ts_ns, linktype, buf, off, off + caplen, caplen < origlen, offset)
                if frame_class is not MEDIA:
                    classes[frame_class] = classes.get(frame_class, 0) + 1
        finally:
            self._sync(number, first_ts, ts_ns, media)

    def _take_sip(self, accel) -> int:
        """File the SIP records C took in its last run; returns how many frames they were."""
        count, frame, ts_ns, method, status, call, new_call_ids, announced = accel.take_sip()
        if count:
            self.sip_index.extend(frame, ts_ns, method, status, call)
            if self.message_store is not None:
                self.message_store.extend(*accel.take_locations())
            self.call_ids.update(new_call_ids)
            self._count("sip", count)
            if announced and self._rtp is not None:  # (announced only when C heard of media)
                self._rtp.announcements_waiting()
        return count

    def _sync(self, number: int, first_ts: int | None, last_ts: int | None, media: int) -> None:
        """Store the hot loop's local counters back into the attributes others read."""
        self.frames = number
        self.first_ts_ns = first_ts
        self.last_ts_ns = last_ts
        self._media_frames += media

    def _classify(
        self, number: int, ts_ns: int, linktype: int, buf: bytes, off: int, end: int, cut: bool, offset: int
    ) -> str:
        try:
            ethertype, pos = strip_link(linktype, buf, off, end)
        except DecodeError as exc:
            if cut and exc.reason == "truncated-link":
                return self.diagnose("snaplen-truncated", number, f"link header cut by snaplen: {exc}")
            return self.diagnose(exc.reason, number, str(exc))
        frame = FrameRef(number, ts_ns, offset)
        self._frame_buf = buf
        return self._network(ethertype, buf, pos, end, frame, cut, 0)

    def _network(self, ethertype: int, buf: bytes, pos: int, end: int, frame: FrameRef, cut: bool, depth: int) -> str:
        if depth > MAX_NESTING:
            return self.diagnose("malformed-tunnel", frame.number, "more than 8 nested encapsulations")
        if ethertype == ETH_BRIDGED:
            try:
                ethertype, pos = strip_ethernet(buf, pos, end)
            except DecodeError as exc:
                return self.diagnose("malformed-tunnel", frame.number, f"bridged Ethernet: {exc}")
            return self._network(ethertype, buf, pos, end, frame, cut, depth + 1)
        if ethertype != ETH_IPV4 and ethertype != ETH_IPV6:
            return "non-ip"
        try:
            ip = parse_ip(ethertype, buf, pos, end)
        except DecodeError as exc:
            if cut:
                return self.diagnose("snaplen-truncated", frame.number, f"IP header cut by snaplen: {exc}")
            return self.diagnose(exc.reason, frame.number, str(exc))
        if ip.cut and not cut:
            # Leniency "ip-length-mismatch": the IP length claims more than the whole frame
            # holds though snaplen did not cut it; decode what is there, as Wireshark does.
            self.diagnose("ip-length-mismatch", frame.number, "IP length runs past the end of the captured frame")
        # Snaplen matters only when it cut into this packet (not just into trailer/padding).
        cut = cut and ip.cut
        frames: tuple[FrameRef, ...] = (frame,)
        data, start, stop = buf, ip.start, ip.end
        if ip.fragment is not None:
            frag = ip.fragment
            if cut:
                return self.diagnose("snaplen-truncated", frame.number, "IP fragment cut by snaplen")
            key = (ip.version, ip.src, ip.dst, ip.proto if ip.version == 4 else 0, frag.ident)
            done = self._fragments.add(key, frag.offset, frag.more, buf[start:stop], frame, frame.ts_ns)
            self._drain_abandoned()
            if done is None:
                return "ip-fragment"
            frames = done.frames
            data, start, stop = done.payload, 0, len(done.payload)
        return self._transport(ip, data, start, stop, frames, cut, depth)

    def _drain_abandoned(self) -> None:
        abandoned = self._fragments.abandoned
        while abandoned:
            gone = abandoned.pop()
            # These frames were counted as "ip-fragment" when they arrived; re-file them.
            self._count("ip-fragment", -len(gone.frames))
            self._count(gone.reason, len(gone.frames))
            first = gone.frames[0].number if gone.frames else 0
            self.diagnose(gone.reason, first, f"IP datagram of {len(gone.frames)} fragment(s) never completed")

    def _transport(
        self, ip: IpHeader, buf: bytes, start: int, stop: int, frames: tuple[FrameRef, ...], cut: bool, depth: int
    ) -> str:
        proto = ip.proto
        frame = frames[-1]
        if proto == IPPROTO_UDP:
            return self._udp(ip, buf, start, stop, frames, cut)
        if proto == IPPROTO_TCP:
            return self._tcp_segment(ip, buf, start, stop, frames, cut)
        if proto in IP_IN_IP:
            return self._network(IP_IN_IP[proto], buf, start, stop, frame, cut, depth + 1)
        if proto == IPPROTO_GRE:
            try:
                ethertype, pos = strip_gre(buf, start, stop)
            except DecodeError as exc:
                return self.diagnose(exc.reason, frame.number, str(exc))
            return self._network(ethertype, buf, pos, stop, frame, cut, depth + 1)
        if proto == IPPROTO_SCTP:
            return self._sctp_packet(ip, buf, start, stop, frames, cut)
        if proto == IPPROTO_ICMP or proto == IPPROTO_ICMPV6:
            return "icmp"
        return "other-ip"

    # -- UDP ---------------------------------------------------------------------------------
    def _udp(self, ip: IpHeader, buf: bytes, start: int, stop: int, frames: tuple[FrameRef, ...], cut: bool) -> str:
        frame = frames[-1]
        if stop - start < 8:
            if cut:
                return self.diagnose("snaplen-truncated", frame.number, "UDP header cut by snaplen")
            return self.diagnose("malformed-udp", frame.number, "UDP header shorter than 8 bytes")
        sport = (buf[start] << 8) | buf[start + 1]
        dport = (buf[start + 2] << 8) | buf[start + 3]
        length = (buf[start + 4] << 8) | buf[start + 5]
        pstart = start + 8
        if 8 <= length <= stop - start:
            stop = start + length  # trailing bytes beyond the UDP length are padding
        elif not cut:
            # Leniency "udp-length-mismatch": a UDP length that disagrees with IP's; the IP
            # length is the one both ends' stacks used, so the datagram keeps its IP extent.
            self.diagnose(
                "udp-length-mismatch", frame.number, f"UDP length {length} disagrees with the {stop - start}-byte datagram"
            )
        if pstart == stop:
            return "udp-other"
        first = buf[pstart]
        if 0x80 <= first < 0xC0:
            return self._media(ip.src, sport, ip.dst, dport, frame, buf, pstart, stop)
        payload = bytes(buf[pstart:stop])
        if first == 0x48 or first == 0x01 or first == 0x02:
            from decoders.hep import looks_like_hep

            if looks_like_hep(payload):
                return self._hep(payload, frame)
        if looks_like_sip(payload):
            if cut:
                return self.diagnose("snaplen-truncated", frame.number, "SIP message cut by snaplen")
            src = self._endpoint(ip.src, sport, "udp")
            dst = self._endpoint(ip.dst, dport, "udp")
            if self.message_store is not None:
                self._locate_payload(buf, pstart, frames)
            return self._sip(payload, src, dst, frames)
        if sport in SIP_PORTS or dport in SIP_PORTS:
            if not payload.strip(b"\r\n\x00 "):
                return "sip-keepalive"  # RFC 5626 §4.4.1 CRLF keep-alives, and 0-byte/NUL pings
            return self.diagnose(
                "not-sip-on-sip-port", frame.number, f"UDP port {dport if dport in SIP_PORTS else sport} carries no SIP"
            )
        return self._media(ip.src, sport, ip.dst, dport, frame, buf, pstart, stop)

    def _media(self, src: str, sport: int, dst: str, dport: int, frame: FrameRef, buf: bytes, start: int, stop: int) -> str:
        if self._rtp is None:
            return "udp-other"
        self._media_frames += 1
        self._rtp.feed_udp(src, sport, dst, dport, frame.ts_ns, frame.number, buf, start, stop)
        return MEDIA

    def _endpoint(self, ip: str, port: int, transport: str) -> Endpoint:
        """The one ``Endpoint`` for an address (messages share it: a capture has few)."""
        key = (ip, port, transport)
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            endpoint = remember(self._endpoints, key, Endpoint(ip, port, transport), MAX_ENDPOINTS)
        return endpoint

    # -- SIP ---------------------------------------------------------------------------------
    def _scanned(self, payload: bytes, src: Endpoint, dst: Endpoint, frames: tuple[FrameRef, ...],
                 ts_ns: int) -> bool:
        """Index (and store) a message the first pass answers for, with no full parse (messages
        not kept); False when it does not answer: the caller parses it."""
        fields = None
        # (no SDP to hear of: C's first pass, where it answers; else Python's)
        scanned = _c_scan_sip(payload) if self._rtp is None and _c_scan_sip is not None else None
        if scanned is not None:
            method, status, call_id = scanned[1], scanned[2], scanned[3]
        else:
            fields = scan_sip(payload, correlation=False)  # the index keeps no tags nor Via
            if fields is None:
                return False
            method, status, call_id = fields.method, fields.status, fields.call_id
        self.sip_index.add(frames[0].number if frames else 0, ts_ns, method, status, call_id)
        if self.message_store is not None:
            self._store_message(payload, src, dst, frames, ts_ns)
        if call_id:
            self.call_ids.add(call_id)
        if fields is not None and self._rtp is not None and fields.body:  # SDP the RTP table must hear of
            sdp = fields.sdp()
            if sdp is not None:
                self._rtp.expect_sdp(_Announcement(sdp, src, call_id, ts_ns))
        return True

    def _sip(self, payload: bytes, src: Endpoint, dst: Endpoint, frames: tuple[FrameRef, ...]) -> str:
        if not self.keep_messages and self._scanned(payload, src, dst, frames, frames[-1].ts_ns):
            return "sip"
        try:
            message = parse_sip(payload, src=src, dst=dst, frames=frames, ts_ns=frames[-1].ts_ns)
        except DecodeError as exc:
            reason = exc.reason if exc.reason not in ("decode-error", "malformed", "truncated") else "malformed-sip"
            self._payload_at = -1
            return self.diagnose(reason, frames[-1].number, str(exc))
        self._add_sip(message, payload)
        return "sip"

    def _add_sip(self, message, payload: bytes | None = None) -> None:
        """``payload``: the bytes ``message`` was parsed from (its ``raw`` may leave some out)."""
        self.sip_index.add_message(message)
        if self.message_store is not None:
            self._store_message(message.raw if payload is None else payload, message.src, message.dst,
                                message.frames, message.ts_ns)
        if self.keep_messages:
            self.sip_messages.append(message)
        if message.call_id:
            self.call_ids.add(message.call_id)
        if self._rtp is not None and message.body:
            try:
                sdp = message.sdp
            except DecodeError as exc:
                self.diagnose("malformed-sdp", message.frames[-1].number, str(exc))
                return
            if sdp is not None:
                self._rtp.expect_sdp(message)

    def _locate_payload(self, buf, pstart: int, frames: tuple[FrameRef, ...]) -> None:
        """Note where the next message's bytes are in the capture file: only for a payload in
        the reader's own buffer (not a reassembled datagram) of a file that can be re-read."""
        if self.buffer_base is not None and len(frames) == 1 and buf is self._frame_buf:
            self._payload_at = self.buffer_base() + pstart

    def _store_message(self, raw: bytes, src, dst, frames, ts_ns: int) -> None:
        at, self._payload_at = self._payload_at, -1
        if self.message_store is not None:  # (called only with a store)
            self.message_store.add(raw, src, dst, frames, ts_ns, at)

    # -- HEP, TCP, SCTP: plugged in from their decoders --------------------------------------
    def _hep(self, payload: bytes, frame: FrameRef) -> str:
        from decoders.hep import decode_hep

        try:
            packet = decode_hep(payload)
        except DecodeError as exc:
            return self.diagnose(exc.reason, frame.number, str(exc))
        return self._hep_packet(packet, frame)

    def _hep_packet(self, packet, frame: FrameRef) -> str:
        inner = packet.payload
        if not inner or not looks_like_sip(inner):
            return "hep"
        ts_ns = packet.ts_ns if packet.ts_ns else frame.ts_ns
        transport = packet.transport or "udp"
        src = self._endpoint(packet.src_ip, packet.src_port, transport)
        dst = self._endpoint(packet.dst_ip, packet.dst_port, transport)
        try:
            # The message keeps the agent's own time; its FrameRef stays the capture frame's.
            message = parse_sip(inner, src=src, dst=dst, frames=(frame,), ts_ns=ts_ns)
        except DecodeError as exc:
            return self.diagnose("malformed-sip", frame.number, f"SIP inside HEP: {exc}")
        self._add_sip(message, inner)
        return "hep-sip"

    def _tcp_segment(self, ip: IpHeader, buf: bytes, start: int, stop: int, frames, cut: bool) -> str:
        frame = frames[-1]
        if stop - start < 20:
            if cut:
                return self.diagnose("snaplen-truncated", frame.number, "TCP header cut by snaplen")
            return self.diagnose("malformed-tcp", frame.number, "TCP header shorter than 20 bytes")
        header_len = (buf[start + 12] >> 4) * 4
        if header_len < 20 or start + header_len > stop:
            if cut:
                return self.diagnose("snaplen-truncated", frame.number, "TCP header cut by snaplen")
            return self.diagnose("malformed-tcp", frame.number, f"TCP data offset {header_len} is impossible")
        if cut and stop - start > header_len:
            # Bytes missing from the middle of a stream would desynchronise SIP framing.
            return self.diagnose("snaplen-truncated", frame.number, "TCP payload cut by snaplen")
        sport = (buf[start] << 8) | buf[start + 1]
        dport = (buf[start + 2] << 8) | buf[start + 3]
        seq = int.from_bytes(buf[start + 4 : start + 8], "big")
        flags = buf[start + 13]
        payload = bytes(buf[start + header_len : stop])
        if self._tcp is None:
            from decoders.tcpstreams import TcpStreamTable

            self._tcp = TcpStreamTable(max_connections=self.limits.tcp_connections)
        result = self._tcp.feed(ip.src, sport, ip.dst, dport, seq, flags, payload, frame)
        self._take_stream_messages(result)
        return result.frame_class

    def _take_stream_messages(self, result: StreamResult) -> None:
        self._take_diagnostics(result.diagnostics)
        for item in result.messages:
            src = self._endpoint(item.src.ip, item.src.port, item.transport)
            dst = self._endpoint(item.dst.ip, item.dst.port, item.transport)
            if not self.keep_messages and self._scanned(item.payload, src, dst, item.frames, item.ts_ns):
                continue  # (reassembled TCP, WebSocket: the first pass, as for a datagram)
            try:
                message = parse_sip(item.payload, src=src, dst=dst, frames=item.frames, ts_ns=item.ts_ns)
            except DecodeError as exc:
                self.diagnose("malformed-sip", item.frames[-1].number, str(exc))
                continue
            self._add_sip(message, item.payload)

    def _sctp_packet(self, ip: IpHeader, buf: bytes, start: int, stop: int, frames, cut: bool) -> str:
        frame = frames[-1]
        if cut:
            return self.diagnose("snaplen-truncated", frame.number, "SCTP packet cut by snaplen")
        from decoders.sctp import SctpReassembler, sctp_data_chunks

        if self._sctp is None:
            self._sctp = SctpReassembler()
        try:
            chunks = sctp_data_chunks(bytes(buf[start:stop]))
        except DecodeError as exc:
            return self.diagnose(exc.reason, frame.number, str(exc))
        frame_class = SCTP_OTHER
        for chunk in chunks:
            result = self._sctp.add(ip.src, ip.dst, chunk, frame)
            self._take_diagnostics(result.diagnostics)
            if result.frame_class == SCTP_RETRANSMISSION:
                # A DATA chunk whose TSN was already delivered: the frame repeats old data.
                if frame_class == SCTP_OTHER:
                    frame_class = SCTP_RETRANSMISSION
                continue
            if not result.messages:
                if frame_class in (SCTP_OTHER, SCTP_RETRANSMISSION) and result.frame_class == SCTP_FRAGMENT:
                    frame_class = SCTP_FRAGMENT
                continue
            message = result.messages[0]
            if not looks_like_sip(message.data):
                continue
            src = self._endpoint(ip.src, message.src_port, "sctp")
            dst = self._endpoint(ip.dst, message.dst_port, "sctp")
            sip_class = self._sip(message.data, src, dst, message.frames)
            if frame_class != "sip":
                frame_class = sip_class
        return frame_class

    def _take_diagnostics(self, diagnostics) -> None:
        for diagnostic in diagnostics:
            self.diagnose(diagnostic.reason, diagnostic.frame, diagnostic.detail)

    # -- a live capture ----------------------------------------------------------------------
    def streams_so_far(self) -> list:
        """The RTP streams as they stand while frames are still coming (``ladder.live.session``)."""
        return self._rtp.so_far() if self._rtp is not None and hasattr(self._rtp, "so_far") else []

    def forget(self, call_ids: set[str], before_ns: int | None) -> None:
        """Drop the SIP messages of ``call_ids`` and the media last seen before ``before_ns``:
        a live capture kept to ``--limit`` calls for a day-long run."""
        self.sip_messages[:] = [m for m in self.sip_messages if m.call_id not in call_ids]
        self.call_ids.difference_update(call_ids)
        # The compact index (and its interned Call-IDs) would otherwise grow for the whole run.
        self.sip_index = SipIndex()
        for message in self.sip_messages:
            self.sip_index.add_message(message)
        if before_ns is not None and self._rtp is not None and hasattr(self._rtp, "forget_before"):
            self._rtp.forget_before(before_ns)

    # -- the end -----------------------------------------------------------------------------
    def finish(self) -> None:
        """Flush the reassemblers and the RTP table; frame classes are final afterwards."""
        if self._finished:
            return
        self._finished = True
        if self._tcp is not None:
            self._take_stream_messages(self._tcp.flush())
        if self._sctp is not None:
            self._take_diagnostics(self._sctp.flush().diagnostics)
        self._fragments.finish()
        self._drain_abandoned()
        pending = self._media_frames
        if self._rtp is not None:
            self.streams = self._rtp.finish()
            counts = self._rtp.counts()
            rtp, rtcp, neither = counts["rtp"], counts["rtcp"], counts["other"]
            for reason, count in self._rtp.diagnostics.items():
                self.diagnostics[reason] = self.diagnostics.get(reason, 0) + count
            self.rtcp_packets = rtcp
            for name, value in (("rtp", rtp), ("rtcp", rtcp), ("udp-other", neither)):
                if value:
                    self._count(name, value)
            pending -= rtp + rtcp + neither
            if pending:
                self._count("media-uncounted", pending)
        for name in [name for name, value in self.frame_classes.items() if value == 0]:
            del self.frame_classes[name]

