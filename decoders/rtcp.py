"""Compound RTCP packets (RFC 3550 §6): SR, RR, SDES, BYE, APP, transport/payload feedback
(RFC 4585) and XR (RFC 3611) with its VoIP metrics block.

``decode_rtcp(buf, off, end)`` returns every packet of the compound datagram in order, or raises
``DecodeError`` (reason ``rtcp-truncated`` / ``rtcp-malformed``) when any length field disagrees
with the bytes: RTCP is small and rare next to RTP, so it is decoded fully and strictly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from decoders.errors import Malformed, Truncated

SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR = range(200, 208)

_HEADER = struct.Struct("!BBH")
_SR_INFO = struct.Struct("!IIIIII")  # SSRC, NTP msw, NTP lsw, RTP ts, packets, octets
_BLOCK = struct.Struct("!IIIIII")  # SSRC, lost (8+24), ext seq, jitter, LSR, DLSR
_U32 = struct.Struct("!I")
_TWO_U32 = struct.Struct("!II")
_XR_BLOCK = struct.Struct("!BBH")
# RFC 3611 §4.7 VoIP metrics after the source SSRC.
_VOIP = struct.Struct("!IBBBBHHHHbbBBBBBBBBHHH")

SDES_ITEMS = {1: "cname", 2: "name", 3: "email", 4: "phone", 5: "loc", 6: "tool", 7: "note",
              8: "priv"}


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """RFC 3550 §6.4.1 reception report about ``ssrc``. ``fraction_lost`` is 0..255 (/256);
    ``cumulative_lost`` is signed 24-bit (duplicates make it negative); LSR/DLSR in NTP
    middle-32 units (1/65536 s)."""

    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_sequence: int
    jitter: int
    lsr: int
    dlsr: int


@dataclass(frozen=True, slots=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int  # 64-bit NTP: seconds since 1900 << 32 | fraction
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...]

    @property
    def ntp_middle(self) -> int:
        """The middle 32 bits, which a later RR echoes as LSR (RFC 3550 §6.4.1)."""
        return (self.ntp_timestamp >> 16) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    ssrc: int
    reports: tuple[ReportBlock, ...]


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """One SDES chunk per source: ``items`` as (name, text) pairs, e.g. ("cname", "x@host")."""

    chunks: tuple[tuple[int, tuple[tuple[str, str], ...]], ...]


@dataclass(frozen=True, slots=True)
class Goodbye:
    ssrcs: tuple[int, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class AppDefined:
    ssrc: int
    subtype: int
    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Feedback:
    """RFC 4585 transport-layer (205) or payload-specific (206) feedback, kept as FMT + FCI."""

    packet_type: int
    fmt: int
    ssrc: int
    media_ssrc: int
    fci: bytes


@dataclass(frozen=True, slots=True)
class VoipMetrics:
    """RFC 3611 §4.7 VoIP metrics. Rates are /256; durations and delays in ms; levels in dBm0
    (127 = unavailable); ``r_factor``/``mos_lq``/``mos_cq`` are None when reported as 127;
    MOS values are the reported tenths divided by 10."""

    ssrc: int
    loss_rate: int
    discard_rate: int
    burst_density: int
    gap_density: int
    burst_duration: int
    gap_duration: int
    round_trip_delay: int
    end_system_delay: int
    signal_level: int
    noise_level: int
    rerl: int
    gmin: int
    r_factor: int | None
    ext_r_factor: int | None
    mos_lq: float | None
    mos_cq: float | None
    rx_config: int
    jb_nominal: int
    jb_maximum: int
    jb_abs_max: int


@dataclass(frozen=True, slots=True)
class ExtendedReport:
    """XR: the VoIP metrics blocks decoded; other block types kept as (type, bytes)."""

    ssrc: int
    voip_metrics: tuple[VoipMetrics, ...]
    other_blocks: tuple[tuple[int, bytes], ...]


@dataclass(frozen=True, slots=True)
class UnknownRtcp:
    packet_type: int
    count: int
    body: bytes


RtcpPacket = (SenderReport | ReceiverReport | SourceDescription | Goodbye | AppDefined
              | Feedback | ExtendedReport | UnknownRtcp)


def decode_rtcp(buf: bytes, off: int = 0, end: int | None = None) -> tuple[RtcpPacket, ...]:
    """Every packet of the compound RTCP datagram ``buf[off:end]``."""
    end = len(buf) if end is None else end
    packets: list[RtcpPacket] = []
    pos = off
    if end - off < 4:
        raise Truncated("RTCP header needs 4 bytes", "rtcp-truncated")
    while pos < end:
        if end - pos < 4:
            # Leniency: some senders (seen in heplify's G.711 sample) count an SDES chunk's
            # padding short and leave up to 3 zero bytes after the last packet.
            if packets and not any(buf[pos:end]):
                break
            raise Truncated(f"{end - pos} stray bytes after the last RTCP packet", "rtcp-truncated")
        first, packet_type, words = _HEADER.unpack_from(buf, pos)
        if first >> 6 != 2:
            raise Malformed(f"RTCP version {first >> 6} at byte {pos - off}; RFC 3550 §6.4.1 "
                            "requires 2", "rtcp-malformed")
        packet_end = pos + 4 * (words + 1)
        if packet_end > end:
            raise Truncated(f"RTCP length {words} overruns the datagram by {packet_end - end} "
                            "bytes", "rtcp-truncated")
        body_end = packet_end
        if first & 0x20:
            padding = buf[packet_end - 1]
            if padding == 0 or padding > packet_end - pos - 4:
                raise Malformed(f"RTCP padding count {padding} does not fit", "rtcp-malformed")
            body_end -= padding
        packets.append(_decode_one(buf, pos + 4, body_end, packet_type, first & 0x1F))
        pos = packet_end
    return tuple(packets)


def _need(buf_len: int, pos: int, size: int, what: str) -> None:
    if pos + size > buf_len:
        raise Truncated(f"RTCP {what} needs {size} bytes, {max(buf_len - pos, 0)} present",
                        "rtcp-truncated")


def _decode_one(buf: bytes, pos: int, end: int, packet_type: int, count: int) -> RtcpPacket:
    if packet_type == SR:
        _need(end, pos, 24 + 24 * count, "sender report")
        ssrc, ntp_hi, ntp_lo, rtp_ts, packets, octets = _SR_INFO.unpack_from(buf, pos)
        return SenderReport(ssrc, ntp_hi << 32 | ntp_lo, rtp_ts, packets, octets,
                            _report_blocks(buf, pos + 24, count))
    if packet_type == RR:
        _need(end, pos, 4 + 24 * count, "receiver report")
        return ReceiverReport(_U32.unpack_from(buf, pos)[0], _report_blocks(buf, pos + 4, count))
    if packet_type == SDES:
        return _decode_sdes(buf, pos, end, count)
    if packet_type == BYE:
        _need(end, pos, 4 * count, "BYE")
        ssrcs = struct.unpack_from(f"!{count}I", buf, pos)
        reason = ""
        at = pos + 4 * count
        if at < end:
            length = buf[at]
            _need(end, at + 1, length, "BYE reason")
            reason = buf[at + 1:at + 1 + length].decode("utf-8", "replace")
        return Goodbye(tuple(ssrcs), reason)
    if packet_type == APP:
        _need(end, pos, 8, "APP")
        return AppDefined(_U32.unpack_from(buf, pos)[0], count,
                          buf[pos + 4:pos + 8].decode("ascii", "replace"), bytes(buf[pos + 8:end]))
    if packet_type in (RTPFB, PSFB):
        _need(end, pos, 8, "feedback")
        ssrc, media = _TWO_U32.unpack_from(buf, pos)
        return Feedback(packet_type, count, ssrc, media, bytes(buf[pos + 8:end]))
    if packet_type == XR:
        return _decode_xr(buf, pos, end)
    return UnknownRtcp(packet_type, count, bytes(buf[pos:end]))


def _report_blocks(buf: bytes, pos: int, count: int) -> tuple[ReportBlock, ...]:
    blocks = []
    for _ in range(count):
        ssrc, lost, highest, jitter, lsr, dlsr = _BLOCK.unpack_from(buf, pos)
        cumulative = lost & 0xFFFFFF
        if cumulative & 0x800000:  # signed 24-bit (RFC 3550 §6.4.1)
            cumulative -= 0x1000000
        blocks.append(ReportBlock(ssrc, lost >> 24, cumulative, highest, jitter, lsr, dlsr))
        pos += 24
    return tuple(blocks)


def _decode_sdes(buf: bytes, pos: int, end: int, count: int) -> SourceDescription:
    start = pos  # chunks align on 32 bits from here (the buffer offset itself may be odd)
    chunks = []
    for _ in range(count):
        _need(end, pos, 4, "SDES chunk")
        ssrc = _U32.unpack_from(buf, pos)[0]
        pos += 4
        items = []
        while True:
            _need(end, pos, 1, "SDES item")
            item_type = buf[pos]
            if item_type == 0:
                # A null item, then padding to the next 32-bit boundary.
                pos = start + ((pos - start + 4) & ~3)
                break
            _need(end, pos, 2, "SDES item")
            length = buf[pos + 1]
            _need(end, pos + 2, length, "SDES item text")
            text = buf[pos + 2:pos + 2 + length].decode("utf-8", "replace")
            items.append((SDES_ITEMS.get(item_type, f"item-{item_type}"), text))
            pos += 2 + length
        chunks.append((ssrc, tuple(items)))
    return SourceDescription(tuple(chunks))


def _unavailable(value: int) -> int | None:
    return None if value == 127 else value


def _decode_xr(buf: bytes, pos: int, end: int) -> ExtendedReport:
    _need(end, pos, 4, "XR")
    ssrc = _U32.unpack_from(buf, pos)[0]
    pos += 4
    metrics = []
    others = []
    while pos < end:
        _need(end, pos, 4, "XR block header")
        block_type, _specific, words = _XR_BLOCK.unpack_from(buf, pos)
        block_end = pos + 4 + 4 * words
        _need(end, pos + 4, 4 * words, f"XR block type {block_type}")
        if block_type == 7:
            if words != 8:
                raise Malformed(f"XR VoIP metrics block length {words}, RFC 3611 §4.7 says 8",
                                "rtcp-malformed")
            v = _VOIP.unpack_from(buf, pos + 4)
            metrics.append(VoipMetrics(
                ssrc=v[0], loss_rate=v[1], discard_rate=v[2], burst_density=v[3],
                gap_density=v[4], burst_duration=v[5], gap_duration=v[6],
                round_trip_delay=v[7], end_system_delay=v[8], signal_level=v[9],
                noise_level=v[10], rerl=v[11], gmin=v[12], r_factor=_unavailable(v[13]),
                ext_r_factor=_unavailable(v[14]),
                mos_lq=None if v[15] == 127 else v[15] / 10,
                mos_cq=None if v[16] == 127 else v[16] / 10,
                rx_config=v[17], jb_nominal=v[19], jb_maximum=v[20], jb_abs_max=v[21]))
        else:
            others.append((block_type, bytes(buf[pos + 4:block_end])))
        pos = block_end
    return ExtendedReport(ssrc, tuple(metrics), tuple(others))
