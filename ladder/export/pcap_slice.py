"""``ladder export --pcap``: the packets of chosen calls as a new capture.

Without anonymisation the frames are copied byte for byte from the original file, by frame
number, with their original timestamps and link type: every frame that carried part of a SIP
message of the calls, the RTP frames of the streams bound to them (same 4-tuple and SSRC,
within the stream's first..last frame) and the RTCP frames beside those streams (port + 1,
or rtcp-mux on the stream's own 4-tuple) within the call's time span. One link type gives a
classic pcap (nanosecond magic); several give a pcapng with one interface per link type.

With anonymisation nothing is copied: the SIP messages are the anonymised ones, sent again as
UDP datagrams or over a TCP connection (handshake included) between the mapped addresses, and
the RTP/RTCP datagrams keep their payload (RTCP SDES text replaced, same length) inside new
Ethernet/IP/UDP headers with the mapped addresses, correct lengths and checksums. MAC
addresses are derived from the mapped IPs, so no original MAC survives either.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO, TYPE_CHECKING

from decoders.errors import DecodeError
from decoders.ip import parse_ip
from decoders.linklayer import strip_ethernet, strip_link
from decoders.tunnels import ETH_BRIDGED, IP_IN_IP, IPPROTO_GRE, strip_gre
from ladder.errors import UsageError
from ladder.capture.reader import CaptureReader
from ladder.export.pcap_writer import LINKTYPE_ETHERNET, FrameFactory, PcapWriter, TcpConnection

if TYPE_CHECKING:
    from ladder.export.anonymize import Anonymizer
    from ladder.media.binding import MediaBinding
    from ladder.media.streams import RtpStream
    from ladder.calls.grouping import Call
    from ladder.capture.loader import Capture

RTCP_SLACK_NS = 5_000_000_000  # RTCP reports trail the media; keep those a few seconds after it
IPPROTO_UDP = 17
MAX_NESTING = 8  # encapsulations followed, as in the pipeline
SDES = 202


@dataclass(frozen=True, slots=True)
class PcapExport:
    """What was written: frames per class and the file format."""

    sip_frames: int
    rtp_frames: int
    rtcp_frames: int
    file_format: str  # "pcap", "pcapng" or "pcap (rebuilt, anonymised)"

    @property
    def frames(self) -> int:
        return self.sip_frames + self.rtp_frames + self.rtcp_frames

    def describe(self) -> str:
        return (f"{self.frames} frames ({self.sip_frames} SIP, {self.rtp_frames} RTP, "
                f"{self.rtcp_frames} RTCP) as {self.file_format}")


@dataclass(frozen=True, slots=True)
class _Selection:
    sip: frozenset[int]
    rtp: dict[tuple[str, int, str, int], list[tuple[int, int, int]]]  # 4-tuple -> (first, last, ssrc)
    rtcp: frozenset[tuple[str, int, str, int]]
    mux: frozenset[tuple[str, int, str, int]]
    start_ns: int
    end_ns: int
    last_frame: int


def _bound_streams(calls: list["Call"], capture: "Capture", all_calls: list["Call"] | None, bindings: "list[MediaBinding] | None") -> "list[RtpStream]":
    if not getattr(capture, "streams", None):
        return []
    if bindings is None:
        from ladder.media.binding import bind_media  # only when there is RTP to bind

        bindings = bind_media(all_calls or calls, capture.streams)
    ids = {call.id for call in calls}
    return [b.stream for b in bindings if b.call_id in ids]


def select_frames(calls: list["Call"], capture: "Capture", *, all_calls: list["Call"] | None = None,
                  bindings: "list[MediaBinding] | None" = None) -> _Selection:
    """Which frames of the original capture belong to ``calls``."""
    sip = frozenset(f.number for call in calls for m in call.messages for f in m.frames)
    streams = _bound_streams(calls, capture, all_calls, bindings)
    rtp: dict[tuple[str, int, str, int], list[tuple[int, int, int]]] = {}
    rtcp: set[tuple[str, int, str, int]] = set()
    mux: set[tuple[str, int, str, int]] = set()
    for stream in streams:
        four = (stream.src.ip, stream.src.port, stream.dst.ip, stream.dst.port)
        rtp.setdefault(four, []).append((stream.first_frame, stream.last_frame, stream.ssrc))
        mux.update({four, (four[2], four[3], four[0], four[1])})
        odd = (stream.src.ip, stream.src.port + 1, stream.dst.ip, stream.dst.port + 1)
        rtcp.update({odd, (odd[2], odd[3], odd[0], odd[1])})
    starts = [call.start_ns for call in calls] + [s.first_ns for s in streams]
    ends = [call.end_ns for call in calls] + [s.last_ns for s in streams]
    last_frame = max([*sip, *(s.last_frame for s in streams)], default=0)
    return _Selection(sip, rtp, frozenset(rtcp), frozenset(mux), min(starts, default=0) - RTCP_SLACK_NS,
                      max(ends, default=0) + RTCP_SLACK_NS, last_frame)


def _udp_view(linktype: int, buf: bytes, off: int, end: int):
    """(src, sport, dst, dport, payload start, payload end) of an unfragmented UDP datagram,
    inside IP-in-IP, GRE or ERSPAN tunnels too (the innermost one, as the pipeline sees it),
    or None for anything else (other protocols, fragments, undecodable bytes)."""
    try:
        ethertype, pos = strip_link(linktype, buf, off, end)
        for _depth in range(MAX_NESTING):
            if ethertype == ETH_BRIDGED:
                ethertype, pos = strip_ethernet(buf, pos, end)
            ip = parse_ip(ethertype, buf, pos, end)
            if ip.fragment is not None:
                return None
            if ip.proto in IP_IN_IP:
                ethertype, pos, end = IP_IN_IP[ip.proto], ip.start, ip.end
            elif ip.proto == IPPROTO_GRE:
                (ethertype, pos), end = strip_gre(buf, ip.start, ip.end), ip.end
            else:
                break
        else:
            return None
    except DecodeError:
        return None
    if ip.proto != IPPROTO_UDP or ip.end - ip.start < 8:
        return None
    sport, dport = struct.unpack_from("!HH", buf, ip.start)
    return ip.src, sport, ip.dst, dport, ip.start + 8, ip.end


def _classify(selection: _Selection, number: int, ts_ns: int, linktype: int, buf: bytes, off: int, end: int):
    """"sip", "rtp", "rtcp" or None, with the UDP view for media frames."""
    if number in selection.sip:
        return "sip", None
    if not selection.rtp or not (selection.start_ns <= ts_ns <= selection.end_ns):
        return None, None
    view = _udp_view(linktype, buf, off, end)
    if view is None:
        return None, None
    src, sport, dst, dport, start, stop = view
    four = (src, sport, dst, dport)
    if stop - start >= 8 and buf[start] >> 6 == 2:
        second = buf[start + 1]
        if four in selection.rtcp or (four in selection.mux and 200 <= second <= 207):
            return "rtcp", view
        for first, last, ssrc in selection.rtp.get(four, ()):
            if first <= number <= last and stop - start >= 12 and struct.unpack_from("!I", buf, start + 8)[0] == ssrc:
                return "rtp", view
    return None, None


def _frames(path: str, engine: str):
    """(number, ts_ns, linktype, buf, off, caplen, origlen) of every frame, read again with the
    engine that loaded the capture (tshark for formats the fast reader does not know)."""
    if engine == "pyshark":
        from ladder.capture.reader import RawFrame
        from ladder.capture.pyshark_reader import read_frames_pyshark

        for number, frame in enumerate(read_frames_pyshark(path), 1):
            if isinstance(frame, RawFrame):
                yield number, frame.ts_ns, frame.linktype, frame.data, 0, frame.caplen, frame.origlen
        return
    with CaptureReader(path) as reader:
        for number, (ts_ns, linktype, buf, off, caplen, origlen, _offset) in enumerate(reader.records(), 1):
            yield number, ts_ns, linktype, buf, off, caplen, origlen


def _open_output(path: str) -> tuple[BinaryIO, bool]:
    if path == "-":
        return sys.stdout.buffer, False
    try:
        return open(path, "wb"), True
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_call_pcap(capture: "Capture", calls: list["Call"], path: str, *, all_calls: list["Call"] | None = None,
                    bindings: "list[MediaBinding] | None" = None, anonymizer: "Anonymizer | None" = None) -> PcapExport:
    """Write the frames of ``calls`` to ``path`` (``-`` for stdout).

    ``capture`` and ``calls`` are the original ones (frames are found by their numbers and
    addresses); with ``anonymizer`` (one that has learned the capture, see
    ``ladder.export.anonymize.anonymize_capture``) the packets are rebuilt from the anonymised
    messages. ``bindings`` made once for all calls keep streams on reused ports apart."""
    source = capture.path
    if source == "-":
        raise UsageError("--pcap needs the capture as a file: frames are read again from it")
    selection = select_frames(calls, capture, all_calls=all_calls, bindings=bindings)
    records: list[tuple[int, int, str, int, bytes, int, Any]] = []  # ts, number, class, linktype, data, origlen, view
    for number, ts_ns, linktype, buf, off, caplen, origlen in _frames(source, capture.engine):
        if number > selection.last_frame and ts_ns > selection.end_ns:
            break
        kind, view = _classify(selection, number, ts_ns, linktype, buf, off, off + caplen)
        if kind is None:
            continue
        data = bytes(buf[off:off + caplen])
        if view is not None:
            src, sport, dst, dport, start, stop = view
            view = (src, sport, dst, dport, start - off, stop - off)
        records.append((ts_ns, number, kind, linktype, data, max(origlen, caplen), view))
    handle, close = _open_output(path)
    try:
        if anonymizer is not None:
            return _write_anonymized(handle, records, calls, anonymizer)
        return _write_copied(handle, records)
    finally:
        if close:
            handle.close()


def _counts(kinds: list[str]) -> tuple[int, int, int]:
    return kinds.count("sip"), kinds.count("rtp"), kinds.count("rtcp")


def _write_copied(handle: BinaryIO, records: list) -> PcapExport:
    link_types = sorted({r[3] for r in records}) or [LINKTYPE_ETHERNET]
    if len(link_types) == 1:
        writer = PcapWriter(handle, link_types[0], nanosecond=True)
        for ts_ns, _number, _kind, _lt, data, origlen, _view in records:
            writer.write(ts_ns, data, origlen)
        file_format = "pcap"
    else:
        writer_ng = PcapngWriter(handle, link_types)
        for ts_ns, _number, _kind, linktype, data, origlen, _view in records:
            writer_ng.write(linktype, ts_ns, data, origlen)
        file_format = "pcapng"
    return PcapExport(*_counts([r[2] for r in records]), file_format)


def _write_anonymized(handle: BinaryIO, records: list, calls: list["Call"], anonymizer: "Anonymizer") -> PcapExport:
    factory = FrameFactory()
    frames: list[tuple[int, int, bytes]] = []  # (ts, order, frame)
    sip_frames = 0
    connections: dict[frozenset, TcpConnection] = {}
    originals = sorted((m for call in calls for m in call.messages),
                       key=lambda m: (m.ts_ns, m.frames[0].number if m.frames else 0))
    for original in originals:
        try:
            message = anonymizer.message(original)
        except DecodeError:
            continue  # counted as anonymize-reparse-failed when the capture was anonymised

        if message.src is None or message.dst is None:
            continue
        order = message.frames[-1].number if message.frames else 0
        src, dst = message.src, message.dst
        if src.transport in ("tcp", "tls", "ws", "wss"):
            key = frozenset({(src.ip, src.port), (dst.ip, dst.port)})
            connection = connections.get(key)
            built: list[tuple[int, bytes]] = []
            if connection is None:
                connection = TcpConnection(factory, (src.ip, src.port), (dst.ip, dst.port),
                                           client_isn=0x1000, server_isn=0x2000)
                connections[key] = connection
                built += connection.open(max(0, message.ts_ns - 1_000_000), rtt_ns=200_000)
            built += connection.send(message.ts_ns, (src.ip, src.port), message.raw, ack_delay_ns=100_000)
        else:
            built = [(message.ts_ns, factory.udp(src.ip, src.port, dst.ip, dst.port, message.raw))]
        frames.extend((ts, order, data) for ts, data in built)
        sip_frames += 1
    kinds = []
    for ts_ns, number, kind, _linktype, data, _origlen, view in records:
        if kind == "sip" or view is None:
            continue
        src, sport, dst, dport, start, stop = view
        payload = data[start:stop]
        if kind == "rtcp":
            payload = scrub_rtcp(payload, anonymizer)
        frames.append((ts_ns, number, factory.udp(anonymizer.ip(src), sport, anonymizer.ip(dst), dport, payload)))
        kinds.append(kind)
    frames.sort(key=lambda item: (item[0], item[1]))
    writer = PcapWriter(handle, LINKTYPE_ETHERNET, nanosecond=True)
    for ts_ns, _order, data in frames:
        writer.write(ts_ns, data)
    _sip, rtp, rtcp = _counts(kinds)
    return PcapExport(sip_frames, rtp, rtcp, "pcap (rebuilt, anonymised)")


def scrub_rtcp(payload: bytes, anonymizer: "Anonymizer") -> bytes:
    """The compound RTCP packet with every SDES item's text (CNAME, NAME, EMAIL …) replaced by
    a stand-in of the same length, so all lengths and padding stay valid. Bytes that do not
    walk as RTCP are returned unchanged (they carry no SDES we could recognise)."""
    out = bytearray(payload)
    pos = 0
    while pos + 4 <= len(out):
        if out[pos] >> 6 != 2:
            break
        count = out[pos] & 0x1F
        packet_type = out[pos + 1]
        length = (struct.unpack_from("!H", out, pos + 2)[0] + 1) * 4
        end = min(pos + length, len(out))
        if packet_type == SDES:
            item = pos + 4
            for _chunk in range(count):
                item += 4  # SSRC/CSRC
                while item < end and out[item] != 0:
                    if item + 2 > end:
                        break
                    size = out[item + 1]
                    start, stop = item + 2, min(item + 2 + size, end)
                    text = bytes(out[start:stop]).decode("latin-1")
                    out[start:stop] = anonymizer.same_length(text).encode("latin-1")[: stop - start]
                    item = stop
                item = (item + 4) & ~3  # the null item and padding to the next 32-bit word
        pos += length
    return bytes(out)


class PcapngWriter:
    """A minimal pcapng (one section, one interface per link type, Enhanced Packet Blocks with
    nanosecond timestamps via ``if_tsresol`` = 9)."""

    def __init__(self, handle: BinaryIO, link_types: list[int]) -> None:
        self._handle = handle
        self._interfaces = {lt: index for index, lt in enumerate(link_types)}
        self._block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
        for linktype in link_types:
            options = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)  # if_tsresol=9, end
            self._block(0x00000001, struct.pack("<HHI", linktype, 0, 262144) + options)

    def _block(self, block_type: int, body: bytes) -> None:
        length = 12 + len(body)
        self._handle.write(struct.pack("<II", block_type, length) + body + struct.pack("<I", length))

    def write(self, linktype: int, ts_ns: int, data: bytes, origlen: int) -> None:
        padded = data + b"\x00" * (-len(data) % 4)
        body = struct.pack("<IIIII", self._interfaces[linktype], ts_ns >> 32, ts_ns & 0xFFFFFFFF,
                           len(data), origlen) + padded
        self._block(0x00000006, body)
